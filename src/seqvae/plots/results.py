"""Each analysis result bound to its figure: what ``result.plot()`` draws and
``result.save_figures(folder)`` writes (:mod:`seqvae.analysis.drawable`).

The drawing and the saving are the ``draw_*``/``plot_*`` functions of the command's module, so a
notebook's figure is the command's figure; this module only picks them per result type and
places a drawing where the caller asked (a new figure, an ``ax``, a ``fig``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqvae.analysis.couplings import CouplingResult
from seqvae.analysis.drawable import register_figures
from seqvae.analysis.latent_report import LatentReport
from seqvae.analysis.scoring import SCORES_FILE, ScoringReport, scoring_files
from seqvae.analysis.sequence_sets import DESIGNS_FASTA, SequenceSet
from seqvae.plots.generation import draw_interpolation, draw_sequence_logos, plot_design_figures
from seqvae.plots.latent import draw_latent_density, draw_latent_map, latent_panels, write_latent_report
from seqvae.plots.matrices import draw_coupling_matrix, plot_coupling_matrix
from seqvae.plots.mutations import draw_scoring_report, plot_scoring_report
from seqvae.plots.style import root_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure


def _one_panel(ax: Axes | None, fig: Figure | SubFigure | None) -> Axes | None:
    """The axes a one-panel drawing goes into: ``ax``, one filling ``fig``, or a new figure's."""
    return fig.subplots() if fig is not None else ax


def _panels(ax: Axes | None, fig: Figure | SubFigure | None) -> Figure | SubFigure | None:
    """Where a drawing of several panels goes: ``fig``, or a subfigure in ``ax``'s place."""
    if ax is None:
        return fig
    spec = ax.get_subplotspec()
    if spec is None:
        raise ValueError("plot: ax must be a grid axes (from subplots) for a drawing of several panels")
    sub = ax.figure.add_subfigure(spec)
    ax.remove()
    return sub


def _draw_scores(report: ScoringReport, *, ax=None, fig=None) -> Figure:
    """Predicted against measured scores (:func:`~seqvae.plots.mutations.draw_scoring_report`)."""
    return root_figure(draw_scoring_report(report, ax=_one_panel(ax, fig)))


def _save_scores(report: ScoringReport, folder: Path) -> dict[str, Path]:
    """``scores_scatter.png`` (with an evaluation; ``seqvae score --score-col -o FOLDER/scores.csv``)."""
    if report.evaluation is None:
        return {}
    return {"scatter": plot_scoring_report(report, scoring_files(folder / SCORES_FILE)["scatter"])}


def _draw_couplings(result: CouplingResult, *, ax=None, fig=None) -> Figure:
    """The L x L coupling matrix (:func:`~seqvae.plots.matrices.draw_coupling_matrix`)."""
    return root_figure(draw_coupling_matrix(result, ax=_one_panel(ax, fig)))


def _draw_latent(report: LatentReport, *, ax=None, fig=None, column: str | None = None) -> Figure:
    """The latent means: the weighted density, or coloured by a phenotype ``column`` that
    the report analysed (:func:`~seqvae.plots.latent.draw_latent_map`)."""
    panels = latent_panels(report.z_mean, report.diagnostics, report.weights)
    target = _panels(ax, fig)
    if column is None:
        return root_figure(draw_latent_density(panels, report.weights, fig=target))
    if column not in report.columns:
        raise ValueError(
            f"column: {column!r} was not analysed (analysed: {', '.join(report.columns) or 'none'})"
        )
    analysed = report.columns[column]
    return root_figure(draw_latent_map(panels, analysed.values, column, analysed.kind, fig=target))


def _save_latent(report: LatentReport, folder: Path) -> dict[str, Path]:
    """Every figure ``seqvae latent`` writes (:func:`~seqvae.plots.latent.write_latent_report`)."""
    return {path.stem: path for path in write_latent_report(report, folder)}


def _draw_sequences(designs: SequenceSet, *, ax=None, fig=None) -> Figure:
    """An interpolation's distances and ELBO along the path; other sets as a sequence logo."""
    target = _panels(ax, fig)
    if "t" in designs.extra:
        return root_figure(draw_interpolation(designs, fig=target))
    name = "designs" if designs.is_design else "samples"
    return root_figure(
        draw_sequence_logos({f"{name} (n = {len(designs)})": designs.codes}, designs.alphabet, fig=target)
    )


def _save_sequences(designs: SequenceSet, folder: Path) -> dict[str, Path]:
    """The figure ``seqvae generate -o FOLDER/designs.fasta`` writes (an interpolation only)."""
    return plot_design_figures(designs, folder / DESIGNS_FASTA)


def _register() -> None:
    figures: list[tuple[type, Any, Any]] = [
        (ScoringReport, _draw_scores, _save_scores),
        (CouplingResult, _draw_couplings, lambda result, folder: plot_coupling_matrix(result, folder)),
        (LatentReport, _draw_latent, _save_latent),
        (SequenceSet, _draw_sequences, _save_sequences),
    ]
    for result_type, draw, save in figures:
        register_figures(result_type, draw, save)


_register()
