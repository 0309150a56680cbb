"""Compare two L x L position matrices (VAE couplings, SCA, Potts coupling norms, PCA loadings).

Both matrices are first restricted to their common positions: by structure ``labels`` when both
files have them, else by reference ``numbering``, else they must have the same length. Reported:

- Pearson and Spearman correlation of the off-diagonal entries (upper triangle);
- ``|v_k · w_k|`` for the top-k eigenvectors of each, the full ``|V_kᵀ W_k|`` overlap matrix and
  the cosines of the principal angles between the two top-k subspaces;
- two null references beside them: random unit vectors in L dimensions (Sachdeva et al.'s "≈ 1/√L";
  the exact mean of ``|v · w|`` is close to ``sqrt(2/(π L))``), simulated, and a position
  permutation null: the same comparison after relabelling the positions of one matrix at random.
  The second matters because the top eigenvector of a non-negative matrix has entries of one sign
  (Perron-Frobenius), so two unrelated non-negative matrices already share much of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seqvae.analysis.latent import alignment_pca
from seqvae.analysis.sca_matrix import eigen_decomposition
from seqvae.errors import InputError
from seqvae.io.atomic import write_json
from seqvae.io.matrix_file import PositionMatrix

# the one APC implementation (also used by the Potts coupling norms); importable from here too
from seqvae.models.potts import average_product_correction
from seqvae.utils import single_threaded_blas

COMPARISON_FILE = "comparison.json"  # what `seqvae compare` writes and `seqvae report` reads


def align_matrices(a: PositionMatrix, b: PositionMatrix) -> tuple[PositionMatrix, PositionMatrix, str]:
    """Restrict both matrices to their common positions, in ``a``'s order.

    Returns the two restricted matrices and how they were matched (``labels``, ``numbering``
    or ``index``).
    """
    keys_a, keys_b = a.position_keys(), b.position_keys()
    for kind in ("labels", "numbering"):
        if keys_a is not None and keys_b is not None:
            ka = a.labels if kind == "labels" else a.numbering
            kb = b.labels if kind == "labels" else b.numbering
            if ka is None or kb is None:
                continue
            missing = "" if kind == "labels" else -1
            where_b = {key: i for i, key in enumerate(kb.tolist()) if key != missing}
            index_a, index_b = [], []
            for i, key in enumerate(ka.tolist()):
                if key != missing and key in where_b:
                    index_a.append(i)
                    index_b.append(where_b[key])
            if len(index_a) < 3:
                raise InputError(
                    f"the two matrices share only {len(index_a)} positions by {kind}; "
                    "were they built on the same family and reference?",
                    b.source,
                )
            return a.subset(np.asarray(index_a)), b.subset(np.asarray(index_b)), kind
    if a.length != b.length:
        raise InputError(
            f"matrices of different sizes ({a.length} vs {b.length}) without numbering or labels to align them",
            b.source,
        )
    return a, b, "index"


def top_eigenvectors(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k eigenvalues and eigenvectors (descending, each vector's mean >= 0)."""
    values, vectors = eigen_decomposition(matrix)
    return values[:k], vectors[:, :k]


