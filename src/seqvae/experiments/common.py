"""Measurements shared by several experiments (encoding once per point, latent usage,
reconstruction) and small table helpers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.diagnostics import latent_diagnostics
from seqvae.analysis.reconstruction import reconstruction_accuracy
from seqvae.experiments.knobs import Knob
from seqvae.experiments.registry import PointContext

ACTIVE_THRESHOLD_KNOB = Knob(0.1, "float", 0.0, help="Var(z_mean) above which a dimension is active")
MAX_SEQUENCES_KNOB = Knob(2000, "int", 10, help="sequences (a seeded subsample) the measurements use")


def measured_rows(ctx: PointContext) -> np.ndarray:
    """Indices of the family members the measurements use: all, or a seeded subsample of
    ``analysis.max_sequences`` (sorted, so the order of the family is kept)."""
    if "rows" not in ctx.cache:
        n = len(ctx.family.truth)
        limit = int(ctx.analysis.get("max_sequences", n))
        if n <= limit:
            rows = np.arange(n)
        else:
            rows = np.sort(np.random.default_rng([ctx.seed, 7]).choice(n, size=limit, replace=False))
        ctx.cache["rows"] = rows
    return ctx.cache["rows"]


def training_inputs(ctx: PointContext) -> np.ndarray:
    """The measured rows of the family as model inputs (codes or vectors)."""
    data = ctx.family.data
    array = data.codes if hasattr(data, "codes") else np.asarray(data)
    return array[measured_rows(ctx)]


def encoded(ctx: PointContext) -> tuple[np.ndarray, np.ndarray]:
    """Latent means and log-variances of the measured rows (computed once per point)."""
    if "encoded" not in ctx.cache:
        ctx.cache["encoded"] = ctx.run.encode(training_inputs(ctx))
    return ctx.cache["encoded"]


def diagnostics(ctx: PointContext):
    """:func:`seqvae.analysis.diagnostics.latent_diagnostics` of the measured rows (cached)."""
    if "diagnostics" not in ctx.cache:
        z_mean, z_logvar = encoded(ctx)
        ctx.cache["diagnostics"] = latent_diagnostics(
            z_mean, z_logvar, threshold=ctx.analysis["active_threshold"]
        )
    return ctx.cache["diagnostics"]


def active_mask(ctx: PointContext) -> np.ndarray:
    return diagnostics(ctx).table["active"].to_numpy(dtype=bool)


def measure_latent_usage(ctx: PointContext) -> dict[str, Any]:
    """Active dimensions, tr Cov(z_mean), KL, redundancy (correlation of the active dimensions,
    participation ratios) and the per-dimension variances (sorted, largest first)."""
    diag = diagnostics(ctx)
    active = active_mask(ctx)
    correlation = diag.correlation[np.ix_(active, active)]
    off_diagonal = np.abs(correlation[~np.eye(len(correlation), dtype=bool)])
    variances = np.sort(diag.table["variance"].to_numpy())[::-1]
    posterior = diag.table["posterior_variance"].to_numpy()
    row = {
        "active_dims": diag.n_active,
        "trace_cov": diag.trace_cov,
        "total_kl": diag.total_kl,
        "participation_ratio": diag.participation_ratio_active,
        "participation_ratio_cov": diag.participation_ratio_covariance,
        "max_abs_latent_r": float(off_diagonal.max()) if off_diagonal.size else 0.0,
        "posterior_var_active": float(posterior[active].mean()) if active.any() else float("nan"),
        "posterior_var_inactive": float(posterior[~active].mean()) if (~active).any() else float("nan"),
    }
    for k, value in enumerate(variances):
        row[f"var_sorted_{k + 1}"] = float(value)
    return row


def measure_reconstruction(ctx: PointContext) -> dict[str, Any]:
    """Argmax reconstruction at the latent mean of the measured sequences
    (:func:`seqvae.analysis.reconstruction.reconstruction_accuracy`)."""

    result = reconstruction_accuracy(ctx.run, training_inputs(ctx))
    return {"reconstruction_accuracy": result.overall, "reconstruction_exact": result.exact_fraction}


def summarise_means(table: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Mean of ``columns`` over seeds (and sub-grid rows) for each combination of ``by``."""
    present = [c for c in columns if c in table.columns]
    keys = [c for c in by if c in table.columns]
    if not keys:
        return table[present].mean().to_frame().T
    grouped = table.groupby(keys, dropna=False, sort=True)
    summary = grouped[present].mean()
    summary.insert(0, "n", grouped.size())
    return summary.reset_index()
