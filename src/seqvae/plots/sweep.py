"""The figure of ``seqvae sweep``: tr Cov(z_mean), active dimensions and the per-dimension
variances of its summary table against the swept parameter (selective posterior collapse).
It draws the table's values, as each run's ``summary.json`` recorded them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqvae.plots.style import SEQUENTIAL_CMAP, categorical_colors, figure_axes, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

__all__ = ["draw_sweep", "plot_sweep"]


def draw_sweep(
    summary: pd.DataFrame, param: str, param2: str | None = None, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """tr Cov(z_mean) and active dimensions against a swept parameter (one line per value of a
    second parameter); every seed as a dot, the mean over seeds as a line. When the summary has
    per-dimension variances (``var_z<k>``), a panel shows them sorted within each run and averaged
    over seeds: used dimensions sit near 1, collapsed ones near 0.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    variance_columns = sorted(
        (c for c in summary.columns if c.startswith("var_z") and c[5:].isdigit()), key=lambda c: int(c[5:])
    )
    has_table = bool(variance_columns) and param2 is None
    fig, axes = figure_axes(fig, 3 if has_table else 2, 1, width=5.4, height=2.9)
    numeric = pd.to_numeric(summary["value"], errors="coerce")
    is_numeric = bool(numeric.notna().all())
    groups = [(None, summary)] if param2 is None else list(summary.groupby("value2", sort=True))
    colors = categorical_colors(max(1, len(groups)))
    categories = list(dict.fromkeys(summary["value"].astype(str)))
    for (name, part), color in zip(groups, colors):
        xs = (
            pd.to_numeric(part["value"], errors="coerce")
            if is_numeric
            else part["value"].astype(str).map(categories.index)
        )
        line_label = "mean over seeds" if param2 is None else f"{param2} = {name}"
        for ax, key in zip(axes[:2, 0], ("trace_cov", "active_dims")):
            ax.plot(
                xs,
                part[key],
                "o",
                color=color,
                alpha=0.5,
                ms=4,
                label="one run (seed)" if param2 is None else None,
            )
            means = part.assign(_x=xs.to_numpy()).groupby("_x")[key].mean()
            ax.plot(means.index, means.to_numpy(), "-", color=color, lw=1.5, label=line_label)
    log_x = is_numeric and (numeric > 0).all() and numeric.max() / numeric.min() >= 10
    for ax in axes[:2, 0]:
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(param + (" (log scale)" if log_x else ""))
        if not is_numeric:
            ax.set_xticks(range(len(categories)))
            ax.set_xticklabels(categories)
    axes[0, 0].set_ylabel("tr Cov(z_mean)")
    axes[0, 0].set_title(f"selective posterior collapse over {param}")
    axes[1, 0].set_ylabel("active dimensions")
    axes[1, 0].yaxis.get_major_locator().set_params(integer=True)
    axes[0, 0].legend(loc="best")
    if has_table:
        ax = axes[2, 0]
        sorted_variances = -np.sort(-summary[variance_columns].to_numpy(dtype=float), axis=1)
        table = pd.DataFrame(sorted_variances).assign(_v=summary["value"].to_numpy())
        means = table.groupby("_v", sort=False).mean()
        order = (
            np.argsort(pd.to_numeric(means.index, errors="coerce")) if is_numeric else np.arange(len(means))
        )
        means = means.iloc[order]
        image = ax.imshow(means.to_numpy(), aspect="auto", cmap=SEQUENTIAL_CMAP, vmin=0)
        for (row, col), value in np.ndenumerate(means.to_numpy()):
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if value < 0.6 * np.nanmax(means.to_numpy()) else "black",
            )
        ax.set_yticks(range(len(means)))
        ax.set_yticklabels([f"{v:g}" if isinstance(v, float) else str(v) for v in means.index])
        ax.set_ylabel(param)
        ax.set_xticks(range(len(variance_columns)))
        ax.set_xlabel("latent dimension, sorted by Var(z_mean) within each run")
        ax.set_title("Var(z_mean) per dimension (mean over seeds)")
        fig.colorbar(image, ax=ax, label="Var(z_mean)")
    return fig


def plot_sweep(summary: pd.DataFrame, param: str, path: str | Path, param2: str | None = None) -> Path:
    """:func:`draw_sweep`, saved at ``path`` (atomically)."""
    return save_figure(draw_sweep(summary=summary, param=param, param2=param2), path)
