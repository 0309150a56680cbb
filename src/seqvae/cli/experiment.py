"""``seqvae experiment NAME``: controlled experiments on synthetic families (see
``docs/experiments.md``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqvae.cli.common import console, stdout


def register(app: typer.Typer) -> None:
    app.command("experiment")(experiment)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}"
    return str(value)


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
    threads: Annotated[
        int, typer.Option(help="torch threads per worker (1 is fastest on shared cores).")
    ] = 1,
    quick: Annotated[
        bool, typer.Option("--quick", help="Run the config's quick (test-sized) section.")
    ] = False,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Print the resolved config as YAML and exit.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
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
    result = run_experiment(
        name, config, out=out, jobs=jobs, quick=quick, threads_per_job=threads, show_progress=progress
    )
    finished = result.table[result.table["status"] == "finished"]
    if len(finished):
        summary = spec.summarise(finished)
        table = Table(title=f"{name}: means over seeds")
        for column in summary.columns:
            table.add_column(str(column), justify="right")
        for row in summary.itertuples(index=False):
            table.add_row(*(_fmt(v) for v in row))
        stdout.print(table)
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
