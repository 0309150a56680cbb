"""The latent space set against the alignment and against phenotypes.

* :func:`alignment_pca` — PCA of the weighted one-hot alignment, computed from a sparse one-hot
  matrix through an implicit (never materialised) centred operator, so memory stays O(N·L).
* :func:`canonical_correlations`, :func:`linear_r2` — how much of the latent means the top
  principal components explain, and the reverse.
* :func:`cross_validated_r2`, :func:`cross_validated_accuracy` — phenotype predictability from
  latent means and, for comparison, from as many principal components.
* :func:`grouped_predictability` — the same within each group (or latent cluster) against the
  pooled value, with a Simpson's-paradox flag (rule in its docstring).
* :func:`localisation_test` — are the members of a set (top fraction of a phenotype, a category)
  closer together in latent space than random sets of the same size?
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.linalg import LinearOperator, svds
from scipy.spatial.distance import pdist

from seqvae.data.onehot import one_hot_sparse
from seqvae.data.weights import normalised_weights
from seqvae.errors import InputError

__all__ = [
    "AlignmentPCA",
    "GroupedPredictability",
    "LocalisationResult",
    "alignment_pca",
    "canonical_correlations",
    "cross_validated_accuracy",
    "cross_validated_r2",
    "grouped_predictability",
    "latent_clusters",
    "latent_pca",
    "linear_r2",
    "localisation_test",
    "out_of_fold_predictions",
]


# -- PCA of the alignment ---------------------------------------------------------------------
@dataclass
class AlignmentPCA:
    """Principal components of a weighted one-hot alignment.

    Attributes
    ----------
    scores
        ``[N, k]`` projections of each (centred) sequence on the components.
    components
        ``[L * n_states, k]`` unit loading vectors (sign: largest loading positive).
    explained_variance
        ``[k]`` weighted variance along each component.
    explained_variance_ratio
        ``[k]`` the same over the total weighted variance.
    include_gaps
        Whether the gap was a one-hot state.
    """

    scores: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    include_gaps: bool

    @property
    def n_components(self) -> int:
        return int(self.scores.shape[1])


def alignment_pca(
    codes: np.ndarray,
    n_codes: int,
    weights: np.ndarray | None = None,
    n_components: int = 10,
    include_gaps: bool = True,
    seed: int = 0,
) -> AlignmentPCA:
    """PCA of the weighted one-hot alignment without ever forming a dense one-hot matrix.

    The weighted, centred matrix ``Y = diag(√w̄)(X − 1μᵀ)`` (X sparse one-hot, w̄ normalised
    weights, μ = Xᵀw̄) is applied as a linear operator; its top singular vectors are the
    principal axes of the weighted covariance ``YᵀY`` (ARPACK, seeded start vector).

    Parameters
    ----------
    codes
        ``uint8 [N, L]`` codes, gap = ``n_codes - 1``.
    n_codes
        Alphabet size including the gap.
    weights
        Sequence weights (uniform when ``None``).
    n_components
        Number of components k (reduced to ``min(N, L·n_states) − 1`` when larger).
    include_gaps
        Treat the gap as a one-hot state (default) or as an all-zero row.
    seed
        Seeds ARPACK's start vector, for reproducible signs and values.
    """
    x = one_hot_sparse(codes, n_codes, include_gaps)
    w = normalised_weights(weights, x.shape[0])
    mu = np.asarray(x.T @ w).ravel()
    total_variance = float((mu - mu**2).sum())  # one-hot entries: E[x²] = E[x]
    return _sparse_pca(x, w, n_components, seed, total_variance, include_gaps)


def count_pca(
    counts: sparse.csr_matrix,
    weights: np.ndarray | None = None,
    n_components: int = 10,
    seed: int = 0,
) -> AlignmentPCA:
    """PCA of a count matrix (cells × genes) as log(1 + counts scaled to the median library
    size), computed like :func:`alignment_pca` without forming a dense matrix.

    ``components`` are then ``[genes, k]`` loadings; ``include_gaps`` is ``False``.
    """
    x = sparse.csr_matrix(counts, dtype=np.float64)
    library = np.asarray(x.sum(axis=1)).ravel()
    scale = np.median(library) / np.maximum(library, 1.0)
    x = sparse.diags(scale) @ x
    x.data = np.log1p(x.data)
    x = x.tocsr()
    w = normalised_weights(weights, x.shape[0])
    mu = np.asarray(x.T @ w).ravel()
    second = np.asarray(x.multiply(x).T @ w).ravel()
    total_variance = float((second - mu**2).sum())
    return _sparse_pca(x, w, n_components, seed, total_variance, False)


def _sparse_pca(
    x: sparse.csr_matrix,
    w: np.ndarray,
    n_components: int,
    seed: int,
    total_variance: float,
    include_gaps: bool,
) -> AlignmentPCA:
    """Top principal axes of the sparse ``x`` with normalised weights ``w`` (see alignment_pca)."""
    n, dim = x.shape
    k = min(int(n_components), min(n, dim) - 1)
    if k < 1:
        raise InputError(f"too few sequences or columns for PCA ({n} x {dim})")
    root_w = np.sqrt(w)
    mu = np.asarray(x.T @ w).ravel()
    xt = x.T.tocsr()

    def matvec(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v).reshape(dim, -1)
        return root_w[:, None] * (x @ v - mu @ v)

    def rmatvec(u: np.ndarray) -> np.ndarray:
        u = np.asarray(u).reshape(n, -1)
        scaled = root_w[:, None] * u
        return xt @ scaled - np.outer(mu, scaled.sum(axis=0))

    operator = LinearOperator(
        (n, dim),
        matvec=lambda v: matvec(v).ravel(),
        rmatvec=lambda u: rmatvec(u).ravel(),
        matmat=matvec,
        rmatmat=rmatvec,
        dtype=np.float64,
    )
    start = np.random.default_rng(seed).standard_normal(min(n, dim))
    _, singular, vt = svds(operator, k=k, v0=start, solver="arpack")
    order = np.argsort(-singular)
    singular, components = singular[order], vt[order].T
    # a deterministic sign: the largest-magnitude loading of each component is positive
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(k)])
    components = components * np.where(signs == 0, 1.0, signs)
    scores = np.asarray(x @ components) - mu @ components
    variance = singular**2
    return AlignmentPCA(
        scores=scores,
        components=components,
        explained_variance=variance,
        explained_variance_ratio=variance / total_variance if total_variance > 0 else variance * 0,
        include_gaps=include_gaps,
    )


def latent_pca(z: np.ndarray, weights: np.ndarray | None = None, n_components: int = 2) -> np.ndarray:
    """Weighted PCA projection of latent means ``[N, d]`` onto their top ``n_components`` axes."""
    z = np.asarray(z, dtype=np.float64)
    w = normalised_weights(weights, len(z))
    centred = z - w @ z
    covariance = (centred * w[:, None]).T @ centred
    values, vectors = np.linalg.eigh(covariance)
    vectors = vectors[:, np.argsort(-values)[:n_components]]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    return centred @ (vectors * np.where(signs == 0, 1.0, signs))


# -- latent vs principal components -----------------------------------------------------------
def _weighted_basis(matrix: np.ndarray, w: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Orthonormal basis of the weighted, centred column space (rank-revealing, via SVD)."""
    centred = matrix - w @ matrix
    scaled = np.sqrt(w)[:, None] * centred
    u, s, _ = np.linalg.svd(scaled, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return u[:, :0]
    return u[:, s > tolerance * s[0]]


def canonical_correlations(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted canonical correlations between the columns of ``a [N, p]`` and ``b [N, q]``.

    Computed directly: orthonormal bases of both weighted, centred column spaces, then the
    singular values of their cross-product (descending, in [0, 1]). Collinear or constant
    columns (collapsed latent dimensions) are dropped, so at most ``min(rank a, rank b)`` values.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) != len(b):
        raise InputError(f"row counts differ: {len(a)} vs {len(b)}")
    w = normalised_weights(weights, len(a))
    qa, qb = _weighted_basis(a, w), _weighted_basis(b, w)
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        return np.zeros(0)
    return np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)


