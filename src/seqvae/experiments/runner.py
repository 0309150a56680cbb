"""The experiment runner: a family, a grid of models, a list of measurements.

Layout of an experiment folder ``OUT``::

    OUT/experiment.json                 the resolved config (every default filled in)
    OUT/families/<kind>-<hash>/         each distinct family, simulated once
    OUT/points/<point>/run/             the trained model (a seqvae run directory)
    OUT/points/<point>/point.json       which family and run config the point was trained with
    OUT/points/<point>/measurements.json   its rows, written last: a finished point
    OUT/points/<point>/*.npz            arrays the figures need (latent means, decoded points)
    OUT/results.csv                     the tidy table: one row per point (or per point and
                                        sub-grid value), rewritten after every finished point
    OUT/results.parquet                 the same, when pyarrow is installed
    OUT/figures/*.png                   the experiment's figures
    OUT/run_info.json                   wall and CPU time, points trained / skipped / failed

Resumable: a point whose ``measurements.json`` carries the hash of its current family, run
config, measurements and analysis knobs is skipped; one whose model is trained with the same
family and run config is only re-measured; an interrupted training resumes from its checkpoint.
Points run in worker processes (``jobs``) with ``threads_per_job`` torch threads each (1 by
default: small models train many times faster on one thread when cores are shared).
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqvae.errors import InputError
from seqvae.executor import LocalExecutor, Task
from seqvae.experiments.config import config_hash, resolve_config
from seqvae.experiments.families import build_family, family_directory, is_built, load_family, save_family
from seqvae.experiments.registry import PointContext, get_experiment
from seqvae.io.atomic import atomic_path, write_csv, write_json
from seqvae.io.output_dirs import check_folder_path
from seqvae.options import check_integer
from seqvae.progress import Progress, ProgressLike, progress_argument, tracking
from seqvae.run import load, resume, train
from seqvae.training import run_directory as files
from seqvae.training.config import RunConfig, preset_config
from seqvae.training.run_directory import is_finished
from seqvae.utils import format_value, seed_everything

__all__ = ["ExperimentResult", "GridPoint", "expand_grid", "run_experiment"]

RESULTS_FILE = "results.csv"
CONFIG_FILE = "experiment.json"
POINT_COLUMNS = [
    "experiment",
    "point",
    "regulariser",
    "strength",
    "beta",
    "mmd_weight",
    "latent_dim",
    "seed",
]


@dataclass
class GridPoint:
    """One model of the grid: its name, grid values, family knobs and resolved run config."""

    name: str
    values: dict[str, Any]
    family: dict[str, Any]
    run_config: dict[str, Any]
    train_hash: str
    point_hash: str


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` returns."""

    out: Path
    config: dict[str, Any]
    table: pd.DataFrame
    figures: list[Path]
    info: dict[str, Any]

    @property
    def failed(self) -> pd.DataFrame:
        return self.table[self.table["status"] != "finished"]


def expand_grid(config: dict[str, Any]) -> list[GridPoint]:
    """The grid of a resolved config: family variants × regulariser × (β or λ) × latent size × seed."""

    grid = config["grid"]
    family_keys = [k for k in grid if k.startswith("family.")]
    family_variants: list[dict[str, Any]] = [{}]
    for key in family_keys:
        family_variants = [{**v, key: value} for v in family_variants for value in grid[key]]
    base = preset_config(None).updated(
        {"data": {"theta": None}, "model": config["model"], "training": config["training"]}
    )
    points = []
    for variant in family_variants:
        family = {**config["family"], **{k.split(".", 1)[1]: v for k, v in variant.items()}}
        prefix = "".join(f"{k.split('.', 1)[1]}={format_value(v)}__" for k, v in variant.items())
        for regulariser in grid["regulariser"]:
            key = "beta" if regulariser == "kl" else "mmd_weight"
            for strength in grid[key]:
                for latent_dim in grid["latent_dim"]:
                    for seed in grid["seed"]:
                        run_config = base.updated(
                            {
                                "model.regulariser": regulariser,
                                f"model.{key}": strength,
                                "model.latent_dim": latent_dim,
                                "seed": seed,
                            }
                        ).to_dict()
                        name = (
                            f"{prefix}{regulariser}_{'beta' if regulariser == 'kl' else 'lambda'}="
                            f"{format_value(strength)}__d={latent_dim}__seed={seed}"
                        )
                        values = {
                            "regulariser": regulariser,
                            "strength": strength,
                            "beta": strength if regulariser == "kl" else np.nan,
                            "mmd_weight": strength if regulariser == "mmd" else np.nan,
                            "latent_dim": latent_dim,
                            "seed": seed,
                            **variant,
                        }
                        train_hash = config_hash({"family": family, "run": run_config})
                        point_hash = config_hash(
                            {
                                "train": train_hash,
                                "analysis": config["analysis"],
                                "measurements": config["measurements"],
                            }
                        )
                        points.append(GridPoint(name, values, family, run_config, train_hash, point_hash))
    return points


