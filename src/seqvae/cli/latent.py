"""Latent-space commands: ``seqvae latent`` (maps, diagnostics, PCA comparison, phenotype
predictability, Simpson's paradox, localisation) and ``seqvae sweep`` (selective posterior
collapse over a parameter grid)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from seqvae.cli.common import WorkerThreadsOpt, console, fields_as_flags, parse_set_options, stdout
from seqvae.errors import InputError

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


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def latent(
    run_dir: Annotated[Path, typer.Argument(help="A trained run directory.")],
    alignment: Annotated[
        Path | None,
        typer.Argument(
            help="Sequences aligned like the training alignment, or a count file for a run on counts "
            "(default: the training set)."
        ),
    ] = None,
    phenotypes: Annotated[
        Path | None,
        typer.Option(
            "--phenotypes",
            "-p",
            help="CSV/TSV table, one row per sequence id (a run on counts: default, its cell metadata).",
        ),
    ] = None,
    color: Annotated[
        list[str] | None,
        typer.Option("--color", "-c", help="Phenotype column to colour by and analyse (repeatable)."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group", "-g", help="Grouping column for the within-group (Simpson) analysis (repeatable)."
        ),
    ] = None,
    id_column: Annotated[str, typer.Option(help="The table's column of sequence ids (FASTA ids).")] = "id",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for figures and latent_metrics.json.")
    ] = Path("latent"),
    threshold: Annotated[float, typer.Option(help="Var(z_mean) above which a dimension is active.")] = 0.1,
    pcs: Annotated[
        int, typer.Option("--pcs", help="Principal components compared with the latent means.")
    ] = 10,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    neighbours: Annotated[int, typer.Option(help="k of the k-NN models.")] = 10,
    top_fraction: Annotated[
        float, typer.Option(help="Top fraction of a continuous phenotype tested for localisation.")
    ] = 0.1,
    permutations: Annotated[int, typer.Option(help="Random sets in each localisation test.")] = 999,
    statistic: Annotated[str, typer.Option(help="Localisation statistic: pairwise or knn.")] = "pairwise",
    null: Annotated[
        str, typer.Option(help="Random sets drawn weighted (by sequence weight) or uniform.")
    ] = "weighted",
    clusters: Annotated[
        int, typer.Option(help="k-means clusters used as groups when no --group is given (0: none).")
    ] = 4,
    min_group_size: Annotated[int, typer.Option(help="Smallest group analysed.")] = 30,
    strength_delta: Annotated[float, typer.Option(help="R² gap (group vs pooled) that flags a group.")] = 0.2,
    max_categories: Annotated[int, typer.Option(help="Categories shown per categorical column.")] = 8,
    pca_gaps: Annotated[bool, typer.Option(help="Count the gap as a one-hot state in the PCA.")] = True,
    interactive: Annotated[
        bool, typer.Option(help="Also write self-contained HTML maps (needs plotly: seqvae[interactive]).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for folds, permutations, k-means and PCA.")] = 0,
) -> None:
    """Latent maps coloured by phenotypes, dimension diagnostics, PCA comparison, phenotype
    predictability (with a Simpson's-paradox check) and localisation tests."""
    from seqvae.analysis.latent_report import LatentOptions, analyse_latent
    from seqvae.io.atomic import atomic_open, write_json
    from seqvae.plots.latent import _require_plotly, write_latent_report
    from seqvae.run import load

    if interactive:
        _require_plotly()  # fail before the long part
    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        options = LatentOptions(
            threshold=threshold,
            n_pcs=pcs,
            folds=folds,
            neighbours=neighbours,
            seed=seed,
            top_fraction=top_fraction,
            n_permutations=permutations,
            statistic=statistic,
            null_sampling=null,
            n_clusters=clusters,
            min_group_size=min_group_size,
            strength_delta=strength_delta,
            max_categories=max_categories,
            include_gaps=pca_gaps,
        ).validate()
    run = load(run_dir)
    # a run on counts brings its cells' metadata (obs) as the phenotype table of its training cells
    has_metadata = alignment is None and run.cell_metadata() is not None
    if (color or group) and phenotypes is None and not has_metadata:
        raise InputError("--color and --group need a phenotype table", "--phenotypes")
    with console.status("latent analysis") as status:
        report = analyse_latent(
            run,
            alignment,
            phenotypes,
            id_column=id_column,
            color_columns=color or [],
            group_columns=group or [],
            options=options,
            progress=lambda message: status.update(f"latent analysis: {message}"),
        )
        if report.join is not None:
            j = report.join
            console.print(
                f"phenotypes: {j.n_matched} of {j.n_sequences} {'cells' if run.kind == 'counts' else 'sequences'} "
                f"matched a row of {phenotypes if phenotypes is not None else 'the cell metadata'} "
                f"({j.n_unused_rows} of {j.n_table_rows} table rows unused)"
            )
        status.update("latent analysis: drawing figures")
        written = write_latent_report(report, out, interactive=interactive)
        write_json(out / "latent_metrics.json", report.metrics)
        with atomic_open(out / "latent_coordinates.csv", "w", newline="", encoding="utf-8") as handle:
            report.coordinates_table().to_csv(handle, index=False)
    _print_report(report)
    console.print(
        f"wrote {len(written) + 2} files to {out} (latent_metrics.json, latent_coordinates.csv, figures)"
    )
    if run.collapse_warning:
        console.print(run.collapse_warning)


def _print_report(report) -> None:
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
    stdout.print(
        f"active dimensions: {diagnostics.n_active} (Var > {diagnostics.threshold:g}); "
        f"tr Cov(z_mean) = {diagnostics.trace_cov:.3f}; participation ratio of the active "
        f"correlation matrix = {diagnostics.participation_ratio_active:.2f}"
    )
    comparison = report.comparison
    stdout.print(
        f"PCA (top {comparison['n_pcs']}): canonical correlations "
        + ", ".join(f"{c:.2f}" for c in comparison["canonical_correlations"])
        + f"; R² latent from PCs = {comparison['r2_latent_from_pcs']['total']:.3f}, "
        f"PCs from latent = {comparison['r2_pcs_from_latent']['total']:.3f}"
    )
    for name, column in report.columns.items():
        if column.predictability is not None:
            p = column.predictability
            stdout.print(
                f"{name} (n={p['n']}): cross-validated R² latent linear {_fmt(p['latent_linear'])}, "
                f"kNN {_fmt(p['latent_knn'])}; {p['n_features']} PCs linear {_fmt(p['pca_linear'])}, "
                f"kNN {_fmt(p['pca_knn'])}"
            )
        if column.classification is not None:
            c = column.classification
            stdout.print(
                f"{name} (n={c['latent']['n']}, {c['latent']['n_classes']} classes): k-NN accuracy latent "
                f"{_fmt(c['latent']['accuracy'])} vs PCs {_fmt(c['pca']['accuracy'])} "
                f"(majority class {_fmt(c['latent']['chance'])})"
            )
        for grouped in column.grouped:
            flagged = grouped.groups[grouped.groups["flag_strength"] | grouped.groups["flag_sign"]]
            parts = ", ".join(
                f"{g} {_fmt(r)}" for g, r in zip(grouped.groups["group"], grouped.groups["r2_linear"])
            )
            stdout.print(
                f"  within {grouped.grouping}: pooled R² {_fmt(grouped.pooled['r2_linear'])}; {parts}"
                + (f"  [Simpson flag: {', '.join(flagged['group'])}]" if len(flagged) else "")
            )
        for result in column.localisation:
            stdout.print(
                f"  localisation of {result.name}: observed/null = {result.ratio:.2f}, "
                f"p = {result.p_value:.3g} ({len(result.null)} random sets)"
            )


def _parse_values(text: str, option: str) -> list[Any]:
    separator = ";" if ";" in text else ","
    values = []
    for item in text.split(separator):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(yaml.safe_load(item))
        except yaml.YAMLError:
            raise InputError(f"cannot parse value {item!r}", option) from None
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
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a grid over one or two parameters and plot tr Cov(z_mean) and active dimensions
    against it (selective posterior collapse). Resumable: finished points are skipped."""
    from seqvae.cli.core import _build_config
    from seqvae.workflows.sweep import FIGURE_FILE, SUMMARY_FILE, run_sweep

    parsed_values = _parse_values(values, "--values")
    parsed_values2 = None if values2 is None else _parse_values(values2, "--values2")
    parsed_seeds = _parse_values(seeds, "--seeds")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in parsed_seeds):
        raise InputError(f"seeds must be non-negative integers, got {seeds!r}", "--seeds")
    base = _build_config(preset, config_file, parse_set_options(set_values))
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
        show_progress=progress,
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
        table.add_row(*(_fmt(row.get(name)) for name in columns))
    stdout.print(table)
    console.print(f"summary: {out / SUMMARY_FILE}; figure: {out / FIGURE_FILE}")
