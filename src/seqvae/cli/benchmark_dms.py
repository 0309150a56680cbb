"""``seqvae benchmark-dms``: train, score and evaluate on one deep mutational scan, or on every
protein of a panel. A thin wrapper over :mod:`seqvae.workflows.dms_panel`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqvae.cli.common import (
    ChainOpt,
    ContactMapOpt,
    MutantColOpt,
    MutationSeparatorOpt,
    ReferenceOpt,
    ReferenceSequenceOpt,
    ScoreColOpt,
    SepOpt,
    StructureOpt,
    ThreadsOpt,
    ZSamplesOpt,
    arguments_as_flags,
    check_threads,
    console,
    parse_set_options,
    rerun_continues,
    stdout,
)
from seqvae.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("benchmark-dms")(benchmark_dms)


# the arguments of run_panel (and run_dms_benchmark, a view of it) its messages name, as flags
PANEL_FLAGS = {
    "models": "--models",
    "ensemble": "--ensemble",
    "jobs": "--jobs",
    "threads": "--threads",
    "potts_iterations": "--potts-iterations",
    "overrides": "--set",
    "out": "--out",
}
BENCHMARK_COLUMNS = ("protein", "model", "rho", "95% CI", "N scored", "train s", "score s")


def _print_table(rows: list[dict], title: str, panel: bool) -> None:
    table = Table(title=title)
    for name in BENCHMARK_COLUMNS if panel else BENCHMARK_COLUMNS[1:]:
        table.add_column(name, justify="left" if name in ("model", "protein") else "right")
    for row in rows:
        cells = [
            row["model"],
            f"{row['spearman']:.3f}",
            f"{row['ci_low']:.3f}-{row['ci_high']:.3f}",
            str(row["n_scored"]),
            f"{row['train_s']:.0f}",
            f"{row['score_s']:.1f}",
        ]
        table.add_row(*([row["protein"], *cells] if panel else cells))
    stdout.print(table)


def benchmark_dms(
    alignment: Annotated[
        Path | None, typer.Argument(help="Training alignment (not with --panel).", show_default=False)
    ] = None,
    dms: Annotated[
        Path | None,
        typer.Argument(
            help="Deep mutational scan with a 'mutant' column, or name it with --mutant-col (not with --panel).",
            show_default=False,
        ),
    ] = None,
    score_col: ScoreColOpt = None,
    panel: Annotated[
        Path | None,
        typer.Option(
            "--panel",
            help="A manifest (YAML, e.g. benchmarks/panel.yaml; each family with one measured scan): train, "
            "score and evaluate every family in it, resumably; writes OUT/panel.csv, panel_summary.csv "
            "(seed means, panel means), panel.md and panel.png.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for runs and scores.")] = Path("runs/dms"),
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated: site-independent, site-independent-wt (the profile of the "
            "wild type's near relatives), potts, vae."
        ),
    ] = "site-independent,potts,vae",
    ensemble: Annotated[int, typer.Option(help="Also train this many VAEs (seeds 0..n-1) and average.")] = 1,
    preset: Annotated[str, typer.Option(help="VAE preset.")] = "fitness",
    samples: ZSamplesOpt = 200,
    potts_iterations: Annotated[int, typer.Option(help="Potts L-BFGS iterations.")] = 30,
    threads: ThreadsOpt = None,
    jobs: Annotated[
        int, typer.Option(help="Models fitted at once (a local process pool, one thread each).")
    ] = 1,
    fast: Annotated[bool, typer.Option("--fast", help="Score VAEs with `score --fast`'s settings.")] = False,
    mutant_col: MutantColOpt = None,
    sep: SepOpt = None,
    mutation_separator: MutationSeparatorOpt = None,
    reference_sequence: ReferenceSequenceOpt = None,
    reference: ReferenceOpt = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a VAE config knob: --set training.max_steps=500 (repeatable)."),
    ] = None,
    structure: StructureOpt = None,
    chain: ChainOpt = None,
    contact_map: ContactMapOpt = None,
) -> None:
    """Train -> score -> evaluate on one DMS (or every protein of a --panel) and print one table."""
    model_list = [m.strip() for m in models.split(",") if m.strip()]
    overrides = parse_set_options(set_values)
    check_threads(threads)
    settings: dict[str, Any] = {
        "models": model_list,
        "ensemble": ensemble,
        "preset": preset,
        "samples": samples,
        "potts_iterations": potts_iterations,
        "overrides": overrides,
        "threads": threads,
        "jobs": jobs,
        "fast": fast,
        "log": lambda text: console.print(text, soft_wrap=True, highlight=False),
    }
    if panel is not None:
        from seqvae.workflows.dms_panel import load_panel, run_panel

        if alignment is not None or dms is not None or mutant_col is not None:
            raise InputError(
                "--panel takes no ALIGNMENT, DMS or --mutant-col (the panel file names them)", "--panel"
            )
        if structure is not None or chain is not None or contact_map is not None:
            raise InputError(
                "--panel takes no --structure, --chain or --contact-map (a family's 'structure:' "
                "entry names it)",
                "--panel",
            )
        with arguments_as_flags(PANEL_FLAGS), rerun_continues("benchmark-dms"):
            table = run_panel(load_panel(panel), out, **settings)
        _print_table(table.to_dict("records"), f"panel {panel.name}", panel=True)
        console.print(
            f"panel table: {out / 'panel.csv'}, {out / 'panel_summary.csv'}, {out / 'panel.md'}, {out / 'panel.png'}"
        )
        return
    from seqvae.workflows.dms_panel import BENCHMARK_FILE, run_dms_benchmark

    if alignment is None or dms is None or score_col is None:
        raise InputError("give ALIGNMENT DMS --score-col COLUMN, or --panel FILE")
    if chain is not None and structure is None:
        raise InputError("--chain needs --structure", "--chain")
    with arguments_as_flags(PANEL_FLAGS), rerun_continues("benchmark-dms"):
        rows = run_dms_benchmark(
            alignment,
            dms,
            score_col,
            out,
            sep=sep,
            mutation_separator=mutation_separator,
            reference_sequence=reference_sequence,
            mutant_column=mutant_col,
            structure=structure,
            chain=chain,
            contact_map=contact_map,
            reference=reference,
            **settings,
        )
    _print_table(rows, f"{dms.name} ({score_col})", panel=False)
    console.print(f"benchmark table: {out / BENCHMARK_FILE}")
