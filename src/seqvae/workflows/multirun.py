"""How every multi-run workflow runs what a manifest (:mod:`seqvae.workflows.manifest`) lists.

``seqvae batch`` (families × scans × seeds), ``benchmark-dms`` (one family, or ``--panel``),
``seqvae sweep`` and the study scripts are views of these pieces: preparing a family (its
sequence weights, computed once and saved: :func:`prepare_family`, :func:`save_weights`), fitting
(:func:`train_or_resume` for a VAE, :func:`fit_model` for a baseline, and the executor task
:func:`fit_member`, whose results :class:`TaskLog` collects), scoring (one phase for every
workflow, :func:`score_rows`, over :func:`evaluate_scan`), a run's record (:func:`run_record`,
never recomputed) and one table writer (:func:`markdown_table`, :func:`write_table`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.mutations import read_wild_type
from seqvae.analysis.scoring import EnsembleScorer, load_scorer, score_file, structure_from_scores
from seqvae.data.alignment import read_alignment
from seqvae.errors import InputError
from seqvae.executor import file_digest, fingerprint
from seqvae.io.atomic import atomic_open, write_csv, write_json
from seqvae.run import load, read_config, resume, train
from seqvae.training.baselines import NAMED_BASELINES, PottsSettings, fit_baseline
from seqvae.training.config import RunConfig
from seqvae.training.run_directory import is_finished
from seqvae.utils import torch_threads
from seqvae.workflows.manifest import Scan

__all__ = [
    "TaskLog",
    "evaluate_scan",
    "fit_member",
    "fit_model",
    "format_number",
    "markdown_table",
    "prepare_family",
    "read_json",
    "run_record",
    "save_weights",
    "scan_identity",
    "score_rows",
    "train_or_resume",
    "weights_file",
    "write_table",
]

# the suffix of a structure-aware row's model name ("potts + structure")
STRUCTURE_SUFFIX = " + structure"


def read_json(path: Path) -> Any:
    """A JSON file a workflow wrote, or ``None`` when it is missing or unreadable (then redone)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class TaskLog:
    """The results of a workflow's executor tasks (``on_result`` of
    :meth:`~seqvae.executor.Executor.run`), each logged as it comes: a failure, ``already
    done``, or ``done(result)`` (default: its seconds)."""

    def __init__(self, log: Callable[[str], None], done: Callable[[Any], str] | None = None):
        self.log = log
        self.done = done or (lambda result: f"done in {result.seconds:.1f} s")
        self.results: dict[str, Any] = {}
        self.failures: list[tuple[str, str]] = []

    def __call__(self, result) -> None:
        self.results[result.key] = result
        if not result.ok:
            self.failures.append((result.key, result.error or "failed"))
            self.log(f"{result.key}: failed: {result.error}")
        else:
            self.log(f"{result.key}: {'already done' if result.skipped else self.done(result)}")

    def ok(self, keys: list[str]) -> bool:
        """Whether every task of ``keys`` finished."""
        return all(key in self.results and self.results[key].ok for key in keys)


# -- preparing a family ----------------------------------------------------------------------
def weights_file(folder: Path) -> Path:
    """Where a family's ``folder`` keeps its sequence weights."""
    return folder / "data" / "weights.npy"


def save_weights(folder: Path, weights: np.ndarray) -> Path:
    """Save a family's sequence weights (atomically) where its fit tasks read them; the file."""
    path = weights_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        np.save(handle, weights)
    return path


def prepare_family(alignment: str, config: dict[str, Any], folder: str) -> dict[str, Any]:
    """Read a family's alignment, compute its sequence weights once and save them
    (:func:`save_weights`): an executor task. Returns ``n_sequences``, ``length``, ``n_eff``
    and ``seconds``."""
    started = time.perf_counter()
    run_config = RunConfig.from_dict(config)
    aln = read_alignment(alignment, run_config.data.alignment_options())
    weights = aln.set_weights(run_config.data.theta)
    save_weights(Path(folder), weights)
    return {
        "n_sequences": int(aln.n_sequences),
        "length": int(aln.length),
        "n_eff": float(weights.sum()),
        "seconds": round(time.perf_counter() - started, 3),
    }


# -- runs ------------------------------------------------------------------------------------
def train_or_resume(data: Any, config, run_dir: str | Path, read: Callable[[], Any] | None = None):
    """Train one run into ``run_dir``, or reuse what is there: a run made with this config is read
    back (finished) or resumed from its checkpoint (interrupted); a run made with another config,
    or none, is trained anew (``data``, or ``read()`` when ``data`` is ``None``: read only when
    needed). Returns the :class:`~seqvae.run.Run`."""
    path = Path(run_dir)
    try:
        same = (path / "checkpoint.pt").exists() and not read_config(path).differences(config)
    except InputError:  # no config, or a damaged one: nothing to resume
        same = False
    if same and is_finished(path):
        return load(path)
    if same:
        return resume(path, progress=False)
    if data is None:
        if read is None:
            raise ValueError("train_or_resume: give data or read")
        data = read()
    return train(data, config, out=path, overwrite=True, progress=False)


