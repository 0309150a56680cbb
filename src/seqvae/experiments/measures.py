"""Measurements the built-in experiments make on a trained model and its synthetic family.

Pure functions of arrays (latent means, ground-truth overlaps, factors, labels) except
:func:`decode_stability`, which needs the model. Every definition is spelled out in its
docstring, since the experiments' conclusions rest on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from scipy.cluster.hierarchy import fcluster
from scipy.cluster.hierarchy import linkage as build_linkage
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist
from sklearn.metrics import adjusted_rand_score

from seqvae.analysis.latent import cross_validated_r2
from seqvae.analysis.reconstruction import decode_latents, reconstruction_stability
from seqvae.errors import InputError

__all__ = [
    "abs_correlation_matrix",
    "adjusted_rand",
    "cluster_pair_distances",
    "decode_stability",
    "excess_kurtosis",
    "factor_recovery",
    "hamming_clusters",
    "latent_points",
    "pattern_recovery",
    "patterns_carried",
    "pooled_and_within_r2",
]


def _as_2d(z: np.ndarray, name: str) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or len(z) < 2:
        raise InputError(f"{name} must be [N, d] with N >= 2, got shape {z.shape}")
    return z


def abs_correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|Pearson r|`` between every column of ``a [N, p]`` and of ``b [N, q]``, ``[p, q]``.

    A constant column correlates with nothing: its entries are 0 (not NaN).
    """
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    if len(a) != len(b):
        raise InputError(f"row counts differ: {len(a)} vs {len(b)}")
    ac = a - a.mean(axis=0)
    bc = b - b.mean(axis=0)
    na = np.sqrt((ac**2).sum(axis=0))
    nb = np.sqrt((bc**2).sum(axis=0))
    scale = np.outer(na, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ac.T @ bc) / scale
    r[~(scale > 1e-12 * max(1.0, float(scale.max(initial=0.0))))] = 0.0
    return np.clip(np.abs(np.nan_to_num(r)), 0.0, 1.0)


def patterns_carried(z: np.ndarray, overlaps: np.ndarray, threshold: float = 0.3) -> list[int]:
    """The patterns a latent coordinate mixes, by forward selection.

    The pattern whose overlap correlates best with ``z`` comes first; ``z`` is then regressed on
    the overlaps chosen so far (least squares with intercept) and the next pattern is the one best
    correlated with the residual. Selection stops when no remaining pattern reaches
    ``|r| >= threshold``. Selecting on residuals matters: patterns exclude each other (a sequence
    near one pattern is far from the others), so a coordinate that only signals pattern A is
    anti-correlated with every other pattern's overlap too, but explains nothing beyond A.
    Returns the selected pattern indices in order (empty when even the best ``|r|`` is below
    ``threshold``).
    """
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    m = _as_2d(overlaps, "overlaps")
    chosen: list[int] = []
    residual = z - z.mean()
    while len(chosen) < m.shape[1]:
        r = abs_correlation_matrix(residual[:, None], m)[0]
        r[chosen] = -1.0
        best = int(np.argmax(r))
        if r[best] < threshold:
            break
        chosen.append(best)
        design = np.c_[m[:, chosen], np.ones(len(z))]
        coefficients, *_ = np.linalg.lstsq(design, z, rcond=None)
        residual = z - design @ coefficients
        if residual.std() <= 1e-9 * max(z.std(), 1e-300):
            break
    return chosen


