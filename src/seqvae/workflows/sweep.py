"""Train a grid of runs over one or two config parameters (and seeds) and summarise how the latent
space is used at each point: tr Cov(z_mean), active dimensions, validation ELBO.

Each grid point is its own run directory ``OUT/<param>=<value>[__<param2>=<value2>]__seed=<s>``
and a task of the executor (:mod:`seqvae.executor`), which alone makes a sweep resumable: a
finished point's row is read back from its ``.seqvae-task.json``, a point finished with other
settings or on other data is refused before anything runs, and an interrupted one resumes from its checkpoint
(:func:`~seqvae.workflows.multirun.train_or_resume`). Points run in parallel worker processes
(``jobs``), each with ``threads_per_job`` torch threads. A point's row is what its
``summary.json`` records over the run's training sequences (the validation rows excluded),
never recomputed. ``OUT/sweep_summary.csv`` is rewritten after every finished point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.data.alignment import Alignment, read_alignment
from seqvae.errors import InputError
from seqvae.executor import LocalExecutor, Task, TaskResult, array_digest
from seqvae.io.atomic import write_json
from seqvae.plots.sweep import plot_sweep
from seqvae.progress import ProgressLike, progress_argument, tracking
from seqvae.run.training_data import training_data
from seqvae.training.config import RunConfig
from seqvae.utils import format_value
from seqvae.workflows.multirun import run_record, train_or_resume, write_table

__all__ = ["SweepPoint", "load_sweep_data", "run_sweep", "sweep_points"]

SUMMARY_FILE = "sweep_summary.csv"
FIGURE_FILE = "sweep.png"


@dataclass
class SweepPoint:
    """One grid point: parameter values, seed, run-directory name and resolved config."""

    value: Any
    value2: Any
    seed: int
    name: str
    config: RunConfig


def _check_param(param: str, argument: str) -> None:
    if param == "seed":
        return
    section = param.split(".", 1)[0]
    if "." not in param or section not in ("model", "training"):
        raise InputError(
            f"{argument}: cannot sweep {param!r}: sweep model.* or training.* keys, or seed "
            "(data settings change the data itself: make separate sweeps)"
        )


def sweep_points(
    base: RunConfig,
    param: str,
    values: Sequence[Any],
    param2: str | None = None,
    values2: Sequence[Any] | None = None,
    seeds: Sequence[int] = (0,),
) -> list[SweepPoint]:
    """The grid (param × param2 × seeds) with every config resolved and validated up front."""
    _check_param(param, "param")
    if not values:
        raise InputError("values: nothing to sweep")
    if param2 is not None:
        _check_param(param2, "param2")
        if param2 == param:
            raise InputError("param2: must differ from param")
        if not values2:
            raise InputError("values2: needed with param2")
    elif values2:
        raise InputError("values2: given without param2")
    grid_seeds: Sequence[int | None] = seeds
    if "seed" in (param, param2):
        grid_seeds = [None]  # the seed is itself swept
    elif not seeds:
        raise InputError("seeds: none given")
    grid_values2: Sequence[Any] = values2 if param2 is not None and values2 else [None]
    points = []
    for value in values:
        for value2 in grid_values2:
            for seed in grid_seeds:
                overrides = {param: value}
                parts = [f"{param}={format_value(value)}"]
                if param2 is not None:
                    overrides[param2] = value2
                    parts.append(f"{param2}={format_value(value2)}")
                if seed is not None:
                    overrides["seed"] = int(seed)
                    parts.append(f"seed={seed}")
                config = base.updated(overrides).validate()
                points.append(SweepPoint(value, value2, int(config.seed), "__".join(parts), config))
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise InputError("values: two grid points share a directory name (a value repeated?)")
    return points


def load_sweep_data(path: str | Path, base: RunConfig):
    """An alignment (read with ``base.data``, without weights) or a ``.npy`` float matrix
    ``[N, D]`` (continuous data, Gaussian likelihood)."""

    path = Path(path)
    if not path.exists():
        raise InputError("input not found", path)
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read the .npy matrix ({err})", path) from None
        if array.ndim != 2 or len(array) < 10 or not np.issubdtype(array.dtype, np.number):
            raise InputError(
                f"expected a numeric [N, D] matrix with N >= 10, got {array.dtype} {array.shape}", path
            )
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise InputError("the matrix contains NaN or infinite values", path)
        return array
    return read_alignment(path, base.data.alignment_options())


def _data_identity(data) -> dict[str, Any]:
    """What a point is trained on, by content: an alignment's coded rows (and the weights it
    brings) or a matrix's values. A point's folder holding a run of other data is refused."""

    if not isinstance(data, Alignment):
        return {"matrix": array_digest(np.asarray(data, np.float32))}
    weights = data.sequence_weights
    return {"codes": array_digest(data.codes), "weights": None if weights is None else array_digest(weights)}


def _weighted(data, base: RunConfig):
    """``data``, an alignment with sequence weights (a copy weighted with ``base.data.theta``
    when it has none): computed once for every point."""

    if isinstance(data, Alignment) and data.sequence_weights is None:
        return data.weighted(base.data.theta)
    return data


def _point_row(run_dir: Path) -> dict[str, Any]:
    """The summary row of a finished point, as its ``summary.json`` records it."""
    record = run_record(run_dir)
    row = {
        "trace_cov": record["trace_cov"],
        "active_dims": record["active_dims"],
        "total_kl": record["kl"],
        "participation_ratio": record["participation_ratio"],
        "val_elbo": record["best_val_elbo"],
        **{key: record[key] for key in ("steps", "stop_reason", "train_time_s", "status")},
    }
    return row | {f"var_z{k}": variance for k, variance in enumerate(record["variances"])}


def _train_point(data, config: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """The executor task of a point: train (or resume, or read back) its run; return its row."""

    run_config = RunConfig.from_dict(config)
    # the model's likelihood as training fills it in from the data (gaussian for a matrix), so
    # that train_or_resume recognises the point's run directory
    training_data(data, run_config)
    train_or_resume(data, run_config, run_dir)
    return _point_row(Path(run_dir))


def _write_summary(rows: list[dict], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    write_table(frame, path)
    return frame


def run_sweep(
    data,
    base: RunConfig,
    param: str,
    values: Sequence[Any],
    out: str | Path,
    param2: str | None = None,
    values2: Sequence[Any] | None = None,
    seeds: Sequence[int] = (0,),
    jobs: int = 1,
    threads_per_job: int = 1,
    progress: ProgressLike = None,
    *,
    show_progress: bool | None = None,
) -> pd.DataFrame:
    """Train every grid point (reading back finished ones) and write the summary CSV and figure.

    Parameters
    ----------
    data
        An :class:`~seqvae.Alignment`, a float array ``[N, D]``, or a path (alignment or ``.npy``).
    base
        The config every point starts from.
    param, values, param2, values2
        Dotted config keys (``model.beta``, ``training.max_steps``, ``seed``) and their values.
    seeds
        Seeds per point (ignored when ``seed`` is itself swept).
    jobs
        Worker processes (1: train in this process).
    threads_per_job
        torch threads per worker; 1 avoids oversubscribing cores when jobs run side by side.
    progress
        Where the finished runs are reported, as in :func:`seqvae.train` (``show_progress``: its
        former name, deprecated).

    Returns
    -------
    pandas.DataFrame
        One row per point: ``param``, ``value``, ``param2``, ``value2``, ``seed``, ``run_dir``,
        ``skipped`` (read back, not trained now) and what the run's ``summary.json`` records
        over its training sequences (the validation rows excluded): ``trace_cov``,
        ``active_dims``, ``total_kl``, ``participation_ratio``, ``var_z<k>`` per dimension; and
        ``val_elbo``, ``steps``, ``stop_reason``, ``train_time_s``, ``status``. A run made
        before its summary recorded ``trace_cov`` and ``participation_ratio`` leaves them empty.

    Raises
    ------
    InputError
        A bad grid, or a point's folder holding a run finished with other settings (before
        anything runs).
    """
    executor = LocalExecutor(jobs, threads_per_job)  # checks both before anything runs
    points = sweep_points(base, param, values, param2, values2, seeds)
    out = Path(out)

    data = load_sweep_data(data, base) if isinstance(data, str | Path) else data
    identity = _data_identity(data)

    def point_task(point: SweepPoint, data) -> Task:
        run_dir = str(out / point.name)
        kwargs = {"data": data, "config": point.config.to_dict(), "run_dir": run_dir}
        inputs = {**point.config.identity(), "data": identity}
        return Task(point.name, _train_point, kwargs, folder=run_dir, inputs=inputs)

    tasks = [point_task(point, data) for point in points]
    # a point finished with other settings or data is refused before anything is written
    done = sum(task.load_complete() is not None for task in tasks)
    if done < len(tasks):
        data = _weighted(data, base)  # weighted once, not in every worker
        tasks = [point_task(point, data) for point in points]
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / "sweep.json",
        {
            "param": param,
            "values": list(values),
            "param2": param2,
            "values2": None if values2 is None else list(values2),
            "seeds": None if "seed" in (param, param2) else [int(s) for s in seeds],
            "base_config": base.to_dict(),
        },
    )
    by_name = {point.name: point for point in points}
    rows: dict[str, dict[str, Any]] = {}
    summary_path = out / SUMMARY_FILE

    def ordered_rows() -> list[dict]:
        return [rows[p.name] for p in points if p.name in rows]

    progress = progress_argument(progress, show_progress)
    with tracking(progress, "sweep", len(points), done, "runs") as shown:

        def record(result: TaskResult) -> None:
            point = by_name[result.key]
            described = {
                "param": param,
                "value": point.value,
                "param2": param2,
                "value2": point.value2,
                "seed": point.seed,
                "run_dir": point.name,
            }
            if result.error is not None:
                rows[point.name] = {**described, "status": f"failed: {result.error}"}
            else:
                rows[point.name] = {**described, **result.value, "skipped": result.skipped}
            _write_summary(ordered_rows(), summary_path)
            if not result.skipped:
                last = rows[point.name]
                trace = last.get("trace_cov")
                shown.update(
                    len(rows),
                    last=f"{point.name}: active {last.get('active_dims', '?')}, "
                    f"tr {'-' if trace is None else f'{trace:.2f}'}",
                )

        executor.run(tasks, on_result=record, catch=(InputError,))
    frame = _write_summary(ordered_rows(), summary_path)
    finished = frame[frame["status"] == "finished"] if "status" in frame else frame.iloc[0:0]
    if len(finished):
        plot_sweep(finished, param, out / FIGURE_FILE, param2)
    return frame