def linear_r2(features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, Any]:
    """In-sample weighted least-squares R² of each target column from the features (with intercept).

    Returns
    -------
    dict
        ``per_target`` (R² of each column) and ``total`` (1 − Σ residual / Σ total variance,
        i.e. larger-variance columns count more).
    """
    features = np.asarray(features, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    w = normalised_weights(weights, len(features))
    q = _weighted_basis(features, w)
    centred = np.sqrt(w)[:, None] * (targets - w @ targets)
    total = (centred**2).sum(axis=0)
    explained = ((q.T @ centred) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_target = np.where(total > 0, explained / total, np.nan)
    overall = float(explained.sum() / total.sum()) if total.sum() > 0 else float("nan")
    return {"per_target": per_target.tolist(), "total": overall}


# -- phenotype predictability -----------------------------------------------------------------
def _folds(n: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold

    folds = min(folds, n)
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(n)))


def out_of_fold_predictions(
    features: np.ndarray,
    target: np.ndarray,
    method: str = "linear",
    folds: int = 5,
    seed: int = 0,
    neighbours: int = 10,
) -> np.ndarray:
    """Predictions of ``target`` for each row from a model fitted on the other folds.

    Parameters
    ----------
    method
        ``linear`` (least squares with intercept) or ``knn`` (mean of the ``neighbours`` nearest
        training points, Euclidean distance on the raw features).
    """
    from sklearn.linear_model import LinearRegression
    from sklearn.neighbors import KNeighborsRegressor

    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if features.ndim == 1:
        features = features[:, None]
    if method not in ("linear", "knn"):
        raise InputError(f"unknown method {method!r}; choose linear or knn")
    predicted = np.empty(len(target))
    for train, test in _folds(len(target), folds, seed):
        if method == "linear":
            model = LinearRegression()
        else:
            model = KNeighborsRegressor(n_neighbors=min(neighbours, len(train)))
        model.fit(features[train], target[train])
        predicted[test] = model.predict(features[test])
    return predicted


def cross_validated_r2(
    features: np.ndarray,
    target: np.ndarray,
    method: str = "linear",
    folds: int = 5,
    seed: int = 0,
    neighbours: int = 10,
) -> float:
    """Out-of-fold R² of ``target`` from ``features`` (K-fold, shuffled with ``seed``).

    R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² over the out-of-fold predictions of all folds pooled, ȳ the
    mean of all targets: 0 for predicting the mean, negative when worse than that. ``method`` is
    ``linear`` or ``knn`` (see :func:`out_of_fold_predictions`); NaN with fewer than
    ``max(folds, 4)`` rows or a constant target.
    """
    target = np.asarray(target, dtype=np.float64)
    n = len(target)
    if n < max(folds, 4):
        return float("nan")
    total = float(((target - target.mean()) ** 2).sum())
    if total == 0:
        return float("nan")
    predicted = out_of_fold_predictions(features, target, method, folds, seed, neighbours)
    return 1.0 - float(((target - predicted) ** 2).sum()) / total


def cross_validated_accuracy(
    features: np.ndarray,
    labels: np.ndarray | pd.Series,
    folds: int = 5,
    seed: int = 0,
    neighbours: int = 10,
) -> dict[str, float]:
    """k-nearest-neighbour classification from ``features``, out-of-fold.

    Stratified folds when every class has at least ``folds`` members, plain shuffled folds
    otherwise. Returns ``accuracy``, ``balanced_accuracy`` (mean per-class recall), ``chance``
    (the majority class's share), ``n`` and ``n_classes``.
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(pd.Series(labels).astype(str))
    n = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    out = {"n": n, "n_classes": len(classes), "chance": float(counts.max() / n) if n else float("nan")}
    if n < max(folds, 4) or len(classes) < 2:
        return {**out, "accuracy": float("nan"), "balanced_accuracy": float("nan")}
    folds = min(folds, n)
    if counts.min() >= folds:
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.empty(n, dtype=object)
    for train, test in splitter.split(features, labels):
        model = KNeighborsClassifier(n_neighbors=min(neighbours, len(train)))
        model.fit(features[train], labels[train])
        predicted[test] = model.predict(features[test])
    return {
        **out,
        "accuracy": float((predicted == labels).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted.astype(str))),
    }


def latent_clusters(
    z: np.ndarray, n_clusters: int = 4, weights: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Weighted k-means labels (``"cluster 0"`` …) of latent means, ordered by cluster size."""
    from sklearn.cluster import KMeans

    z = np.asarray(z, dtype=np.float64)
    n_clusters = max(1, min(int(n_clusters), len(z)))
    model = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed)
    labels = model.fit_predict(z, sample_weight=None if weights is None else np.asarray(weights, float))
    order = np.argsort(-np.bincount(labels, minlength=n_clusters), kind="stable")
    rank = np.empty(n_clusters, dtype=int)
    rank[order] = np.arange(n_clusters)
    return np.array([f"cluster {rank[label]}" for label in labels], dtype=object)


