"""Many families, many seeds: ``seqvae batch MANIFEST``.

For each family of a manifest: weight the alignment once, train one VAE per seed, score each
deep mutational scan with the ensemble of that family's seeds, write the family's report;
then one summary table. Every step is a task of :mod:`seqvae.executor` (local pool, Ray or a
Slurm job array), complete tasks are read back, so that rerunning the same command after an
interruption or a failure does only what is missing.

Layout of a batch folder ``OUT``::

    OUT/batch.json                         the resolved manifest and the backend
    OUT/<family>/data/weights.npy          sequence weights (computed once per family)
    OUT/<family>/seed<k>/                  a seqvae run directory per seed
    OUT/<family>/scores/<scan>.csv         ensemble scores of each scan
    OUT/<family>/report.html               the family's report (its first seed's run)
    OUT/<family>/tasks/<task>/.seqvae-task.json   each finished task's result
    OUT/batch_summary.csv, batch_summary.md        one row per family, and the failures

The manifest (:mod:`seqvae.workflows.manifest`: YAML, or CSV with one row per family and scan)
names files relative to its own folder (or its ``root``); :func:`read_batch_manifest` reads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from seqvae.analysis.scoring import scoring_files
from seqvae.errors import ConfigError, InputError
from seqvae.executor import Executor, Task, TaskResult, file_digest, make_executor
from seqvae.io.atomic import write_json
from seqvae.io.output_dirs import DirectoryKind, check_output_paths, lock_directory, open_resumable_directory
from seqvae.report.builder import build_report
from seqvae.training.trainer import resolve_device
from seqvae.workflows.manifest import Family, Manifest, Scan, read_manifest
from seqvae.workflows.multirun import (
    TaskLog,
    fit_member,
    markdown_table,
    prepare_family,
    run_record,
    score_rows,
    weights_file,
    write_table,
)

__all__ = [
    "BATCH_DIRECTORY",
    "BatchResult",
    "read_batch_manifest",
    "run_batch",
]

SUMMARY_CSV = "batch_summary.csv"
SUMMARY_MD = "batch_summary.md"
BATCH_FILE = "batch.json"
# the batch folder's own entries: no family may be named like one of them
OWN_FILES = (BATCH_FILE, SUMMARY_CSV, SUMMARY_MD)
BATCH_DIRECTORY = DirectoryKind(
    "seqvae batch folder", markers=(BATCH_FILE,), entries=(BATCH_FILE, "batch_summary.*", ".submitit", "*")
)


def read_batch_manifest(path: str | Path, device: str | None = None) -> Manifest:
    """A manifest (:func:`~seqvae.workflows.manifest.read_manifest`) as ``seqvae batch`` reads
    it: every family and scan, with the model settings; a family's structure and published ρ
    are the panel's (``benchmark-dms --panel``), checked here but not used."""
    return read_manifest(path, device=device, reserved=OWN_FILES)


# -- tasks (run in workers: top-level functions of JSON-able arguments) ---------------------
def scan_scores(folder: Path, scan: str) -> Path:
    """Where a family's ``folder`` keeps the ensemble scores of its scan named ``scan``."""
    return folder / "scores" / f"{scan}.csv"


def score_family(
    run_dirs: list[str],
    scans: list[dict[str, Any]],
    folder: str,
    samples: int,
    report: bool,
    device: str | None = None,
) -> dict[str, Any]:
    """Score every scan with the ensemble of a family's runs (:func:`score_rows`); write the
    family's report."""
    started = time.perf_counter()
    out = Path(folder)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    models = {Path(run_dir).name: Path(run_dir) for run_dir in run_dirs}
    scored = score_rows(
        models,
        [("ensemble", list(models))],
        [Scan.from_dict(scan) for scan in scans],
        lambda key, scan: (scan_scores(out, scan.name), None),
        {"samples": samples, "fast": False},
        device=device,
    )
    results = {result["scan"]: result["evaluation"] for result in scored}
    score_s = time.perf_counter() - started
    report_s = 0.0
    if report:
        started = time.perf_counter()
        build_report(run_dirs[0], out / "report.html")
        report_s = time.perf_counter() - started
    return {"scans": results, "score_s": round(score_s, 3), "report_s": round(report_s, 3)}


# -- the driver ------------------------------------------------------------------------------
@dataclass
class BatchResult:
    """What :func:`run_batch` returns."""

    out: Path
    summary: pd.DataFrame
    failures: list[tuple[str, str]]
    info: dict[str, Any]


