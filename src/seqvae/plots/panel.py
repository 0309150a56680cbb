"""The DMS panel figure: Spearman ρ per protein and model, published figures as marks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqvae.plots.style import categorical_colors, save_figure, single_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

_MARKERS = ("x", "+", "1", "2", "3", "4", "*", "d")


def draw_panel(
    table: pd.DataFrame, published: dict[str, dict[str, float]], *, ax: Axes | None = None
) -> Figure | SubFigure:
    """Grouped bars of ρ (with the 95 % bootstrap interval) per protein and model; each
    published figure is a black mark beside its protein's bars, named in the legend. Returns the
    figure drawn on: a new one, or the one that holds ``ax`` (the axes to draw into).

    Parameters
    ----------
    table
        Rows with ``protein``, ``model``, ``spearman``, ``ci_low``, ``ci_high``.
    published
        Protein name -> {method: ρ}.
    ax
        The axes to draw into (None: a new figure).
    """
    proteins = list(dict.fromkeys(table["protein"]))
    models = list(dict.fromkeys(table["model"]))
    colours = categorical_colors(max(1, len(models)))
    methods = list(dict.fromkeys(m for p in proteins for m in published.get(p, {})))
    width = 0.8 / max(1, len(models))
    fig, ax = single_axes(ax, width=max(5.0, 1.8 * len(proteins) + 2.5), height=4.2)
    for j, model in enumerate(models):
        part = table[table["model"] == model].set_index("protein")
        x, rho, low, high = [], [], [], []
        for i, protein in enumerate(proteins):
            if protein in part.index:
                row = part.loc[protein]
                x.append(i - 0.4 + width * (j + 0.5))
                rho.append(float(row["spearman"]))
                low.append(float(row["spearman"]) - float(row["ci_low"]))
                high.append(float(row["ci_high"]) - float(row["spearman"]))
        ax.bar(x, rho, width=width * 0.92, color=colours[j], label=model)
        ax.errorbar(x, rho, yerr=[low, high], fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    for k, method in enumerate(methods):
        xs = [i + 0.45 for i, p in enumerate(proteins) if method in published.get(p, {})]
        ys = [published[p][method] for p in proteins if method in published.get(p, {})]
        ax.scatter(
            xs, ys, marker=_MARKERS[k % len(_MARKERS)], color="black", s=30, label=f"published: {method}"
        )
    ax.set_xticks(np.arange(len(proteins)))
    ax.set_xticklabels(proteins)
    ax.set_xlim(-0.6, len(proteins) - 0.3)
    finite = table["spearman"].to_numpy(dtype=float)
    low_end = min(0.0, float(np.nanmin(finite))) if finite.size else 0.0
    ax.set_ylim(low_end, 1.0)
    ax.set_ylabel("Spearman ρ against the scan")
    ax.set_title("DMS panel")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_panel(table: pd.DataFrame, published: dict[str, dict[str, float]], path: str | Path) -> Path:
    """:func:`draw_panel`, saved at ``path`` (atomically)."""
    return save_figure(draw_panel(table=table, published=published), path)
