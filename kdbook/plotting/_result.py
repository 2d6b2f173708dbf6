"""The one result type every ``kdbook.plotting`` function returns (private module).

Chapters, widgets and tests handle every figure the same way: ``res.fig`` is the figure,
``res.ax`` its main axes, ``res.axes`` all of its axes, and ``res.artists`` the matplotlib
objects a caller may want to inspect (bar containers, lines, images, annotations), by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Plot"]


@dataclass(eq=False)
class Plot:
    """What a plotting function made: the figure, its axes and the named artists it drew."""

    fig: Any
    axes: tuple = ()
    artists: dict[str, Any] = field(default_factory=dict)

    @property
    def ax(self):
        """The main (first) axes."""
        return self.axes[0] if self.axes else None
