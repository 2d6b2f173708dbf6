"""Old module paths that still import (with a DeprecationWarning), for saved notebooks.

Issue 23 moved the language-model modules into ``kdbook.lm`` and the classifier's into
``kdbook.classify``. A learner's saved exercise notebook may still say ``from kdbook.language
import ToyLanguage``: the old module name becomes an alias of the new module (the same object,
private names included), after a warning that names the new path.
"""
from __future__ import annotations

import importlib
import sys
import warnings

#: Old module (under kdbook) → its new home.
MOVED = {
    "language": "lm.language", "sequences": "lm.sequences", "decoding": "lm.decoding", "topk": "lm.topk",
    "next_token": "lm.next_token", "lm_evaluation": "lm.evaluation", "onpolicy": "lm.onpolicy",
    "seqkl": "lm.seqkl", "frontier": "lm.frontier", "genmetrics": "lm.genmetrics", "policy": "lm.policy",
    "context": "lm.context", "context_mix": "lm.context_mix",
    "models": "classify.models", "data": "classify.data",
}


def alias(old: str) -> None:
    """Make ``kdbook.<old>`` the module ``kdbook.<MOVED[old]>``, warning once per import."""
    short = old.rsplit(".", 1)[-1]
    new = f"kdbook.{MOVED[short]}"
    warnings.warn(f"kdbook.{short} moved to {new}; import it from there (the old path will be removed)",
                  DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new)
    sys.modules[f"kdbook.{short}"] = module
    setattr(sys.modules["kdbook"], short, module)
