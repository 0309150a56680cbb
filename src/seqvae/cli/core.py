"""Core commands: info, train, resume, embed, config."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqvae.cli.common import (
    AlignmentArg,
    DeviceOpt,
    OverwriteOpt,
    ProgressOpt,
    ReferenceOpt,
    ThetaOpt,
    console,
    parse_set_options,
    print_json,
    print_pairs,
    progress_display,
    run_on_device,
    stdout,
)
from seqvae.data.alignment import alignment_summary, read_alignment
from seqvae.data.counts import read_counts
from seqvae.data.weights import DEFAULT_THETA
from seqvae.errors import ConfigError, InputError
from seqvae.io.config_files import key_line, read_config_file, write_config_file
from seqvae.io.count_files import is_count_file
from seqvae.training.config import RunConfig, preset_config
from seqvae.training.trainer import choose_threads, resolve_device

TRAIN_OPTION_NAMES = {
    "model.latent_dim": "--latent-dim",
    "model.likelihood": "--likelihood",
    "model.regulariser": "--regulariser",
    "model.beta": "--beta",
    "model.mmd_weight": "--mmd-weight",
    "model.mmd_kernel": "--kernel",
    "training.max_steps": "--max-steps",
    "training.max_time_s": "--max-time",
    "training.batch_size": "--batch-size",
    "training.learning_rate": "--lr",
    "training.device": "--device",
    "seed": "--seed",
    "data.theta": "--theta",
    "data.reference": "--reference",
}


def register(app: typer.Typer) -> None:
    app.command("info")(info)
    app.command("train")(train)
    app.command("resume")(resume)
    app.command("embed")(embed)
    app.command("config")(config)


def info(
    alignment: AlignmentArg,
    reference: ReferenceOpt = None,
    theta: ThetaOpt = DEFAULT_THETA,
    no_weights: Annotated[bool, typer.Option("--no-weights", help="Skip sequence weights (N_eff).")] = False,
    nonstandard: Annotated[
        str, typer.Option(help="drop sequences with non-standard residues, or map them to gap")
    ] = "drop",
    max_sequence_gaps: Annotated[
        float | None, typer.Option(help="Drop sequences with a larger gap fraction.")
    ] = None,
    max_column_gaps: Annotated[
        float | None, typer.Option(help="Drop columns with a larger gap fraction.")
    ] = None,
    alphabet: Annotated[str, typer.Option(help="protein, dna, rna or residue letters.")] = "protein",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Summarise an alignment: size, N_eff, gaps, reference numbering, what each filter removed."""
    started = time.perf_counter()
    aln = read_alignment(
        alignment,
        reference=reference,
        nonstandard=nonstandard,
        max_sequence_gap_fraction=max_sequence_gaps,
        max_column_gap_fraction=max_column_gaps,
        alphabet=alphabet,
    )
    if not no_weights:
        from seqvae.run import sequence_weights_with_progress

        sequence_weights_with_progress(aln, theta, progress_display())
    summary = alignment_summary(aln, alignment, theta=None if no_weights else theta)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    for note in summary["notes"]:
        console.print(f"warning: {note}")
    if as_json:
        print_json(summary)
        return
    print_summary_tables(summary, alignment.name)


def print_summary_tables(summary: dict[str, Any], name: str) -> None:
    """The two tables of ``seqvae info``: the summary fields and the filters, in order."""
    rows = []
    for key, value in summary.items():
        if key in ("filters", "notes"):  # the notes are printed as warnings
            continue
        if key == "reference_focus_sequence" and len(str(value)) > 60:
            value = str(value)[:57] + "..."
        rows.append((key.replace("_", " "), str(value)))
    print_pairs(f"alignment {name}", rows)
    filters = Table(title="filters (in order)")
    filters.add_column("step")
    filters.add_column("count", justify="right")
    for key, value in summary["filters"].items():
        filters.add_row(key.replace("_", " "), str(value))
    stdout.print(filters)


def _build_config(
    preset: str | None,
    config_file: Path | None,
    options: dict[str, Any],
    set_values: dict[str, Any] | None = None,
    option_names: dict[str, str] | None = None,
) -> RunConfig:
    """Preset, then config file, then named options, then ``--set`` values; validated.

    A bad value is reported against where it came from: ``--beta``, ``--set model.beta`` or
    the config file and its line.
    """
    set_values = set_values or {}
    options = {k: v for k, v in options.items() if v is not None}
    try:
        file_values: dict[str, Any] = {}
        if config_file is not None:
            file_values = read_config_file(config_file)
            file_preset = file_values.pop("preset", None)
            if preset is None and file_preset is not None:
                preset = file_preset
        cfg = preset_config(preset)
        cfg = cfg.updated(file_values).validate()
        cfg = cfg.updated(options).updated(set_values).validate()
        resolve_device(cfg.training.device)  # an unavailable device is reported before any work
        return cfg
    except ConfigError as err:
        field = err.field
        if err.source is not None:
            raise
        if field in set_values:
            raise ConfigError(err.message, f"--set {field}", field=field) from None
        if field in options:
            raise ConfigError(err.message, (option_names or {}).get(field, field), field=field) from None
        if config_file is not None:
            line = key_line(config_file, field)
            if line is not None or field != "preset":
                raise ConfigError(err.message, config_file, line, field=field) from None
        if field == "preset":
            raise ConfigError(err.message, "--preset", field=field) from None
        raise


