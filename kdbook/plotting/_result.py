"""The one result type every ``kdbook.plotting`` function returns (private module).

Chapters, widgets and tests handle every figure the same way: ``res.fig`` is the figure,
``res.ax`` its main axes, ``res.axes`` all of its axes, and ``res.artists`` the matplotlib
objects a caller may want to inspect (bar containers, lines, images, annotations), by name.

The named result classes (``BarPlot``, ``CurvePlot``, ...) are thin subclasses of :class:`Plot`
that only add read-only attribute names for entries of ``artists`` (``bars.containers`` is
``bars.artists["containers"]``), so code written against their earlier fields keeps working.
A few functions that used to return tuples keep tuple unpacking through ``_legacy_tuple``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

__all__ = ["Plot", "NamedAxes", "artist_fields"]


@dataclass(eq=False)
class Plot:
    """What a plotting function made: the figure, its axes and the named artists it drew."""

    fig: Any
    axes: tuple = ()
    artists: dict[str, Any] = field(default_factory=dict)

    #: Attribute names that ``fig, a, b = result`` unpacks to, for functions that returned tuples.
    _legacy_tuple: ClassVar[tuple[str, ...]] = ()

    @property
    def ax(self):
        """The main (first) axes."""
        return self.axes[0] if self.axes else None

    def __iter__(self):
        if not self._legacy_tuple:
            raise TypeError(f"{type(self).__name__} is not a tuple: use its fields (.fig, .ax, .artists)")
        return iter([getattr(self, name) for name in self._legacy_tuple])


class NamedAxes(tuple):
    """The axes of a multi-panel figure in panel order, also looked up by panel name.

    ``res.axes[0]`` is the first panel; ``res.axes["student"]`` the panel titled "student";
    ``res.axes.names`` lists the names in order.
    """

    def __new__(cls, named: Mapping[str, Any]):
        self = super().__new__(cls, tuple(named.values()))
        self._by_name = dict(named)
        return self

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._by_name[key]
        return super().__getitem__(key)


def artist_fields(*names: str):
    """Class decorator: expose ``artists[name]`` as a read-only attribute for each name."""

    def decorate(cls):
        for name in names:
            setattr(cls, name, property(lambda self, _n=name: self.artists[_n], doc=f"``artists[{name!r}]``"))
        return cls

    return decorate
