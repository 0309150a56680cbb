"""Train -> score -> evaluate on one deep mutational scan, for every model kind side by side.

This sits above the layers (it trains, then analyses), like :mod:`seqvae.run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from seqvae.analysis.evaluation import evaluate_scores
from seqvae.analysis.scoring import EnsembleScorer, Scorer, VAEScorer, load_scorer, score_file, scoring_files
from seqvae.data.alignment import read_alignment
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import InputError
from seqvae.io.output_dirs import check_output_paths
from seqvae.training.baselines import NAMED_BASELINES, PottsSettings, fit_baseline
from seqvae.training.config import preset_config

MODEL_KINDS = (*NAMED_BASELINES, "vae")
# the rows of the benchmark, written beside the models (``seqvae benchmark-dms``)
BENCHMARK_FILE = "benchmark.json"


def _evaluate(
    scorer: Scorer, dms: Path, score_col: str, out_csv: Path, read_options: dict | None = None
) -> tuple[dict, float]:
    report = score_file(scorer, dms, out_csv, score_column=score_col, **(read_options or {}))
    evaluation = evaluate_scores(report.predicted, report.measured, n_unscored=report.n_unscored)
    return evaluation.to_dict(), report.seconds


def _structure_row(row: dict, out_csv: Path, score_col: str, structure: tuple | None) -> list[dict]:
    """``[row]``, and with a structure its structure-aware row (the same scores table, rescaled)."""
    if structure is None:
        return [row]
    from seqvae.analysis.scoring import structure_from_scores

    burial, mapper = structure
    aware = structure_from_scores(out_csv, mapper, burial, score_column=score_col)
    return [
        row,
        {
            **row,
            "model": f"{row['model']} + structure",
            **aware.evaluation.to_dict(),
            "variants_without_covered_position": aware.n_uncovered,
        },
    ]


def run_dms_benchmark(
    alignment: str | Path,
    dms: str | Path,
    score_col: str,
    out: str | Path,
    models: list[str] | tuple[str, ...] = MODEL_KINDS,
    ensemble: int = 1,
    preset: str = "fitness",
    samples: int = 200,
    potts_iterations: int = 30,
    overrides: dict | None = None,
    log: Callable[[str], None] = print,
    sep: str | None = None,
    mutation_separator: str | None = None,
    reference_sequence: str | Path | None = None,
    mutant_column: str | None = None,
    structure: str | Path | None = None,
    chain: str | None = None,
    contact_map: str | Path | None = None,
) -> list[dict]:
    """Fit each model on ``alignment``, score ``dms`` and evaluate against ``score_col``.

    Returns one row per model: ``model``, ``spearman``, ``ci_low``, ``ci_high``, ``n_scored``,
    ``n_skipped``, ``train_s`` (wall time of fitting) and ``score_s`` (wall time of scoring).
    ``overrides`` (``{"training.max_steps": 500}``) change the VAE preset. With ``ensemble > 1`` VAEs with seeds ``0 .. ensemble-1`` are trained and an extra row
    gives their average. ``models`` are names of :data:`~seqvae.training.baselines.NAMED_BASELINES`
    and ``vae``. ``sep``, ``mutation_separator``, ``mutant_column`` (default ``mutant``) and
    ``reference_sequence`` (a FASTA of the full wild type) say how to read the scan (see
    :func:`~seqvae.analysis.scoring.score_file`). With ``structure`` (and ``chain``) or
    ``contact_map`` each model also gets a ``<model> + structure`` row: its scores made
    structure-aware by :data:`~seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`.
    """
    from seqvae.analysis.mutations import read_wild_type
    from seqvae.run import train

    unknown = sorted(set(models) - set(MODEL_KINDS))
    if unknown:
        raise InputError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODEL_KINDS)}", "--models")
    out = Path(out)
    dms = Path(dms)
    keys = [kind for kind in NAMED_BASELINES if kind in models]
    if "vae" in models:
        keys += [f"vae_seed{seed}" for seed in range(max(1, ensemble))]
    outputs = {"the benchmark table": out / BENCHMARK_FILE}
    for key in [*keys, "vae_ensemble"]:
        outputs.update({f"the {key} {k}": p for k, p in scoring_files(out / f"scores_{key}.csv").items()})
    inputs = {"ALIGNMENT": Path(alignment), "DMS": dms}
    if reference_sequence is not None:
        inputs["--reference-sequence"] = Path(reference_sequence)
    check_output_paths(outputs, inputs, out, {f"the {key} model": out / key for key in keys})
    config = preset_config(preset).updated(overrides or {})
    read_options = {
        "sep": sep,
        "mutation_separator": mutation_separator,
        "wild_type": read_wild_type(reference_sequence) if reference_sequence is not None else None,
        "mutant_column": mutant_column,
    }
    aln = read_alignment(alignment, config.data.alignment_options())
    burial = None
    if structure is not None or contact_map is not None:
        from seqvae.analysis.burial import position_burial
        from seqvae.analysis.mutations import MutationMapper

        burial = (
            position_burial(aln.registry, structure, chain, contact_map),
            MutationMapper(aln.registry, read_options["wild_type"]),
        )
        log(burial[0].describe())
    started = time.perf_counter()
    aln.sequence_weights = compute_sequence_weights(aln.codes, aln.alphabet.gap_code, config.data.theta)
    aln.theta = config.data.theta
    weights_s = time.perf_counter() - started
    log(f"{aln.n_sequences} sequences x {aln.length} columns, N_eff {aln.n_eff:.1f} ({weights_s:.1f} s)")
    rows = []
    for kind, (baseline, reference_power) in NAMED_BASELINES.items():
        if kind not in models:
            continue
        started = time.perf_counter()
        fit_baseline(
            aln,
            baseline,
            out / kind,
            theta=config.data.theta,
            potts=PottsSettings(max_iterations=potts_iterations),
            overwrite=True,
            reference_power=reference_power,
        )
        train_s = time.perf_counter() - started
        log(f"{kind}: fitted in {train_s:.1f} s")
        result, score_s = _evaluate(
            load_scorer(out / kind), dms, score_col, out / f"scores_{kind}.csv", read_options
        )
        row = {"model": kind, **result, "train_s": train_s, "score_s": score_s}
        rows.extend(_structure_row(row, out / f"scores_{kind}.csv", score_col, burial))
        log(f"{kind}: rho {result['spearman']:.4f}")
    if "vae" in models:
        members = []
        for seed in range(max(1, ensemble)):
            cfg = config.updated({"seed": seed})
            started = time.perf_counter()
            run = train(aln, cfg, out=out / f"vae_seed{seed}", overwrite=True, progress=False)
            train_s = time.perf_counter() - started
            scorer = VAEScorer(run.model, run.registry, samples=samples, seed=0, name=f"vae_seed{seed}")
            members.append((scorer, train_s))
            result, score_s = _evaluate(
                scorer, dms, score_col, out / f"scores_vae_seed{seed}.csv", read_options
            )
            row = {"model": f"vae (seed {seed})", **result, "train_s": train_s, "score_s": score_s}
            rows.extend(_structure_row(row, out / f"scores_vae_seed{seed}.csv", score_col, burial))
            log(
                f"vae seed {seed}: {run.summary['steps']} steps in {train_s:.0f} s, rho {result['spearman']:.4f}"
            )
        if len(members) > 1:
            ensemble_scorer = EnsembleScorer([m for m, _ in members])
            result, score_s = _evaluate(
                ensemble_scorer, dms, score_col, out / "scores_vae_ensemble.csv", read_options
            )
            row = {
                "model": f"vae ensemble of {len(members)}",
                **result,
                "train_s": sum(t for _, t in members),
                "score_s": score_s,
            }
            rows.extend(_structure_row(row, out / "scores_vae_ensemble.csv", score_col, burial))
    return rows
