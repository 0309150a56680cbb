"""One plot style for every seqvae figure: readable fonts, colour-blind-safe colours, labelled
axes, tight layouts, atomic saving.

Figures are :class:`matplotlib.figure.Figure` objects made directly, without pyplot: they need no
backend (saving a PNG renders with Agg whatever the session's backend is), so importing
``seqvae.plots`` leaves the backend alone (a notebook keeps its inline figures) and no figure is
registered in pyplot's global state. A figure displays inline in Jupyter as the value of a cell
(:class:`InlineFigure`), whether or not pyplot was ever imported.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import matplotlib
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from seqvae.io.atomic import atomic_path

# Okabe–Ito palette: distinguishable under the common colour-vision deficiencies.
CATEGORICAL = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
]
SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"
MISSING_COLOR = "#c8c8c8"
OTHER_COLOR = "#8c8c8c"  # the categories past the most frequent ones, pooled

_RC: dict[Any, Any] = {  # Any keys: matplotlib's stubs list rc names as literals
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=CATEGORICAL),
    "image.cmap": SEQUENTIAL_CMAP,
    "figure.constrained_layout.use": True,
}


class InlineFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that Jupyter shows as a PNG when it is a cell's value.

    Jupyter's own figure display is installed only once its inline backend is loaded (when
    pyplot is first used); ``_repr_png_`` covers a session that never imports pyplot. Where the
    inline backend is active, its display is used instead (IPython prefers it).
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def apply_style() -> None:
    """Set seqvae's matplotlib defaults (idempotent)."""
    matplotlib.rcParams.update(_RC)


def new_figure(n_rows: int = 1, n_cols: int = 1, width: float = 4.5, height: float = 4.0, **kwargs):
    """A styled figure with a grid of axes; ``width``/``height`` are per panel, in inches.

    Returns ``(figure, axes)``, axes as a 2-D array; ``kwargs`` go to ``Figure.subplots``
    (``sharex``, ``gridspec_kw``, ...). The figure is an :class:`InlineFigure`, not a pyplot one.
    """
    apply_style()
    fig = InlineFigure(figsize=(width * n_cols, height * n_rows))
    return fig, fig.subplots(n_rows, n_cols, squeeze=False, **kwargs)


def figure_axes(
    fig: Figure | SubFigure | None,
    n_rows: int = 1,
    n_cols: int = 1,
    width: float = 4.5,
    height: float = 4.0,
    **kwargs,
):
    """The grid of axes a multi-panel drawing function draws on: a new styled figure when
    ``fig`` is None (as :func:`new_figure`), else a grid added to ``fig`` (a figure or subfigure)."""
    if fig is None:
        return new_figure(n_rows, n_cols, width=width, height=height, **kwargs)
    apply_style()
    return fig, fig.subplots(n_rows, n_cols, squeeze=False, **kwargs)


def single_axes(ax: Axes | None, width: float = 4.5, height: float = 4.0) -> tuple[Figure | SubFigure, Axes]:
    """The axes a one-panel drawing function draws on: a new styled figure's when ``ax`` is None,
    else ``ax`` with the (sub)figure that holds it."""
    if ax is None:
        fig, axes = new_figure(width=width, height=height)
        return fig, axes[0, 0]
    apply_style()
    return ax.figure, ax


def grid_axes(
    fig: Figure | SubFigure | None,
    n_panels: int,
    width: float = 4.2,
    height: float = 3.8,
    extra_width: float = 0.0,
):
    """A grid of ``n_panels`` axes (up to 3 per row, 2 for 4 panels): in a new figure (``fig`` None;
    ``extra_width`` inches wider for a legend or colour bar), or added to ``fig``, whose size is
    left alone. Returns the figure and the flat array of the ``n_panels`` visible axes."""
    n_cols = min(n_panels, 2 if n_panels == 4 else 3)
    n_rows = -(-n_panels // n_cols)
    given = fig is not None
    fig, axes = figure_axes(fig, n_rows, n_cols, width=width, height=height)
    if extra_width and not given:
        root_figure(fig).set_size_inches(width * n_cols + extra_width, height * n_rows)
    flat = axes.ravel()
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def short_text(text, limit: int = 32) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis, for titles and legends."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def root_figure(fig: Figure | SubFigure) -> Figure:
    """The top-level figure of ``fig`` (itself, or the figure a subfigure belongs to)."""
    return fig.get_figure(root=True) if isinstance(fig, SubFigure) else fig


def categorical_colors(n: int) -> list:
    """``n`` distinguishable colours: Okabe–Ito first, then tab20 for larger sets."""
    if n <= len(CATEGORICAL):
        return CATEGORICAL[:n]
    cmap = matplotlib.colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def close_figure(fig) -> None:
    """Drop ``fig`` from pyplot's figure list if it is a pyplot figure (seqvae's own figures are
    not, so nothing needs closing); pyplot is never imported here."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def save_figure(fig, path: str | Path, close: bool = True) -> Path:
    """Save atomically (PNG, SVG or PDF by extension); ``close``: also close it if it is a
    pyplot figure (:func:`close_figure`)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")
    if close:
        close_figure(fig)
    return path
