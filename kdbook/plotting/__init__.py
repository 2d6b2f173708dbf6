"""Plot helpers for the chapters: every figure in the workbook is one call into this package.

Each function draws in kdbook's colour-blind-safe style, accepts an optional ``ax``, and
returns the matplotlib objects it made (so tests, and learners, can inspect them).
"""
from __future__ import annotations

from ._style import CMAP, PALETTE, ROLE_COLORS, new_axes, style

__all__ = ["CMAP", "PALETTE", "ROLE_COLORS", "new_axes", "style"]