# -- Simpson's paradox ------------------------------------------------------------------------
@dataclass
class GroupedPredictability:
    """Predictability of one phenotype pooled and within groups.

    Attributes
    ----------
    pooled
        ``n``, ``r2_linear``, ``r2_knn`` (latent), ``r2_pca_linear`` (as many PCs, when given),
        ``r`` and ``p`` (Pearson, per latent coordinate).
    groups
        One row per group with at least ``min_group_size`` measured sequences: the same fields
        plus ``flag_strength``, ``flag_sign`` and ``reversed_dimensions``.
    rule
        The flagging rule in words (also written to the metrics file).
    skipped_groups
        Groups too small to test, with their sizes.
    """

    grouping: str
    pooled: dict[str, Any]
    groups: pd.DataFrame
    rule: str
    skipped_groups: dict[str, int] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        if self.groups.empty:
            return False
        return bool((self.groups["flag_strength"] | self.groups["flag_sign"]).any())

    def to_dict(self) -> dict[str, Any]:
        return {
            "grouping": self.grouping,
            "rule": self.rule,
            "flagged": self.flagged,
            "pooled": self.pooled,
            "groups": self.groups.to_dict(orient="records"),
            "skipped_groups": self.skipped_groups,
        }


def _pearson_per_column(features: np.ndarray, target: np.ndarray) -> tuple[list[float], list[float]]:
    rs, ps = [], []
    for column in features.T:
        if np.std(column) == 0 or np.std(target) == 0 or len(target) < 3:
            rs.append(float("nan"))
            ps.append(float("nan"))
            continue
        result = stats.pearsonr(column, target)
        rs.append(float(result.statistic))
        ps.append(float(result.pvalue))
    return rs, ps


