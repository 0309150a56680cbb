"""Mutation commands: ``score``, ``baseline fit``, ``benchmark-dms``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from seqvae.cli.common import DEVICE_HELP, console, device_option, stdout
from seqvae.data.weights import DEFAULT_THETA
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open, write_json

baseline_app = typer.Typer(
    help="Classical baselines: site-independent and Potts models.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("benchmark-dms")(benchmark_dms)
    app.add_typer(baseline_app, name="baseline")
    baseline_app.command("fit")(baseline_fit)


def _split_paths(paths: list[Path], runs: list[str] | None) -> tuple[list[Path], Path | None]:
    """Directories are runs, a file is the mutation table (at most one)."""
    run_dirs = [p for p in paths if p.is_dir()]
    tables = [p for p in paths if not p.is_dir()]
    for item in runs or []:
        run_dirs.extend(Path(part) for part in item.split(",") if part)
    if len(tables) > 1:
        missing = [str(p) for p in tables if not p.exists()]
        if missing:
            raise InputError(f"not found: {', '.join(missing)}")
        raise InputError(f"expected one mutation table, got {len(tables)}: {', '.join(map(str, tables))}")
    if not run_dirs:
        raise InputError("give at least one run directory (or --runs A,B,C)")
    return run_dirs, tables[0] if tables else None


def score(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="RUN [RUN ...] [MUTATIONS.csv]: run or baseline directories (several = an ensemble) "
            "and a CSV with a 'mutant' (A23V:G45D) or 'mutated_sequence' column."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV to write.")] = Path("scores.csv"),
    runs: Annotated[
        list[str] | None,
        typer.Option("--runs", help="More runs for the ensemble average: --runs A,B,C (repeatable)."),
    ] = None,
    mutant_col: Annotated[
        str | None, typer.Option("--mutant-col", help="Column with mutant strings (default: mutant).")
    ] = None,
    sequence_col: Annotated[
        str | None,
        typer.Option("--sequence-col", help="Column with full mutated sequences (e.g. mutated_sequence)."),
    ] = None,
    score_col: Annotated[
        str | None, typer.Option("--score-col", help="Measured column: report Spearman rho against it.")
    ] = None,
    label_col: Annotated[
        str | None, typer.Option("--label-col", help="Binary 0/1 column: report ROC AUC against it.")
    ] = None,
    sep: Annotated[
        str | None,
        typer.Option("--sep", help="Field separator of the table (default: detected: , ; or tab)."),
    ] = None,
    mutation_separator: Annotated[
        str | None,
        typer.Option("--mutation-separator", help="Between substitutions: ':' or '/' (default: either)."),
    ] = None,
    reference_sequence: Annotated[
        Path | None,
        typer.Option(
            "--reference-sequence",
            help="FASTA of the full wild type (id NAME/start-end numbers it): aligned to the reference "
            "row, so mutants are numbered by it (for trimmed rows, e.g. Pfam).",
        ),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(help="Draws of z per sequence (VAE; default 200, 20 with --fast).")
    ] = None,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="VAE: 20 antithetic draws and the bfloat16 output layer (where the CPU has a "
            "bfloat16 matmul): >10x faster, rho within 0.001 of the 200-draw default on the "
            "benchmark scans (benchmarks/RESULTS.md).",
        ),
    ] = False,
    antithetic: Annotated[
        bool, typer.Option("--antithetic", help="VAE: half the draws and their negatives (even --samples).")
    ] = False,
    decoder_precision: Annotated[
        str | None,
        typer.Option(
            "--decoder-precision",
            help="VAE: float32 (default) or bfloat16 (the output layer's product, relative to the "
            "wild type's logits; fast on CPUs with AMX / AVX512-BF16).",
        ),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="seqvae (input columns + n_mutations, score, reason) or proteingym (mutant, "
            "mutated_sequence, the --score-col column, one score column per model).",
        ),
    ] = "seqvae",
    sequences: Annotated[
        Path | None,
        typer.Option(
            "--sequences",
            help="Score whole aligned sequences instead of mutants: an alignment (FASTA, A2M, "
            "Stockholm) or a table (.csv/.tsv) aligned like the training alignment; designs may "
            "fill columns where the reference has a gap. Writes id, sequence, n_differences, "
            "n_gaps, log_value (ELBO / log p(x) / -H) and score (minus the reference's).",
        ),
    ] = None,
    id_col: Annotated[
        str | None, typer.Option("--id-col", help="With --sequences: the table's id column (default: id).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the z draws.")] = 0,
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads (default: torch's, every core). On a machine busy with other jobs 1 "
            "is often several times faster: threads that wait for a busy core stall each batch."
        ),
    ] = None,
    iw: Annotated[
        bool, typer.Option("--iw", help="Importance-weighted log-likelihood instead of the ELBO.")
    ] = False,
    device: Annotated[str | None, typer.Option("--device", help=DEVICE_HELP)] = None,
    skip_mismatches: Annotated[
        bool, typer.Option("--skip-mismatches", help="Drop rows whose wild type does not match.")
    ] = False,
    all_singles: Annotated[
        bool,
        typer.Option("--all-singles", help="Score every single mutant of the reference (+ heatmap PNG)."),
    ] = False,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Where to write the evaluation JSON (with --score-col; default: OUT_summary.json "
            "beside OUT, and a scatter OUT_scatter.png).",
        ),
    ] = None,
) -> None:
    """Score mutations: E[ELBO(mutant)] - E[ELBO(wild type)] (higher = fitter).

    The output keeps every input column as read; an added column (mutant, n_mutations, score,
    reason) whose name the input already uses is written as seqvae_<name>.
    """
    import torch

    from seqvae.analysis.mutations import read_wild_type
    from seqvae.analysis.scoring import (
        FAST_SAMPLES,
        OUTPUT_FORMATS,
        EnsembleScorer,
        load_scorer,
        score_all_singles,
        score_file,
        score_sequences,
    )
    from seqvae.data.weights import fast_exact_dtype
    from seqvae.utils import torch_threads

    run_dirs, table = _split_paths(paths, runs)
    wild_type = read_wild_type(reference_sequence) if reference_sequence is not None else None
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be >= 1, got {threads}", "--threads")
    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}", "--format"
        )
    samples = samples if samples is not None else (FAST_SAMPLES if fast else 200)
    antithetic = antithetic or fast
    if decoder_precision is None:
        decoder_precision = "bfloat16" if fast and fast_exact_dtype() == torch.bfloat16 else "float32"
    with torch_threads(threads):
        inputs = [table is not None, all_singles, sequences is not None]
        if sum(inputs) > 1:
            raise InputError("give one of: a mutation table, --all-singles, --sequences FILE")
        if not any(inputs):
            raise InputError("give a mutation table (CSV), --all-singles or --sequences FILE")
        if samples < 1:
            raise InputError(f"--samples must be >= 1, got {samples}", "--samples")
        if antithetic and samples % 2:
            raise InputError(f"antithetic draws need an even --samples, got {samples}", "--samples")
        if sequences is not None and (score_col or label_col or output_format != "seqvae"):
            raise InputError(
                "--sequences writes its own columns; --score-col, --label-col and --format do not apply"
            )
        target = device_option(device)
        scorers = [
            load_scorer(
                p,
                samples=samples,
                seed=seed,
                iw=iw,
                antithetic=antithetic,
                decoder_precision=decoder_precision,
                device=target,
            )
            for p in run_dirs
        ]
        scorer = scorers[0] if len(scorers) == 1 else EnsembleScorer(scorers)
        for warning in scorer.warnings:
            console.print(warning)
        started = time.perf_counter()
        if sequences is not None:
            result = score_sequences(scorer, sequences, out, sequence_column=sequence_col, id_column=id_col)
            console.print(
                f"scored {result.n_sequences} aligned sequences in {result.seconds:.1f} s (reference "
                f"{scorer.registry.reference_id}: log value {result.reference_value:.4f}"
                + (
                    f"; {result.n_nonstandard_as_gap} non-standard residues read as gaps"
                    if result.n_nonstandard_as_gap
                    else ""
                )
                + f"): {out}",
                soft_wrap=True,
                highlight=False,
            )
            return
        if all_singles:
            from seqvae.plots.mutations import plot_singles_heatmap

            singles = score_all_singles(scorer)
            with atomic_open(out, "w", newline="", encoding="utf-8") as handle:
                singles.to_csv(handle, index=False, float_format="%.6g")
            png = out.with_suffix(".png")
            plot_singles_heatmap(singles, scorer.registry, png, title=f"single mutants: {scorer.name}")
            console.print(
                f"scored {len(singles)} single mutants in {time.perf_counter() - started:.1f} s: {out}, {png}",
                soft_wrap=True,
                highlight=False,
            )
            return
        with Progress(
            TextColumn("[bold]scoring"),
            TextColumn("{task.completed} rows"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # no empty line on a redirected stderr
        ) as bar:
            task = bar.add_task("score", total=None)
            report = score_file(
                scorer,
                table,
                out,
                mutant_column=mutant_col,
                sequence_column=sequence_col,
                score_column=score_col,
                label_column=label_col,
                skip_mismatches=skip_mismatches,
                progress=lambda n: bar.update(task, completed=n),
                output_format=output_format,
                sep=sep,
                mutation_separator=mutation_separator,
                wild_type=wild_type,
            )
        for note in report.notes:
            console.print(f"warning: {note}", soft_wrap=True, highlight=False)
        message = (
            f"scored {report.n_scored} of {report.n_rows} rows in {report.seconds:.1f} s "
            f"({report.n_unscored} without a score, see 'reason'"
            + (
                f"; {report.n_mismatches_skipped} wild-type mismatches dropped"
                if report.n_mismatches_skipped
                else ""
            )
            + f"): {out}"
        )
        console.print(message, soft_wrap=True, highlight=False)
        if score_col:
            evaluation = report.evaluation  # computed before the scores were committed
            print(f"{scorer.name} vs {score_col}: {evaluation.describe()}")
            from seqvae.plots.mutations import plot_score_scatter

            scatter = plot_score_scatter(
                report.predicted,
                report.measured,
                evaluation.spearman,
                (evaluation.ci_low, evaluation.ci_high),
                measured_label=score_col,
                model_name=scorer.name,
                path=out.with_name(f"{out.stem}_scatter.png"),
            )
            summary = summary or out.with_name(f"{out.stem}_summary.json")
            write_json(
                summary,
                {
                    "model": scorer.name,
                    "column": score_col,
                    "scores_file": out.name,
                    "seconds": report.seconds,
                    **evaluation.to_dict(),
                },
            )
            console.print(f"evaluation: {summary}, {scatter}", soft_wrap=True, highlight=False)


def baseline_fit(
    alignment: Annotated[Path, typer.Argument(help="Training alignment (FASTA, A2M, A3M, Stockholm).")],
    model: Annotated[str, typer.Option("--model", help="site-independent or potts.")] = "site-independent",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to create.")] = Path("runs/baseline"),
    theta: Annotated[float | None, typer.Option(help="Sequence-weight identity threshold.")] = DEFAULT_THETA,
    pseudocount: Annotated[
        float, typer.Option(help="Site-independent: weighted pseudocount per state.")
    ] = 1.0,
    model_gaps: Annotated[
        bool, typer.Option("--model-gaps", help="Site-independent: treat the gap as a state.")
    ] = False,
    lambda_h: Annotated[float, typer.Option(help="Potts: L2 on fields.")] = 0.01,
    lambda_j: Annotated[float, typer.Option(help="Potts: L2 on couplings (times (q-1)(L-1)).")] = 0.01,
    max_iterations: Annotated[int, typer.Option(help="Potts: L-BFGS iterations.")] = 30,
    reference: Annotated[str | None, typer.Option(help="Reference sequence id (default: first).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing directory.")] = False,
) -> None:
    """Fit a baseline and write a directory that ``seqvae score`` accepts like a run."""
    from seqvae.data.alignment import read_alignment
    from seqvae.io.output_dirs import check_output_directory
    from seqvae.training.baselines import BASELINE_DIRECTORY, PottsSettings, fit_baseline

    check_output_directory(out, BASELINE_DIRECTORY, overwrite)  # before reading the alignment
    aln = read_alignment(alignment, reference=reference)
    console.print(f"read {aln.n_sequences} sequences x {aln.length} columns from {alignment}")
    settings = PottsSettings(lambda_h=lambda_h, lambda_j=lambda_j, max_iterations=max_iterations)
    with Progress(
        TextColumn(f"[bold]fitting {model}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # no empty line on a redirected stderr
    ) as bar:
        task = bar.add_task("fit", info="")
        _, info = fit_baseline(
            aln,
            model,
            out,
            theta=theta,
            pseudocount=pseudocount,
            model_gaps=model_gaps,
            potts=settings,
            overwrite=overwrite,
            progress=lambda n, f: bar.update(task, info=f"evaluation {n}, objective {f:.4f}"),
        )
    console.print(
        f"fitted {model} in {info['fit_time_s']:.1f} s (N_eff {info['n_eff']:.1f}): {out}",
        soft_wrap=True,
        highlight=False,
    )
    if model == "potts":
        console.print(
            f"coupling matrices (Frobenius norms, without / with APC): {out}/couplings.npz, "
            f"{out}/couplings_apc.npz (seqvae compare / contacts read them)",
            soft_wrap=True,
            highlight=False,
        )


def benchmark_dms(
    alignment: Annotated[
        Path | None, typer.Argument(help="Training alignment (not with --panel).", show_default=False)
    ] = None,
    dms: Annotated[
        Path | None,
        typer.Argument(
            help="Deep mutational scan with a 'mutant' column (not with --panel).", show_default=False
        ),
    ] = None,
    score_col: Annotated[str | None, typer.Option("--score-col", help="Measured column.")] = None,
    panel: Annotated[
        Path | None,
        typer.Option(
            "--panel",
            help="A panel file (YAML, e.g. benchmarks/panel.yaml): train, score and evaluate every protein "
            "in it, resumably; writes OUT/panel.csv, panel.md and panel.png.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for runs and scores.")] = Path("runs/dms"),
    models: Annotated[
        str, typer.Option(help="Comma-separated: site-independent, potts, vae.")
    ] = "site-independent,potts,vae",
    ensemble: Annotated[int, typer.Option(help="Also train this many VAEs (seeds 0..n-1) and average.")] = 1,
    preset: Annotated[str, typer.Option(help="VAE preset.")] = "fitness",
    samples: Annotated[int, typer.Option(help="Draws of z per sequence when scoring.")] = 200,
    potts_iterations: Annotated[int, typer.Option(help="Potts L-BFGS iterations.")] = 30,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: the preset's choice).")] = None,
    jobs: Annotated[
        int, typer.Option(help="--panel: models fitted at once (a local process pool, one thread each).")
    ] = 1,
    fast: Annotated[
        bool, typer.Option("--fast", help="--panel: score VAEs with `score --fast`'s settings.")
    ] = False,
    sep: Annotated[
        str | None, typer.Option("--sep", help="Field separator of the scan (default: detected).")
    ] = None,
    mutation_separator: Annotated[
        str | None, typer.Option("--mutation-separator", help="':' or '/' (default: either).")
    ] = None,
    reference_sequence: Annotated[
        Path | None,
        typer.Option("--reference-sequence", help="FASTA of the full wild type numbering the scan."),
    ] = None,
    reference: Annotated[str | None, typer.Option(help="Reference row id (default: first).")] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a VAE config knob: --set training.max_steps=500 (repeatable)."),
    ] = None,
) -> None:
    """Train -> score -> evaluate on one DMS (or every protein of a --panel) and print one table."""
    from seqvae.cli.common import parse_set_options

    model_list = [m.strip() for m in models.split(",") if m.strip()]
    overrides = parse_set_options(set_values)
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be >= 1, got {threads}", "--threads")
    if panel is not None:
        from seqvae.workflows.dms_panel import load_panel, run_panel

        if alignment is not None or dms is not None:
            raise InputError("--panel takes no ALIGNMENT or DMS arguments (the panel file names them)")
        proteins = load_panel(panel)
        table = run_panel(
            proteins,
            out,
            preset=preset,
            models=model_list,
            ensemble=ensemble,
            samples=samples,
            potts_iterations=potts_iterations,
            overrides=overrides,
            threads=threads,
            log=lambda text: console.print(text, soft_wrap=True, highlight=False),
            jobs=jobs,
            fast=fast,
        )
        rows = table.to_dict("records")
        title = f"panel {panel.name}"
    else:
        from seqvae.workflows.dms_benchmark import run_dms_benchmark

        if alignment is None or dms is None or score_col is None:
            raise InputError("give ALIGNMENT DMS --score-col COLUMN, or --panel FILE")
        if reference is not None:
            overrides = {**overrides, "data.reference": reference}
        if threads is not None:
            overrides = {**overrides, "training.threads": threads}
        rows = run_dms_benchmark(
            alignment,
            dms,
            score_col,
            out,
            models=model_list,
            ensemble=ensemble,
            preset=preset,
            samples=samples,
            potts_iterations=potts_iterations,
            overrides=overrides,
            log=console.print,
            sep=sep,
            mutation_separator=mutation_separator,
            reference_sequence=reference_sequence,
        )
        title = f"{dms.name} ({score_col})"
    table = Table(title=title)
    columns = ("protein", "model", "rho", "95% CI", "N scored", "train s", "score s")
    for name in columns if panel is not None else columns[1:]:
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
        table.add_row(*([row["protein"], *cells] if panel is not None else cells))
    stdout.print(table)
    if panel is not None:
        console.print(f"panel table: {out / 'panel.csv'}, {out / 'panel.md'}, {out / 'panel.png'}")
    else:
        write_json(out / "benchmark.json", rows)
