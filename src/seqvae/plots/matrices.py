"""Figures of position-by-position matrices: SCA, matrix comparisons, VAE couplings, contact maps.

They draw results computed in :mod:`seqvae.analysis` and never recompute them. Each ``draw_*``
function draws one figure (into a new figure, or the ``ax``/``fig`` given) and returns it; each
``plot_*`` function draws with them and saves the files the CLI writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqvae.plots.style import (
    CATEGORICAL,
    SEQUENTIAL_CMAP,
    categorical_colors,
    figure_axes,
    save_figure,
    single_axes,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from seqvae.analysis.compare import Comparison
    from seqvae.analysis.contacts import ContactAnalysis, ContactResult, StructureMap
    from seqvae.analysis.couplings import CouplingResult
    from seqvae.analysis.sca import SCAResult
    from seqvae.io.matrix_file import PositionMatrix

# the figure files each plot writes (and `seqvae report` embeds)
COMPARE_HEATMAPS_PNG = "compare_heatmaps.png"
COMPARE_OVERLAPS_PNG = "compare_overlaps.png"
COUPLINGS_MATRIX_PNG = "couplings_matrix.png"
SCA_MATRIX_PNG = "sca_matrix.png"
SCA_SPECTRUM_PNG = "sca_spectrum.png"
SCA_ICS_PNG = "sca_ics.png"
CONTACT_MAP_PNG = "contact_map.png"


def draw_comparison_heatmaps(
    comparison: Comparison, a: PositionMatrix, b: PositionMatrix, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """The two compared matrices side by side over their common positions (diagonal blank), the
    correlations in the title; returns the figure (a new one, or ``fig``)."""
    fig, axes = figure_axes(fig, 1, 2, width=4.6, height=4.2)
    for ax, pm, name in ((axes[0, 0], a, comparison.name_a), (axes[0, 1], b, comparison.name_b)):
        m = pm.matrix.copy()
        np.fill_diagonal(m, np.nan)
        finite = m[np.isfinite(m)]
        image = ax.imshow(m, cmap=SEQUENTIAL_CMAP, vmin=float(finite.min()),
                          vmax=float(np.quantile(finite, 0.99)), interpolation="nearest")  # fmt: skip
        ax.set_title(f"{name} ({comparison.length} common positions)")
        ax.set_xlabel("position")
        ax.set_ylabel("position")
        fig.colorbar(image, ax=ax, shrink=0.8, label="matrix value (diagonal blank)")
    fig.suptitle(
        f"off-diagonal Pearson r = {comparison.pearson:.2f}, Spearman ρ = {comparison.spearman:.2f} "
        f"(matched by {comparison.matched_by})"
    )
    return fig


def draw_comparison_overlaps(comparison: Comparison, *, ax: Axes | None = None) -> Figure | SubFigure:
    """The overlaps of the two matrices' top eigenvectors, with the nulls in the title; returns
    the figure (a new one, or the one that holds ``ax``)."""
    k = comparison.k
    overlaps = np.asarray(comparison.overlap_matrix)
    fig, ax = single_axes(ax, width=5.0, height=4.2)
    image = ax.imshow(overlaps, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=1)
    for r in range(k):
        for c in range(k):
            ax.text(c, r, f"{overlaps[r, c]:.2f}", ha="center", va="center",
                    color="white" if overlaps[r, c] < 0.6 else "black", fontsize=8)  # fmt: skip
    ax.set_xticks(range(k), [f"{comparison.name_b} v{c + 1}" for c in range(k)], rotation=45, ha="right")
    ax.set_yticks(range(k), [f"{comparison.name_a} v{r + 1}" for r in range(k)])
    rnd = comparison.random_vectors["dot_mean"]
    perm = comparison.permutation.get("dot_mean")
    note = f"null: random vectors {rnd:.2f}"
    if perm:
        note += ", permuted positions " + "/".join(f"{p:.2f}" for p in perm)
    ax.set_title(f"|top eigenvector overlaps| ({comparison.length} positions)\n{note}", fontsize=9)
    fig.colorbar(image, ax=ax, label="|v · w|")
    return fig


def plot_comparison(
    comparison: Comparison, a: PositionMatrix, b: PositionMatrix, out: str | Path
) -> dict[str, Path]:
    """Side-by-side heatmaps (common positions) and the eigenvector overlap matrix, saved in ``out``
    (:func:`draw_comparison_heatmaps`, :func:`draw_comparison_overlaps`)."""
    out = Path(out)
    return {
        "heatmaps_png": save_figure(draw_comparison_heatmaps(comparison, a, b), out / COMPARE_HEATMAPS_PNG),
        "overlap_png": save_figure(draw_comparison_overlaps(comparison), out / COMPARE_OVERLAPS_PNG),
    }


def draw_coupling_matrix(result: CouplingResult, *, ax: Axes | None = None) -> Figure | SubFigure:
    """Heatmap of the symmetrised VAE coupling matrix; returns the figure (a new one, or the one
    that holds ``ax``)."""
    fig, ax = single_axes(ax, width=5.2, height=4.6)
    image = ax.imshow(result.matrix, cmap=SEQUENTIAL_CMAP, vmin=0,
                      vmax=float(np.quantile(result.matrix, 0.995)) or None, interpolation="nearest")  # fmt: skip
    ax.set_xlabel("position (model column)")
    ax.set_ylabel("position (model column)")
    ax.set_title(
        f"VAE coupling matrix, symmetrised\n(RMS Δ log p over {result.reference_rows.size} references)"
    )
    fig.colorbar(image, ax=ax, label="RMS Δ log p(x_i) [nats]")
    return fig


def plot_coupling_matrix(result: CouplingResult, out: str | Path) -> dict[str, Path]:
    """Heatmap of the symmetrised VAE coupling matrix (:func:`draw_coupling_matrix`):
    ``couplings_matrix.png`` in ``out``."""
    return {"matrix_png": save_figure(draw_coupling_matrix(result), Path(out) / COUPLINGS_MATRIX_PNG)}


def draw_contact_map(
    positions: PositionMatrix,
    structure_map: StructureMap,
    distances: np.ndarray,
    result: ContactResult,
    threshold: float = 8.0,
    divisor: int = 2,
    title: str = "",
    *,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Structure contacts (grey, lower triangle) with the top ``L/divisor`` predicted pairs
    (upper triangle: blue = contact, orange = not) over the mapped positions; returns the figure
    (a new one, or the one that holds ``ax``)."""
    mapped = np.flatnonzero(structure_map.residue_index >= 0)
    where = {p: k for k, p in enumerate(mapped)}
    sub = distances[np.ix_(structure_map.residue_index[mapped], structure_map.residue_index[mapped])]
    ci, cj = np.nonzero(np.tril(sub < threshold, k=-1))
    fig, ax = single_axes(ax, width=5.0, height=5.0)
    ax.scatter(cj, ci, s=3, color="#b0b0b0", marker="s", linewidths=0, label=f"contact (< {threshold:g} Å)")
    n = max(1, result.length // divisor)
    pairs = result.top_pairs[:n]
    hits = result.top_is_contact[:n]
    pi = np.array([where[p] for p in pairs[:, 0]])
    pj = np.array([where[p] for p in pairs[:, 1]])
    lo, hi = np.minimum(pi, pj), np.maximum(pi, pj)
    ax.scatter(hi[hits], lo[hits], s=10, color=CATEGORICAL[0], label="predicted, contact")
    ax.scatter(hi[~hits], lo[~hits], s=10, color=CATEGORICAL[3], marker="x", label="predicted, no contact")
    ax.set_xlim(-1, mapped.size)
    ax.set_ylim(mapped.size, -1)
    ax.set_aspect("equal")
    if positions.numbering is not None:
        ticks = np.linspace(0, mapped.size - 1, 6).astype(int)
        ax.set_xticks(ticks, [str(positions.numbering[mapped[t]]) for t in ticks])
        ax.set_yticks(ticks, [str(positions.numbering[mapped[t]]) for t in ticks])
        ax.set_xlabel("reference residue number")
        ax.set_ylabel("reference residue number")
    else:
        ax.set_xlabel("position")
        ax.set_ylabel("position")
    key = "L" if divisor == 1 else f"L/{divisor}"
    ax.set_title(title or f"top {key} = {n} pairs: precision {hits.mean():.2f}")
    ax.legend(loc="lower left", fontsize=7, markerscale=1.5)
    return fig


def plot_contact_map(
    positions: PositionMatrix,
    structure_map: StructureMap,
    distances: np.ndarray,
    result: ContactResult,
    out: str | Path,
    threshold: float = 8.0,
    divisor: int = 2,
    title: str = "",
) -> Path:
    """:func:`draw_contact_map`, saved at ``out`` (atomically)."""
    fig = draw_contact_map(positions, structure_map, distances, result, threshold, divisor, title)
    return save_figure(fig, out)


def draw_contacts(analysis: ContactAnalysis, *, ax: Axes | None = None) -> Figure | SubFigure:
    """The contact map of a :class:`~seqvae.analysis.contacts.ContactAnalysis` at its threshold
    (:func:`draw_contact_map`)."""
    threshold = analysis.settings["threshold"]
    args = (analysis.positions, analysis.structure_map, analysis.distances, analysis.result)
    return draw_contact_map(*args, threshold, ax=ax)


def plot_contacts(analysis: ContactAnalysis, out: str | Path) -> dict[str, Path]:
    """The contact map of a :class:`~seqvae.analysis.contacts.ContactAnalysis` into ``out``
    (``contact_map.png``: :func:`draw_contacts`).

    Returns
    -------
    dict
        ``contact_map``: the path.
    """
    return {"contact_map": save_figure(draw_contacts(analysis), Path(out) / CONTACT_MAP_PNG)}


def draw_sca_matrix(result: SCAResult, *, ax: Axes | None = None) -> Figure | SubFigure:
    """Heatmap of the SCA matrix C̃; returns the figure (a new one, or the one that holds ``ax``)."""
    length = result.sca.matrix.shape[0]
    fig, ax = single_axes(ax, width=5.2, height=4.6)
    image = ax.imshow(result.sca.matrix, cmap=SEQUENTIAL_CMAP, vmin=0,
                      vmax=float(np.quantile(result.sca.matrix, 0.995)), interpolation="nearest")  # fmt: skip
    ax.set_xlabel("position (retained alignment column)")
    ax.set_ylabel("position (retained alignment column)")
    ax.set_title(f"SCA matrix C̃ ({length} positions, N_eff = {result.alignment.n_eff:.0f})")
    fig.colorbar(image, ax=ax, label="C̃_ij (Frobenius norm)")
    return fig


def draw_sca_spectrum(result: SCAResult, *, ax: Axes | None = None) -> Figure | SubFigure:
    """The SCA matrix's eigenvalues against those of the randomised alignments, with the cut-off;
    returns the figure (a new one, or the one that holds ``ax``)."""
    length = result.sca.matrix.shape[0]
    fig, ax = single_axes(ax, width=6.0, height=3.6)
    top = max(result.eigenvalues.max(), result.random_eigenvalues.max())
    bins = np.linspace(0, top * 1.02, max(30, length // 2))
    ax.hist(result.eigenvalues, bins=bins.tolist(), color="black", label="SCA matrix")
    random_hist, _ = np.histogram(result.random_eigenvalues.ravel(), bins=bins)
    centres = 0.5 * (bins[1:] + bins[:-1])
    ax.plot(centres, random_hist / result.random_eigenvalues.shape[0], color="#D55E00", lw=2,
            label=f"randomised alignments (mean of {result.random_eigenvalues.shape[0]})")  # fmt: skip
    ax.axvline(
        result.cutoff,
        color="#0072B2",
        ls="--",
        label=f"cut-off {result.cutoff:.2f}: {result.n_significant} modes",
    )
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("number of eigenvalues")
    ax.set_title("Spectrum of the SCA matrix vs randomised alignments")
    ax.legend()
    return fig


def draw_sca_ics(result: SCAResult, *, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Scatter plots of the independent components in pairs, positions coloured by IC group;
    returns the figure (a new one, or ``fig``)."""
    length = result.sca.matrix.shape[0]
    k = result.n_components
    pairs = [(j, j + 1) for j in range(0, k - 1, 2)] or [(0, 0)]
    fig, axes = figure_axes(fig, 1, len(pairs), width=3.4, height=3.3)
    colors = categorical_colors(max(k, 1))
    membership = np.full(length, -1)
    for j, group in enumerate(result.ic_groups.groups):
        membership[group] = j
    for p, (a, b) in enumerate(pairs):
        ax = axes[0, p]
        ax.scatter(
            result.ics[membership < 0, a], result.ics[membership < 0, b], s=8, color="#c8c8c8", label="no IC"
        )
        for j in range(k):
            sel = membership == j
            if sel.any():
                ax.scatter(
                    result.ics[sel, a],
                    result.ics[sel, b],
                    s=12,
                    color=colors[j],
                    label=f"IC{j + 1} ({sel.sum()})",
                )
        ax.set_xlabel(f"IC{a + 1}")
        ax.set_ylabel(f"IC{b + 1}")
        if p == 0:
            ax.legend(fontsize=6, loc="best")
    fig.suptitle("Independent components of the top eigenvectors (positions coloured by IC group)")
    return fig


def plot_sca(result: SCAResult, out: Path) -> dict[str, Path]:
    """Matrix heatmap, spectrum against the randomised alignments, IC scatter plots, saved in
    ``out`` (:func:`draw_sca_matrix`, :func:`draw_sca_spectrum`, :func:`draw_sca_ics`)."""
    out = Path(out)
    return {
        "matrix_png": save_figure(draw_sca_matrix(result), out / SCA_MATRIX_PNG),
        "spectrum_png": save_figure(draw_sca_spectrum(result), out / SCA_SPECTRUM_PNG),
        "ic_png": save_figure(draw_sca_ics(result), out / SCA_ICS_PNG),
    }


# -- comparison with published sectors ------------------------------------------------------------
