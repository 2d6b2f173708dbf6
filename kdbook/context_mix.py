"""Deprecated path: see ``kdbook._moved`` (the module now lives in ``kdbook.lm.context_mix``)."""
from ._moved import alias

alias(__name__)