def grouped_predictability(
    features: np.ndarray,
    target: np.ndarray,
    groups: np.ndarray | pd.Series,
    pcs: np.ndarray | None = None,
    grouping: str = "group",
    min_group_size: int = 30,
    folds: int = 5,
    seed: int = 0,
    neighbours: int = 10,
    strength_delta: float = 0.2,
    alpha: float = 0.01,
) -> GroupedPredictability:
    """Cross-validated R² of a phenotype from latent means within each group, against the pooled R².

    Rows with a missing target or group are ignored. The Simpson's-paradox rule: a group with at
    least ``min_group_size`` measured sequences is flagged for

    * **strength** when its cross-validated R² (linear or k-NN, each compared with the pooled
      value of the same model, both clipped at 0 since a negative R² only means "no better than
      the mean") differs from the pooled one by at least ``strength_delta`` (default 0.2; Sachdeva et al.
      report 0.83 within subgroups vs 0.32 pooled);
    * **sign** when for some latent coordinate the within-group and pooled Pearson correlations
      with the phenotype have opposite signs and both are significant (p < ``alpha``, default 0.01).
    """
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    groups = pd.Series(np.asarray(groups, dtype=object))
    keep = np.isfinite(target) & groups.notna().to_numpy()
    features, target, groups = features[keep], target[keep], groups[keep].astype(str).to_numpy()
    pcs = None if pcs is None else np.asarray(pcs, dtype=np.float64)[keep]

    def summary(rows: np.ndarray, fold_seed: int) -> dict[str, Any]:
        f, y = features[rows], target[rows]
        r, p = _pearson_per_column(f, y)
        out = {
            "n": len(y),
            "r2_linear": cross_validated_r2(f, y, "linear", folds, fold_seed, neighbours),
            "r2_knn": cross_validated_r2(f, y, "knn", folds, fold_seed, neighbours),
            "r": r,
            "p": p,
        }
        if pcs is not None:
            out["r2_pca_linear"] = cross_validated_r2(pcs[rows], y, "linear", folds, fold_seed, neighbours)
        return out

    every = np.arange(len(target))
    pooled = summary(every, seed)
    rows = []
    skipped = {}
    names, counts = np.unique(groups, return_counts=True)
    for name, count in sorted(zip(names, counts), key=lambda item: -item[1]):
        if count < min_group_size:
            skipped[str(name)] = int(count)
            continue
        result = summary(np.flatnonzero(groups == name), seed)
        reversed_dims = [
            k
            for k, (r_g, p_g, r_0, p_0) in enumerate(zip(result["r"], result["p"], pooled["r"], pooled["p"]))
            if np.isfinite(r_g)
            and np.isfinite(r_0)
            and p_g < alpha
            and p_0 < alpha
            and np.sign(r_g) != np.sign(r_0)
        ]
        # R² below 0 only says "no better than the mean": compare strengths clipped at 0
        strength_models = [
            model
            for model in ("linear", "knn")
            if np.isfinite(result[f"r2_{model}"])
            and np.isfinite(pooled[f"r2_{model}"])
            and abs(max(result[f"r2_{model}"], 0.0) - max(pooled[f"r2_{model}"], 0.0)) >= strength_delta
        ]
        rows.append(
            {
                "group": str(name),
                **result,
                "flag_strength": bool(strength_models),
                "flag_sign": bool(reversed_dims),
                "strength_models": strength_models,
                "reversed_dimensions": reversed_dims,
            }
        )
    rule = (
        f"a group with >= {min_group_size} measured sequences is flagged for strength when "
        f"|max(R2_group, 0) - max(R2_pooled, 0)| >= {strength_delta} for the linear or the kNN model "
        f"({folds}-fold cross-validated R2 from the latent means), "
        f"and for sign when a latent coordinate's Pearson r with the phenotype has opposite signs "
        f"within the group and pooled, both with p < {alpha}"
    )
    columns = [
        "group",
        "n",
        "r2_linear",
        "r2_knn",
        "r",
        "p",
        "flag_strength",
        "flag_sign",
        "reversed_dimensions",
    ]
    if pcs is not None:
        columns.insert(4, "r2_pca_linear")
    return GroupedPredictability(
        grouping=grouping,
        pooled=pooled,
        groups=pd.DataFrame(rows, columns=columns),
        rule=rule,
        skipped_groups=skipped,
    )


