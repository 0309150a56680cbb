"""Latent-space commands: ``seqvae latent`` (maps, diagnostics, PCA comparison, phenotype
predictability, Simpson's paradox, localisation) and ``seqvae sweep`` (selective posterior
collapse over a parameter grid)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqvae.cli.common import (
    ProgressOpt,
    WorkerThreadsOpt,
    arguments_as_flags,
    console,
    fields_as_flags,
    options_from_arguments,
    parse_set_options,
    progress_display,
    rerun_continues,
    stdout,
)
from seqvae.errors import InputError
from seqvae.io.config_files import parse_yaml

#: the options section the latent command's flags set, and the flags not spelt ``--field-name``
#: (``None``: the field has no flag)
OPTIONS_SECTION = "latent"
OPTION_FLAGS: dict[str, str | None] = {
    "n_pcs": "--pcs",
    "n_permutations": "--permutations",
    "null_sampling": "--null",
    "n_clusters": "--clusters",
    "include_gaps": "--pca-gaps",
    "alpha": None,
    "min_category_size": None,
}


def register(app: typer.Typer) -> None:
    app.command("latent")(latent)
    app.command("sweep")(sweep)


RunDirArg = Annotated[Path, typer.Argument(help="A trained run directory.")]
SequencesArg = Annotated[
    Path | None,
    typer.Argument(
        help="Sequences aligned like the training alignment, or a count file for a run on counts "
        "(default: the training set)."
    ),
]
PhenotypesOpt = Annotated[
    Path | None,
    typer.Option(
        "--phenotypes",
        "-p",
        help="CSV/TSV table, one row per sequence id (a run on counts: default, its cell metadata).",
    ),
]
ColorOpt = Annotated[
    list[str] | None,
    typer.Option("--color", "-c", help="Phenotype column to colour by and analyse (repeatable)."),
]
GroupOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--group", "-g", help="Grouping column for the within-group (Simpson) analysis (repeatable)."
    ),
]
IdColumnOpt = Annotated[str, typer.Option(help="The table's column of sequence ids (FASTA ids).")]
LatentOutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Folder for figures and latent_metrics.json.")
]
ThresholdOpt = Annotated[float, typer.Option(help="Var(z_mean) above which a dimension is active.")]
PcsOpt = Annotated[int, typer.Option("--pcs", help="Principal components compared with the latent means.")]
FoldsOpt = Annotated[int, typer.Option(help="Cross-validation folds.")]
NeighboursOpt = Annotated[int, typer.Option(help="k of the k-NN models.")]
TopFractionOpt = Annotated[
    float, typer.Option(help="Top fraction of a continuous phenotype tested for localisation.")
]
PermutationsOpt = Annotated[int, typer.Option(help="Random sets in each localisation test.")]
StatisticOpt = Annotated[str, typer.Option(help="Localisation statistic: pairwise or knn.")]
NullOpt = Annotated[str, typer.Option(help="Random sets drawn weighted (by sequence weight) or uniform.")]
ClustersOpt = Annotated[
    int, typer.Option(help="k-means clusters used as groups when no --group is given (0: none).")
]
MinGroupSizeOpt = Annotated[int, typer.Option(help="Smallest group analysed.")]
StrengthDeltaOpt = Annotated[float, typer.Option(help="R² gap (group vs pooled) that flags a group.")]
MaxCategoriesOpt = Annotated[int, typer.Option(help="Categories shown per categorical column.")]
PcaGapsOpt = Annotated[bool, typer.Option(help="Count the gap as a one-hot state in the PCA.")]
InteractiveOpt = Annotated[
    bool, typer.Option(help="Also write self-contained HTML maps (needs plotly: seqvae[interactive]).")
]
LatentSeedOpt = Annotated[int, typer.Option(help="Seed for folds, permutations, k-means and PCA.")]


def latent(
    run_dir: RunDirArg,
    alignment: SequencesArg = None,
    phenotypes: PhenotypesOpt = None,
    color: ColorOpt = None,
    group: GroupOpt = None,
    id_column: IdColumnOpt = "id",
    out: LatentOutOpt = Path("latent"),
    threshold: ThresholdOpt = 0.1,
    pcs: PcsOpt = 10,
    folds: FoldsOpt = 5,
    neighbours: NeighboursOpt = 10,
    top_fraction: TopFractionOpt = 0.1,
    permutations: PermutationsOpt = 999,
    statistic: StatisticOpt = "pairwise",
    null: NullOpt = "weighted",
    clusters: ClustersOpt = 4,
    min_group_size: MinGroupSizeOpt = 30,
    strength_delta: StrengthDeltaOpt = 0.2,
    max_categories: MaxCategoriesOpt = 8,
    pca_gaps: PcaGapsOpt = True,
    interactive: InteractiveOpt = False,
    seed: LatentSeedOpt = 0,
) -> None:
    """Latent maps coloured by phenotypes, dimension diagnostics, PCA comparison, phenotype
    predictability (with a Simpson's-paradox check) and localisation tests."""
    from seqvae.analysis.latent_report import LatentOptions, analyse_latent
    from seqvae.plots.latent import write_latent_report
    from seqvae.plots.latent_interactive import require_plotly
    from seqvae.run import load

    if interactive:
        require_plotly()  # fail before the long part
    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        options = options_from_arguments(LatentOptions, locals(), OPTION_FLAGS).validate()
    run = load(run_dir)
    with console.status("latent analysis") as status:
        progress = lambda message: status.update(f"latent analysis: {message}")  # noqa: E731
        with arguments_as_flags({"id_column": "--id-column"}):
            report = analyse_latent(
                run, alignment, phenotypes, id_column, color or [], group or [], options, progress
            )
        if report.join is not None:
            console.print(report.describe_join())
        status.update("latent analysis: drawing figures")
        written = write_latent_report(report, out, interactive=interactive)
        saved = report.save(out)
    _print_dimensions(report)
    stdout.print(report.describe())
    names = ", ".join(path.name for path in saved.values())
    console.print(f"wrote {len(written) + len(saved)} files to {out} ({names}, figures)")
    if run.collapse_warning:
        console.print(run.collapse_warning)


def _print_dimensions(report) -> None:
    """The per-dimension diagnostics as a table on stdout."""
    diagnostics = report.diagnostics
    table = Table(title=f"latent dimensions ({report.latent_dim}-D, {len(report.ids)} sequences, weighted)")
    for name in ("dim", "mean", "var(z_mean)", "mean post. var", "KL (nats)", "active"):
        table.add_column(name, justify="right")
    for row in diagnostics.table.itertuples():
        table.add_row(
            str(row.dimension),
            f"{row.mean:.3f}",
            f"{row.variance:.3f}",
            f"{row.posterior_variance:.3f}",
            f"{row.kl:.3f}",
            "yes" if row.active else "no",
        )
    stdout.print(table)


def _parse_values(text: str, option: str) -> list[Any]:
    separator = ";" if ";" in text else ","
    values = []
    for item in text.split(separator):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(parse_yaml(item))
        except InputError:
            raise InputError(f"cannot parse value {item[:80]!r}", option) from None
    if not values:
        raise InputError("no values given", option)
    return values


def sweep(
    data: Annotated[
        Path, typer.Argument(help="Alignment, or a .npy float matrix [N, D] (Gaussian likelihood).")
    ],
    param: Annotated[str, typer.Option("--param", help="Config key to sweep, e.g. model.beta.")],
    values: Annotated[str, typer.Option("--values", help="Comma-separated values (';' for list values).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Sweep folder (one run directory per point).")
    ] = Path("sweep"),
    param2: Annotated[str | None, typer.Option("--param2", help="A second key (grid).")] = None,
    values2: Annotated[str | None, typer.Option("--values2", help="Values of the second key.")] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds per point.")] = "0",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel worker processes.")] = 1,
    threads: WorkerThreadsOpt = 1,
    preset: Annotated[str | None, typer.Option(help="Base preset: explore or fitness.")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="Base config file.")] = None,
    set_values: Annotated[
        list[str] | None, typer.Option("--set", help="Override a base knob: --set training.max_steps=2000.")
    ] = None,
    progress: ProgressOpt = True,
) -> None:
    """Train a grid over one or two parameters and plot tr Cov(z_mean) and active dimensions
    against it (selective posterior collapse), as each run's summary records them over its
    training sequences. Resumable: finished points are read back, interrupted ones resume; a
    point finished with other settings is refused."""
    from seqvae.analysis.latent_report import format_number
    from seqvae.cli.core import _build_config
    from seqvae.workflows.sweep import FIGURE_FILE, SUMMARY_FILE, run_sweep

    parsed_values = _parse_values(values, "--values")
    parsed_values2 = None if values2 is None else _parse_values(values2, "--values2")
    parsed_seeds = _parse_values(seeds, "--seeds")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in parsed_seeds):
        raise InputError(f"seeds must be non-negative integers, got {seeds!r}", "--seeds")
    base = _build_config(preset, config_file, parse_set_options(set_values))
    flags = {"param": "--param", "values": "--values", "param2": "--param2", "values2": "--values2"}
    flags |= {"seeds": "--seeds", "jobs": "--jobs", "threads_per_job": "--threads"}
    with arguments_as_flags(flags), rerun_continues("seqvae sweep"):
        summary = run_sweep(
            data,
            base,
            param,
            parsed_values,
            out,
            param2=param2,
            values2=parsed_values2,
            seeds=parsed_seeds,
            jobs=jobs,
            threads_per_job=threads,
            progress=progress_display(progress),
        )
    table = Table(title=f"sweep over {param}" + (f" x {param2}" if param2 else ""))
    columns = [
        "value",
        *(["value2"] if param2 else []),
        "seed",
        "active_dims",
        "trace_cov",
        "val_elbo",
        "status",
    ]
    for name in columns:
        table.add_column(name, justify="right")
    for row in summary.to_dict(orient="records"):
        table.add_row(*(format_number(row.get(name)) for name in columns))
    stdout.print(table)
    console.print(f"summary: {out / SUMMARY_FILE}; figure: {out / FIGURE_FILE}")