def output_files(manifest: Manifest, out: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file and every run or task folder a batch writes, by what messages call them."""

    files = {f"the batch's {name}": out / name for name in (BATCH_FILE, SUMMARY_CSV, SUMMARY_MD)}
    folders = {}
    for f in manifest.families:
        folder = out / f.name
        files[f"family {f.name!r}'s weights"] = weights_file(folder)
        files[f"family {f.name!r}'s report"] = folder / "report.html"
        folders[f"family {f.name!r}'s task results"] = folder / "tasks"
        for seed in f.seeds:
            folders[f"family {f.name!r}'s run of seed {seed}"] = folder / f"seed{seed}"
        for scan in f.scans:
            for kind, path in scoring_files(scan_scores(folder, scan.name)).items():
                files[f"family {f.name!r}'s {kind} of scan {scan.name!r}"] = path
    return files, folders


def run_batch(
    manifest: str | Path | Manifest,
    out: str | Path,
    backend: str = "local",
    jobs: int = 1,
    address: str | None = None,
    device: str | None = None,
    executor: Executor | None = None,
    log: Callable[[str], None] | None = None,
) -> BatchResult:
    """Train, score and report every family of a manifest; write the summary table.

    Parameters
    ----------
    manifest
        A manifest file (see :func:`read_manifest`) or a read one.
    out
        The batch folder; rerunning into it does only what is missing.
    backend, jobs, address
        Where the tasks run (see :func:`seqvae.executor.make_executor`).
    device
        ``cpu``, ``cuda``, ``mps`` or ``auto`` for training and scoring (default: the config's).
    executor
        An executor to use instead of ``backend``/``jobs``/``address``.

    Returns
    -------
    BatchResult
        The summary (one row per family: ``family``, ``n_sequences``, ``L``, ``N_eff``,
        ``seeds``, ``active_dims``, ``rho_<scan>`` per scan with a measured column,
        ``n_scored_<scan>``, ``prepare_s``, ``train_s``, ``score_s``, ``report_s``,
        ``status``) and the failures as ``(task, one-line reason)``.
    """
    say = log or (lambda _message: None)
    if not isinstance(manifest, Manifest):
        manifest = read_batch_manifest(manifest, device=device)
    if device is not None:
        try:
            resolve_device(device)
        except ConfigError as err:
            raise InputError(err.message.replace("training.device", "device")) from None
    for family in manifest.families:
        if family.structure is not None or family.contact_map is not None:
            say(
                f"{family.name}: its structure is not used here (benchmark-dms --panel makes structure-aware rows)"
            )
    out = Path(out)
    files, folders = output_files(manifest, out)
    inputs = {"the manifest": manifest.path}
    for family in manifest.families:
        inputs.update(family.inputs())
    check_output_paths(files, inputs, out, folders)
    open_resumable_directory(out, BATCH_DIRECTORY)
    if executor is None:
        executor = make_executor(backend, jobs, 1, address=address, folder=out / ".submitit")
    started = time.perf_counter()
    prepare, train, score = _tasks(manifest, out, device)
    for task in (*prepare, *train, *score):
        task.load_complete()  # a result made with other inputs is refused before anything runs
    with lock_directory(out, BATCH_DIRECTORY), executor:
        write_json(out / BATCH_FILE, {**manifest.to_dict(), "executor": executor.describe()})
        families = manifest.families
        done = TaskLog(say)
        # 1. weights, once per family; 2. one model per family and seed; 3. score each scan with
        # the family's ensemble, write the report
        executor.run(prepare, on_result=done)
        executor.run([t for t in train if done.ok([t.key.rsplit("/", 1)[0] + "/prepare"])], on_result=done)
        executor.run(
            [t for f, t in zip(families, score) if done.ok([f"{f.name}/seed{seed}" for seed in f.seeds])],
            on_result=done,
        )
        results, failures = done.results, done.failures
        summary = _summary(families, results, out)
        _write_summary(summary, failures, out)
    info = {
        "wall_seconds": round(time.perf_counter() - started, 2),
        "n_tasks": len(results),
        "n_skipped": sum(r.skipped for r in results.values()),
        "n_failed": len(failures),
        **executor.describe(),
    }
    return BatchResult(out=out, summary=summary, failures=failures, info=info)


def _tasks(manifest: Manifest, out: Path, device: str | None) -> tuple[list[Task], list[Task], list[Task]]:
    """The batch's tasks: one prepare per family, one train per family and seed, one score per
    family. A task's inputs (what its stored result is recognised by) hold every file by its
    content and the full resolved config."""
    prepare, train, score = [], [], []
    for f in manifest.families:
        folder = out / f.name
        digest = file_digest(f.alignment)
        prepare.append(
            Task(
                f"{f.name}/prepare",
                prepare_family,
                {"alignment": str(f.alignment), "config": f.config.to_dict(), "folder": str(folder)},
                folder=str(folder / "tasks" / "prepare"),
                inputs={"alignment": digest, "data": f.config.to_dict()["data"]},
            )
        )
        for seed in f.seeds:
            config = f.config.updated({"seed": seed}).to_dict()
            train.append(
                Task(
                    f"{f.name}/seed{seed}",
                    fit_member,
                    {
                        "kind": "vae",
                        "alignment": str(f.alignment),
                        "config": config,
                        "target": str(folder / f"seed{seed}"),
                        "weights": str(weights_file(folder)),
                    },
                    folder=str(folder / "tasks" / f"train-seed{seed}"),
                    inputs={"alignment": digest, "config": _without_device(config)},
                )
            )
        scans = [scan.to_dict() for scan in f.scans]
        score.append(
            Task(
                f"{f.name}/score",
                score_family,
                {
                    "run_dirs": [str(folder / f"seed{seed}") for seed in f.seeds],
                    "scans": scans,
                    "folder": str(folder),
                    "samples": manifest.samples,
                    "report": manifest.report,
                    "device": device,
                },
                folder=str(folder / "tasks" / "score"),
                inputs={
                    "seeds": f.seeds,
                    "scans": [{**scan, "file": file_digest(Path(scan["file"]))} for scan in scans],
                    "samples": manifest.samples,
                },
            )
        )
    return prepare, train, score


def _without_device(config: dict[str, Any]) -> dict[str, Any]:
    """A run config without its device: a model trained on a GPU is reused on a CPU rerun."""
    training = {k: v for k, v in config["training"].items() if k != "device"}
    return {**config, "training": training}


def _summary(families: list[Family], results: dict[str, TaskResult], out: Path) -> pd.DataFrame:
    rows = []
    for f in families:
        row: dict[str, Any] = {"family": f.name}
        prepared = results.get(f"{f.name}/prepare")
        if prepared is not None and prepared.ok:
            row.update(
                n_sequences=prepared.value["n_sequences"],
                L=prepared.value["length"],
                N_eff=round(prepared.value["n_eff"], 2),
            )
        members = [results.get(f"{f.name}/seed{seed}") for seed in f.seeds]
        finished = [m for m in members if m is not None and m.ok]
        row["seeds"] = " ".join(str(s) for s in f.seeds)
        # what each trained seed records (a run folder deleted after its task finished: nothing)
        runs = [out / f.name / m.key.rsplit("/", 1)[1] for m in finished]
        records = [run_record(run) for run in runs if (run / "summary.json").is_file()]
        row["active_dims"] = " ".join(str(record["active_dims"]) for record in records)
        scored = results.get(f"{f.name}/score")
        for scan in f.scans:
            entry = scored.value["scans"].get(scan.name, {}) if scored is not None and scored.ok else {}
            if scan.reading.get("score_column"):
                row[f"rho_{scan.name}"] = entry.get("spearman")
            row[f"n_scored_{scan.name}"] = entry.get("n_scored")
        row["prepare_s"] = prepared.value["seconds"] if prepared is not None and prepared.ok else None
        row["train_s"] = round(sum(r["train_time_s"] or 0.0 for r in records), 2) if finished else None
        row["score_s"] = scored.value["score_s"] if scored is not None and scored.ok else None
        row["report_s"] = scored.value["report_s"] if scored is not None and scored.ok else None
        failed = [r for r in [prepared, *members, scored] if r is not None and not r.ok]
        if failed:
            row["status"] = f"failed: {failed[0].key}: {failed[0].error}"
        elif scored is None or not scored.ok:
            row["status"] = "incomplete"
        else:
            row["status"] = "finished"
        rows.append(row)
    frame = pd.DataFrame(rows)
    front = ["family", "n_sequences", "L", "N_eff", "seeds", "active_dims"]
    back = ["prepare_s", "train_s", "score_s", "report_s", "status"]
    scans = [c for c in frame.columns if c not in front and c not in back]
    return frame.reindex(columns=[*front, *scans, *back])


def _write_summary(frame: pd.DataFrame, failures: list[tuple[str, str]], out: Path) -> None:
    text = ["# seqvae batch", "", markdown_table(frame), ""]
    if failures:
        text += ["## Failures", ""] + [f"- `{key}`: {reason}" for key, reason in failures] + [""]
    write_table(frame, out / SUMMARY_CSV, out / SUMMARY_MD, "\n".join(text))
