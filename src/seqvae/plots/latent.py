"""Figures of the latent space: maps of the latent means coloured by phenotype, their density,
synthetic families' patterns, and every figure of ``seqvae latent``'s folder
(:func:`write_latent_report`, which also draws the dimension figures of
:mod:`seqvae.plots.latent_dimensions` and the phenotype ones of :mod:`seqvae.plots.latent_prediction`).
The sweep's figure is :mod:`seqvae.plots.sweep` (``draw_sweep`` and ``plot_sweep`` are
importable from here too)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D

from seqvae.analysis.diagnostics import LatentDiagnostics
from seqvae.analysis.latent import latent_pca
from seqvae.analysis.phenotypes import OTHER_LABEL, top_categories
from seqvae.plots.latent_dimensions import plot_dimension_diagnostics, plot_pca_comparison
from seqvae.plots.latent_interactive import write_interactive_html
from seqvae.plots.latent_prediction import (
    plot_classification,
    plot_grouped_predictability,
    plot_localisation,
    plot_predictability,
)
from seqvae.plots.style import (
    MISSING_COLOR,
    OTHER_COLOR,
    SEQUENTIAL_CMAP,
    categorical_colors,
    grid_axes,
    save_figure,
    short_text,
    single_axes,
)
from seqvae.plots.sweep import draw_sweep, plot_sweep  # noqa: F401  # importable from here too

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

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
        longest = max((len(short_text(c, 46)) for c in order_labels), default=10)
        extra_width = 1.0 + 0.065 * (longest + 7)  # room for the legend beside the panels
    fig, axes = grid_axes(fig, len(panels), extra_width=extra_width)
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
            [f"{short_text(c, 46)} ({int(counts.get(c, 0))})" for c in legend_order],
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
    fig, axes = grid_axes(fig, len(panels))
    n = len(panels[0].x)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
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
    bar = fig.colorbar(mappable, ax=list(axes), shrink=0.85)  # every panel on one LogNorm scale
    bar.set_label("summed sequence weight per bin (N_eff)")
    fig.suptitle(title or f"density of all {n} sequences (N_eff = {w.sum():.1f})")
    return fig


def plot_latent_density(
    panels: list[LatentPanel], weights: np.ndarray | None, path: str | Path, title: str | None = None
) -> Path:
    """:func:`draw_latent_density`, saved at ``path`` (atomically)."""
    return save_figure(draw_latent_density(panels=panels, weights=weights, title=title), path)


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
