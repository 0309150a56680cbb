"""``seqvae align``: from one sequence to a family alignment (jackhmmer via pyhmmer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqvae.cli.common import arguments_as_flags, console, parse_number_list, stdout
from seqvae.cli.core import print_summary_tables
from seqvae.data.weights import DEFAULT_THETA


def register(app: typer.Typer) -> None:
    app.command("align")(align)


def align(
    query: Annotated[Path, typer.Argument(help="FASTA file with one protein sequence.")],
    database: Annotated[
        Path, typer.Option("--database", "-d", help="FASTA database to search (plain or .gz), streamed.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="A2M to write.")] = Path("family.a2m"),
    bitscore: Annotated[
        float, typer.Option(help="Bits per query residue for -T/--domT/--incT/--incdomT (EVcouplings: 0.5).")
    ] = 0.5,
    bitscores: Annotated[
        str | None,
        typer.Option(help="Several thresholds, e.g. 0.1,0.3,0.5,0.7: one candidate alignment each."),
    ] = None,
    select: Annotated[
        bool, typer.Option("--select", help="With --bitscores: write EVE's choice as --out.")
    ] = False,
    iterations: Annotated[int, typer.Option(help="jackhmmer iterations at most.")] = 5,
    min_coverage: Annotated[
        float, typer.Option(help="Keep hits covering at least this fraction of the query.")
    ] = 0.5,
    min_column_occupancy: Annotated[
        float, typer.Option(help="Lower-case (do not model) columns occupied in fewer of the kept sequences.")
    ] = 0.7,
    cpus: Annotated[int, typer.Option(help="Search threads (0: automatic).")] = 0,
    theta: Annotated[
        float, typer.Option(help="Identity threshold of the weights in the summary.")
    ] = DEFAULT_THETA,
) -> None:
    """Build a family alignment from one sequence: jackhmmer with EVcouplings/EVE's defaults."""
    from seqvae.workflows.align import align_sweep, build_family

    options: dict[str, Any] = dict(
        iterations=iterations,
        min_coverage=min_coverage,
        min_column_occupancy=min_column_occupancy,
        cpus=cpus,
        theta=theta,
    )
    if bitscores is None:
        if select:
            console.print("note: --select chooses among --bitscores; with one --bitscore it does nothing")

        def progress(s) -> None:
            console.print(
                f"iteration {s.iteration}/{iterations}: {s.included} sequences included "
                f"({s.new} new, {s.reported} reported), {s.seconds:.1f} s"
            )

        with arguments_as_flags({"bitscore": "--bitscore"}):
            family = build_family(query, database, out, bitscore=bitscore, progress=progress, **options)
        _print_family(family)
        return

    values = parse_number_list(bitscores, "--bitscores", "bit scores")

    def sweep_progress(b: float, s) -> None:
        console.print(
            f"bitscore {b:g}, iteration {s.iteration}/{iterations}: {s.included} sequences included "
            f"({s.new} new), {s.seconds:.1f} s"
        )

    with arguments_as_flags({"bitscores": "--bitscores"}):
        result = align_sweep(query, database, out, values, select=select, progress=sweep_progress, **options)
    table = Table(title="candidate alignments (EVE's rule)")
    for column in ("bitscore", "N", "N_eff", "focus", "covered", "iterations", "selected", "file"):
        table.add_column(column, justify="right" if column not in ("file",) else "left")
    for row in result.candidates:
        table.add_row(
            f"{row['bitscore']:g}",
            str(row["n_sequences"]),
            str(row["n_eff"]),
            str(row["focus_columns"]),
            f"{row['query_positions_covered']:.0%}",
            str(row["iterations_run"]),
            f"tier {row['tier']}" if row["selected"] else "",
            row["file"] or row["note"],
        )
    stdout.print(table)
    console.print(f"candidates: {result.paths['candidates']}")
    if result.selected is not None:
        _print_family(result.families[result.selected["bitscore"]], result.paths)


def _print_family(family, paths: dict | None = None) -> None:
    paths = paths or family.paths
    provenance = family.provenance
    print_summary_tables(provenance["summary"], paths["a2m"].name)
    hits = provenance["hits"]
    console.print(
        f"{hits['sequences_in_alignment']} sequences in the alignment ({hits['reported_domains']} domains "
        f"reported, {hits['included_domains']} included) after {provenance['iterations']['run']} iterations"
        f"{' (converged)' if provenance['iterations']['converged'] else ''}, {provenance['seconds']:.1f} s"
    )
    console.print(
        f"wrote {paths['a2m']} (and as Stockholm: {paths['stockholm']}), {paths['provenance']} and {paths['hits']}"
    )