# -- localisation -----------------------------------------------------------------------------
@dataclass
class LocalisationResult:
    """A permutation test of how concentrated a set of sequences is in latent space.

    ``statistic`` is smaller for a more concentrated set; ``p_value`` = (1 + #{null ≤ observed})
    / (1 + n_permutations), the one-sided probability that a random set is as concentrated.
    """

    name: str
    statistic_name: str
    n_members: int
    n_pool: int
    observed: float
    null: np.ndarray
    p_value: float
    null_sampling: str

    @property
    def ratio(self) -> float:
        """Observed over the mean of the null (< 1: more concentrated than random sets)."""
        return float(self.observed / self.null.mean())

    @property
    def z_score(self) -> float:
        sd = float(self.null.std(ddof=1)) if len(self.null) > 1 else 0.0
        return float((self.observed - self.null.mean()) / sd) if sd > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": self.name,
            "statistic": self.statistic_name,
            "n_members": self.n_members,
            "n_pool": self.n_pool,
            "observed": self.observed,
            "null_mean": float(self.null.mean()),
            "null_sd": float(self.null.std(ddof=1)) if len(self.null) > 1 else float("nan"),
            "ratio_to_null": self.ratio,
            "z_score": self.z_score,
            "p_value": self.p_value,
            "n_permutations": len(self.null),
            "null_sampling": self.null_sampling,
        }