LIKELIHOOD_HELP = (
    "auto (categorical for an alignment, negative_binomial for a count matrix: .h5ad, .npz, .csv, "
    ".tsv), negative_binomial, or gaussian (a count matrix as log(1 + counts))."
)


def train(
    alignment: Annotated[
        Path,
        typer.Argument(
            help="Alignment (FASTA, A2M, A3M or Stockholm, optionally .gz), or a count matrix of "
            "cells x genes (.h5ad, .npz, .csv, .tsv)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to create.")] = Path("runs/run"),
    preset: Annotated[
        str | None,
        typer.Option(help="explore (small, 2-D latent) or fitness (z=30, for mutation effects)."),
    ] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="YAML/TOML/JSON config file.")] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any knob: --set model.beta=2 (repeatable)."),
    ] = None,
    latent_dim: Annotated[int | None, typer.Option(help="Latent size d.")] = None,
    likelihood: Annotated[str | None, typer.Option(help=LIKELIHOOD_HELP)] = None,
    regulariser: Annotated[str | None, typer.Option(help="kl or mmd.")] = None,
    beta: Annotated[float | None, typer.Option(help="KL weight β.")] = None,
    mmd_weight: Annotated[float | None, typer.Option(help="MMD weight λ.")] = None,
    # retired: the MMD kernel is always the inverse multiquadric; `imq` is accepted, any other
    # value gets the retired key's one-line message
    kernel: Annotated[str | None, typer.Option(hidden=True)] = None,
    max_steps: Annotated[int | None, typer.Option(help="Step limit.")] = None,
    max_time: Annotated[float | None, typer.Option(help="Wall-time limit in seconds.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Minibatch size.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Adam learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="The one seed.")] = None,
    theta: ThetaOpt = None,
    reference: ReferenceOpt = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps.")] = None,
    overwrite: OverwriteOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Train a VAE on an alignment (or a count matrix of cells) and write a run directory."""
    from seqvae.run import train as train_run

    counts_in = is_count_file(alignment)
    _check_likelihood_option(likelihood, counts_in, alignment)
    options = {
        "model.latent_dim": latent_dim,
        "model.likelihood": None if likelihood in (None, "auto") else likelihood,
        "model.regulariser": regulariser,
        "model.beta": beta,
        "model.mmd_weight": mmd_weight,
        "model.mmd_kernel": kernel,
        "training.max_steps": max_steps,
        "training.max_time_s": max_time,
        "training.batch_size": batch_size,
        "training.learning_rate": learning_rate,
        "training.device": device,
        "seed": seed,
        "data.theta": theta,
        "data.reference": reference,
    }
    from seqvae.run import check_output_directory

    cfg = _build_config(preset, config_file, options, parse_set_options(set_values), TRAIN_OPTION_NAMES)
    check_output_directory(out, overwrite)
    if counts_in:
        counts = read_counts(alignment)
        console.print(f"read {counts.n_cells} cells x {counts.n_genes} genes from {alignment}")
        run = train_run(counts, cfg, out=out, overwrite=overwrite, progress=progress_display(progress))
        _print_finished(run)
        return
    aln = read_alignment(alignment, cfg.data.alignment_options())
    console.print(f"read {aln.n_sequences} sequences x {aln.length} columns from {alignment}")
    _busy_machine_hint(cfg, aln.length, aln.alphabet.size)
    if cfg.model.regulariser == "mmd" and cfg.training.early_stopping_patience is not None:
        # MMD does not penalise each posterior's KL, which grows while the model improves, so
        # the validation ELBO can fall for a good model (measured on SH3: 3 -> 26 nats of KL)
        console.print(
            "note: early stopping watches the validation ELBO, whose KL term MMD does not "
            "penalise; for MMD models prefer a fixed budget: --set training.early_stopping_patience=null"
        )
    run = train_run(aln, cfg, out=out, overwrite=overwrite, progress=progress_display(progress))
    _print_finished(run)


def _check_likelihood_option(likelihood: str | None, counts_in: bool, data: Path) -> None:
    """``--likelihood`` must suit the data: counts take negative_binomial or gaussian."""
    if likelihood is None or likelihood == "auto":
        return
    allowed = ("negative_binomial", "gaussian") if counts_in else ("categorical",)
    if likelihood not in allowed:
        what = "a count matrix" if counts_in else "an alignment"
        raise ConfigError(
            f"{likelihood!r} does not apply to {what} ({data}); choose auto or {' or '.join(allowed)}",
            "--likelihood",
            field="model.likelihood",
        )


def _busy_machine_hint(cfg: RunConfig, length: int, alphabet_size: int) -> None:
    """Several threads on a machine busy with other jobs wait on each other (measured: a
    fitness step 2.4x slower on 2 threads than on 1); say so instead of choosing silently,
    because the thread count changes the results' last bits."""
    import copy
    import os

    if cfg.training.threads is not None or not hasattr(os, "getloadavg"):
        return
    model = copy.deepcopy(cfg.model)
    model.length, model.alphabet_size = length, alphabet_size
    if choose_threads(None, model, cfg.training.batch_size) == 1:
        return
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    if cores > 1 and load > cores:
        console.print(
            f"note: this machine is busy (load {load:.1f} on {cores} cores); "
            "--set training.threads=1 is often faster here"
        )


def _print_finished(run) -> None:
    # the run's own "finished" line and collapse warning came through logging (train.log's lines)
    console.print(f"run directory: {run.path}")


def resume(
    run_dir: Annotated[Path, typer.Argument(help="An interrupted run directory.")],
    progress: ProgressOpt = True,
) -> None:
    """Continue an interrupted run from its last checkpoint."""
    from seqvae.run import resume as resume_run

    run = resume_run(run_dir, progress=progress_display(progress))
    _print_finished(run)


def embed(
    run_dir: Annotated[Path, typer.Argument(help="A trained run directory.")],
    alignment: Annotated[
        Path | None,
        typer.Argument(
            help="Sequences aligned like the training alignment, or for a run on counts a count file "
            "with its genes (default: the training set)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: z.csv or z.h5ad).")
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv (id, weight, z_mean_*, z_logvar_*) or h5ad (AnnData: z in obsm['X_seqvae'], "
            "ids and weights in obs; needs anndata). Default: from --out's suffix, else csv.",
        ),
    ] = None,
    device: DeviceOpt = None,
) -> None:
    """Write id, weight, z_mean_* and z_logvar_* for each sequence (or cell of a count run), as CSV
    or as an AnnData .h5ad for scanpy and scvi-tools."""
    from seqvae.io.embedding_files import EMBEDDING_FORMATS, write_embedding
    from seqvae.io.output_dirs import check_output_paths
    from seqvae.run import load

    if output_format is None:
        output_format = "h5ad" if out is not None and out.suffix.lower() == ".h5ad" else "csv"
    if output_format not in EMBEDDING_FORMATS:
        raise InputError(
            f"--format must be one of {', '.join(EMBEDDING_FORMATS)}, got {output_format!r}", "--format"
        )
    out = out if out is not None else Path(f"z.{output_format}")
    inputs = {"the run": run_dir, **({"ALIGNMENT": alignment} if alignment is not None else {})}
    check_output_paths({"the embedding": out}, inputs, "--out")
    run = run_on_device(load(run_dir), device)
    table = run.embed(alignment)
    write_embedding(table, out, output_format)
    what = "cells" if run.kind == "counts" else "sequences"
    console.print(f"embedded {len(table)} {what} into {run.config.model.latent_dim} dimensions: {out}")


def config(
    preset: Annotated[
        str | None, typer.Option(help="explore or fitness (default: built-in defaults).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to a .yaml, .toml or .json file.")
    ] = None,
) -> None:
    """Print (or write) a complete config to edit and pass to ``seqvae train --config``.

    YAML carries each setting's description and allowed values as a comment; settings training
    fills in from the data (the sequence length, ...) are left out.
    """
    from seqvae.io.atomic import atomic_open
    from seqvae.options import commented_yaml, without_derived

    cfg = preset_config(preset)
    header = (
        f"seqvae config ({preset or 'built-in defaults'}): edit, then seqvae train ALIGNMENT --config FILE"
    )
    if out is None:
        print(commented_yaml(cfg, header), end="")
    elif out.suffix.lower() in (".yaml", ".yml"):
        with atomic_open(out, "w", encoding="utf-8") as handle:
            handle.write(commented_yaml(cfg, header))
        console.print(f"wrote {out}")
    else:
        write_config_file(out, without_derived(cfg))
        console.print(f"wrote {out}")