def run_record(run_dir: str | Path) -> dict[str, Any]:
    """What a finished run's ``summary.json`` records: ``steps``, ``best_val_elbo``,
    ``stop_reason``, ``train_time_s``, ``status`` and its latent space over the training
    sequences: ``active_dims``, ``kl`` (their total KL), ``trace_cov`` (tr Cov(z_mean)),
    ``participation_ratio`` (of the active dimensions' correlation) and ``variances``
    (Var(z_mean) per dimension). A value the summary does not record is ``None`` (``[]`` for
    ``variances``): a run made before ``summary.json`` recorded it."""
    summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    latent = summary.get("latent") or {}
    per_dimension = sorted(latent.get("per_dimension") or [], key=lambda row: row["dimension"])
    return {
        **{
            key: summary.get(key)
            for key in ("steps", "best_val_elbo", "stop_reason", "train_time_s", "status")
        },
        "active_dims": latent.get("n_active"),
        "kl": latent.get("total_kl"),
        "trace_cov": latent.get("trace_cov_z_mean"),
        "participation_ratio": latent.get("participation_ratio_active_correlation"),
        "variances": [row["variance"] for row in per_dimension],
    }


def fit_model(kind: str, alignment, config, target: str | Path, potts_iterations: int = 30) -> float:
    """Fit one baseline (a key of :data:`~seqvae.training.baselines.NAMED_BASELINES`, weighted
    with ``config.data.theta``) into ``target``, anew; a VAE is :func:`train_or_resume`'s.
    Returns the fitting seconds."""
    started = time.perf_counter()
    if alignment.sequence_weights is None:
        alignment.set_weights(config.data.theta)
    baseline, reference_power = NAMED_BASELINES[kind]
    fit_baseline(
        alignment,
        baseline,
        target,
        theta=config.data.theta,
        potts=PottsSettings(max_iterations=potts_iterations),
        overwrite=True,
        reference_power=reference_power,
    )
    return time.perf_counter() - started


def fit_member(
    kind: str,
    alignment: str,
    config: dict[str, Any],
    target: str,
    potts_iterations: int = 30,
    threads: int | None = None,
    weights: str | None = None,
) -> dict[str, Any]:
    """Fit one model of a family into ``target``: an executor task (a pure function of its
    arguments) of ``seqvae batch`` and of the panel.

    A baseline is fitted anew (:func:`fit_model`, on ``threads``); a VAE is trained or resumed
    (:func:`train_or_resume`). The alignment is read with the config's data settings, and with
    the family's saved ``weights`` (a ``.npy``) when given, only when something is fitted.
    Returns ``seconds`` (of fitting); what a VAE's run records is :func:`run_record`'s.
    """
    run_config = RunConfig.from_dict(config)

    def read():
        aln = read_alignment(alignment, run_config.data.alignment_options())
        if weights is not None:
            aln.set_weights(run_config.data.theta, weights=np.load(weights, allow_pickle=False))
        return aln

    if kind != "vae":
        data = read()
        with torch_threads(threads):
            return {"seconds": fit_model(kind, data, run_config, target, potts_iterations)}
    started = time.perf_counter()
    train_or_resume(None, run_config, target, read)
    return {"seconds": time.perf_counter() - started}


# -- scoring ---------------------------------------------------------------------------------
def evaluate_scan(scorer, file: Path, out_csv: Path, reading: dict[str, Any]) -> dict[str, Any]:
    """Score the scan ``file``, read as ``reading`` says (a :class:`Scan`'s), with ``scorer`` into
    ``out_csv``: the fields of the evaluation :func:`~seqvae.analysis.scoring.score_file` makes
    against the measured ``score_column`` (without one: ``n_scored`` and ``n_skipped``), then
    ``score_s`` and the reader's ``notes``."""
    options = {key: value for key, value in reading.items() if key != "reference_sequence"}
    if reading.get("reference_sequence") is not None:
        options["wild_type"] = read_wild_type(reading["reference_sequence"])
    report = score_file(scorer, file, out_csv, **options)
    if report.evaluation is None:
        skipped = report.n_unscored + report.n_mismatches_skipped
        evaluation = {"n_scored": report.n_scored, "n_skipped": skipped}
    else:
        evaluation = report.evaluation.to_dict()
    return {**evaluation, "score_s": report.seconds, "notes": report.notes}


