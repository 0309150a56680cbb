"""Figures of phenotypes read off the latent space: predictability (R²) and classification
accuracy per column, the within-group check for Simpson's paradox, and localisation tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqvae.analysis.latent import GroupedPredictability, LocalisationResult
from seqvae.plots.style import (
    MISSING_COLOR,
    categorical_colors,
    figure_axes,
    grid_axes,
    save_figure,
    short_text,
    single_axes,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure


def draw_predictability(rows: list[dict], *, ax: Axes | None = None) -> Figure | SubFigure:
    """Cross-validated R² of each continuous phenotype from latent means vs as many PCs.

    Returns the figure drawn on: a new one, or the one that holds ``ax`` (the axes to draw into).
    """
    fig, ax = single_axes(ax, width=max(4.0, 1.6 * len(rows) + 2), height=3.6)
    keys = [
        ("latent_linear", "latent, linear", "#0072B2"),
        ("latent_knn", "latent, kNN", "#56B4E9"),
        ("pca_linear", "PCs, linear", "#D55E00"),
        ("pca_knn", "PCs, kNN", "#E69F00"),
    ]
    width = 0.2
    for offset, (key, label, color) in enumerate(keys):
        values = [row[key] for row in rows]
        bars = ax.bar(np.arange(len(rows)) + (offset - 1.5) * width, values, width, label=label, color=color)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(rows)))
    ax.set_xticklabels([f"{row['column']}\n(n={row['n']}, {row['n_features']} features)" for row in rows])
    ax.set_ylabel("cross-validated R²")
    ax.set_title("phenotype from latent means vs the same number of PCs")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return fig


def plot_predictability(rows: list[dict], path: str | Path) -> Path:
    """:func:`draw_predictability`, saved at ``path`` (atomically)."""
    return save_figure(draw_predictability(rows=rows), path)


def draw_classification(rows: list[dict], *, ax: Axes | None = None) -> Figure | SubFigure:
    """k-NN classification accuracy of each categorical column from latent means vs PCs.

    Returns the figure drawn on: a new one, or the one that holds ``ax`` (the axes to draw into).
    """
    fig, ax = single_axes(ax, width=max(4.0, 1.6 * len(rows) + 2), height=3.6)
    x = np.arange(len(rows))
    bars = ax.bar(
        x - 0.2, [r["latent"]["accuracy"] for r in rows], 0.4, label="latent means", color="#0072B2"
    )
    ax.bar_label(bars, fmt="%.2f", fontsize=7)
    bars = ax.bar(
        x + 0.2, [r["pca"]["accuracy"] for r in rows], 0.4, label="same number of PCs", color="#D55E00"
    )
    ax.bar_label(bars, fmt="%.2f", fontsize=7)
    for i, row in enumerate(rows):
        ax.plot(
            [i - 0.4, i + 0.4],
            [row["latent"]["chance"]] * 2,
            "k--",
            lw=1,
            label="majority-class rate" if i == 0 else None,
        )
    ax.set_xticks(x)
    ax.set_xticklabels(
        [f"{r['column']}\n(n={r['latent']['n']}, {r['latent']['n_classes']} classes)" for r in rows]
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("cross-validated k-NN accuracy")
    ax.set_title("category from latent means vs PCs")
    ax.legend(loc="lower right")
    return fig


def plot_classification(rows: list[dict], path: str | Path) -> Path:
    """:func:`draw_classification`, saved at ``path`` (atomically)."""
    return save_figure(draw_classification(rows=rows), path)


def draw_grouped_predictability(
    grouped: GroupedPredictability,
    column: str,
    pooled_prediction: np.ndarray,
    target: np.ndarray,
    groups: np.ndarray,
    pooled_model: str = "linear",
    max_groups: int = 8,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Simpson's paradox view: within-group vs pooled cross-validated R² (linear and k-NN), and the
    phenotype against the pooled out-of-fold prediction with a least-squares line per group and
    for all sequences.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    table = grouped.groups.head(max_groups)
    fig, axes = figure_axes(fig, 1, 2, width=5.0, height=max(3.6, 0.45 * len(table) + 1.6))
    ax = axes[0, 0]
    y = np.arange(len(table))[::-1]
    flagged = (table["flag_strength"] | table["flag_sign"]).to_numpy()
    for offset, (key, label, color) in enumerate(
        (("r2_linear", "linear", "#0072B2"), ("r2_knn", "k-NN", "#56B4E9"))
    ):
        ax.barh(
            y + (0.2 - 0.4 * offset),
            table[key],
            0.4,
            color=color,
            label=f"within group, {label}",
            edgecolor=np.where(flagged, "#D55E00", "none"),
            linewidth=2,
        )
        ax.axvline(
            grouped.pooled[key],
            color=color,
            ls="--",
            lw=1.5,
            label=f"pooled, {label}: {grouped.pooled[key]:.2f}",
        )
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(y)
    ax.set_yticklabels(
        [
            f"{short_text(g, 22)} (n={n}){' *' if f else ''}"
            for g, n, f in zip(table["group"], table["n"], flagged)
        ]
    )
    ax.set_xlabel("cross-validated R² from latent means")
    ax.set_title(
        f"{column} within {short_text(grouped.grouping, 30)}\n(* / red edge: flagged, pooled n={grouped.pooled['n']})"
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    ax = axes[0, 1]
    group_array = np.asarray(groups, dtype=object)
    keep = np.isfinite(target) & np.isfinite(pooled_prediction) & pd.notna(group_array)
    names = list(table["group"])
    colors = categorical_colors(len(names))
    in_named = np.isin(group_array.astype(str), names)
    ax.scatter(
        pooled_prediction[keep & ~in_named],
        target[keep & ~in_named],
        s=4,
        c=MISSING_COLOR,
        linewidths=0,
        label="other / small groups",
        rasterized=True,
    )
    for name, color in zip(names, colors):
        rows = keep & (group_array.astype(str) == name)
        ax.scatter(
            pooled_prediction[rows], target[rows], s=5, color=color, linewidths=0, alpha=0.6, rasterized=True
        )
        if rows.sum() >= 3 and np.ptp(pooled_prediction[rows]) > 0:
            slope, intercept = np.polyfit(pooled_prediction[rows], target[rows], 1)
            xs = np.array([pooled_prediction[rows].min(), pooled_prediction[rows].max()])
            ax.plot(xs, slope * xs + intercept, color=color, lw=2, label=short_text(name, 20))
    slope, intercept = np.polyfit(pooled_prediction[keep], target[keep], 1)
    xs = np.array([pooled_prediction[keep].min(), pooled_prediction[keep].max()])
    ax.plot(xs, slope * xs + intercept, color="black", lw=2, ls="--", label="all sequences")
    model = "k-NN" if pooled_model == "knn" else "linear"
    ax.set_xlabel(f"pooled out-of-fold {model} prediction of {column}")
    ax.set_ylabel(column)
    ax.set_title("least-squares line per group vs all sequences")
    ax.legend(loc="best", fontsize=7)
    return fig


def plot_grouped_predictability(
    grouped: GroupedPredictability,
    column: str,
    pooled_prediction: np.ndarray,
    target: np.ndarray,
    groups: np.ndarray,
    path: str | Path,
    pooled_model: str = "linear",
    max_groups: int = 8,
) -> Path:
    """:func:`draw_grouped_predictability`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_grouped_predictability(
            grouped=grouped,
            column=column,
            pooled_prediction=pooled_prediction,
            target=target,
            groups=groups,
            pooled_model=pooled_model,
            max_groups=max_groups,
        ),
        path,
    )


def draw_localisation(
    results: list[LocalisationResult], *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Null distributions of the concentration statistic with the observed value of each set.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    n = len(results)
    fig, axes = grid_axes(fig, n, width=3.8, height=3.2)
    for ax, result in zip(axes, results):
        ax.hist(result.null, bins=40, color="#bbbbbb", label=f"random sets ({len(result.null)})")
        ax.axvline(result.observed, color="#D55E00", lw=2, label="observed")
        ax.set_xlabel(
            "weighted mean pairwise distance" if result.statistic_name == "pairwise" else "mean kNN distance"
        )
        ax.set_ylabel("count of random sets")
        ax.set_title(f"{short_text(result.name, 34)}\n(n={result.n_members}, p = {result.p_value:.3g})")
        ax.legend(loc="best")
    fig.suptitle("localisation in latent space (latent units)")
    return fig


def plot_localisation(results: list[LocalisationResult], path: str | Path) -> Path:
    """:func:`draw_localisation`, saved at ``path`` (atomically)."""
    return save_figure(draw_localisation(results=results), path)
