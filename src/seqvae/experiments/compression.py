"""``compression``: over- and under-compression on an associative-memory family with K long patterns.

The latent size runs from below K to above it, for KL and MMD models. Per model: reconstruction,
pattern recovery and polysemanticity, redundancy, latent distances between anti-correlated
patterns, coverage of the patterns by prior samples, and the stability of sequences decoded
from low-density regions of the latent space. Definitions: :mod:`seqvae.experiments.measures`
and ``docs/experiments.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.pattern_recovery import identity_overlap, pattern_coverage
from seqvae.analysis.reconstruction import decode_latents, reconstruction_stability
from seqvae.experiments import common
from seqvae.experiments import measures as m
from seqvae.experiments.families import (
    associative_memory_knobs,
    check_associative_memory,
    quick_associative_memory_family,
    quick_training,
    small_network_run_defaults,
)
from seqvae.experiments.knobs import Knob
from seqvae.experiments.registry import ExperimentSpec, PointContext
from seqvae.io.atomic import write_npz
from seqvae.plots.experiments import (
    plot_compression_coverage,
    plot_compression_latents,
    plot_compression_summary,
)

REGIONS = ("prior", "tail", "gap")


def _latent_usage(ctx: PointContext) -> dict[str, Any]:
    row = common.measure_latent_usage(ctx)
    z_mean, _ = common.encoded(ctx)
    nearest = ctx.family.nearest_pattern()[common.measured_rows(ctx)]
    keep = np.random.default_rng([ctx.seed, 3]).permutation(len(z_mean))[:1000]
    write_npz(ctx.directory / "latent.npz", z_mean=z_mean[keep].astype(np.float32), nearest=nearest[keep])
    return row


def _pattern_recovery(ctx: PointContext) -> dict[str, Any]:
    z_mean, _ = common.encoded(ctx)
    overlaps = ctx.family.overlaps()[common.measured_rows(ctx)]
    result = m.pattern_recovery(
        z_mean, overlaps, common.active_mask(ctx), threshold=ctx.analysis["polysemantic_threshold"]
    )
    result.pop("abs_r")
    return result


def _anticorrelated(ctx: PointContext) -> dict[str, Any]:
    z_mean, _ = common.encoded(ctx)
    rows = common.measured_rows(ctx)
    result = m.cluster_pair_distances(z_mean, ctx.family.nearest_pattern()[rows], ctx.family.overlaps()[rows])
    pair = result.pop("anticorrelated_pair")
    result["anticorrelated_pair"] = "" if pair is None else f"{pair[0] + 1}-{pair[1] + 1}"
    return result


def _decode(ctx: PointContext, z: np.ndarray) -> np.ndarray:

    return decode_latents(ctx.run.model, np.asarray(z, dtype=np.float32), decoding="argmax")


def _coverage(ctx: PointContext) -> dict[str, Any]:
    """Decode prior samples by argmax; which patterns do they reach (identity >= threshold)?"""

    analysis = ctx.analysis
    d = ctx.run.config.model.latent_dim
    z = np.random.default_rng([ctx.seed, 11]).standard_normal((analysis["prior_samples"], d))
    patterns = ctx.family.patterns.long_patterns
    coverage = pattern_coverage(_decode(ctx, z), patterns, threshold=analysis["coverage_threshold"])
    reached = coverage.design_best_overlap >= coverage.threshold
    shares = coverage.designs_per_pattern / len(z)
    on_pattern = float(reached.mean())
    if on_pattern > 0 and len(shares) > 1:
        p = shares[shares > 0] / shares.sum()
        balance = float(-(p * np.log(p)).sum() / np.log(len(shares)))
    else:
        balance = float("nan")
    family_coverage = pattern_coverage(ctx.family.codes, patterns, threshold=analysis["coverage_threshold"])
    row: dict[str, Any] = {
        "prior_coverage": coverage.fraction,
        "prior_on_pattern": on_pattern,
        "prior_balance": balance,
        "prior_missed": " ".join(str(i + 1) for i in coverage.missed),
        "family_on_pattern": float((family_coverage.design_best_overlap >= coverage.threshold).mean()),
    }
    family_shares = family_coverage.designs_per_pattern / len(ctx.family.codes)
    for mu, share in enumerate(shares):
        row[f"prior_share_p{mu + 1}"] = float(share)
        row[f"family_share_p{mu + 1}"] = float(family_shares[mu])
    write_npz(
        ctx.directory / "prior.npz",
        z=z[:1000].astype(np.float32),
        best_pattern=coverage.design_best_pattern[:1000],
        reached=reached[:1000],
    )
    return row


def _low_density(ctx: PointContext) -> dict[str, Any]:
    """Decode → re-encode → decode identity of points from the prior, its tail and empty gaps."""

    analysis = ctx.analysis
    z_mean, _ = common.encoded(ctx)
    d = ctx.run.config.model.latent_dim
    rng = np.random.default_rng([ctx.seed, 13])
    patterns = ctx.family.patterns.long_patterns
    stable_data, _ = reconstruction_stability(ctx.run.model, common.training_inputs(ctx))
    row: dict[str, Any] = {"stable_data": float(stable_data.mean())}
    saved: dict[str, np.ndarray] = {}
    for region in analysis["regions"]:
        points, isolation = m.latent_points(
            region,
            d,
            analysis["low_density_samples"],
            rng,
            data_means=z_mean,
            tail_quantile=analysis["tail_quantile"],
            oversample=analysis["gap_oversample"],
        )
        result = m.decode_stability(ctx.run.model, points)
        best = identity_overlap(result["codes"], patterns).max(axis=1)
        row[f"stable_{region}"] = float(result["stable"].mean())
        row[f"identity_{region}"] = float(result["identity"].mean())
        row[f"isolation_{region}"] = float(np.median(isolation))
        row[f"on_pattern_{region}"] = float((best >= analysis["coverage_threshold"]).mean())
        saved[f"{region}_z"] = points.astype(np.float32)
        saved[f"{region}_stable"] = result["stable"]
    write_npz(ctx.directory / "low_density.npz", **saved)
    return row


def figures(table: pd.DataFrame, config: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    k = config["family"]["n_patterns"]
    written = [
        plot_compression_summary(table, k, config["analysis"]["regions"], out / "compression_summary.png")
    ]
    if "prior_coverage" in table.columns:
        written.append(plot_compression_coverage(table, k, out / "compression_coverage.png"))
    points_dir = out.parent / "points"
    written.append(plot_compression_latents(table, points_dir, k, out / "compression_latents.png"))
    return written


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    return common.summarise_means(
        table,
        ["regulariser", "strength", "latent_dim"],
        [
            "reconstruction_accuracy",
            "active_dims",
            "participation_ratio",
            "polysemantic_dims",
            "best_abs_r_mean",
            "anticorrelated_distance_ratio",
            "prior_coverage",
            "prior_on_pattern",
            "stable_prior",
            "stable_tail",
            "stable_gap",
        ],
    )


SPEC = ExperimentSpec(
    name="compression",
    description=(
        "Associative-memory family with K long patterns; latent size below and above K; KL and MMD. "
        "Reconstruction, pattern recovery and polysemanticity, redundancy, distances between "
        "anti-correlated patterns, coverage of patterns by prior samples, stability of sequences "
        "decoded from low-density regions."
    ),
    family_kind="associative_memory",
    family_knobs=associative_memory_knobs(n_samples=2500, pattern_shares=[0.4, 0.3, 0.2, 0.1]),
    analysis_knobs={
        "active_threshold": common.ACTIVE_THRESHOLD_KNOB,
        "max_sequences": common.MAX_SEQUENCES_KNOB,
        "polysemantic_threshold": Knob(
            0.3, "float", 0.0, 1.0, help="|r(z_k, m_mu)| at which a dimension carries a pattern"
        ),
        "prior_samples": Knob(1000, "int", 1, help="prior draws decoded for coverage"),
        "coverage_threshold": Knob(
            0.8, "float", 0.0, 1.0, help="identity to a pattern at which a sequence reaches it"
        ),
        "low_density_samples": Knob(300, "int", 1, help="latent points decoded per region"),
        "regions": Knob(["prior", "tail", "gap"], "strs", choices=REGIONS, help="latent regions decoded"),
        "tail_quantile": Knob(0.99, "float", 0.5, 0.999999, help="prior mass inside the tail shell"),
        "gap_oversample": Knob(20, "int", 2, help="prior draws per kept gap point"),
    },
    measure={
        "reconstruction": common.measure_reconstruction,
        "redundancy": _latent_usage,
        "pattern_recovery": _pattern_recovery,
        "anticorrelated_distance": _anticorrelated,
        "coverage": _coverage,
        "low_density_stability": _low_density,
    },
    figures=figures,
    summarise=summarise,
    grid_defaults={
        "regulariser": ["kl", "mmd"],
        "beta": [1.0],
        "mmd_weight": [10.0],
        "latent_dim": [1, 2, 4, 8],
        "seed": [0, 1],
    },
    run_defaults=small_network_run_defaults(),
    quick={
        "family": quick_associative_memory_family(),
        "grid": {"regulariser": ["kl"], "latent_dim": [1, 4], "seed": [0]},
        "training": quick_training(),
        "analysis": {"prior_samples": 100, "low_density_samples": 30, "gap_oversample": 5},
    },
    family_check=check_associative_memory,
)