def scan_identity(scan: Scan) -> dict[str, Any]:
    """What a scan's stored evaluations are recognised by: its content and how it is read."""
    reading = scan.reading
    reference = reading.get("reference_sequence")
    return {
        "scan": file_digest(scan.file),
        "reading": [
            reading.get(key) for key in ("sep", "mutant_column", "score_column", "mutation_separator")
        ],
        "reference_sequence": None if reference is None else file_digest(Path(reference)),
    }


def score_rows(
    models: dict[str, Path],
    rows: list[tuple[str, list[str]]],
    scans: list[Scan],
    files: Callable[[str, Scan], tuple[Path, Path | None]],
    scoring: dict[str, Any],
    fingerprints: dict[str, str] | None = None,
    burial: tuple | None = None,
    threads: int | None = None,
    device: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Score each scan of a family with each row: the one scoring phase of ``seqvae batch`` and
    of the panel.

    ``models``: the fitted models' folders by key. ``rows``: each row's key and the models it
    scores with; a row keyed like a model is that model, any other the mean of its members
    (even of one). ``files(key, scan)``: where a row's scores go and where its evaluation is
    kept (``None``: not kept); one kept is reused when made with the same models (their
    ``fingerprints``), ``scoring`` settings (``samples``; ``fast``: ``seqvae score --fast``'s
    draws and output layer) and scan (:func:`scan_identity`). With a ``burial`` (and its
    mutation mapper) each row is followed by its ``+ structure`` row, made by
    :data:`~seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`.

    Yields one dict per scan and row, as each is scored: ``key``, ``scan`` (its name), ``evaluation``
    (:func:`evaluate_scan`'s fields), ``score_s`` and ``structure`` (the
    :class:`~seqvae.analysis.scoring.StructureScoring` of a ``+ structure`` row, else ``None``).
    """
    position_burial, mapper = burial or (None, None)
    precision = "bfloat16" if scoring["fast"] else "float32"
    scorers = {
        key: load_scorer(
            path,
            samples=scoring["samples"],
            antithetic=scoring["fast"],
            decoder_precision=precision,
            device=device,
        )
        for key, path in models.items()
    }
    for scan in scans:
        read_as = None if fingerprints is None else scan_identity(scan)
        for key, members in rows:
            table, kept = files(key, scan)
            identity = None
            if fingerprints is not None:
                models_used = [fingerprints[member] for member in members]
                identity = fingerprint({"models": models_used, "scoring": scoring, "scan": read_as})
            result = (read_json(kept) if kept is not None else None) or {}
            if result.get("inputs") != identity or not result or (burial is not None and not table.is_file()):
                scorer = scorers[key] if key in scorers else EnsembleScorer([scorers[m] for m in members])
                with torch_threads(threads):
                    result = {**evaluate_scan(scorer, scan.file, table, scan.reading), "inputs": identity}
                if kept is not None:
                    write_json(kept, result)
            evaluation = {k: v for k, v in result.items() if k not in ("score_s", "notes", "inputs")}
            found = {"key": key, "scan": scan.name, "score_s": result["score_s"]}
            yield {**found, "evaluation": evaluation, "structure": None}
            if burial is not None:
                structure = structure_from_scores(
                    table, mapper, position_burial, score_column=scan.reading["score_column"]
                )
                if structure.evaluation is None:  # evaluated whenever a measured column is named
                    raise InputError("score_column: the structure-aware row needs the measured column")
                aware = structure.evaluation.to_dict()
                yield {**found, "evaluation": aware, "structure": structure}


# -- tables ----------------------------------------------------------------------------------
def format_number(value: Any, spec: str = ".4g") -> str:
    """A number as a table shows it (``spec``: a format spec); a missing or infinite one empty."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return format(value, spec)


def _cell(value: Any) -> str:
    if value is None or isinstance(value, float):
        return format_number(value)
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame, cell: Callable[[Any], str] = _cell) -> str:
    """A table as Markdown, one row per frame row; ``cell`` writes a value (default: floats to 4
    significant digits, missing values empty)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(v) for v in row.tolist()) + " |")
    return "\n".join(lines)


def write_table(
    frame: pd.DataFrame,
    csv_path: Path,
    markdown_path: Path | None = None,
    markdown: str | None = None,
    float_format: str | None = None,
) -> None:
    """Write a table as CSV (numbers with ``float_format``, default: in full) and, with
    ``markdown_path``, its Markdown (``markdown``, or :func:`markdown_table` of it), each atomically."""
    write_csv(csv_path, frame, float_format)
    if markdown_path is not None:
        with atomic_open(markdown_path, "w", encoding="utf-8") as handle:
            handle.write(markdown_table(frame) if markdown is None else markdown)
