"""Train -> score -> evaluate on one deep mutational scan, for every model kind side by side.

This sits above the layers (it trains, then analyses), like :mod:`seqvae.run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from seqvae.analysis.scoring import EnsembleScorer, VAEScorer, load_scorer, scoring_files
from seqvae.data.alignment import read_alignment
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import InputError
from seqvae.io.output_dirs import check_output_paths
from seqvae.run import load
from seqvae.training.baselines import NAMED_BASELINES
from seqvae.training.config import preset_config
from seqvae.workflows.multirun import evaluate_scan, fit_model, structure_row

MODEL_KINDS = (*NAMED_BASELINES, "vae")
# the rows of the benchmark, written beside the models (``seqvae benchmark-dms``)
BENCHMARK_FILE = "benchmark.json"


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

    unknown = sorted(set(models) - set(MODEL_KINDS))
    if unknown:
        raise InputError(f"models: unknown model {unknown[0]!r}; choose from {', '.join(MODEL_KINDS)}")
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
    wild_type = read_wild_type(reference_sequence) if reference_sequence is not None else None
    read_options = {
        "sep": sep,
        "mutation_separator": mutation_separator,
        "wild_type": wild_type,
        "mutant_column": mutant_column,
    }
    aln = read_alignment(alignment, config.data.alignment_options())
    burial = None
    if structure is not None or contact_map is not None:
        from seqvae.analysis.burial import position_burial
        from seqvae.analysis.mutations import MutationMapper

        burial = (
            position_burial(aln.registry, structure, chain, contact_map),
            MutationMapper(aln.registry, wild_type),
        )
        log(burial[0].describe())
    started = time.perf_counter()
    aln.sequence_weights = compute_sequence_weights(aln.codes, aln.alphabet.gap_code, config.data.theta)
    aln.theta = config.data.theta
    weights_s = time.perf_counter() - started
    log(f"{aln.n_sequences} sequences x {aln.length} columns, N_eff {aln.n_eff:.1f} ({weights_s:.1f} s)")
    rows: list[dict] = []

    def evaluate(scorer, key: str, model: str, train_s: float) -> dict:
        result = evaluate_scan(
            scorer, dms, out / f"scores_{key}.csv", {"score_column": score_col, **read_options}
        )
        evaluation = {k: v for k, v in result.items() if k not in ("score_s", "notes")}
        row = {"model": model, **evaluation, "train_s": train_s, "score_s": result["score_s"]}
        rows.append(row)
        if burial is not None:
            rows.append(structure_row(row, out / f"scores_{key}.csv", score_col, *burial)[0])
        return row

    for kind in (key for key in keys if not key.startswith("vae_seed")):
        train_s = fit_model(kind, aln, config, out / kind, potts_iterations)
        log(f"{kind}: fitted in {train_s:.1f} s")
        row = evaluate(load_scorer(out / kind), kind, kind, train_s)
        log(f"{kind}: rho {row['spearman']:.4f}")
    members = []
    for key in (key for key in keys if key.startswith("vae_seed")):
        seed = int(key[8:])
        train_s = fit_model("vae", aln, config.updated({"seed": seed}), out / key)
        run = load(out / key)
        scorer = VAEScorer(run.model, run.sequence_registry(), samples=samples, seed=0, name=key)
        members.append((scorer, train_s))
        row = evaluate(scorer, key, f"vae (seed {seed})", train_s)
        log(f"vae seed {seed}: {run.summary['steps']} steps in {train_s:.0f} s, rho {row['spearman']:.4f}")
    if len(members) > 1:
        evaluate(
            EnsembleScorer([m for m, _ in members]),
            "vae_ensemble",
            f"vae ensemble of {len(members)}",
            sum(t for _, t in members),
        )
    return rows