# -- one point (runs in a worker process) ------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _train_or_load(point: dict[str, Any], family, point_dir: Path):

    run_dir = point_dir / "run"
    marker = _read_json(point_dir / "point.json")
    same = marker.get("train_hash") == point["train_hash"]
    if same and is_finished(run_dir):
        return load(run_dir), False
    if same and (run_dir / files.CHECKPOINT).exists() and (run_dir / files.CONFIG).exists():
        return resume(run_dir, progress=False), True
    write_json(point_dir / "point.json", {"train_hash": point["train_hash"], "family": point["family"]})
    config = RunConfig.from_dict(point["run_config"])
    return train(family.data, config, out=run_dir, overwrite=True, progress=False), True


def _combine(rows: list[dict[str, Any]], result: dict | list) -> list[dict[str, Any]]:
    if isinstance(result, list):
        return [{**row, **extra} for row in rows for extra in result]
    return [{**row, **result} for row in rows]


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Train (or load, or resume) one point's model and make its measurements.

    Runs in a worker process; ``task`` holds only JSON-able values. Returns the rows and timings
    and writes them to ``measurements.json``.
    """
    torch.set_num_threads(task["threads"])
    started = time.perf_counter()
    cpu_started = time.process_time()
    spec = get_experiment(task["experiment"])
    point_dir = Path(task["point_dir"])
    point_dir.mkdir(parents=True, exist_ok=True)
    family = load_family(task["family_dir"])
    run, trained = _train_or_load(task, family, point_dir)
    trained_at = time.perf_counter()
    seed = int(task["values"]["seed"])
    seed_everything(seed)
    context = PointContext(run, family, task["values"], task["analysis"], point_dir, seed)
    summary = run.summary
    rows = [
        {
            "experiment": task["experiment"],
            "point": task["name"],
            **task["values"],
            "status": "finished",
            "steps": summary.get("steps"),
            "best_val_elbo": summary.get("best_val_elbo"),
            "train_time_s": summary.get("train_time_s"),
        }
    ]
    for name in task["measurements"]:
        rows = _combine(rows, spec.measure[name](context))
    timings = {
        "trained_now": trained,
        "seconds": round(time.perf_counter() - started, 3),
        "measure_seconds": round(time.perf_counter() - trained_at, 3),
        "cpu_seconds": round(time.process_time() - cpu_started, 3),
    }
    record = {"point_hash": task["point_hash"], "rows": rows, **timings}
    write_json(point_dir / "measurements.json", record)
    return record


def _finished_record(point_dir: Path, point_hash: str) -> dict[str, Any] | None:
    record = _read_json(point_dir / "measurements.json")
    return record if record.get("point_hash") == point_hash else None


# -- the whole experiment ----------------------------------------------------------------------
def _write_table(rows: list[dict[str, Any]], out: Path) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if not table.empty:
        first = [c for c in POINT_COLUMNS if c in table.columns]
        family_columns = [c for c in table.columns if c.startswith("family.")]
        rest = [c for c in table.columns if c not in first and c not in family_columns]
        table = table[first + family_columns + rest]
    write_csv(out / RESULTS_FILE, table, "%.6g")
    return table


def _write_parquet(table: pd.DataFrame, out: Path) -> Path | None:
    """``results.parquet`` beside the CSV when pyarrow is installed (``pip install 'seqvae[parquet]'``)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    path = out / "results.parquet"
    typed = table.copy()
    for column in [c for c in typed.columns if typed[c].dtype == "object"]:
        values = typed[column].dropna()
        # missing measurements (None) are NaN in a numeric column, as in the CSV
        if values.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).all():
            typed[column] = pd.to_numeric(typed[column], errors="coerce").astype(float)
    with atomic_path(path) as tmp:
        # mixed text/number columns (failed rows) are written as text rather than refused
        typed.convert_dtypes().to_parquet(tmp, index=False)
    return path


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_experiment(
    name: str,
    config: dict[str, Any] | str | Path | None = None,
    out: str | Path = "experiment",
    jobs: int = 1,
    quick: bool = False,
    threads_per_job: int = 1,
    progress: ProgressLike = None,
    *,
    show_progress: bool | None = None,
) -> ExperimentResult:
    """Run a built-in experiment: simulate its family, train its grid, measure, tabulate, plot.

    Parameters
    ----------
    name
        ``compression``, ``posterior-collapse``, ``simpson`` or ``hamming-clusters``.
    config
        A config mapping, a YAML/TOML/JSON file, or ``None`` for the shipped config (see
        :func:`seqvae.experiments.config.resolve_config`).
    out
        The experiment folder (created; an existing one is resumed: finished points are skipped).
    jobs
        Worker processes (1: everything in this process).
    quick
        Use the config's ``quick`` section (test-sized).
    threads_per_job
        torch threads per worker.
    progress
        Where the families built and the models trained are reported, as in
        :func:`seqvae.train` (``show_progress``: its former name, deprecated).

    Returns
    -------
    ExperimentResult
        The results table (one row per point, or per point and sub-grid value), figure paths,
        timings.
    """
    check_integer("jobs", jobs, 1)
    check_integer("threads_per_job", threads_per_job, 1)
    spec = get_experiment(name)
    resolved = resolve_config(name, config, quick=quick)
    out = Path(out)
    check_folder_path(out)
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / CONFIG_FILE, resolved)
    points = expand_grid(resolved)
    progress = progress_argument(progress, show_progress)
    family_dirs = _build_families(name, spec.family_kind, points, out, progress)
    tasks = {point.name: _task(name, point, family_dirs, out, resolved, threads_per_job) for point in points}
    records, n_run = _run_points(name, points, tasks, out, jobs, threads_per_job, progress)
    table = _write_table(_ordered_rows(points, records), out)
    finished = table[table["status"] == "finished"] if "status" in table else table.iloc[0:0]
    figures: list[Path] = []
    if len(finished):
        figures = spec.figures(finished.reset_index(drop=True), resolved, out / "figures")
    parquet = _write_parquet(table, out)
    info = {
        "experiment": name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "jobs": jobs,
        "threads_per_job": threads_per_job,
        "n_points": len(points),
        "n_trained_or_measured": n_run,
        "n_skipped": len(points) - n_run,
        "n_failed": sum(1 for r in records.values() if r.get("failed")),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 2),
        "results": RESULTS_FILE,
        "parquet": None if parquet is None else parquet.name,
        "figures": [str(p.relative_to(out)) for p in figures],
    }
    write_json(out / "run_info.json", info)
    return ExperimentResult(out=out, config=resolved, table=table, figures=figures, info=info)


