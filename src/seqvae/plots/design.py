"""The phenotype map of ``seqvae design``: the predicted phenotype over the latent plane, the
measured naturals on it and the designs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqvae.analysis.latent_phenotype import PhenotypeMap
from seqvae.plots.style import CATEGORICAL, MISSING_COLOR, SEQUENTIAL_CMAP, save_figure, single_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["draw_phenotype_map", "plot_phenotype_map"]


def draw_phenotype_map(
    plane: PhenotypeMap,
    designs: pd.DataFrame | None = None,
    top_quantile: float = 0.9,
    *,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """The predicted phenotype (filled contours) with the naturals' latent means (grey), the
    measured ones at or above the ``top_quantile`` of the measured values (black) and the
    designs (outlined circles).

    ``designs`` is a design table (``designs.csv``) with the designs' latent means ``z_mean_*``,
    projected onto the map's plane. Returns the figure drawn on (a new one, or ``ax``'s).
    """
    fig, ax = single_axes(ax, width=6.0, height=5.0)
    labels = np.asarray(plane.labels, dtype=float)
    measured = np.isfinite(labels)
    filled = ax.contourf(plane.u, plane.v, plane.mean, levels=15, cmap=SEQUENTIAL_CMAP)
    points = plane.points
    size = float(np.clip(2000.0 / max(len(points), 1), 1.0, 12.0))
    u, v = points.T
    ax.scatter(u, v, s=size, c=MISSING_COLOR, alpha=0.6, linewidths=0, rasterized=True, label="naturals")
    cutoff = np.quantile(labels[measured], top_quantile)
    top = measured & (labels >= cutoff)
    ax.scatter(
        u[top],
        v[top],
        s=size * 2,
        c="black",
        linewidths=0,
        rasterized=True,
        label=f"measured {plane.label} >= q{100 * top_quantile:g} ({cutoff:.3g})",
    )
    title = f"predicted {plane.label} on z"
    if designs is not None and len(designs):
        columns = sorted((c for c in designs.columns if c.startswith("z_mean_")), key=lambda c: int(c[7:]))
        xy = plane.project(designs[columns].to_numpy(dtype=float))
        x, y = xy.T
        ax.scatter(x, y, s=24, facecolors="none", edgecolors=CATEGORICAL[3], linewidths=0.9, label="designs")
        title += f" with {len(designs)} designs"
    ax.legend(loc="upper left", frameon=False, markerscale=2.0)
    bar = fig.colorbar(filled, ax=ax, shrink=0.85)
    bar.set_label(f"{plane.label} (GP mean)")
    ax.set_xlabel(plane.axis_names[0])
    ax.set_ylabel(plane.axis_names[1])
    ax.set_title(title)
    return fig


def plot_phenotype_map(plane: PhenotypeMap, designs: pd.DataFrame | None, path: str | Path) -> Path:
    """:func:`draw_phenotype_map`, saved at ``path`` (atomically)."""
    return save_figure(draw_phenotype_map(plane, designs), path)
