"""``seqvae report``: one self-contained HTML page per run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    run_dir: Annotated[Path, typer.Argument(help="A trained run directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    include: Annotated[
        list[Path] | None, typer.Option("--include", help="Analysis output folder to add (repeatable).")
    ] = None,
    phenotypes: Annotated[Path | None, typer.Option(help="CSV of phenotypes joined by sequence id.")] = None,
    id_column: Annotated[str, typer.Option(help="Id column of the phenotype table.")] = "id",
    color: Annotated[
        list[str] | None, typer.Option("--color", help="Phenotype column to colour by (repeatable).")
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="Grouping column for the within-group (Simpson) check (repeatable)."),
    ] = None,
) -> None:
    """Write a self-contained HTML report (figures embedded, opens offline)."""
    from seqvae.io.output_dirs import check_output_paths
    from seqvae.report import build_report
    from seqvae.run import load

    inputs = {"the run": run_dir, **{f"--include {p}": p for p in include or []}}
    check_output_paths(
        {"the report": out}, {**inputs, **({"--phenotypes": phenotypes} if phenotypes else {})}, "--out"
    )
    warning = load(run_dir).collapse_warning if Path(run_dir).is_dir() else None
    path = build_report(
        run_dir, out, include=include, phenotypes=phenotypes, id_column=id_column, color=color, group=group
    )
    console.print(f"report written: {path}")
    if warning:
        console.print(warning)
