"""``hamming-clusters``: clustering in Hamming space against clustering of the latent means.

A seeded subsample of the family is clustered twice — hierarchically on Hamming distances
(average linkage, cut into k clusters) and by k-means on the latent means — and the two
labellings are compared with each other and with the ground truth (each sequence's nearest
pattern) by the adjusted Rand index (1: identical partitions up to renaming, ≈ 0: chance).
``k`` defaults to the number of patterns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from seqvae.errors import ConfigError
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
from seqvae.plots.experiments import plot_hamming_clusters, plot_hamming_latents


def _clusters(ctx: PointContext) -> dict[str, Any]:
    analysis = ctx.analysis
    n = len(ctx.family.truth)
    size = min(analysis["subsample"], n)
    # the same subsample for every model of a family: it depends on the family, not the model
    rows = np.sort(np.random.default_rng([analysis["subsample_seed"], 5]).choice(n, size=size, replace=False))
    codes = ctx.family.codes[rows]
    truth = ctx.family.nearest_pattern()[rows]
    k = analysis["n_clusters"] or ctx.family.config["n_patterns"]
    hamming = m.hamming_clusters(codes, k, linkage=analysis["linkage"])
    z_mean, _ = ctx.run.encode(codes)
    latent = KMeans(n_clusters=k, n_init=10, random_state=ctx.seed).fit_predict(z_mean.astype(np.float64))
    overlaps = ctx.family.overlaps()[rows]
    write_npz(
        ctx.directory / "clusters.npz",
        z_mean=z_mean.astype(np.float32),
        hamming=hamming,
        latent=latent,
        truth=truth,
    )
    return {
        "n_clusters": k,
        "subsample": size,
        "ari_latent_hamming": m.adjusted_rand(latent, hamming),
        "ari_latent_truth": m.adjusted_rand(latent, truth),
        "ari_hamming_truth": m.adjusted_rand(hamming, truth),
        "nearest_overlap_mean": float(overlaps.max(axis=1).mean()),
        "disordered_fraction": float((overlaps.max(axis=1) < analysis["disordered_overlap"]).mean()),
        "hamming_cluster_sizes": " ".join(str(c) for c in np.sort(np.bincount(hamming, minlength=k))[::-1]),
    }


def figures(table: pd.DataFrame, config: dict[str, Any], out: Path) -> list[Path]:

    out.mkdir(parents=True, exist_ok=True)
    if "ari_latent_hamming" not in table.columns:
        return []
    return [
        plot_hamming_clusters(table, out / "hamming_clusters.png"),
        plot_hamming_latents(table, out.parent / "points", out / "hamming_clusters_latent.png"),
    ]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    family_keys = [c for c in table.columns if c.startswith("family.")]
    return common.summarise_means(
        table,
        [*family_keys, "regulariser", "latent_dim"],
        [
            "ari_latent_hamming",
            "ari_latent_truth",
            "ari_hamming_truth",
            "disordered_fraction",
            "active_dims",
        ],
    )


def _check_analysis(resolved: dict[str, Any]) -> None:
    analysis, family = resolved["analysis"], resolved["family"]
    sizes = [family["n_samples"], *resolved["grid"].get("family.n_samples", [])]
    if analysis["subsample"] > min(sizes):
        raise ConfigError(
            f"analysis.subsample: {analysis['subsample']} sequences asked for, the family has {min(sizes)}"
        )
    if analysis["n_clusters"] and analysis["n_clusters"] >= analysis["subsample"]:
        raise ConfigError(
            f"analysis.n_clusters: {analysis['n_clusters']} clusters for {analysis['subsample']} sequences"
        )


SPEC = ExperimentSpec(
    name="hamming-clusters",
    description=(
        "Associative-memory family; hierarchical clustering on Hamming distances vs k-means on latent means, "
        "adjusted Rand index against each other and against the nearest pattern."
    ),
    family_kind="associative_memory",
    family_knobs=associative_memory_knobs(n_patterns=5),
    analysis_knobs={
        "active_threshold": common.ACTIVE_THRESHOLD_KNOB,
        "max_sequences": common.MAX_SEQUENCES_KNOB,
        "subsample": Knob(800, "int", 4, help="sequences clustered (Hamming clustering is quadratic)"),
        "subsample_seed": Knob(0, "int", 0, help="seed of the subsample"),
        "n_clusters": Knob(0, "int", 0, help="clusters k (0: the number of patterns)"),
        "linkage": Knob(
            "average", "choice", choices=("average", "complete", "single"), help="hierarchical linkage"
        ),
        "disordered_overlap": Knob(
            0.5, "float", help="nearest-pattern overlap below which a sequence counts as disordered"
        ),
    },
    measure={
        "latent_usage": common.measure_latent_usage,
        "clusters": _clusters,
    },
    figures=figures,
    summarise=summarise,
    grid_defaults={
        "regulariser": ["kl", "mmd"],
        "beta": [1.0],
        "mmd_weight": [10.0],
        "latent_dim": [2, 5],
        "seed": [0],
        "family.beta": [1.0, 1.05, 1.2],
    },
    run_defaults=small_network_run_defaults(),
    quick={
        "family": quick_associative_memory_family(),
        "grid": {"regulariser": ["kl"], "latent_dim": [2], "family.beta": [1.5]},
        "training": quick_training(),
        "analysis": {"subsample": 120},
    },
    family_check=check_associative_memory,
    analysis_check=_check_analysis,
)
