"""Compare predicted mutation scores with measurements: Spearman ρ with a bootstrap interval,
counts, and ROC AUC for a binary label."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import spearmanr

from seqvae.errors import InputError


@dataclass
class Evaluation:
    """Agreement between predicted scores and a measured column.

    Attributes
    ----------
    spearman
        Spearman ρ over the rows with both a score and a measurement.
    ci_low, ci_high
        Percentile bootstrap 95 % interval of ρ (resampling rows with replacement).
    n_scored
        Rows used (score and measurement both present).
    n_skipped
        Rows without a score (non-focus positions, stop codons, …) or without a measurement.
    auc
        ROC AUC of the score against a binary label (``None`` without a label).
    """

    spearman: float
    ci_low: float
    ci_high: float
    n_scored: int
    n_skipped: int
    auc: float | None = None
    n_bootstrap: int = 1000

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        text = (
            f"Spearman rho = {self.spearman:.4f} (95% CI {self.ci_low:.4f} to {self.ci_high:.4f}), "
            f"N scored = {self.n_scored}, N skipped = {self.n_skipped}"
        )
        if self.auc is not None:
            text += f", AUC = {self.auc:.4f}"
        return text


def _tie_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stable sort order of ``values`` and, along it, where each group of equal values starts."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    return order, np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])


def _resample_ranks(counts: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each row's rank (ties averaged) within every resample, from how often the resample draws
    it (``counts``, resamples x rows): the order is sorted once, not once per resample."""
    group = np.add.reduceat(counts[:, order], starts, axis=1)
    group_rank = np.cumsum(group, axis=1) - group + (group + 1) / 2.0
    ranks = np.empty(counts.shape, np.float64)
    ranks[:, order] = np.repeat(group_rank, np.diff(np.r_[starts, len(order)]), axis=1)
    return ranks


def _weighted_pearson_rows(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair, each column counted ``weights`` times."""
    total = weights.sum(axis=1, keepdims=True)
    a = a - (weights * a).sum(axis=1, keepdims=True) / total
    b = b - (weights * b).sum(axis=1, keepdims=True) / total
    with np.errstate(invalid="ignore", divide="ignore"):  # constant resamples give NaN, dropped later
        covariance = (weights * a * b).sum(axis=1)
        return covariance / np.sqrt((weights * a * a).sum(axis=1) * (weights * b * b).sum(axis=1))


def bootstrap_spearman(
    predicted: np.ndarray, measured: np.ndarray, n_bootstrap: int = 1000, seed: int = 0, block: int = 100
) -> tuple[float, float]:
    """Percentile 95 % interval of Spearman ρ by resampling (predicted, measured) pairs.

    A resample is held as how often it draws each row; its ranks (ties averaged) then follow
    from the rows' one sort order, and its ρ is the Pearson r of the ranks with each row counted
    that often: the same numbers as ranking every resample, without sorting it."""
    rng = np.random.default_rng(seed)
    n = len(predicted)
    groups_p, groups_m = _tie_groups(predicted), _tie_groups(measured)
    values = []
    for start in range(0, n_bootstrap, block):
        size = min(block, n_bootstrap - start)
        index = rng.integers(0, n, size=(size, n))
        drawn = (np.arange(size)[:, None] * n + index).ravel()
        counts = np.bincount(drawn, minlength=size * n).reshape(size, n).astype(np.float64)
        ranks_p = _resample_ranks(counts, *groups_p)
        ranks_m = _resample_ranks(counts, *groups_m)
        values.append(_weighted_pearson_rows(ranks_p, ranks_m, counts))
    rho = np.concatenate(values)
    rho = rho[np.isfinite(rho)]
    if not rho.size:
        return float("nan"), float("nan")
    return float(np.percentile(rho, 2.5)), float(np.percentile(rho, 97.5))


def evaluate_scores(
    predicted: np.ndarray,
    measured: np.ndarray,
    labels: np.ndarray | None = None,
    n_unscored: int = 0,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Spearman ρ (with a bootstrap interval) and optional AUC.

    Parameters
    ----------
    predicted, measured
        Scores and measurements of the same rows; rows where either is NaN are skipped.
    labels
        Optional 0/1 labels of the same rows for a ROC AUC.
    n_unscored
        Rows that had no score at all (counted in ``n_skipped``).
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    measured = np.asarray(measured, dtype=np.float64)
    ok = np.isfinite(predicted) & np.isfinite(measured)
    n = int(ok.sum())
    if n < 3:
        raise InputError(f"need at least 3 rows with both a score and a measurement to evaluate, got {n}")
    p, m = predicted[ok], measured[ok]
    if m.min() == m.max():
        raise InputError(
            f"the measured values are all {m[0]:g} over the {n} scored rows: Spearman rho is undefined "
            "for a constant column"
        )
    if p.min() == p.max():  # every prediction equal (e.g. a model that ignores the mutated sites)
        rho, low, high = float("nan"), float("nan"), float("nan")
    else:
        rho = float(spearmanr(p, m).statistic)
        low, high = bootstrap_spearman(p, m, n_bootstrap=n_bootstrap, seed=seed)
    auc = None
    if labels is not None and len(labels):
        from sklearn.metrics import roc_auc_score

        lab = np.asarray(labels, dtype=np.float64)[ok]
        keep = np.isfinite(lab)
        values = set(np.unique(lab[keep]).tolist())
        if not values <= {0.0, 1.0}:
            raise InputError(f"label column must hold 0/1 values, found {sorted(values)[:5]}")
        if len(values) == 2:
            auc = float(roc_auc_score(lab[keep], p[keep]))
    return Evaluation(
        spearman=rho,
        ci_low=low,
        ci_high=high,
        n_scored=n,
        n_skipped=int(n_unscored + (~ok).sum()),
        auc=auc,
        n_bootstrap=n_bootstrap,
    )