def pattern_recovery(
    z_mean: np.ndarray,
    overlaps: np.ndarray,
    active: np.ndarray | None = None,
    threshold: float = 0.3,
) -> dict[str, Any]:
    """How the latent dimensions carry the patterns' overlaps.

    Parameters
    ----------
    z_mean
        ``[N, d]`` latent means.
    overlaps
        ``[N, K]`` ground-truth overlaps ``m_μ`` of each sequence with each long pattern.
    active
        ``[d]`` boolean, the dimensions to count (default: all).
    threshold
        The ``|r|`` at which a dimension carries a pattern (see :func:`patterns_carried`).

    Returns
    -------
    dict
        ``best_abs_r_mean`` / ``best_abs_r_min``: over patterns, the best ``|r(z_k, m_μ)|`` any
        active dimension reaches; ``patterns_per_dim_mean``: mean number of patterns an active
        dimension carries (:func:`patterns_carried`); ``polysemantic_dims``: active dimensions
        carrying two or more patterns (the *polysemanticity* count); ``monosemantic_dims``:
        exactly one; ``pattern_r2_mean``: mean over patterns of the in-sample linear R² of
        ``m_μ`` from all active dimensions (with intercept); ``abs_r``: the ``[d, K]`` matrix.
    """
    z = _as_2d(z_mean, "z_mean")
    m = _as_2d(overlaps, "overlaps")
    d = z.shape[1]
    active = np.ones(d, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    r = abs_correlation_matrix(z, m)
    carried = np.array([len(patterns_carried(z[:, k], m, threshold)) for k in np.flatnonzero(active)])
    used = r[active]
    if used.size:
        best = used.max(axis=0)
        design = np.c_[z[:, active], np.ones(len(z))]
        coefficients, *_ = np.linalg.lstsq(design, m, rcond=None)
        residual = m - design @ coefficients
        total = ((m - m.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = np.where(total > 0, 1.0 - (residual**2).sum(axis=0) / total, np.nan)
    else:
        best = np.zeros(m.shape[1])
        r2 = np.zeros(m.shape[1])
    return {
        "best_abs_r_mean": float(best.mean()),
        "best_abs_r_min": float(best.min()),
        "patterns_per_dim_mean": float(carried.mean()) if carried.size else 0.0,
        "polysemantic_dims": int((carried >= 2).sum()),
        "monosemantic_dims": int((carried == 1).sum()),
        "pattern_r2_mean": float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan"),
        "abs_r": r,
    }


def cluster_pair_distances(z_mean: np.ndarray, labels: np.ndarray, overlaps: np.ndarray) -> dict[str, Any]:
    """Latent distances between pattern clusters, set against how anti-correlated the patterns are.

    Definitions
    -----------
    * Cluster ``μ``: the sequences whose nearest pattern (largest overlap) is ``μ``; its centroid
      ``c_μ`` is the mean of their latent means.
    * Spread ``s = sqrt(tr Cov(z_mean))``, the RMS distance of the cloud from its centre; all
      distances are divided by it, so models with differently scaled latent spaces compare.
    * ``D_μν = ||c_μ − c_ν|| / s``: normalised centroid distance of a pair.
    * ``C_μν``: Pearson correlation of the overlap vectors ``m_μ`` and ``m_ν`` across all
      sequences. The *anti-correlated pair* is the pair with the most negative ``C``.
    * ``anticorrelated_distance_ratio = D(anti-correlated pair) / mean D`` (> 1: the most
      anti-correlated patterns sit farther apart than the average pair);
      ``distance_correlation_spearman``: Spearman ρ between ``C`` and ``D`` over pairs (< 0:
      the more anti-correlated, the farther apart); ``separation``: mean centroid distance over
      the mean within-cluster RMS radius (how far apart clusters are relative to their size).

    Clusters with fewer than two members are left out.
    """
    z = _as_2d(z_mean, "z_mean")
    m = _as_2d(overlaps, "overlaps")
    labels = np.asarray(labels)
    names, counts = np.unique(labels, return_counts=True)
    keep = [name for name, count in zip(names, counts) if count >= 2]
    spread = float(np.sqrt(z.var(axis=0).sum()))
    out: dict[str, Any] = {
        "n_clusters": len(keep),
        "spread": spread,
        "anticorrelated_pair": None,
        "anticorrelated_overlap_r": float("nan"),
        "anticorrelated_distance": float("nan"),
        "mean_pair_distance": float("nan"),
        "anticorrelated_distance_ratio": float("nan"),
        "distance_correlation_spearman": float("nan"),
        "separation": float("nan"),
    }
    if len(keep) < 2 or spread <= 0:
        return out
    centroids = np.array([z[labels == name].mean(axis=0) for name in keep])
    radii = np.array(
        [np.sqrt(((z[labels == name] - c) ** 2).sum(axis=1).mean()) for name, c in zip(keep, centroids)]
    )
    overlap_r = np.corrcoef(m, rowvar=False) if m.shape[1] > 1 else np.ones((1, 1))
    pairs, distances, correlations = [], [], []
    for i in range(len(keep)):
        for j in range(i + 1, len(keep)):
            a, b = int(keep[i]), int(keep[j])
            pairs.append((a, b))
            distances.append(float(np.linalg.norm(centroids[i] - centroids[j]) / spread))
            correlations.append(float(overlap_r[a, b]) if max(a, b) < overlap_r.shape[0] else float("nan"))
    distances_arr = np.array(distances)
    correlations_arr = np.nan_to_num(np.array(correlations), nan=0.0)
    anti = int(np.argmin(correlations_arr))
    out.update(
        anticorrelated_pair=[pairs[anti][0], pairs[anti][1]],
        anticorrelated_overlap_r=float(correlations_arr[anti]),
        anticorrelated_distance=float(distances_arr[anti]),
        mean_pair_distance=float(distances_arr.mean()),
        anticorrelated_distance_ratio=float(distances_arr[anti] / distances_arr.mean())
        if distances_arr.mean() > 0
        else float("nan"),
        separation=float(distances_arr.mean() * spread / radii.mean()) if radii.mean() > 0 else float("inf"),
    )
    if len(pairs) >= 3 and np.ptp(correlations_arr) > 0 and np.ptp(distances_arr) > 0:
        out["distance_correlation_spearman"] = float(
            stats.spearmanr(correlations_arr, distances_arr).statistic
        )
    return out


def latent_points(
    region: str,
    latent_dim: int,
    n: int,
    rng: np.random.Generator,
    data_means: np.ndarray | None = None,
    tail_quantile: float = 0.99,
    oversample: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Latent points to decode from a region of the prior, and their isolation.

    Regions
    -------
    ``prior``
        ``z ~ N(0, I)``.
    ``tail``
        Far out in the prior's tail: ``z = r·u``, ``u`` uniform on the unit sphere and ``r`` the
        radius outside which only ``1 − tail_quantile`` of the prior's mass lies
        (``r² = χ²_d quantile``).
    ``gap``
        Empty regions inside the prior's bulk: ``oversample × n`` prior draws with
        ``||z||² <= χ²_d median`` (the central half of the prior's mass), of which the ``n``
        farthest from every encoded sequence (``data_means``) are kept.

    Returns
    -------
    points, isolation
        ``[n, d]`` points and, per point, the distance to the nearest encoded sequence divided by
        the median nearest-neighbour distance among the encoded sequences (NaN without
        ``data_means``): 1 is as close as data points are to each other, ≫ 1 is empty space.
    """
    d = int(latent_dim)
    if region == "prior":
        points = rng.standard_normal((n, d))
    elif region == "tail":
        direction = rng.standard_normal((n, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        points = direction * np.sqrt(stats.chi2.ppf(tail_quantile, d))
    elif region == "gap":
        if data_means is None:
            raise InputError("the gap region needs the encoded sequences' latent means")
        radius2 = stats.chi2.ppf(0.5, d)
        chosen: list[np.ndarray] = []
        while sum(len(c) for c in chosen) < oversample * n:
            draws = rng.standard_normal((oversample * n, d))
            chosen.append(draws[(draws**2).sum(axis=1) <= radius2])
        candidates = np.concatenate(chosen)[: oversample * n]
        distance = _nearest_distance(candidates, data_means)
        points = candidates[np.argsort(-distance, kind="stable")[:n]]
    else:
        raise InputError(f"unknown latent region {region!r}; choose prior, tail or gap")
    if data_means is None:
        return points, np.full(n, np.nan)
    data = _as_2d(data_means, "data_means")
    typical = float(np.median(_nearest_distance(data, data, exclude_self=True)))
    isolation = _nearest_distance(points, data) / max(typical, 1e-12)
    return points, isolation


def _nearest_distance(points: np.ndarray, data: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    tree = cKDTree(np.asarray(data, dtype=np.float64))
    k = 2 if exclude_self else 1
    distance, _ = tree.query(np.asarray(points, dtype=np.float64), k=k)
    return distance[:, -1] if exclude_self else distance


def decode_stability(model, z: np.ndarray) -> dict[str, Any]:
    """Decode latent points by argmax, re-encode the sequences, decode again: are they stable?

    Returns ``codes`` (the first decoding, ``uint8 [n, L]``), ``stable`` (boolean ``[n]``: the
    second decoding equals the first on every predictable position) and ``identity`` (``[n]``
    fraction of positions kept), via :func:`seqvae.analysis.reconstruction.reconstruction_stability`.
    """

    codes = decode_latents(model, np.asarray(z, dtype=np.float32), decoding="argmax")
    stable, distance = reconstruction_stability(model, codes)
    return {"codes": codes, "stable": stable, "identity": 1.0 - distance / codes.shape[1]}


def pooled_and_within_r2(
    z: np.ndarray, target: np.ndarray, groups: np.ndarray, min_group_size: int = 10
) -> dict[str, Any]:
    """R² (squared Pearson r) of each latent coordinate with a phenotype, pooled and within groups.

    Definitions
    -----------
    * ``pooled[k] = r(z_k, y)²`` over all sequences.
    * ``within[g, k] = r(z_k, y)²`` over the members of group ``g`` (groups with fewer than
      ``min_group_size`` members, or a constant coordinate or phenotype, are left out).
    * ``r2_pooled = max_k pooled[k]``: the best coordinate pooled.
    * ``r2_within = Σ_g n_g max_k within[g, k] / Σ_g n_g``: each sub-family's best coordinate,
      weighted by size — what a researcher who sub-selects one clade at a time would see.
    * ``r2_within_same``: the same with one coordinate for all groups (the one maximising the
      size-weighted mean), and ``r2_pooled_same``: that coordinate's pooled R².
    * ``gap = r2_within − r2_pooled`` (> 0: sub-selecting reveals a relationship pooling hides).
    """
    z = _as_2d(z, "z")
    y = np.asarray(target, dtype=np.float64)
    groups = np.asarray(groups)
    if len(y) != len(z) or len(groups) != len(z):
        raise InputError(
            f"z, target and groups must have the same length ({len(z)}, {len(y)}, {len(groups)})"
        )
    pooled = abs_correlation_matrix(z, y[:, None])[:, 0] ** 2
    names, counts = np.unique(groups, return_counts=True)
    rows, sizes, used = [], [], []
    for name, count in zip(names, counts):
        if count < max(min_group_size, 3):
            continue
        member = groups == name
        if np.ptp(y[member]) == 0:
            continue
        rows.append(abs_correlation_matrix(z[member], y[member, None])[:, 0] ** 2)
        sizes.append(count)
        used.append(name)
    out: dict[str, Any] = {
        "pooled": pooled,
        "r2_pooled": float(pooled.max()),
        "best_pooled_dim": int(np.argmax(pooled)),
        "groups": [str(g) for g in used],
    }
    if not rows:
        out.update(
            within=np.zeros((0, z.shape[1])),
            r2_within=float("nan"),
            r2_within_same=float("nan"),
            r2_pooled_same=float("nan"),
            best_within_dim=-1,
            gap=float("nan"),
        )
        return out
    within = np.array(rows)
    weights = np.array(sizes, dtype=np.float64) / np.sum(sizes)
    same = weights @ within
    best_same = int(np.argmax(same))
    r2_within = float(weights @ within.max(axis=1))
    out.update(
        within=within,
        r2_within=r2_within,
        r2_within_same=float(same[best_same]),
        r2_pooled_same=float(pooled[best_same]),
        best_within_dim=best_same,
        gap=r2_within - out["r2_pooled"],
    )
    return out


def hamming_clusters(codes: np.ndarray, n_clusters: int, linkage: str = "average") -> np.ndarray:
    """Hierarchical clustering of sequences on Hamming distances, cut into ``n_clusters``.

    ``linkage``: ``average`` (UPGMA, the default), ``complete`` or ``single``. Returns labels
    ``0..n_clusters-1`` (int). Quadratic in the number of sequences: subsample first.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or len(codes) < 2:
        raise InputError(f"codes must be [N, L] with N >= 2, got shape {codes.shape}")
    if linkage not in ("average", "complete", "single"):
        raise InputError(f"linkage must be average, complete or single (got {linkage!r})")
    distances = pdist(codes.astype(np.float64), metric="hamming")
    tree = build_linkage(distances, method=linkage)
    return fcluster(tree, t=n_clusters, criterion="maxclust").astype(np.int64) - 1


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index between two labellings (1: identical up to renaming; ≈ 0: chance)."""
    return float(adjusted_rand_score(np.asarray(a), np.asarray(b)))


def factor_recovery(
    z_mean: np.ndarray,
    factors: np.ndarray,
    active: np.ndarray,
    explained_threshold: float = 0.5,
    neighbours: int = 15,
    seed: int = 0,
) -> dict[str, Any]:
    """Which latent dimensions carry the true factors, and which are redundant or noise.

    * ``factor_r2_mean`` / ``factor_r2_min``: linear R² (in sample, with intercept) of each true
      factor from the active latent means — are the factors encoded?
    * For each active dimension, the cross-validated k-nearest-neighbour R² of ``z_k`` from the
      true factors: at least ``explained_threshold`` means the dimension is a (possibly
      nonlinear) function of the factors, below it the dimension encodes something else (noise).
    * ``factor_dims``: active dimensions explained by the factors; ``noise_dims``: active ones
      that are not; ``redundant_dims = max(0, factor_dims − n_factors)``: the data have only
      ``n_factors`` degrees of freedom, so factor-explained dimensions beyond that count
      duplicate information other dimensions already carry.
    """

    z = _as_2d(z_mean, "z_mean")
    f = _as_2d(factors, "factors")
    active = np.asarray(active, dtype=bool)
    n_factors = f.shape[1]
    if active.any():
        design = np.c_[z[:, active], np.ones(len(z))]
        coefficients, *_ = np.linalg.lstsq(design, f, rcond=None)
        residual = f - design @ coefficients
        r2 = 1.0 - (residual**2).sum(axis=0) / ((f - f.mean(axis=0)) ** 2).sum(axis=0)
    else:
        r2 = np.zeros(n_factors)
    explained = np.full(z.shape[1], np.nan)
    for k in np.flatnonzero(active):
        explained[k] = cross_validated_r2(f, z[:, k], method="knn", folds=5, seed=seed, neighbours=neighbours)
    factor_dims = int((explained >= explained_threshold).sum())
    return {
        "factor_r2_mean": float(r2.mean()),
        "factor_r2_min": float(r2.min()),
        "factor_dims": factor_dims,
        "noise_dims": int(active.sum() - factor_dims),
        "redundant_dims": max(0, factor_dims - n_factors),
        "dim_factor_r2": explained,
    }


def excess_kurtosis(z_mean: np.ndarray, active: np.ndarray) -> dict[str, float]:
    """Non-Gaussianity of the active dimensions' marginals: excess kurtosis (0 for a Gaussian).

    MMD matches the aggregate posterior to N(0, I) through a kernel; Sachdeva et al.'s worry is that
    structure can hide in higher moments. Returns the mean and the largest ``|excess kurtosis|``
    over active dimensions (NaN when none is active).
    """
    z = _as_2d(z_mean, "z_mean")
    active = np.asarray(active, dtype=bool)
    if not active.any():
        return {"kurtosis_mean_abs": float("nan"), "kurtosis_max_abs": float("nan")}
    values = np.abs(stats.kurtosis(z[:, active], axis=0, fisher=True))
    return {"kurtosis_mean_abs": float(values.mean()), "kurtosis_max_abs": float(values.max())}