@functools.lru_cache(maxsize=8)
def _upper_pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pairs in :func:`scipy.spatial.distance.pdist` order."""
    return np.triu_indices(m, k=1)


def _weighted_mean_pairwise_distance(
    points: np.ndarray, weights: np.ndarray, rng: np.random.Generator, max_exact: int, n_pairs: int = 50_000
) -> float:
    """Σ_{i<j} w_i w_j ‖z_i − z_j‖ / Σ_{i<j} w_i w_j, exact up to ``max_exact`` points, otherwise
    estimated from ``n_pairs`` random distinct pairs (weighted in the same way)."""
    m = len(points)
    if m <= max_exact:
        i, j = _upper_pairs(m)
        pair_weights = weights[i] * weights[j]
        return float((pair_weights * pdist(points)).sum() / pair_weights.sum())
    i = rng.integers(0, m, n_pairs)
    j = rng.integers(0, m - 1, n_pairs)
    j = j + (j >= i)  # distinct pairs
    pair_weights = weights[i] * weights[j]
    distances = np.linalg.norm(points[i] - points[j], axis=1)
    return float((pair_weights * distances).sum() / pair_weights.sum())


def _weighted_knn_distance(points: np.ndarray, weights: np.ndarray, neighbours: int) -> float:
    """Weighted mean over members of the mean distance to their ``neighbours`` nearest other members."""
    from scipy.spatial import cKDTree

    k = min(neighbours, len(points) - 1)
    distances, _ = cKDTree(points).query(points, k=k + 1)
    per_member = distances[:, 1:].mean(axis=1)
    return float((weights * per_member).sum() / weights.sum())


def localisation_test(
    z: np.ndarray,
    members: np.ndarray,
    weights: np.ndarray | None = None,
    pool: np.ndarray | None = None,
    statistic: str = "pairwise",
    n_permutations: int = 999,
    seed: int = 0,
    neighbours: int = 10,
    null_sampling: str = "weighted",
    name: str = "set",
    max_exact: int = 1000,
) -> LocalisationResult:
    """Permutation test: is a set of sequences more concentrated in latent space than chance?

    Parameters
    ----------
    z
        ``[N, d]`` latent means.
    members
        ``[N]`` boolean mask of the set (e.g. the top 10 % of a phenotype).
    weights
        Sequence weights: they weight each member in the statistic and, with
        ``null_sampling="weighted"``, the chance of a sequence entering a random set.
    pool
        ``[N]`` boolean mask of the sequences random sets are drawn from (default: all); for a
        phenotype, the measured sequences. Members outside the pool are an error.
    statistic
        ``pairwise``: weighted mean pairwise Euclidean distance within the set; ``knn``: weighted
        mean distance of each member to its ``neighbours`` nearest other members.
    n_permutations
        Random sets of the same size drawn without replacement from the pool.
    null_sampling
        ``weighted`` (probability ∝ weight, as training samples sequences) or ``uniform``.
    max_exact
        Sets up to this size use every pair for ``pairwise``; larger ones 50,000 random pairs.
    """
    z = np.asarray(z, dtype=np.float64)
    n = len(z)
    members = np.asarray(members, dtype=bool)
    pool = np.ones(n, dtype=bool) if pool is None else np.asarray(pool, dtype=bool)
    if members.shape != (n,) or pool.shape != (n,):
        raise InputError("members and pool must be boolean masks over the sequences")
    if (members & ~pool).any():
        raise InputError("every member must belong to the pool random sets are drawn from")
    m, pool_index = int(members.sum()), np.flatnonzero(pool)
    if m < 2 or m >= len(pool_index):
        raise InputError(f"a localisation set needs 2 <= size < pool size (got {m} of {len(pool_index)})")
    if statistic not in ("pairwise", "knn"):
        raise InputError(f"unknown statistic {statistic!r}; choose pairwise or knn")
    if null_sampling not in ("weighted", "uniform"):
        raise InputError(f"unknown null sampling {null_sampling!r}; choose weighted or uniform")
    if n_permutations < 1:
        raise InputError("n_permutations must be >= 1")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)

    def measure(index: np.ndarray) -> float:
        if statistic == "pairwise":
            return _weighted_mean_pairwise_distance(z[index], w[index], rng, max_exact)
        return _weighted_knn_distance(z[index], w[index], neighbours)

    observed = measure(np.flatnonzero(members))
    pool_weights = w[pool_index]
    if null_sampling == "weighted" and np.count_nonzero(pool_weights) < m:
        raise InputError("fewer sequences with non-zero weight in the pool than set members")

    def random_set() -> np.ndarray:
        if null_sampling == "uniform":
            return rng.choice(pool_index, size=m, replace=False)
        # successive sampling ∝ weight without replacement (Efraimidis–Spirakis keys u^(1/w))
        with np.errstate(divide="ignore"):
            keys = np.log(rng.random(len(pool_index))) / pool_weights
        return pool_index[np.argpartition(-keys, m - 1)[:m]]

    null = np.empty(n_permutations)
    for t in range(n_permutations):
        null[t] = measure(random_set())
    p_value = (1.0 + float((null <= observed).sum())) / (1.0 + n_permutations)
    return LocalisationResult(
        name=name,
        statistic_name=statistic,
        n_members=m,
        n_pool=len(pool_index),
        observed=observed,
        null=null,
        p_value=p_value,
        null_sampling=null_sampling,
    )
