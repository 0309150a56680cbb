"""Figures for mutation scores: the L x 20 single-mutant heatmap and predicted vs measured scores.

Each ``draw_*`` function draws into a new figure or the ``ax``/``fig`` given and returns the
figure; each ``plot_*`` function draws with it and saves the file the CLI writes."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps

from seqvae.analysis.scoring import scoring_files, singles_matrix
from seqvae.data.alignment import AlignmentRegistry
from seqvae.plots.style import DIVERGING_CMAP, MISSING_COLOR, figure_axes, save_figure, single_axes

#: the axis labels of a score by its sign (``ScoringOptions.sign``): the heatmap's colour bar, the
#: scatter's x axis
SCORE_LABELS = {
    "fitness": (
        "score (higher = fitter than wild type)",
        "predicted score (log-likelihood vs wild type, nats)",
    ),
    "eve": (
        "evolutionary index (higher = more damaging)",
        "evolutionary index (log-likelihood of wild type vs variant, nats)",
    ),
}

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from seqvae.analysis.scoring import ScoringReport, SingleMutantScores


def draw_singles_heatmap(
    table: pd.DataFrame,
    registry: AlignmentRegistry,
    title: str = "single mutants",
    burial: np.ndarray | None = None,
    burial_label: str = "burial",
    *,
    sign: str = "fitness",
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Draw the heatmap of single-mutant scores: residues (rows) x positions (columns), wild type
    marked; returns the figure (a new one, or ``fig``, a figure or subfigure to draw into).

    The colour scale is centred on 0 (the wild type) and clipped at the 1st/99th percentiles.
    ``burial`` (one value in [0, 1] per focus column, NaN: not covered) is drawn as a strip
    under the heatmap, position by position (a second axes).
    """

    matrix, positions = singles_matrix(table, registry)
    residues = registry.alphabet.residues
    wild_type = [registry.reference_sequence[c] for c, n in enumerate(registry.numbering) if n >= 0]
    data = np.ma.masked_invalid(matrix.T.copy())
    for i, letter in enumerate(wild_type):
        data[residues.index(letter), i] = np.ma.masked
    finite = matrix[np.isfinite(matrix) & (matrix != 0)]
    limit = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
    width = min(30.0, max(6.0, 0.06 * len(positions) + 2.0))

    if burial is None:
        fig, axes = figure_axes(fig, width=width, height=4.2)
    else:
        fig, axes = figure_axes(
            fig,
            2,
            1,
            width=width,
            height=2.45,
            sharex=True,
            gridspec_kw={"height_ratios": [12, 1], "hspace": 0.08},
        )
    ax = axes[0, 0]

    cmap = colormaps[DIVERGING_CMAP].with_extremes(bad=MISSING_COLOR)
    image = ax.imshow(data, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    for i, letter in enumerate(wild_type):
        ax.plot(i, residues.index(letter), marker=".", color="black", markersize=2)
    ax.set_yticks(range(len(residues)), list(residues))
    step = max(1, len(positions) // 25)
    ticks = list(range(0, len(positions), step))
    bottom = ax if burial is None else axes[1, 0]
    bottom.set_xticks(ticks, [str(positions[t]) for t in ticks], rotation=90)
    bottom.set_xlabel(f"position ({registry.reference_id} numbering)")
    ax.set_ylabel("substituted residue")
    ax.set_title(f"{title} (black dot: wild type; grey: not scored)")
    bar = fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    bar.set_label(SCORE_LABELS[sign][0])
    if burial is not None:
        focus = np.asarray(burial, dtype=np.float64)[np.asarray(registry.numbering) >= 0]
        strip = bottom.imshow(
            np.ma.masked_invalid(focus[None, :]),
            aspect="auto",
            cmap=colormaps["Greys"].with_extremes(bad=MISSING_COLOR),
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        bottom.set_yticks([0], [burial_label])
        fig.colorbar(strip, ax=bottom, fraction=0.02, pad=0.01).set_label("1 = buried", fontsize=7)
    return fig


def draw_score_scatter(
    predicted: np.ndarray,
    measured: np.ndarray,
    spearman: float,
    interval: tuple[float, float] | None = None,
    measured_label: str = "measured",
    model_name: str = "model",
    *,
    sign: str = "fitness",
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Draw predicted mutation scores against measurements, with Spearman ρ in the title; returns
    the figure (a new one, or the one that holds ``ax``, the axes to draw into).

    Points are drawn translucent (a hexagonal density above 3,000 points so a large scan stays
    readable); the black line is the median measurement in each decile of the prediction, which
    shows whether the relation is monotone where ρ only gives one number.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    measured = np.asarray(measured, dtype=np.float64)
    keep = np.isfinite(predicted) & np.isfinite(measured)
    predicted, measured = predicted[keep], measured[keep]
    fig, ax = single_axes(ax, width=5.0, height=4.2)
    if len(predicted) > 3000:
        image = ax.hexbin(predicted, measured, gridsize=45, bins="log", mincnt=1, cmap="viridis")
        fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02).set_label("mutants per hexagon")
    else:
        ax.scatter(predicted, measured, s=8, alpha=0.4, linewidths=0)
    if len(predicted) >= 20:
        edges = np.quantile(predicted, np.linspace(0, 1, 11))
        centres, medians = [], []
        for low, high in itertools.pairwise(edges):
            inside = (predicted >= low) & (predicted <= high)
            if inside.any():
                centres.append(float(np.median(predicted[inside])))
                medians.append(float(np.median(measured[inside])))
        ax.plot(centres, medians, color="black", marker="o", ms=3, lw=1.2, label="median per decile")
        ax.legend(loc="upper left")
    ci = f" (95% CI {interval[0]:.3f}–{interval[1]:.3f})" if interval else ""
    ax.set_title(f"{model_name}: Spearman ρ = {spearman:.3f}{ci}, N = {len(predicted)}", fontsize=9)
    ax.set_xlabel(SCORE_LABELS[sign][1])
    ax.set_ylabel(f"measured: {measured_label}")
    return fig


def draw_single_mutant_scores(
    singles: SingleMutantScores, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """The heatmap of a :class:`~seqvae.analysis.scoring.SingleMutantScores` (with its burial strip
    when it was scored with a structure), as :func:`draw_singles_heatmap` draws it."""
    structure = singles.structure
    return draw_singles_heatmap(
        singles.table,
        singles.registry,
        title=f"single mutants: {singles.model}",
        burial=None if structure is None else structure.burial.burial(structure.measure),
        burial_label=f"burial ({structure.measure})" if structure is not None else "burial",
        sign=singles.sign,
        fig=fig,
    )


def plot_single_mutant_scores(singles: SingleMutantScores, table_path: str | Path) -> Path:
    """The heatmap ``seqvae score --all-singles`` draws beside its table ``table_path``
    (:func:`draw_single_mutant_scores`, saved at the table's ``.png``)."""

    return save_figure(draw_single_mutant_scores(singles), scoring_files(table_path)["heatmap"])


def draw_scoring_report(report: ScoringReport, *, ax: Axes | None = None) -> Figure | SubFigure:
    """The scatter of a scored table against its measured column (a
    :class:`~seqvae.analysis.scoring.ScoringReport` with an evaluation), as
    :func:`draw_score_scatter` draws it."""
    evaluation = report.evaluation
    if evaluation is None:
        raise ValueError("the report has no evaluation (score_file(score_column=...))")
    return draw_score_scatter(
        report.predicted,
        report.measured,
        evaluation.spearman,
        (evaluation.ci_low, evaluation.ci_high),
        measured_label=str(report.score_column),
        model_name=report.model,
        sign=report.sign,
        ax=ax,
    )


def plot_scoring_report(report: ScoringReport, path: str | Path | None = None) -> Path:
    """The scatter ``seqvae score --score-col`` draws of a scored table against its measured column
    (:func:`draw_scoring_report`; default path: ``OUT_scatter.png`` beside the scores)."""

    fig = draw_scoring_report(report)
    target = Path(path) if path is not None else scoring_files(report.out or "scores.csv")["scatter"]
    return save_figure(fig, target)
