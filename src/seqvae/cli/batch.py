"""``seqvae batch MANIFEST``: many families × seeds, trained, scored and reported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import arguments_as_flags, console, rerun_continues


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)


def batch(
    manifest: Annotated[
        Path, typer.Argument(help="Manifest (.yaml or .csv): families, scans, seeds, preset.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Batch folder (rerun into it to finish).")] = Path(
        "batch"
    ),
    backend: Annotated[str, typer.Option("--backend", help="local, ray or slurm.")] = "local",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Tasks at once (one torch thread each).")] = 1,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster to use (default: start a local one).")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda, mps or auto (default: the config's).")
    ] = None,
    slurm_cluster: Annotated[
        str | None,
        typer.Option("--slurm-cluster", help="slurm (default), or local/debug to run the array here."),
    ] = None,
    slurm_partition: Annotated[str | None, typer.Option("--slurm-partition", help="Slurm partition.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No line per task.")] = False,
) -> None:
    """Train each family × seed, score each scan with the family's ensemble, write the reports
    and one summary table (batch_summary.csv / .md). Rerunning does only what is missing."""
    from seqvae.executor import make_executor
    from seqvae.workflows.batch import read_batch_manifest, run_batch

    read = read_batch_manifest(manifest, device=device)  # bad input fails before any backend starts
    with arguments_as_flags({"address": "--address", "jobs": "--jobs"}):
        executor = make_executor(
            backend,
            jobs,
            1,
            address=address,
            folder=out / ".submitit",
            cluster=slurm_cluster,
            partition=slurm_partition,
        )
    log = None if quiet else (lambda line: console.print(line, markup=False))
    with arguments_as_flags({"device": "--device"}), rerun_continues("seqvae batch"):
        result = run_batch(read, out, device=device, executor=executor, log=log)
    info = result.info
    console.print(
        f"{len(result.summary)} families, {info['n_tasks']} tasks ({info['n_skipped']} already done, "
        f"{info['n_failed']} failed) in {info['wall_seconds']:.1f} s: {out / 'batch_summary.csv'}",
        markup=False,
    )
    for key, reason in result.failures:
        console.print(f"failed: {key}: {reason}", markup=False)
    if result.failures:
        raise typer.Exit(1)
