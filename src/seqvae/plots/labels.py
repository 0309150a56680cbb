"""Learning curves of predictors fitted on labelled variants: ρ against the number of labels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqvae.plots.style import categorical_colors, figure_axes, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure


def draw_learning_curves(table: pd.DataFrame, *, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """One panel per protein (rows) and split kind (columns): the median ρ of each model against
    the number of labels, its interquartile range shaded. Returns the figure drawn on.

    Parameters
    ----------
    table
        Rows with ``protein``, ``split``, ``model``, ``n``, ``median``, ``q25``, ``q75``.
    fig
        The figure or subfigure to draw into (None: a new figure).
    """
    proteins = list(dict.fromkeys(table["protein"]))
    splits = list(dict.fromkeys(table["split"]))
    models = list(dict.fromkeys(table["model"]))
    colours = dict(zip(models, categorical_colors(max(1, len(models)))))
    fig, axes = figure_axes(fig, len(proteins), len(splits), width=4.2, height=3.0)
    for i, protein in enumerate(proteins):
        for j, split in enumerate(splits):
            ax = axes[i, j]
            part = table[(table["protein"] == protein) & (table["split"] == split)]
            if part.empty:  # a split kind run on some proteins only
                ax.set_axis_off()
                continue
            for model in models:
                rows = part[part["model"] == model].sort_values("n")
                if rows.empty:
                    continue
                n = rows["n"].to_numpy(dtype=float)
                flat = rows["n"].nunique() == 1 and model.startswith("zero-shot")
                style = "--" if model.startswith("zero-shot") or flat else "-"
                ax.plot(n, rows["median"], style, marker="o", ms=3, color=colours[model], label=model)
                ax.fill_between(n, rows["q25"], rows["q75"], color=colours[model], alpha=0.15, lw=0)
            ax.set_xscale("log", base=2)
            ticks = np.unique(part["n"].to_numpy(dtype=int))
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
            ax.set_title(f"{protein}: {split}", fontsize=9)
            if i == len(proteins) - 1:
                ax.set_xlabel("labelled variants")
            if j == 0:
                ax.set_ylabel("Spearman ρ (test)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, -1].legend(
        handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False
    )
    return fig


def plot_learning_curves(table: pd.DataFrame, path: str | Path) -> Path:
    """:func:`draw_learning_curves`, saved at ``path`` (atomically)."""
    return save_figure(draw_learning_curves(table), path)
