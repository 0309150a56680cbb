"""Which latent dimensions a model uses: Sachdeva et al.'s table of per-dimension mean and variance of
the mean embeddings, posterior variances, KL per dimension, active dimensions, tr Cov(z_mean),
and the redundancy between dimensions (correlation matrix and its participation ratio).

Everything is a weighted average over sequences when weights are given (the sequence weights,
so that clusters of near-duplicates count once, as in training); uniform otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqvae.data.weights import normalised_weights
from seqvae.errors import InputError

__all__ = ["DEFAULT_ACTIVE_THRESHOLD", "LatentDiagnostics", "latent_diagnostics", "participation_ratio"]

DEFAULT_ACTIVE_THRESHOLD = 0.1


def participation_ratio(matrix: np.ndarray) -> float:
    """(Σλ)² / Σλ² of a symmetric matrix's eigenvalues: the effective number of dimensions.

    1 when one direction carries everything, n for n equal, independent directions.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return 0.0
    eigenvalues = np.clip(np.linalg.eigvalsh(matrix), 0.0, None)
    denominator = float((eigenvalues**2).sum())
    return float(eigenvalues.sum() ** 2 / denominator) if denominator > 0 else 0.0


@dataclass
class LatentDiagnostics:
    """Per-dimension usage of a latent space.

    Attributes
    ----------
    table
        One row per dimension: ``dimension``, ``mean`` and ``variance`` of z_mean over sequences,
        ``posterior_variance`` (mean of exp(z_logvar)), ``kl`` (mean KL(q(z_k|x) ‖ N(0, 1)), nats)
        and ``active`` (variance above the threshold).
    threshold
        The variance threshold for an active dimension.
    trace_cov
        tr Cov(z_mean) = Σ_k Var(z_mean_k).
    covariance
        ``[d, d]`` weighted covariance of z_mean.
    correlation
        ``[d, d]`` correlation of z_mean (rows/columns of dimensions with zero variance are 0,
        diagonal 1).
    participation_ratio_active
        Participation ratio of the correlation matrix restricted to the active dimensions: equal
        to the number of active dimensions when they are uncorrelated, smaller when redundant.
    participation_ratio_covariance
        Participation ratio of the covariance matrix over all dimensions (an effective dimension
        count that also reflects unequal variances).
    """

    table: pd.DataFrame
    threshold: float
    trace_cov: float
    covariance: np.ndarray
    correlation: np.ndarray
    participation_ratio_active: float
    participation_ratio_covariance: float

    @property
    def active_dimensions(self) -> list[int]:
        return [int(k) for k in self.table.loc[self.table["active"], "dimension"]]

    @property
    def n_active(self) -> int:
        return int(self.table["active"].sum())

    @property
    def total_kl(self) -> float:
        return float(self.table["kl"].sum())

    def dimensions_by_use(self) -> list[int]:
        """Dimensions sorted by decreasing variance of z_mean."""
        order = np.argsort(-self.table["variance"].to_numpy(), kind="stable")
        return [int(k) for k in order]

    def to_dict(self) -> dict:
        return {
            "latent_dim": len(self.table),
            "threshold": self.threshold,
            "n_active": self.n_active,
            "active_dimensions": self.active_dimensions,
            "trace_cov_z_mean": self.trace_cov,
            "total_kl": self.total_kl,
            "participation_ratio_active_correlation": self.participation_ratio_active,
            "participation_ratio_covariance": self.participation_ratio_covariance,
            "per_dimension": self.table.to_dict(orient="records"),
            "correlation": np.round(self.correlation, 6).tolist(),
        }


def latent_diagnostics(
    z_mean: np.ndarray,
    z_logvar: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    threshold: float = DEFAULT_ACTIVE_THRESHOLD,
) -> LatentDiagnostics:
    """Per-dimension usage of a latent space from the encoder's means and log-variances.

    Parameters
    ----------
    z_mean, z_logvar
        ``[N, d]`` posterior means and log-variances (``z_logvar`` optional: without it the
        posterior variance and KL columns are NaN).
    weights
        ``[N]`` sequence weights (uniform when ``None``).
    threshold
        A dimension is active when the variance of its z_mean exceeds this (default 0.1; a
        collapsed dimension sits near 0, a used one near 1 under a N(0, I) prior).

    Returns
    -------
    LatentDiagnostics
    """
    z_mean = np.asarray(z_mean, dtype=np.float64)
    if z_mean.ndim != 2 or len(z_mean) < 2:
        raise InputError(f"z_mean must be [N, d] with N >= 2, got shape {z_mean.shape}")
    n, d = z_mean.shape
    if not np.isfinite(z_mean).all():
        raise InputError("z_mean contains NaN or infinite values")
    w = normalised_weights(weights, n)
    mean = w @ z_mean
    centred = z_mean - mean
    covariance = (centred * w[:, None]).T @ centred
    variance = np.clip(np.diag(covariance).copy(), 0.0, None)
    std = np.sqrt(variance)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = covariance / np.outer(std, std)
    usable = std > 1e-8 * max(1.0, float(std.max()))
    correlation[~usable, :] = 0.0
    correlation[:, ~usable] = 0.0
    np.fill_diagonal(correlation, 1.0)
    correlation = np.clip(correlation, -1.0, 1.0)
    if z_logvar is not None:
        z_logvar = np.asarray(z_logvar, dtype=np.float64)
        if z_logvar.shape != z_mean.shape:
            raise InputError(f"z_logvar shape {z_logvar.shape} differs from z_mean shape {z_mean.shape}")
        posterior_variance = w @ np.exp(z_logvar)
        kl = w @ (0.5 * (z_mean**2 + np.exp(z_logvar) - 1.0 - z_logvar))
    else:
        posterior_variance = np.full(d, np.nan)
        kl = np.full(d, np.nan)
    active = variance > threshold
    table = pd.DataFrame(
        {
            "dimension": np.arange(d),
            "mean": mean,
            "variance": variance,
            "posterior_variance": posterior_variance,
            "kl": kl,
            "active": active,
        }
    )
    active_index = np.flatnonzero(active)
    return LatentDiagnostics(
        table=table,
        threshold=float(threshold),
        trace_cov=float(variance.sum()),
        covariance=covariance,
        correlation=correlation,
        participation_ratio_active=participation_ratio(correlation[np.ix_(active_index, active_index)]),
        participation_ratio_covariance=participation_ratio(covariance),
    )
