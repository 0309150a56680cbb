"""Figures of position-by-position matrices: SCA, matrix comparisons, VAE couplings, contact maps.

They draw results computed in :mod:`seqvae.analysis` and never recompute them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqvae.plots.style import CATEGORICAL, SEQUENTIAL_CMAP, categorical_colors, new_figure, save_figure

if TYPE_CHECKING:
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


def plot_comparison(
    comparison: Comparison, a: PositionMatrix, b: PositionMatrix, out: str | Path
) -> dict[str, Path]:
    """Side-by-side heatmaps (common positions) and the eigenvector overlap matrix."""
    out = Path(out)
    paths = {}
    fig, axes = new_figure(1, 2, width=4.6, height=4.2)
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
    paths["heatmaps_png"] = save_figure(fig, out / COMPARE_HEATMAPS_PNG)

    k = comparison.k
    overlaps = np.asarray(comparison.overlap_matrix)
    fig, axes = new_figure(1, 1, width=5.0, height=4.2)
    ax = axes[0, 0]
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
    paths["overlap_png"] = save_figure(fig, out / COMPARE_OVERLAPS_PNG)
    return paths


def plot_coupling_matrix(result: CouplingResult, out: str | Path) -> dict[str, Path]:
    """Heatmap of the symmetrised VAE coupling matrix: ``couplings_matrix.png`` in ``out``."""
    out = Path(out)
    paths = {}
    fig, axes = new_figure(1, 1, width=5.2, height=4.6)
    ax = axes[0, 0]
    image = ax.imshow(result.matrix, cmap=SEQUENTIAL_CMAP, vmin=0,
                      vmax=float(np.quantile(result.matrix, 0.995)) or None, interpolation="nearest")  # fmt: skip
    ax.set_xlabel("position (model column)")
    ax.set_ylabel("position (model column)")
    ax.set_title(
        f"VAE coupling matrix, symmetrised\n(RMS Δ log p over {result.reference_rows.size} references)"
    )
    fig.colorbar(image, ax=ax, label="RMS Δ log p(x_i) [nats]")
    paths["matrix_png"] = save_figure(fig, out / COUPLINGS_MATRIX_PNG)
    return paths


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
    """Structure contacts (grey, lower triangle) with the top ``L/divisor`` predicted pairs
    (upper triangle: blue = contact, orange = not) over the mapped positions."""
    mapped = np.flatnonzero(structure_map.residue_index >= 0)
    where = {p: k for k, p in enumerate(mapped)}
    sub = distances[np.ix_(structure_map.residue_index[mapped], structure_map.residue_index[mapped])]
    ci, cj = np.nonzero(np.tril(sub < threshold, k=-1))
    fig, axes = new_figure(1, 1, width=5.0, height=5.0)
    ax = axes[0, 0]
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
    return save_figure(fig, out)


def plot_contacts(analysis: ContactAnalysis, out: str | Path) -> dict[str, Path]:
    """The contact map of a :class:`~seqvae.analysis.contacts.ContactAnalysis` into ``out``
    (``contact_map.png``: :func:`plot_contact_map` at the analysis' threshold).

    Returns
    -------
    dict
        ``contact_map``: the path.
    """
    path = Path(out) / CONTACT_MAP_PNG
    threshold = analysis.settings["threshold"]
    args = (analysis.positions, analysis.structure_map, analysis.distances, analysis.result)
    return {"contact_map": plot_contact_map(*args, path, threshold)}


def plot_sca(result: SCAResult, out: Path) -> dict[str, Path]:
    """Matrix heatmap, spectrum against the randomised alignments, IC scatter plots."""
    paths = {}
    length = result.sca.matrix.shape[0]
    fig, axes = new_figure(1, 1, width=5.2, height=4.6)
    ax = axes[0, 0]
    image = ax.imshow(result.sca.matrix, cmap=SEQUENTIAL_CMAP, vmin=0,
                      vmax=float(np.quantile(result.sca.matrix, 0.995)), interpolation="nearest")  # fmt: skip
    ax.set_xlabel("position (retained alignment column)")
    ax.set_ylabel("position (retained alignment column)")
    ax.set_title(f"SCA matrix C̃ ({length} positions, N_eff = {result.alignment.n_eff:.0f})")
    fig.colorbar(image, ax=ax, label="C̃_ij (Frobenius norm)")
    paths["matrix_png"] = save_figure(fig, out / SCA_MATRIX_PNG)

    fig, axes = new_figure(1, 1, width=6.0, height=3.6)
    ax = axes[0, 0]
    top = max(result.eigenvalues.max(), result.random_eigenvalues.max())
    bins = np.linspace(0, top * 1.02, max(30, length // 2))
    ax.hist(result.eigenvalues, bins=bins, color="black", label="SCA matrix")
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
    paths["spectrum_png"] = save_figure(fig, out / SCA_SPECTRUM_PNG)

    k = result.n_components
    pairs = [(j, j + 1) for j in range(0, k - 1, 2)] or [(0, 0)]
    fig, axes = new_figure(1, len(pairs), width=3.4, height=3.3)
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
    paths["ic_png"] = save_figure(fig, out / SCA_ICS_PNG)
    return paths


# -- comparison with published sectors ------------------------------------------------------------
