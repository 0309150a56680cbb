"""``seqvae score``: mutation (or whole-sequence) scores of runs and baselines. A thin wrapper over
:mod:`seqvae.analysis.scoring` (``load_scorers``, ``score_file``, ``score_sequences``,
``single_mutant_scores``; the figures: :mod:`seqvae.plots.mutations`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqvae.cli.common import (
    ChainOpt,
    ContactMapOpt,
    DeviceOpt,
    MutantColOpt,
    MutationSeparatorOpt,
    ReferenceSequenceOpt,
    ScoreColOpt,
    SeedOpt,
    SepOpt,
    StructureOpt,
    ThreadsOpt,
    ZSamplesOpt,
    arguments_as_flags,
    check_threads,
    console,
    device_option,
    fields_as_flags,
    progress_display,
)
from seqvae.errors import InputError
from seqvae.progress import tracking

if TYPE_CHECKING:
    from seqvae.analysis.burial import PositionBurial
    from seqvae.analysis.scoring import Scorer, ScoringOptions


#: the options section this command's flags set, and the flags not spelt ``--field-name``
OPTIONS_SECTION = "scoring"
# the arguments of the scoring calls that library messages name, and their flags here
ARGUMENT_FLAGS = {
    "wild_type": "--reference-sequence",
    "skip_mismatches": "--skip-mismatches",
    "mutant_column": "--mutant-col",
    "sequence_column": "--sequence-col",
    "score_column": "--score-col",
    "output_format": "--format",
    "mutation_separator": "--mutation-separator",
}
OPTION_FLAGS: dict[str, str] = {}


def register(app: typer.Typer) -> None:
    app.command("score")(score)


PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="RUN [RUN ...] [MUTATIONS.csv]: run or baseline directories (several = an ensemble) "
        "and a CSV with a 'mutant' (A23V:G45D) or 'mutated_sequence' column."
    ),
]
ScoresOutOpt = Annotated[Path, typer.Option("--out", "-o", help="CSV to write.")]
RunsOpt = Annotated[
    list[str] | None,
    typer.Option("--runs", help="More runs for the ensemble average: --runs A,B,C (repeatable)."),
]
SequenceColOpt = Annotated[
    str | None,
    typer.Option("--sequence-col", help="Column with full mutated sequences (e.g. mutated_sequence)."),
]
LabelColOpt = Annotated[
    str | None, typer.Option("--label-col", help="Binary 0/1 column: report ROC AUC against it.")
]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="VAE: 20 antithetic draws and the bfloat16 output layer (where the CPU has a "
        "bfloat16 matmul): >10x faster, rho within 0.001 of the 200-draw default on the "
        "benchmark scans (benchmarks/RESULTS.md).",
    ),
]
AntitheticOpt = Annotated[
    bool, typer.Option("--antithetic", help="VAE: half the draws and their negatives (even --samples).")
]
DecoderPrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--decoder-precision",
        help="VAE: float32 (default) or bfloat16 (the output layer's product, relative to the "
        "wild type's logits; fast on CPUs with AMX / AVX512-BF16).",
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="seqvae (input columns + n_mutations, score, reason) or proteingym (mutant, "
        "mutated_sequence, DMS_score from --score-col, DMS_score_bin from --label-col, one score "
        "column per model named by its directory).",
    ),
]
SequencesOpt = Annotated[
    Path | None,
    typer.Option(
        "--sequences",
        help="Score whole aligned sequences instead of mutants: an alignment (FASTA, A2M, "
        "Stockholm) or a table (.csv/.tsv) aligned like the training alignment; designs may "
        "fill columns where the reference has a gap. Writes id, sequence, n_differences, "
        "n_gaps, log_value (ELBO / log p(x) / -H) and score (minus the reference's).",
    ),
]
IdColOpt = Annotated[
    str | None, typer.Option("--id-col", help="With --sequences: the table's id column (default: id).")
]
SignOpt = Annotated[
    str,
    typer.Option(
        "--sign",
        help="fitness: log p(mutant) - log p(wild type), higher = fitter; eve: its negative, EVE's "
        "evolutionary index (higher = more damaging). Applies to every score column.",
    ),
]
IwOpt = Annotated[bool, typer.Option("--iw", help="Importance-weighted log-likelihood instead of the ELBO.")]
SkipMismatchesOpt = Annotated[
    bool, typer.Option("--skip-mismatches", help="Drop rows whose wild type does not match.")
]
AllSinglesOpt = Annotated[
    bool, typer.Option("--all-singles", help="Score every single mutant of the reference (+ heatmap PNG).")
]
SummaryOpt = Annotated[
    Path | None,
    typer.Option(
        "--summary",
        help="Where to write the evaluation JSON (with --score-col; default: OUT_summary.json "
        "beside OUT, and a scatter OUT_scatter.png).",
    ),
]


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


def _check_outputs(
    out: Path,
    summary: Path | None,
    run_dirs: list[Path],
    table: Path | None,
    reference_sequence: Path | None,
    sequences: Path | None,
    all_singles: bool,
    measured: str | None,
) -> None:
    """The files this call writes replace no input and no other of them (one-line errors)."""
    from seqvae.analysis.scoring import scoring_files
    from seqvae.io.output_dirs import check_output_paths

    files = scoring_files(out)
    outputs = {"the scores": out}
    if all_singles:
        outputs["the heatmap"] = files["heatmap"]
    if measured and sequences is None and not all_singles:
        outputs.update({"the summary": summary or files["summary"], "the scatter plot": files["scatter"]})
    inputs = {f"run {path}": path for path in run_dirs}
    for label, path in (("the mutation table", table), ("--reference-sequence", reference_sequence)):
        if path is not None:
            inputs[label] = path
    if sequences is not None:
        inputs["--sequences"] = sequences
    check_output_paths(outputs, inputs, "--out")


def _check_inputs(
    table: Path | None,
    all_singles: bool,
    sequences: Path | None,
    options: ScoringOptions,
    output_format: str,
    measured: bool,
) -> None:
    """One input of three, options that fit it, draws that fit the options (one-line errors)."""
    from seqvae.analysis.scoring import OUTPUT_FORMATS

    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}", "--format"
        )
    inputs = [table is not None, all_singles, sequences is not None]
    if sum(inputs) > 1:
        raise InputError("give one of: a mutation table, --all-singles, --sequences FILE")
    if not any(inputs):
        raise InputError("give a mutation table (CSV), --all-singles or --sequences FILE")
    options.validate()
    if sequences is not None and (measured or output_format != "seqvae"):
        raise InputError(
            "--sequences writes its own columns; --score-col, --label-col and --format do not apply"
        )


def _score_singles(scorer: Scorer, out: Path, burial: PositionBurial | None) -> None:
    from seqvae.analysis.scoring import single_mutant_scores
    from seqvae.plots.mutations import plot_single_mutant_scores

    singles = single_mutant_scores(scorer, burial)
    singles.save(out)
    if singles.structure is not None:
        structure = singles.structure
        console.print(
            f"structure: {structure.burial.describe()}; {structure.rule.describe(structure.measure)}"
        )
    png = plot_single_mutant_scores(singles, out)
    console.print(f"scored {len(singles)} single mutants in {singles.seconds:.1f} s: {out}, {png}")


def _score_table(scorer: Scorer, table: Path, out: Path, summary: Path | None, **options: Any) -> None:
    from seqvae.analysis.scoring import score_file
    from seqvae.plots.mutations import plot_scoring_report

    with tracking(progress_display(), "scoring", unit="rows") as shown:
        report = score_file(scorer, table, out, progress=shown.update, **options)
    for note in report.notes:
        console.print(f"warning: {note}")
    console.print(report.describe())
    if report.evaluation is not None:
        print(f"{report.model} vs {report.score_column}: {report.evaluation.describe()}")
        if report.structure is not None and report.structure.evaluation is not None:
            print(f"structure-aware vs {report.score_column}: {report.structure.evaluation.describe()}")
        scatter = plot_scoring_report(report)
        console.print(f"evaluation: {report.save(summary)['summary']}, {scatter}")


def score(
    paths: PathsArg,
    out: ScoresOutOpt = Path("scores.csv"),
    runs: RunsOpt = None,
    mutant_col: MutantColOpt = None,
    sequence_col: SequenceColOpt = None,
    score_col: ScoreColOpt = None,
    label_col: LabelColOpt = None,
    sep: SepOpt = None,
    mutation_separator: MutationSeparatorOpt = None,
    reference_sequence: ReferenceSequenceOpt = None,
    samples: ZSamplesOpt = None,
    fast: FastOpt = False,
    antithetic: AntitheticOpt = False,
    decoder_precision: DecoderPrecisionOpt = None,
    output_format: FormatOpt = "seqvae",
    sequences: SequencesOpt = None,
    id_col: IdColOpt = None,
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    iw: IwOpt = False,
    sign: SignOpt = "fitness",
    device: DeviceOpt = None,
    skip_mismatches: SkipMismatchesOpt = False,
    all_singles: AllSinglesOpt = False,
    summary: SummaryOpt = None,
    structure: StructureOpt = None,
    chain: ChainOpt = None,
    contact_map: ContactMapOpt = None,
) -> None:
    """Score mutations: E[ELBO(mutant)] - E[ELBO(wild type)] (higher = fitter; --sign eve: the
    negative, EVE's evolutionary index).

    The output keeps every input column as read; an added column (mutant, n_mutations, score,
    reason) whose name the input already uses is written as seqvae_<name>. With --structure
    (or --contact-map) it also gets score_structure (the score times the mean burial factor of
    the covered mutated positions; uncovered variants keep their score) and burial.
    """
    from seqvae.analysis.mutations import read_wild_type
    from seqvae.analysis.scoring import ScoringOptions, load_scorers, score_sequences
    from seqvae.utils import torch_threads

    run_dirs, table = _split_paths(paths, runs)
    _check_outputs(
        out, summary, run_dirs, table, reference_sequence, sequences, all_singles, score_col or label_col
    )
    wild_type = read_wild_type(reference_sequence) if reference_sequence is not None else None
    options = ScoringOptions(samples, seed, iw, fast, antithetic, decoder_precision, sign)
    with (
        fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS),
        arguments_as_flags(ARGUMENT_FLAGS),
        torch_threads(check_threads(threads)),
    ):
        _check_inputs(table, all_singles, sequences, options, output_format, bool(score_col or label_col))
        if sequences is not None and (structure or contact_map):
            raise InputError("--sequences scores whole sequences; --structure and --contact-map do not apply")
        if chain is not None and structure is None:
            raise InputError("--chain needs --structure", "--chain")
        if structure is not None and contact_map is not None:
            raise InputError("give one of --structure, --contact-map", "--contact-map")
        scorer = load_scorers(run_dirs, options, device_option(device))
        for warning in scorer.warnings:
            console.print(warning)
        burial = None
        if structure is not None or contact_map is not None:
            from seqvae.analysis.burial import position_burial

            burial = position_burial(scorer.registry, structure, chain, contact_map)
        if sequences is not None:
            console.print(
                score_sequences(
                    scorer, sequences, out, sequence_column=sequence_col, id_column=id_col
                ).describe()
            )
        elif all_singles:
            _score_singles(scorer, out, burial)
        elif table is not None:  # _check_inputs: one input of three
            _score_table(
                scorer,
                table,
                out,
                summary,
                mutant_column=mutant_col,
                sequence_column=sequence_col,
                score_column=score_col,
                label_column=label_col,
                skip_mismatches=skip_mismatches,
                output_format=output_format,
                sep=sep,
                mutation_separator=mutation_separator,
                wild_type=wild_type,
                burial=burial,
            )
