"""``simpson``: where Simpson's paradox appears between a latent coordinate and a phenotype.

The family is an associative-memory family whose clades are its patterns (each sequence's
nearest pattern). The phenotype is built from a linear read-out of the ground truth,
``signal = Σ_μ w_μ m_μ(S)`` (``w_μ`` seeded N(0, 1) unless given), split into its clade means
(``between``) and the deviations from them (``within``: inside a clade it follows the overlap
with the clade's own pattern), then recombined with two knobs::

    y = within + c · (s_within / s_between) · between + σ · s_within · ε,    ε ~ N(0, 1)

``s_within`` and ``s_between`` are the standard deviations of the two parts, so the *clade
effect* ``c`` is the between-clade SD of the phenotype relative to the within-clade SD (0: clades
share one mean phenotype; 1: equal; 4: clade membership dominates), and ``σ`` is noise relative
to the within-clade SD (σ = 1 caps the within-clade R² at 0.5). Per model, clade effect and
noise level: R² of the best latent coordinate pooled and within clades
(:func:`seqvae.experiments.measures.pooled_and_within_r2`) and cross-validated R² from all
latent means (:func:`seqvae.analysis.latent.grouped_predictability`). The phase diagram is the
within-minus-pooled gap over family β (rows, one model each) × clade effect (columns, no
retraining), one row of panels per noise level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.latent import grouped_predictability
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
from seqvae.plots.experiments import plot_simpson_example, plot_simpson_phase


def clade_weights(n_patterns: int, analysis: dict[str, Any]) -> np.ndarray:
    """The read-out weights ``w_μ``: ``analysis.clade_weights`` or seeded standard normals."""
    if analysis["clade_weights"] is not None:
        return np.asarray(analysis["clade_weights"], dtype=np.float64)
    return np.random.default_rng([analysis["readout_seed"], 0]).standard_normal(n_patterns)


def phenotype_parts(overlaps: np.ndarray, clades: np.ndarray, analysis: dict[str, Any]) -> dict[str, Any]:
    """The read-out split into ``within`` (deviation from the clade mean) and ``between`` (the
    clade mean), their standard deviations, and the unit noise ``eps`` (all seeded)."""
    weights = clade_weights(overlaps.shape[1], analysis)
    signal = overlaps @ weights
    eps = np.random.default_rng([analysis["readout_seed"], 1]).standard_normal(len(signal))
    between = np.zeros_like(signal)
    for name in np.unique(clades):
        member = clades == name
        between[member] = signal[member].mean()
    between -= between.mean()
    within = signal - signal.mean() - between
    return {
        "within": within,
        "between": between,
        "s_within": float(within.std()),
        "s_between": float(between.std()),
        "eps": eps,
        "weights": weights,
    }


def phenotype(parts: dict[str, Any], clade_effect: float, noise: float) -> np.ndarray:
    """``y = within + c · (s_within / s_between) · between + σ · s_within · ε``."""
    scale = parts["s_within"] / parts["s_between"] if parts["s_between"] > 0 else 0.0
    return (
        parts["within"] + clade_effect * scale * parts["between"] + noise * parts["s_within"] * parts["eps"]
    )


def _simpson(ctx: PointContext) -> list[dict[str, Any]]:

    analysis = ctx.analysis
    rows = common.measured_rows(ctx)
    z_mean, _ = common.encoded(ctx)
    active = common.active_mask(ctx)
    features = z_mean[:, active] if active.any() else z_mean
    clades = ctx.family.nearest_pattern()
    parts = phenotype_parts(ctx.family.overlaps(), clades, analysis)
    clades = clades[rows]
    parts = {
        k: v[rows] if isinstance(v, np.ndarray) and len(v) == len(ctx.family.truth) else v
        for k, v in parts.items()
    }
    write_npz(
        ctx.directory / "simpson.npz",
        z_mean=z_mean.astype(np.float32),
        clade=clades,
        **{k: v for k, v in parts.items() if k != "weights"},
    )
    out = []
    settings = [(c, noise) for noise in analysis["phenotype_noise"] for c in analysis["clade_effect"]]
    for clade_effect, noise in settings:
        y = phenotype(parts, clade_effect, noise)
        r2 = m.pooled_and_within_r2(z_mean, y, clades, min_group_size=analysis["min_clade_size"])
        grouped = grouped_predictability(
            features,
            y,
            clades,
            min_group_size=analysis["min_clade_size"],
            folds=analysis["folds"],
            seed=ctx.seed,
        )
        within_cv = grouped.groups["r2_linear"].to_numpy(dtype=float) if len(grouped.groups) else np.array([])
        sizes = grouped.groups["n"].to_numpy(dtype=float) if len(grouped.groups) else np.array([])
        names, counts = np.unique(clades, return_counts=True)
        within_var = sum(c * y[clades == n].var() for n, c in zip(names, counts)) / len(y)
        out.append(
            {
                "phenotype_noise": noise,
                "clade_effect": clade_effect,
                "r2_pooled": r2["r2_pooled"],
                "r2_within": r2["r2_within"],
                "gap": r2["gap"],
                "r2_within_same": r2["r2_within_same"],
                "r2_pooled_same": r2["r2_pooled_same"],
                "cv_r2_pooled": grouped.pooled["r2_linear"],
                "cv_r2_within": float(np.average(within_cv, weights=sizes)) if len(sizes) else float("nan"),
                "simpson_flag": grouped.flagged,
                "n_clades": len(r2["groups"]),
                "within_variance_fraction": float(within_var / y.var()) if y.var() > 0 else float("nan"),
            }
        )
    return out


def _latent_usage(ctx: PointContext) -> dict[str, Any]:
    row = common.measure_latent_usage(ctx)
    overlaps = ctx.family.overlaps()[common.measured_rows(ctx)]
    row["nearest_overlap_mean"] = float(overlaps.max(axis=1).mean())
    row["nearest_overlap_sd"] = float(overlaps.max(axis=1).std())
    return row


def figures(table: pd.DataFrame, config: dict[str, Any], out: Path) -> list[Path]:

    out.mkdir(parents=True, exist_ok=True)
    if "gap" not in table.columns:
        return []
    return [
        plot_simpson_phase(table, out / "simpson_phase.png"),
        plot_simpson_example(simpson_example(table, out.parent / "points"), out / "simpson_example.png"),
    ]


@dataclass(frozen=True)
class SimpsonExample:
    """The grid point with the largest within-vs-pooled gap (first seed), ready to draw."""

    setting: str
    clade_effect: float
    phenotype_noise: float
    z_mean: np.ndarray
    phenotype: np.ndarray
    clade: np.ndarray
    dimension: int
    r2_within: float
    r2_pooled: float


def simpson_example(table: pd.DataFrame, points_dir: Path) -> SimpsonExample | None:
    """Rebuild the phenotype of the largest-gap point from its ``simpson.npz`` and measure R² on
    the coordinate that is best within clades; ``None`` when that point kept no data."""
    first = table[table["seed"] == table["seed"].min()]
    best = first.loc[first["gap"].idxmax()]
    source = points_dir / str(best["point"]) / "simpson.npz"
    if not source.exists():
        return None
    with np.load(source) as data:
        parts = {name: data[name] for name in data.files}
    z, clade = parts.pop("z_mean"), parts.pop("clade")
    parts = {k: (float(v) if v.ndim == 0 else v) for k, v in parts.items()}
    y = phenotype(parts, float(best["clade_effect"]), float(best["phenotype_noise"]))
    r2 = m.pooled_and_within_r2(z, y, clade, min_group_size=3)
    family_keys = [c for c in table.columns if c.startswith("family.")]
    setting = ", ".join(
        f"{c.replace('family.', 'family ').replace('beta', 'β')} = {best[c]:g}" for c in family_keys
    )
    return SimpsonExample(
        setting=setting,
        clade_effect=float(best["clade_effect"]),
        phenotype_noise=float(best["phenotype_noise"]),
        z_mean=z,
        phenotype=y,
        clade=clade,
        dimension=max(0, int(r2["best_within_dim"])),
        r2_within=float(r2["r2_within_same"]),
        r2_pooled=float(r2["r2_pooled_same"]),
    )


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    family_keys = [c for c in table.columns if c.startswith("family.")]
    return common.summarise_means(
        table,
        [*family_keys, "regulariser", "latent_dim", "phenotype_noise", "clade_effect"],
        ["r2_within", "r2_pooled", "gap", "cv_r2_within", "cv_r2_pooled", "within_variance_fraction"],
    )


def _check_analysis(resolved: dict[str, Any]) -> None:
    weights = resolved["analysis"]["clade_weights"]
    k = resolved["family"]["n_patterns"]
    sizes = [k, *resolved["grid"].get("family.n_patterns", [])]
    if weights is not None and any(len(weights) != size for size in sizes):
        raise ConfigError(
            f"analysis.clade_weights: {len(weights)} weights for {k} patterns (one per pattern)"
        )


SPEC = ExperimentSpec(
    name="simpson",
    description=(
        "Associative-memory family, clades = patterns, phenotype = linear read-out of the pattern overlaps "
        "(within-clade part + clade effect × between-clade part) plus noise; R² of the best latent "
        "coordinate pooled vs within clades over family β × clade effect."
    ),
    family_kind="associative_memory",
    family_knobs=associative_memory_knobs(),
    analysis_knobs={
        "active_threshold": common.ACTIVE_THRESHOLD_KNOB,
        "max_sequences": common.MAX_SEQUENCES_KNOB,
        "clade_effect": Knob(
            [0.0, 0.5, 1.0, 2.0, 4.0],
            "floats",
            0.0,
            help="between-clade SD of the phenotype / within-clade SD",
        ),
        "phenotype_noise": Knob([0.5], "floats", 0.0, help="noise SD relative to the within-clade SD"),
        "clade_weights": Knob(
            None, "floats_or_null", help="read-out weight per pattern (null: seeded N(0,1))"
        ),
        "readout_seed": Knob(0, "int", 0, help="seed of the weights and the noise"),
        "min_clade_size": Knob(30, "int", 3, help="smallest clade analysed"),
        "folds": Knob(5, "int", 2, help="cross-validation folds"),
    },
    measure={
        "latent_usage": _latent_usage,
        "simpson": _simpson,
    },
    figures=figures,
    summarise=summarise,
    grid_defaults={
        "regulariser": ["kl"],
        "beta": [1.0],
        "latent_dim": [2],
        "seed": [0, 1],
        "family.beta": [1.05, 1.1, 1.2, 1.35],
    },
    run_defaults=small_network_run_defaults(),
    quick={
        "family": quick_associative_memory_family(),
        "grid": {"seed": [0], "family.beta": [1.1, 1.4]},
        "training": quick_training(),
        "analysis": {"clade_effect": [0.0, 4.0], "phenotype_noise": [0.0], "min_clade_size": 10, "folds": 3},
    },
    family_check=check_associative_memory,
    analysis_check=_check_analysis,
)
