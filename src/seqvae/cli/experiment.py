"""``seqvae experiment NAME``: controlled experiments on synthetic families (see
``docs/experiments.md``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from seqvae.cli.common import (
    ProgressOpt,
    WorkerThreadsOpt,
    arguments_as_flags,
    console,
    progress_display,
    stdout,
)


def register(app: typer.Typer) -> None:
    app.command("experiment")(experiment)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}"
    return str(value)


_SHORT = {
    "latent_dim": "d",
    "family.beta": "family β",
    "phenotype_noise": "σ",
    "clade_effect": "c",
}


def _summary_table(summary, title: str) -> Table:
    """One column per grid setting (the columns before ``n`` name it), one row per measure."""
    columns = list(summary.columns)
    keys = columns[: columns.index("n")] if "n" in columns else []
    measures = [c for c in columns if c not in keys and c != "n"]
    table = Table(title=title)
    table.add_column("measure", no_wrap=True)
    for _, row in summary.iterrows():
        parts = []
        for key in keys:
            value = _fmt(row[key])
            if key == "regulariser":
                parts.append(value)
            elif key == "strength":
                parts.append(("β=" if row.get("regulariser") == "kl" else "λ=") + value)
            else:
                parts.append(f"{_SHORT.get(key, key)}={value}")
        table.add_column(" ".join(parts) or "all", justify="right")
    for measure in measures:
        table.add_row(measure, *(_fmt(v) for v in summary[measure]))
    return table


def experiment(
    name: Annotated[
        str,
        typer.Argument(help="compression, posterior-collapse, simpson or hamming-clusters."),
    ],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Experiment config (YAML/TOML/JSON); default: the shipped one."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Experiment folder (default: experiments/NAME); reruns resume."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel worker processes.")] = 1,
    threads: WorkerThreadsOpt = 1,
    quick: Annotated[
        bool, typer.Option("--quick", help="Run the config's quick (test-sized) section.")
    ] = False,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Print the resolved config as YAML and exit.")
    ] = False,
    progress: ProgressOpt = True,
) -> None:
    """Run a built-in experiment: simulate the family, train the grid of models in parallel
    (finished points are skipped), measure, and write results.csv, figures/ and experiment.json."""
    from seqvae.experiments import get_experiment, resolve_config, run_experiment

    spec = get_experiment(name)
    if show_config:
        import yaml

        resolved = resolve_config(name, config, quick=quick)
        resolved.pop("quick")
        stdout.print(yaml.safe_dump(resolved, sort_keys=False), end="", highlight=False)
        return
    out = out or Path("experiments") / name
    with arguments_as_flags({"jobs": "--jobs", "threads_per_job": "--threads"}):
        result = run_experiment(
            name,
            config,
            out=out,
            jobs=jobs,
            quick=quick,
            threads_per_job=threads,
            progress=progress_display(progress),
        )
    finished = result.table[result.table["status"] == "finished"]
    if len(finished):
        summary = spec.summarise(finished)
        width = 32 + 11 * len(summary)
        # as wide as the table needs (a pipe or log file would otherwise cut it at 80 columns)
        Console(width=max(stdout.width, width)).print(_summary_table(summary, f"{name}: means over seeds"))
    info = result.info
    console.print(
        f"{info['n_points']} models ({info['n_skipped']} already done, {info['n_failed']} failed) in "
        f"{info['wall_seconds']:.0f} s wall, {info['cpu_seconds']:.0f} s CPU; table: {out / 'results.csv'}; "
        f"figures: {', '.join(str(out / f) for f in info['figures'])}"
    )
    if info["n_failed"]:
        for status in result.failed["status"]:
            console.print(f"[red]{status}[/]", highlight=False)
        raise typer.Exit(1)
