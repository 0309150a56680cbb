"""Train a grid of runs over one or two config parameters (and seeds) and summarise how the latent
space is used at each point: tr Cov(z_mean), active dimensions, validation ELBO.

Each grid point is its own run directory ``OUT/<param>=<value>[__<param2>=<value2>]__seed=<s>``.
Points run in parallel worker processes (``jobs``, :mod:`seqvae.executor`), each with ``threads_per_job`` torch threads.
A sweep is resumable: finished points are read back, interrupted ones resume from their
checkpoint, and only missing ones are trained. ``OUT/sweep_summary.csv`` is rewritten after
every finished point.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.errors import InputError
from seqvae.executor import LocalExecutor, Task
from seqvae.io.atomic import write_json
from seqvae.progress import ProgressLike, progress_argument, tracking
from seqvae.training import run_directory as files
from seqvae.training.config import RunConfig
from seqvae.training.run_directory import is_finished
from seqvae.utils import format_value
from seqvae.workflows.multirun import train_or_resume, write_table

__all__ = ["SweepPoint", "load_sweep_data", "run_sweep", "sweep_points"]

DIAGNOSTICS_FILE = files.LATENT_DIAGNOSTICS
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
    """An alignment (read with ``base.data``, weights computed once) or a ``.npy`` float matrix
    ``[N, D]`` (continuous data, Gaussian likelihood)."""
    from seqvae.data.alignment import read_alignment
    from seqvae.data.weights import compute_sequence_weights

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
    alignment = read_alignment(path, base.data.alignment_options())
    alignment.sequence_weights = compute_sequence_weights(
        alignment.codes, alignment.alphabet.gap_code, base.data.theta
    )
    alignment.theta = base.data.theta
    return alignment


def _point_row(run_dir: Path) -> dict[str, Any]:
    """The summary row of a finished point from its run directory (computing diagnostics once)."""
    diagnostics_path = run_dir / DIAGNOSTICS_FILE
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    if diagnostics_path.exists():
        diagnostics = json.loads(diagnostics_path.read_text(encoding="utf-8"))
    else:
        from seqvae.models.latent_usage import latent_diagnostics
        from seqvae.run import load

        run = load(run_dir)
        data, weights, _, _ = run.training_data()
        z_mean, z_logvar = run.encode(data)
        diagnostics = latent_diagnostics(z_mean, z_logvar, weights).to_dict()
        write_json(diagnostics_path, diagnostics)
    row = {
        "trace_cov": diagnostics["trace_cov_z_mean"],
        "active_dims": diagnostics["n_active"],
        "total_kl": diagnostics["total_kl"],
        "participation_ratio": diagnostics["participation_ratio_active_correlation"],
        "val_elbo": summary.get("best_val_elbo"),
        "steps": summary.get("steps"),
        "stop_reason": summary.get("stop_reason"),
        "train_time_s": summary.get("train_time_s"),
        "status": summary.get("status"),
    }
    for entry in diagnostics["per_dimension"]:
        row[f"var_z{entry['dimension']}"] = entry["variance"]
    return row


def _train_point(data, config_dict: dict, run_dir: str, threads: int) -> dict[str, Any]:
    """Worker: train (or resume) one point, then summarise it. Runs in a child process."""
    import torch

    torch.set_num_threads(threads)
    train_or_resume(data, RunConfig.from_dict(config_dict), run_dir)
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
    """Train every grid point (skipping finished ones) and write the summary CSV and figure.

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
        One row per point: ``param``, ``value``, ``param2``, ``value2``, ``seed``, ``trace_cov``,
        ``active_dims``, ``val_elbo``, ``total_kl``, ``participation_ratio``, ``steps``,
        ``train_time_s``, ``status``, ``run_dir`` and ``var_z<k>`` per dimension.
    """
    if jobs < 1:
        raise InputError(f"jobs: must be >= 1, got {jobs}")
    if threads_per_job < 1:
        raise InputError(f"threads_per_job: must be >= 1, got {threads_per_job}")
    points = sweep_points(base, param, values, param2, values2, seeds)
    if isinstance(data, str | Path):
        data = load_sweep_data(data, base)
    out = Path(out)
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

    def describe(point: SweepPoint) -> dict[str, Any]:
        return {
            "param": param,
            "value": point.value,
            "param2": param2,
            "value2": point.value2,
            "seed": point.seed,
            "run_dir": point.name,
        }

    rows: dict[str, dict[str, Any]] = {}
    pending = []
    for point in points:
        if is_finished(out / point.name):
            rows[point.name] = {**describe(point), **_point_row(out / point.name), "skipped": True}
        else:
            pending.append(point)
    summary_path = out / SUMMARY_FILE

    def ordered_rows() -> list[dict]:
        return [rows[p.name] for p in points if p.name in rows]

    progress = progress_argument(progress, show_progress)
    with tracking(progress, "sweep", len(points), len(rows), "runs") as shown:

        def record(point: SweepPoint, result: dict | None, error: str | None) -> None:
            if error is not None:
                rows[point.name] = {**describe(point), "status": f"failed: {error}"}
            elif result is None:  # a task that did not fail returns its row
                raise ValueError(f"sweep point {point.name}: no result and no error")
            else:
                rows[point.name] = {**describe(point), **result, "skipped": False}
            _write_summary(ordered_rows(), summary_path)
            last = rows[point.name]
            shown.update(
                len(rows),
                last=f"{point.name}: active {last.get('active_dims', '?')}, tr {last.get('trace_cov', float('nan')):.2f}",
            )

        by_name = {point.name: point for point in pending}
        tasks = [
            Task(
                point.name,
                _train_point,
                {
                    "data": data,
                    "config_dict": point.config.to_dict(),
                    "run_dir": str(out / point.name),
                    "threads": threads_per_job,
                },
            )
            for point in pending
        ]
        LocalExecutor(jobs, threads_per_job).run(
            tasks,
            on_result=lambda result: record(by_name[result.key], result.value, result.error),
            catch=(InputError,),
        )
    frame = _write_summary(ordered_rows(), summary_path)
    finished = frame[frame["status"] == "finished"] if "status" in frame else frame.iloc[0:0]
    if len(finished):
        from seqvae.plots.latent import plot_sweep

        plot_sweep(finished, param, out / FIGURE_FILE, param2)
    return frame
