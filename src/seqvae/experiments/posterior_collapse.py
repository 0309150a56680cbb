"""``posterior-collapse``: selective posterior collapse on linear factors, KL against MMD.

Sachdeva et al.'s set-up: ``x = Σ α_i u_i`` with 6 orthonormal directions in R^100 and a 10-D latent
space. A β-VAE keeps some dimensions at variance ≈ 1 and collapses the rest to ≈ 0, and
tr Cov(z_mean) falls as β grows; MMD only matches the aggregate posterior's moments, so it may
keep extra (redundant) dimensions that KL would collapse. Per model: tr Cov(z_mean), active
dimensions, the sorted per-dimension variances, how many active dimensions the factors explain
(and how many are redundant or noise), factor recovery, and the non-Gaussianity of the active
dimensions' marginals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from seqvae.experiments import common
from seqvae.experiments import measures as m
from seqvae.experiments.families import check_linear_factors, linear_factor_knobs
from seqvae.experiments.knobs import Knob
from seqvae.experiments.registry import ExperimentSpec, PointContext
from seqvae.plots.experiments import plot_collapse_dimensions, plot_collapse_summary


def _latent_usage(ctx: PointContext) -> dict[str, Any]:
    row = common.measure_latent_usage(ctx)
    variances = common.diagnostics(ctx).table["variance"].to_numpy()
    row["collapsed_dims"] = int((variances < ctx.analysis["collapsed_threshold"]).sum())
    row["n_factors"] = ctx.family.config["n_factors"]
    return row


def _factor_recovery(ctx: PointContext) -> dict[str, Any]:
    z_mean, _ = common.encoded(ctx)
    factors = ctx.family.factors()[common.measured_rows(ctx)]
    result = m.factor_recovery(
        z_mean,
        factors,
        common.active_mask(ctx),
        explained_threshold=ctx.analysis["explained_threshold"],
        neighbours=ctx.analysis["neighbours"],
        seed=ctx.seed,
    )
    result.pop("dim_factor_r2")
    return result


def _moments(ctx: PointContext) -> dict[str, Any]:
    z_mean, _ = common.encoded(ctx)
    return m.excess_kurtosis(z_mean, common.active_mask(ctx))


def figures(table: pd.DataFrame, config: dict[str, Any], out: Path) -> list[Path]:

    out.mkdir(parents=True, exist_ok=True)
    k = config["family"]["n_factors"]
    return [
        plot_collapse_summary(table, k, out / "posterior_collapse.png"),
        plot_collapse_dimensions(table, k, out / "posterior_collapse_dims.png"),
    ]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    return common.summarise_means(
        table,
        ["regulariser", "strength", "latent_dim"],
        [
            "trace_cov",
            "active_dims",
            "collapsed_dims",
            "factor_dims",
            "redundant_dims",
            "noise_dims",
            "factor_r2_mean",
            "kurtosis_max_abs",
        ],
    )


SPEC = ExperimentSpec(
    name="posterior-collapse",
    description=(
        "Linear factors (6 orthonormal directions in R^100), 10-D latent space; β grid for KL and λ grid "
        "for MMD, several seeds. tr Cov(z_mean), active, collapsed, redundant and noise dimensions."
    ),
    family_kind="linear_factors",
    family_knobs=linear_factor_knobs(),
    analysis_knobs={
        "active_threshold": common.ACTIVE_THRESHOLD_KNOB,
        "max_sequences": common.MAX_SEQUENCES_KNOB,
        "collapsed_threshold": Knob(
            0.02, "float", 0.0, help="Var(z_mean) below which a dimension is collapsed"
        ),
        "explained_threshold": Knob(
            0.5, "float", 0.0, 1.0, help="kNN R² from the factors above which a dimension carries them"
        ),
        "neighbours": Knob(15, "int", 1, help="k of the kNN regression"),
    },
    measure={
        "latent_usage": _latent_usage,
        "factor_recovery": _factor_recovery,
        "moments": _moments,
    },
    figures=figures,
    summarise=summarise,
    grid_defaults={
        "regulariser": ["kl", "mmd"],
        "beta": [1.0, 3.0, 5.0, 6.0, 7.0, 8.0],
        "mmd_weight": [1.0, 10.0, 100.0, 1000.0],
        "latent_dim": [10],
        "seed": [0, 1],
    },
    run_defaults={
        "model": {"encoder_hidden": [64], "decoder_hidden": [64], "warmup_steps": 0},
        "training": {
            "max_steps": 1500,
            "batch_size": 128,
            "learning_rate": 0.002,
            "validation_fraction": 0.0,
            "early_stopping_patience": None,
            "log_every": 50,
            "checkpoint_every": 500,
            "device": "cpu",
        },
    },
    quick={
        "family": {"n_samples": 400, "dim": 20, "n_factors": 3},
        "grid": {"beta": [0.5, 30.0], "mmd_weight": [10.0], "latent_dim": [5], "seed": [0]},
        "training": {"max_steps": 150, "checkpoint_every": 150},
    },
    family_check=check_linear_factors,
)
