"""Results that draw themselves: ``result.plot(ax=None)`` and ``result.save_figures(folder)``.

Results are computed here in ``analysis/`` and drawn in ``plots/``, which sits above it in the
layer order, so a result cannot import its drawing. Instead the plots layer registers, per
result type, the function that draws it and the one that saves the figures its command writes
(:func:`register_figures`, called in :mod:`seqvae.plots.results`); :class:`Drawable` looks them
up by the result's type. The registry module is loaded by name on the first lookup that misses, so
every result can draw itself whatever was imported, and a command that draws nothing (``seqvae
--help``, ``seqvae train``) never pays for importing matplotlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqvae.utils import html_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure


@dataclass(frozen=True)
class FigureFunctions:
    """How one result type is drawn.

    Attributes
    ----------
    draw
        ``draw(result, *, ax=None, fig=None, **options) -> Figure``: draws into a new figure, the
        axes ``ax`` (of any figure) or the figure/subfigure ``fig``; returns the top figure.
    save
        ``save(result, folder) -> dict[str, Path]``: writes the PNGs its command writes, under
        the command's file names.
    """

    draw: Callable[..., Any]
    save: Callable[[Any, Path], dict[str, Path]]


_REGISTRY: dict[type, FigureFunctions] = {}


def register_figures(
    result_type: type, draw: Callable[..., Any], save: Callable[[Any, Path], dict[str, Path]]
) -> None:
    """Register how ``result_type`` (and its subclasses) is drawn and its figures saved."""
    _REGISTRY[result_type] = FigureFunctions(draw, save)


#: the plots module that registers the drawings (named, not imported: it sits above this layer)
REGISTRY_MODULE = "seqvae.plots.results"


def figure_functions(result: Any) -> FigureFunctions:
    """The registered :class:`FigureFunctions` of ``result``'s type (or a base of it)."""
    for attempt in range(2):
        for cls in type(result).__mro__:
            if cls in _REGISTRY:
                return _REGISTRY[cls]
        if attempt == 0:
            importlib.import_module(REGISTRY_MODULE)
    raise TypeError(f"no figure is registered for {type(result).__name__}")


class Drawable:
    """Mixin of the analysis results: :meth:`plot`, :meth:`save_figures`, and a short repr
    (one line, or a small table in a notebook) of the facts a result lists in ``_facts``."""

    def _facts(self) -> dict[str, str]:
        return {}

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{key} = {value}" for key, value in self._facts().items() if value not in ("", None)
        )
        return f"{type(self).__name__}({shown})"

    def _repr_html_(self) -> str:
        return html_table(type(self).__name__, self._facts())

    def plot(
        self, ax: Axes | None = None, *, fig: Figure | SubFigure | None = None, **options: Any
    ) -> Figure:
        """Draw this result and return the :class:`~matplotlib.figure.Figure` (shown inline as a
        notebook cell's value).

        Parameters
        ----------
        ax
            Axes to draw into (of any figure, e.g. one from ``plt.subplots``); a drawing of
            several panels takes the place of ``ax`` in its figure.
        fig
            A figure or subfigure to draw into instead.
        **options
            Passed to the drawing function (see each result's drawing in :mod:`seqvae.plots`).
        """
        if ax is not None and fig is not None:
            raise ValueError("plot: give ax or fig, not both")
        return figure_functions(self).draw(self, ax=ax, fig=fig, **options)

    def save_figures(self, folder: str | Path) -> dict[str, Path]:
        """Write the figures the command writes for this result into ``folder`` (its file names;
        atomic); their paths. The data files: ``save``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return figure_functions(self).save(self, folder)
