"""The language-model half of kdbook: chapters 6–9.

One module per concept:

==================  ============================================================================
``language``        the toy language whose distribution is known exactly (:class:`ToyLanguage`)
``_grammar``        its automaton (private)
``sequences``       token ids, padding and batches of sentences (:class:`Vocabulary`, :class:`LMBatch`)
``window``          the student model (:class:`WindowLM`)
``decoding``        greedy, sampling, beam search; token and sequence log-probabilities
``evaluation``      token KL, sequence KL, perplexity, greedy reports
``topk``            storing only a teacher's top-k log-probabilities
``next_token``      the next-token explorer's state (chapter 6)
``mode``            the exact mode of the toy language, by dynamic programming (chapter 6)
``phases``          the grammar phase of every position (chapter 6)
``capacity``        the capacity floor of a window-2 student (chapter 6)
``sampled_storage`` storing k sampled teacher token ids instead of the top k (chapter 6)
``policy``          sampling from a model as a policy; its token log-probabilities (chapter 7)
``onpolicy``        on-policy distillation (GKD) on ``kdbook.train.train_step``
``seqkl``           MiniLLM's sequence-level reverse KL, its exact gradient and estimators
``genmetrics``      quality, coverage and diversity of generated text
``frontier``        the β sweep of chapter 7 and its explorer state
``context``         context distillation (chapter 8)
``context_mix``     the training mix of context distillation and its explorer state
``context_split``   held-out queries disjoint from the training queries (chapter 8)
``speculative``     speculative sampling: draft, one-pass verification, residual (chapter 9)
``draft``           distilling a draft: TV loss, draft objectives, acceptance (chapter 9)
``spec_explorer``   the speculative-decoding explorer's state (chapter 9)
==================  ============================================================================

``from kdbook.lm import WindowLM, ToyLanguage, LMBatch, Vocabulary`` gives the main classes; the
modules load on first attribute access (``kdbook.lm.decoding``).
"""
from __future__ import annotations

import importlib

from .language import ToyLanguage
from .sequences import LMBatch, Vocabulary
from .window import GROUPS, WindowLM

__all__ = ["WindowLM", "GROUPS", "ToyLanguage", "LMBatch", "Vocabulary"]

SUBMODULES = ("language", "sequences", "window", "decoding", "evaluation", "topk", "next_token", "policy",
              "onpolicy", "seqkl", "genmetrics", "frontier", "context", "context_mix", "context_split",
              "mode", "phases", "capacity", "sampled_storage", "speculative", "draft", "spec_explorer",
              "tokenreward", "slips")


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kdbook.lm' has no attribute {name!r}")
