"""Figures of the latent space: phenotype maps, density, dimension usage, PCA comparison,
predictability, Simpson's paradox, localisation tests and β sweeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D

from seqvae.analysis.diagnostics import LatentDiagnostics
from seqvae.analysis.latent import GroupedPredictability, LocalisationResult, latent_pca
from seqvae.analysis.phenotypes import OTHER_LABEL, top_categories
from seqvae.plots.style import (
    DIVERGING_CMAP,
    MISSING_COLOR,
    SEQUENTIAL_CMAP,
    categorical_colors,
    figure_axes,
    save_figure,
    single_axes,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = [
    "LatentPanel",
    "draw_classification",
    "draw_dimension_diagnostics",
    "draw_grouped_predictability",
    "draw_latent_by_pattern",
    "draw_latent_density",
    "draw_latent_map",
    "draw_localisation",
    "draw_pca_comparison",
    "draw_predictability",
    "draw_sweep",
    "latent_panels",
    "plot_classification",
    "plot_dimension_diagnostics",
    "plot_grouped_predictability",
    "plot_latent_density",
    "plot_latent_map",
    "plot_localisation",
    "plot_pca_comparison",
    "plot_predictability",
    "plot_sweep",
]

OTHER_COLOR = "#8c8c8c"

# the figures write_latent_report draws (and `seqvae report` captions); per phenotype column also
# latent_<column>.png, simpson_<column>_<grouping>.png and, interactive, latent_<column>.html
LATENT_DENSITY_PNG = "latent_density.png"
LATENT_DIMENSIONS_PNG = "latent_dimensions.png"
PCA_COMPARISON_PNG = "pca_comparison.png"
PREDICTABILITY_PNG = "predictability.png"
CLASSIFICATION_PNG = "classification.png"
LOCALISATION_PNG = "localisation.png"


@dataclass
class LatentPanel:
    """One 2-D view of the latent means."""

    x: np.ndarray
    y: np.ndarray
    xlabel: str
    ylabel: str
    title: str


def latent_panels(
    z_mean: np.ndarray,
    diagnostics: LatentDiagnostics | None = None,
    weights: np.ndarray | None = None,
    max_dimensions: int = 3,
) -> list[LatentPanel]:
    """The planes to draw: d = 2 one plane; d = 3 the three pairwise planes; d > 3 the pairwise
    planes of the ``max_dimensions`` most-used dimensions (largest variance of z_mean) and a
    2-D PCA of the latent means."""
    z_mean = np.asarray(z_mean, dtype=np.float64)
    d = z_mean.shape[1]
    label = "z{} (posterior mean)"
    if d == 1:
        jitter = np.random.default_rng(0).uniform(-0.5, 0.5, len(z_mean))
        return [LatentPanel(z_mean[:, 0], jitter, label.format(0), "random jitter", "1-D latent space")]
    if d <= 3:
        dims = list(range(d))
    else:
        if diagnostics is None:
            variance = z_mean.var(axis=0)
            dims = sorted(np.argsort(-variance, kind="stable")[:max_dimensions].tolist())
        else:
            dims = sorted(diagnostics.dimensions_by_use()[:max_dimensions])
    panels = []
    for a_index, a in enumerate(dims):
        for b in dims[a_index + 1 :]:
            panels.append(
                LatentPanel(z_mean[:, a], z_mean[:, b], label.format(a), label.format(b), f"z{a} vs z{b}")
            )
    if d > 3:
        projected = latent_pca(z_mean, weights, 2)
        panels.append(
            LatentPanel(
                projected[:, 0],
                projected[:, 1],
                "latent PC1 (of all d dims)",
                "latent PC2",
                f"PCA of the {d}-D latent means",
            )
        )
    return panels


def _grid(fig, n_panels: int, width: float = 4.2, height: float = 3.8, extra_width: float = 0.0):
    """A grid of ``n_panels`` axes: in a new figure (``fig`` None; ``extra_width`` inches wider
    for a legend or colour bar), or added to ``fig``, whose size is left alone."""
    n_cols = min(n_panels, 2 if n_panels == 4 else 3)
    n_rows = int(np.ceil(n_panels / n_cols))
    given = fig is not None
    fig, axes = figure_axes(fig, n_rows, n_cols, width=width, height=height)
    if extra_width and not given:
        fig.set_size_inches(width * n_cols + extra_width, height * n_rows)
    flat = axes.ravel()
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _point_size(n: int) -> float:
    return float(np.clip(6000.0 / max(n, 1), 2.5, 25.0))


def draw_latent_map(
    panels: list[LatentPanel],
    values: pd.Series,
    column: str,
    kind: str,
    max_categories: int = 8,
    title: str | None = None,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Latent means coloured by one phenotype column; unmeasured sequences in grey beneath.

    ``kind`` is ``continuous`` (colour bar, highest values drawn on top) or ``categorical``
    (legend with counts; the most frequent categories, the rest as "other").

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    values = pd.Series(values).reset_index(drop=True)
    measured = values.notna().to_numpy()
    n = len(values)
    size = _point_size(n)
    if kind == "continuous":
        extra_width = 1.2
    else:
        labels, order_labels = top_categories(values, max_categories)
        longest = max((len(_short(c, 46)) for c in order_labels), default=10)
        extra_width = 1.0 + 0.065 * (longest + 7)  # room for the legend beside the panels
    fig, axes = _grid(fig, len(panels), extra_width=extra_width)
    n_missing = int((~measured).sum())
    if kind == "continuous":
        numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        measured = np.isfinite(numeric)
        n_missing = int((~measured).sum())
        order = np.flatnonzero(measured)[np.argsort(numeric[measured], kind="stable")]
        low, high = np.nanpercentile(numeric[measured], [1, 99]) if measured.any() else (0, 1)
        for ax, panel in zip(axes, panels):
            ax.scatter(
                panel.x[~measured], panel.y[~measured], s=size, c=MISSING_COLOR, linewidths=0, rasterized=True
            )
            mappable = ax.scatter(
                panel.x[order],
                panel.y[order],
                s=size,
                c=numeric[order],
                cmap=SEQUENTIAL_CMAP,
                vmin=low,
                vmax=high,
                linewidths=0,
                rasterized=True,
            )
            _label(ax, panel)
        bar = fig.colorbar(mappable, ax=list(axes), shrink=0.85)
        bar.set_label(f"{column} (1st–99th percentile scale)")
    else:
        colors = categorical_colors(len([c for c in order_labels if c != OTHER_LABEL]))
        color_of = dict(zip([c for c in order_labels if c != OTHER_LABEL], colors))
        color_of[OTHER_LABEL] = OTHER_COLOR
        counts = labels.value_counts()
        # largest categories first, so that small ones stay visible on top
        draw_order = [OTHER_LABEL] if OTHER_LABEL in order_labels else []
        draw_order += [c for c in order_labels if c != OTHER_LABEL]
        label_array = labels.to_numpy(dtype=object)
        handles = {}
        for ax, panel in zip(axes, panels):
            ax.scatter(
                panel.x[~measured], panel.y[~measured], s=size, c=MISSING_COLOR, linewidths=0, rasterized=True
            )
            for category in draw_order:
                rows = label_array == category
                handles[category] = ax.scatter(
                    panel.x[rows],
                    panel.y[rows],
                    s=size,
                    color=color_of[category],
                    linewidths=0,
                    alpha=0.85,
                    rasterized=True,
                )
            _label(ax, panel)
        legend_order = [c for c in order_labels if c in handles]
        fig.legend(
            [handles[c] for c in legend_order],
            [f"{_short(c, 46)} ({int(counts.get(c, 0))})" for c in legend_order],
            loc="outside right center",
            title=column,
            markerscale=max(1.0, 6.0 / np.sqrt(size)),
            frameon=False,
        )
    suffix = f"\nmeasured {n - n_missing} of {n}; grey beneath: not measured" if n_missing else ""
    fig.suptitle(title or f"latent means coloured by {column}{suffix}")
    return fig


def plot_latent_map(
    panels: list[LatentPanel],
    values: pd.Series,
    column: str,
    kind: str,
    path: str | Path,
    max_categories: int = 8,
    title: str | None = None,
) -> Path:
    """:func:`draw_latent_map`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_latent_map(
            panels=panels, values=values, column=column, kind=kind, max_categories=max_categories, title=title
        ),
        path,
    )


