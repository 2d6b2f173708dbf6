"""Deprecated path: see ``kdbook._moved`` (the module now lives in ``kdbook.lm.frontier``)."""
from ._moved import alias

alias(__name__)