def offdiagonal_correlations(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman correlations of the upper-triangle entries."""
    from scipy.stats import pearsonr, spearmanr

    iu = np.triu_indices(a.shape[0], k=1)
    x, y = a[iu], b[iu]
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])


def eigenvector_overlaps(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``|Vᵀ W|``: absolute dot products between unit eigenvectors."""
    return np.abs(v.T @ w)


def principal_cosines(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between span(V) and span(W), largest first."""
    qv, _ = np.linalg.qr(v)
    qw, _ = np.linalg.qr(w)
    return np.clip(np.linalg.svd(qv.T @ qw, compute_uv=False), 0.0, 1.0)


def random_vector_null(length: int, k: int, n_samples: int = 2000, seed: int = 0) -> dict[str, float]:
    """|v · w| and principal-angle cosines for random unit vectors / random k-subspaces in R^L."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n_samples, length))
    w = rng.standard_normal((n_samples, length))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    dots = np.abs((v * w).sum(axis=1))
    n_sub = max(50, n_samples // 10)
    with single_threaded_blas():
        cosines = np.array(
            [
                principal_cosines(rng.standard_normal((length, k)), rng.standard_normal((length, k)))
                for _ in range(n_sub)
            ]
        )
    return {
        "dot_mean": float(dots.mean()),
        "dot_q95": float(np.quantile(dots, 0.95)),
        "dot_analytic": float(np.sqrt(2.0 / (np.pi * length))),
        "one_over_sqrt_L": float(1.0 / np.sqrt(length)),
        "principal_cosine_mean": float(cosines.mean()),
        "principal_cosine_max_mean": float(cosines[:, 0].mean()),
    }


def permutation_null(
    a: np.ndarray, b: np.ndarray, k: int, n_permutations: int = 200, seed: int = 0
) -> dict[str, list[float] | float]:
    """Overlaps and correlations after relabelling ``b``'s positions at random.

    Besides the null's mean and 95th percentile, each observed statistic gets a one-sided
    permutation p-value ``(1 + #{null >= observed}) / (1 + n_permutations)``: for each
    ``|v_k · w_k|`` (``dot_p``), the mean principal-angle cosine and the off-diagonal Pearson r.
    """
    rng = np.random.default_rng(seed)
    _, va = top_eigenvectors(a, k)
    _, vb = top_eigenvectors(b, k)
    observed_dots = np.abs((va * vb).sum(axis=0))
    observed_cos = float(principal_cosines(va, vb).mean())
    observed_pearson = offdiagonal_correlations(a, b)[0]
    length = a.shape[0]
    diag_rows: list[np.ndarray] = []
    cos_values: list[float] = []
    pearson_values: list[float] = []
    with single_threaded_blas():
        for _ in range(n_permutations):
            perm = rng.permutation(length)
            vp = vb[perm]
            diag_rows.append(np.abs((va * vp).sum(axis=0)))
            cos_values.append(float(principal_cosines(va, vp).mean()))
            pearson_values.append(offdiagonal_correlations(a, b[np.ix_(perm, perm)])[0])
    diag = np.asarray(diag_rows)
    cos = np.asarray(cos_values)
    pearson = np.asarray(pearson_values)

    def p_value(null: np.ndarray, observed: float) -> float:
        return float((1 + np.sum(null >= observed - 1e-12)) / (1 + null.size))

    return {
        "n_permutations": int(n_permutations),
        "dot_mean": diag.mean(axis=0).tolist(),
        "dot_q95": np.quantile(diag, 0.95, axis=0).tolist(),
        "dot_p": [p_value(diag[:, c], observed_dots[c]) for c in range(observed_dots.size)],
        "principal_cosine_mean": float(np.mean(cos)),
        "principal_cosine_q95": float(np.quantile(cos, 0.95)),
        "principal_cosine_p": p_value(cos, observed_cos),
        "pearson_mean": float(np.nanmean(pearson)),
        "pearson_q95": float(np.nanquantile(pearson, 0.95)),
        "pearson_p": p_value(pearson[np.isfinite(pearson)], observed_pearson),
    }


@dataclass
class Comparison:
    """The numbers of one comparison (see the module docstring)."""

    name_a: str
    name_b: str
    matched_by: str
    length: int
    pearson: float
    spearman: float
    k: int
    top_dots: list[float]
    overlap_matrix: list[list[float]]
    principal_cosines: list[float]
    random_vectors: dict[str, float]
    permutation: dict = field(default_factory=dict)
    eigenvalues_a: list[float] = field(default_factory=list)
    eigenvalues_b: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``comparison.json`` into ``out`` (see :func:`write_comparison`)."""
        return write_comparison(self, out)


def compare_matrices(
    a: PositionMatrix,
    b: PositionMatrix,
    k: int = 3,
    n_permutations: int = 200,
    seed: int = 0,
    name_a: str = "A",
    name_b: str = "B",
    apc: bool = False,
) -> tuple[Comparison, PositionMatrix, PositionMatrix]:
    """Compare two position matrices on their common positions; returns the numbers and the
    aligned matrices. With ``apc`` both matrices are average-product corrected after alignment."""
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    a_sub, b_sub, matched_by = align_matrices(a, b)
    if apc:
        a_sub.matrix = average_product_correction(a_sub.matrix)
        b_sub.matrix = average_product_correction(b_sub.matrix)
        matched_by += ", APC"
    length = a_sub.length
    k = min(k, length - 1)
    ma = 0.5 * (a_sub.matrix + a_sub.matrix.T)
    mb = 0.5 * (b_sub.matrix + b_sub.matrix.T)
    np.fill_diagonal(ma, 0.0)
    np.fill_diagonal(mb, 0.0)
    pearson, spearman = offdiagonal_correlations(ma, mb)
    la, va = top_eigenvectors(ma, k)
    lb, vb = top_eigenvectors(mb, k)
    overlaps = eigenvector_overlaps(va, vb)
    comparison = Comparison(
        name_a=name_a,
        name_b=name_b,
        matched_by=matched_by,
        length=length,
        pearson=pearson,
        spearman=spearman,
        k=k,
        top_dots=np.diag(overlaps).tolist(),
        overlap_matrix=overlaps.tolist(),
        principal_cosines=principal_cosines(va, vb).tolist(),
        random_vectors=random_vector_null(length, k, seed=seed),
        permutation=permutation_null(ma, mb, k, n_permutations, seed) if n_permutations > 0 else {},
        eigenvalues_a=la.tolist(),
        eigenvalues_b=lb.tolist(),
    )
    return comparison, a_sub, b_sub


def write_comparison(comparison: Comparison, out: str | Path) -> dict[str, Path]:
    """Write ``comparison.json`` into ``out`` (the figures: :func:`seqvae.plots.matrices.plot_comparison`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / COMPARISON_FILE, comparison.to_dict())
    return {"json": out / COMPARISON_FILE}


# -- PCA ------------------------------------------------------------------------------------------
def pca_loading_matrix(
    codes: np.ndarray,
    weights: np.ndarray | None = None,
    n_residues: int = 20,
    n_components: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairwise structure the top principal components of the one-hot alignment carry.

    PCA of the weighted, centred one-hot matrix (gaps all-zero) gives loadings ``V [20L, k]``
    and variances ``λ``; the rank-k covariance ``V Λ Vᵀ`` is reduced to L x L by the Frobenius
    norm of each 20 x 20 block, like the SCA matrix. The PCA itself is
    :func:`seqvae.analysis.latent.alignment_pca` with the gap as an all-zero row (a sparse
    one-hot applied as an operator: never a dense one-hot or a 20L x 20L matrix).

    Returns
    -------
    (matrix, variances)
        The ``[L, L]`` matrix and the top-k variances.
    """

    codes = np.asarray(codes)
    length = codes.shape[1]
    # codes >= n_residues (the gap) are all-zero rows of the one-hot
    pca = alignment_pca(
        np.minimum(codes, n_residues), n_residues + 1, weights, n_components, include_gaps=False, seed=seed
    )
    values, vectors = pca.explained_variance, pca.components
    k = values.size
    blocks = vectors.reshape(length, n_residues, k)
    gram = np.einsum("lap,laq->lpq", blocks, blocks)  # G_i = V_iᵀ V_i
    scaled = values[None, :, None] * gram * values[None, None, :]  # Λ G_i Λ
    # ‖V_i Λ V_jᵀ‖_F² = tr(Λ G_i Λ G_j)
    squared = scaled.reshape(length, k * k) @ gram.reshape(length, k * k).T
    return np.sqrt(np.clip(squared, 0.0, None)), values