def _short(text: str, limit: int = 32) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(ax, panel: LatentPanel) -> None:
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.set_title(panel.title)


def draw_latent_density(
    panels: list[LatentPanel],
    weights: np.ndarray | None,
    title: str | None = None,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Hexbin density of all sequences (summed sequence weights per bin, log colour scale).

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    fig, axes = _grid(fig, len(panels))
    n = len(panels[0].x)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    mappable = None
    for ax, panel in zip(axes, panels):
        mappable = ax.hexbin(
            panel.x,
            panel.y,
            C=w,
            reduce_C_function=np.sum,
            gridsize=45,
            mincnt=1e-12,
            cmap=SEQUENTIAL_CMAP,
            norm=LogNorm(),
            linewidths=0,
        )
        _label(ax, panel)
    bar = fig.colorbar(mappable, ax=list(axes), shrink=0.85)
    bar.set_label("summed sequence weight per bin (N_eff)")
    fig.suptitle(title or f"density of all {n} sequences (N_eff = {w.sum():.1f})")
    return fig


def plot_latent_density(
    panels: list[LatentPanel], weights: np.ndarray | None, path: str | Path, title: str | None = None
) -> Path:
    """:func:`draw_latent_density`, saved at ``path`` (atomically)."""
    return save_figure(draw_latent_density(panels=panels, weights=weights, title=title), path)


def draw_dimension_diagnostics(
    diagnostics: LatentDiagnostics, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Per-dimension variance of z_mean (threshold line), posterior variance, KL, and the
    correlation matrix of the latent means.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    table = diagnostics.table
    d = len(table)
    fig, axes = figure_axes(fig, 1, 3, width=max(3.6, 0.35 * d + 2.0), height=3.6)
    ax = axes[0, 0]
    positions = table["dimension"].to_numpy()
    colors = np.where(table["active"], "#0072B2", "#bbbbbb")
    ax.bar(positions, table["variance"], color=colors, label="Var(z_mean)")
    ax.plot(
        positions, table["posterior_variance"], "o", color="#D55E00", ms=4, label="mean posterior variance"
    )
    ax.axhline(
        diagnostics.threshold,
        color="black",
        ls="--",
        lw=1,
        label=f"active threshold {diagnostics.threshold:g}",
    )
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("variance (latent units²)")
    ax.set_title(f"{diagnostics.n_active} active of {d}; tr Cov(z_mean) = {diagnostics.trace_cov:.2f}")
    ax.set_xticks(positions)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
    ax = axes[0, 1]
    ax.bar(positions, table["kl"], color=colors)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("mean KL(q(z_k|x) ‖ N(0,1)) (nats)")
    ax.set_title(f"KL per dimension (total {diagnostics.total_kl:.2f} nats)")
    ax.set_xticks(positions)
    ax = axes[0, 2]
    # correlations of collapsed dimensions are noise: leave them blank
    active = table["active"].to_numpy()
    shown = np.where(np.outer(active, active), diagnostics.correlation, np.nan)
    image = ax.imshow(shown, cmap=DIVERGING_CMAP, vmin=-1, vmax=1)
    ax.set_xticks(positions)
    ax.set_yticks(positions)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("latent dimension")
    ax.set_title(
        f"correlation of active z_mean dims\n(blank: inactive; participation ratio "
        f"{diagnostics.participation_ratio_active:.2f})"
    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    return fig


def plot_dimension_diagnostics(diagnostics: LatentDiagnostics, path: str | Path) -> Path:
    """:func:`draw_dimension_diagnostics`, saved at ``path`` (atomically)."""
    return save_figure(draw_dimension_diagnostics(diagnostics=diagnostics), path)


def draw_pca_comparison(
    canonical: np.ndarray,
    r2_latent_from_pcs: list[float],
    r2_pcs_from_latent: list[float],
    explained_ratio: np.ndarray,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Canonical correlations latent ↔ top-k PCs, and the R² of each from the other.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    k = len(r2_pcs_from_latent)
    fig, axes = figure_axes(fig, 1, 3, width=3.8, height=3.4)
    ax = axes[0, 0]
    ax.bar(np.arange(1, len(canonical) + 1), canonical, color="#0072B2")
    ax.set_xticks(np.arange(1, len(canonical) + 1))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("canonical pair")
    ax.set_ylabel("canonical correlation")
    ax.set_title(f"latent means vs top {k} PCs")
    ax = axes[0, 1]
    ax.bar(np.arange(len(r2_latent_from_pcs)), r2_latent_from_pcs, color="#009E73")
    ax.set_xticks(np.arange(len(r2_latent_from_pcs)))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel(f"R² from top {k} PCs (linear, in-sample)")
    ax.set_title("latent explained by PCs")
    ax = axes[0, 2]
    pcs = np.arange(1, k + 1)
    ax.bar(pcs, r2_pcs_from_latent, color="#E69F00", label="R² of PC from latent means")
    ax.plot(
        pcs,
        np.asarray(explained_ratio[:k]) / max(explained_ratio[0], 1e-12),
        "k.-",
        lw=1,
        label="PC variance / PC1 variance",
    )
    ax.set_ylim(0, 1.05)
    ax.set_xticks(pcs)
    ax.set_xlabel("principal component")
    ax.set_ylabel("R² (linear, in-sample)")
    ax.set_title("PCs explained by latent means")
    ax.legend(loc="upper right")
    return fig


def plot_pca_comparison(
    canonical: np.ndarray,
    r2_latent_from_pcs: list[float],
    r2_pcs_from_latent: list[float],
    explained_ratio: np.ndarray,
    path: str | Path,
) -> Path:
    """:func:`draw_pca_comparison`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_pca_comparison(
            canonical=canonical,
            r2_latent_from_pcs=r2_latent_from_pcs,
            r2_pcs_from_latent=r2_pcs_from_latent,
            explained_ratio=explained_ratio,
        ),
        path,
    )


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
            f"{_short(g, 22)} (n={n}){' *' if f else ''}"
            for g, n, f in zip(table["group"], table["n"], flagged)
        ]
    )
    ax.set_xlabel("cross-validated R² from latent means")
    ax.set_title(
        f"{column} within {_short(grouped.grouping, 30)}\n(* / red edge: flagged, pooled n={grouped.pooled['n']})"
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
            ax.plot(xs, slope * xs + intercept, color=color, lw=2, label=_short(name, 20))
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
    fig, axes = _grid(fig, n, width=3.8, height=3.2)
    for ax, result in zip(axes, results):
        ax.hist(result.null, bins=40, color="#bbbbbb", label=f"random sets ({len(result.null)})")
        ax.axvline(result.observed, color="#D55E00", lw=2, label="observed")
        ax.set_xlabel(
            "weighted mean pairwise distance" if result.statistic_name == "pairwise" else "mean kNN distance"
        )
        ax.set_ylabel("count of random sets")
        ax.set_title(f"{_short(result.name, 34)}\n(n={result.n_members}, p = {result.p_value:.3g})")
        ax.legend(loc="best")
    fig.suptitle("localisation in latent space (latent units)")
    return fig


def plot_localisation(results: list[LocalisationResult], path: str | Path) -> Path:
    """:func:`draw_localisation`, saved at ``path`` (atomically)."""
    return save_figure(draw_localisation(results=results), path)


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


# -- the whole report --------------------------------------------------------------------------
def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))
    return keep.strip("_") or "column"


def write_latent_report(report, out: str | Path, interactive: bool = False) -> list[Path]:
    """Draw every figure of a :class:`~seqvae.analysis.latent_report.LatentReport` into ``out``.

    Returns the written paths: ``latent_density.png``, ``latent_dimensions.png``,
    ``pca_comparison.png``, ``latent_<column>.png`` per phenotype column, ``predictability.png``,
    ``classification.png``, ``simpson_<column>_<grouping>.png``, ``localisation.png`` and, with
    ``interactive``, ``latent_<column>.html`` (self-contained, plotly.js embedded).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    panels = latent_panels(report.z_mean, report.diagnostics, report.weights)
    written.append(plot_latent_density(panels, report.weights, out / LATENT_DENSITY_PNG))
    written.append(plot_dimension_diagnostics(report.diagnostics, out / LATENT_DIMENSIONS_PNG))
    comparison = report.comparison
    written.append(
        plot_pca_comparison(
            np.asarray(comparison["canonical_correlations"]),
            comparison["r2_latent_from_pcs"]["per_target"],
            comparison["r2_pcs_from_latent"]["per_target"],
            np.asarray(comparison["explained_variance_ratio"]),
            out / PCA_COMPARISON_PNG,
        )
    )
    predictability_rows, classification_rows, localisation = [], [], []
    for name, column in report.columns.items():
        written.append(
            plot_latent_map(panels, column.values, name, column.kind, out / f"latent_{_slug(name)}.png")
        )
        if column.predictability is not None:
            predictability_rows.append({"column": name, **column.predictability})
        if column.classification is not None:
            classification_rows.append({"column": name, **column.classification})
        for grouped in column.grouped:
            written.append(
                plot_grouped_predictability(
                    grouped,
                    name,
                    column.pooled_prediction,
                    pd.to_numeric(column.values, errors="coerce").to_numpy(dtype=float),
                    column.grouped_labels[grouped.grouping],
                    out / f"simpson_{_slug(name)}_{_slug(grouped.grouping)}.png",
                    pooled_model=column.pooled_model,
                )
            )
        localisation.extend(column.localisation)
    if predictability_rows:
        written.append(plot_predictability(predictability_rows, out / PREDICTABILITY_PNG))
    if classification_rows:
        written.append(plot_classification(classification_rows, out / CLASSIFICATION_PNG))
    if localisation:
        written.append(plot_localisation(localisation, out / LOCALISATION_PNG))
    if interactive:
        names = list(report.columns) or [None]
        for name in names:
            target = out / (f"latent_{_slug(name)}.html" if name else "latent.html")
            written.append(write_interactive_html(report, name, target))
    return written


def _require_plotly():
    try:
        import plotly.graph_objects as go
    except ImportError:
        from seqvae.errors import InputError

        raise InputError(
            "interactive HTML needs plotly: pip install 'seqvae[interactive]' (or pip install plotly)",
            "--interactive",
        ) from None
    return go


def write_interactive_html(report, column: str | None, path: str | Path) -> Path:
    """A self-contained HTML scatter of the latent means (plotly.js embedded, no network needed)
    with the sequence id and the phenotype on hover: 2-D for d = 2, 3-D (most-used dimensions)
    for d >= 3."""
    go = _require_plotly()
    from seqvae.io.atomic import atomic_open

    z = report.z_mean
    d = z.shape[1]
    dims = sorted(report.diagnostics.dimensions_by_use()[: min(3, d)])
    ids = np.asarray(report.ids, dtype=object)
    three_d = len(dims) == 3

    def trace(rows: np.ndarray, name: str, marker: dict, text: np.ndarray):
        coords = {axis: z[rows, k] for axis, k in zip("xyz", dims)}
        if len(dims) == 1:
            coords["y"] = np.zeros(int(rows.sum()))
        kwargs = {"mode": "markers", "name": name, "marker": marker, "text": text[rows], "hoverinfo": "text"}
        return go.Scatter3d(**coords, **kwargs) if three_d else go.Scattergl(**coords, **kwargs)

    traces = []
    size = 2.5 if three_d else 5
    everything = np.ones(len(ids), dtype=bool)
    if column is None:
        traces.append(trace(everything, "sequences", {"size": size, "color": "#0072B2"}, ids))
    else:
        values = report.columns[column].values
        kind = report.columns[column].kind
        if kind == "continuous":
            numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            measured = np.isfinite(numeric)
            text = np.array([f"{i}<br>{column} = {v:.4g}" for i, v in zip(ids, numeric)], dtype=object)
            traces.append(trace(~measured, "not measured", {"size": size, "color": MISSING_COLOR}, text))
            traces.append(
                trace(
                    measured,
                    column,
                    {
                        "size": size,
                        "color": numeric[measured],
                        "colorscale": "Viridis",
                        "colorbar": {"title": {"text": column}},
                        "showscale": True,
                    },
                    text,
                )
            )
        else:
            labels, order = top_categories(values)
            label_array = labels.to_numpy(dtype=object)
            measured = labels.notna().to_numpy()
            text = np.array([f"{i}<br>{column} = {v}" for i, v in zip(ids, values.astype(str))], dtype=object)
            traces.append(trace(~measured, "not measured", {"size": size, "color": MISSING_COLOR}, text))
            colors = categorical_colors(len(order))
            for category, color in zip(order, colors):
                rows = label_array == category
                color = OTHER_COLOR if category == OTHER_LABEL else color
                traces.append(
                    trace(rows, f"{category} ({int(rows.sum())})", {"size": size, "color": color}, text)
                )
    fig = go.Figure(traces)
    titles = [f"z{k} (posterior mean)" for k in dims]
    if three_d:
        fig.update_layout(
            scene={"xaxis_title": titles[0], "yaxis_title": titles[1], "zaxis_title": titles[2]}
        )
    else:
        fig.update_layout(xaxis_title=titles[0], yaxis_title=titles[1] if len(titles) > 1 else "")
    fig.update_layout(
        title=f"latent means{'' if column is None else ' coloured by ' + column} ({len(ids)} sequences)",
        template="simple_white",
        legend={"itemsizing": "constant"},
    )
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(fig.to_html(include_plotlyjs=True, full_html=True))
    return path


def draw_latent_by_pattern(
    z: np.ndarray,
    labels: np.ndarray,
    pattern_means: np.ndarray | None = None,
    title: str = "VAE latent space",
    unassigned_label: str = "no pattern",
    *,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Scatter 2-D latent means ``z [N, 2]`` coloured by nearest pattern ``labels`` (1..K).

    Label 0 (no pattern) is grey; ``pattern_means`` (the patterns' own encodings, ``[K, 2]``)
    are drawn as labelled stars.

    Returns the figure drawn on: a new one, or the one that holds ``ax`` (the axes to draw into).
    """
    n_patterns = int(labels.max()) if len(labels) else 0
    if pattern_means is not None:
        n_patterns = max(n_patterns, len(pattern_means))
    colors = categorical_colors(n_patterns)
    fig, ax = single_axes(ax, width=8.0, height=5.0)
    order = np.random.default_rng(0).permutation(len(z))  # no colour drawn systematically on top
    point_colors = np.array([MISSING_COLOR if lab == 0 else colors[lab - 1] for lab in labels], dtype=object)
    ax.scatter(z[order, 0], z[order, 1], c=list(point_colors[order]), s=7, alpha=0.7, linewidths=0)
    handles = []
    for k in range(1, n_patterns + 1):
        count = int((labels == k).sum())
        handles.append(
            Line2D([], [], marker="o", linestyle="", color=colors[k - 1], label=f"pattern {k} (n={count})")
        )
    missing = int((labels == 0).sum())
    if missing:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color=MISSING_COLOR,
                label=f"{unassigned_label} (n={missing})",
            )
        )
    if pattern_means is not None:
        for k, (x, y) in enumerate(pattern_means[:, :2], start=1):
            ax.scatter([x], [y], marker="*", s=180, color=colors[k - 1], edgecolors="black", linewidths=0.8)
            ax.annotate(str(k), (x, y), xytext=(6, 6), textcoords="offset points", fontsize=9, weight="bold")
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                linestyle="",
                markersize=11,
                color="white",
                markeredgecolor="black",
                label="the pattern itself (encoded)",
            )
        )
    ax.legend(
        handles=handles,
        title="nearest long pattern",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        frameon=False,
    )
    ax.set_xlabel("z1 (latent mean)")
    ax.set_ylabel("z2 (latent mean)")
    ax.set_title(title)
    return fig


def plot_latent_by_pattern(
    z: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    pattern_means: np.ndarray | None = None,
    title: str = "VAE latent space",
    unassigned_label: str = "no pattern",
) -> Path:
    """:func:`draw_latent_by_pattern`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_latent_by_pattern(
            z=z, labels=labels, pattern_means=pattern_means, title=title, unassigned_label=unassigned_label
        ),
        path,
    )