def _build_families(
    name: str, kind: str, points: list[GridPoint], out: Path, progress: Progress
) -> dict[str, Path]:
    """Each distinct family of the grid simulated once (one already built is kept), by its hash."""
    family_dirs: dict[str, Path] = {}
    unique = {config_hash(p.family): p.family for p in points}
    with tracking(progress, f"{name} families", len(unique)) as shown:
        for key, family_config in unique.items():
            directory = family_directory(out, kind, family_config)
            if not is_built(directory):
                save_family(build_family(kind, family_config), directory)
            family_dirs[key] = directory
            shown.update(len(family_dirs), last=directory.name)
    return family_dirs


def _task(
    name: str,
    point: GridPoint,
    family_dirs: dict[str, Path],
    out: Path,
    resolved: dict[str, Any],
    threads: int,
) -> dict[str, Any]:
    """What a worker needs to train and measure one point (:func:`run_point`)."""
    return {
        "experiment": name,
        "name": point.name,
        "values": point.values,
        "family": point.family,
        "family_dir": str(family_dirs[config_hash(point.family)]),
        "point_dir": str(out / "points" / point.name),
        "run_config": point.run_config,
        "train_hash": point.train_hash,
        "point_hash": point.point_hash,
        "analysis": resolved["analysis"],
        "measurements": resolved["measurements"],
        "threads": threads,
    }


def _ordered_rows(points: list[GridPoint], records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the points recorded so far, in the grid's order."""
    rows: list[dict[str, Any]] = []
    for p in points:
        if p.name in records:
            rows.extend(records[p.name]["rows"])
    return rows


def _run_points(
    name: str,
    points: list[GridPoint],
    tasks: dict[str, dict[str, Any]],
    out: Path,
    jobs: int,
    threads_per_job: int,
    progress: Progress,
) -> tuple[dict[str, dict[str, Any]], int]:
    """Train and measure the points not finished before (the table is rewritten after each);
    returns every point's record and how many points ran."""
    records: dict[str, dict[str, Any]] = {}
    pending: list[GridPoint] = []
    with tracking(progress, f"{name} models", len(points)) as shown:
        for point in points:
            finished = _finished_record(out / "points" / point.name, point.point_hash)
            if finished is not None:
                records[point.name] = {**finished, "skipped": True}
            else:
                pending.append(point)
        shown.update(len(records))

        def record(point: GridPoint, result: Any, error: str | None) -> None:
            if error is not None:
                failed_row = {
                    "experiment": name,
                    "point": point.name,
                    **point.values,
                    "status": f"failed: {error}",
                }
                records[point.name] = {"rows": [failed_row], "failed": True}
            else:
                records[point.name] = result
            _write_table(_ordered_rows(points, records), out)
            shown.update(len(records), last=point.name)

        by_name = {point.name: point for point in pending}
        LocalExecutor(jobs, threads_per_job).run(
            [Task(point.name, run_point, {"task": tasks[point.name]}) for point in pending],
            on_result=lambda result: record(by_name[result.key], result.value, result.error),
            catch=(InputError, ValueError, RuntimeError, np.linalg.LinAlgError),
        )
    return records, len(pending)
