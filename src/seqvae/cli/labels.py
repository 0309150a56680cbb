"""``seqvae fit-labels`` and ``seqvae predict``: fitness predictors learnt from measured variants.
Thin wrappers over :mod:`seqvae.analysis.labels` (``fit_labels``, ``load_predictor``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import (
    MutantColOpt,
    MutationSeparatorOpt,
    OverwriteOpt,
    ReferenceSequenceOpt,
    SeedOpt,
    SepOpt,
    ThreadsOpt,
    ZSamplesOpt,
    arguments_as_flags,
    check_threads,
    console,
    fields_as_flags,
    options_from_arguments,
)
from seqvae.cli.score import (
    AntitheticOpt,
    DecoderPrecisionOpt,
    FastOpt,
    FormatOpt,
    IdColOpt,
    IwOpt,
    SequenceColOpt,
    SkipMismatchesOpt,
)
from seqvae.errors import InputError

#: the options section this command's flags set, and the flags not spelt ``--field-name``
OPTIONS_SECTION = "labels"
OPTION_FLAGS: dict[str, str | None] = {}


def register(app: typer.Typer) -> None:
    app.command("fit-labels")(fit_labels_command)
    app.command("predict")(predict_command)


FitPathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="RUN [RUN ...] LABELS: run or baseline directories (one zero-shot score column each) and "
        "the labelled scan (any format score reads) or, with --sequences, a table of labels keyed by id."
    ),
]
LabelColOpt = Annotated[str, typer.Option("--label-col", help="The measured column to learn.")]
PredictorOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Predictor folder to write.")]
FitSequencesOpt = Annotated[
    Path | None,
    typer.Option(
        "--sequences",
        help="Labels of whole aligned sequences: an alignment or table aligned like the training "
        "alignment; LABELS is then a table with an id column (--id-col) and --label-col.",
    ),
]
CvOpt = Annotated[
    str,
    typer.Option(
        "--cv",
        help="Inner folds: random (new variants at measured positions) or positions (whole positions "
        "held out: for ranking variants at positions no label touches).",
    ),
]
FoldsOpt = Annotated[int, typer.Option("--folds", help="K of the inner K-fold cross-validation.")]
AlphasOpt = Annotated[
    str, typer.Option("--alphas", help="Penalties of the one-hot (and z) block tried, comma-separated.")
]
LatentOpt = Annotated[bool, typer.Option("--latent", help="Add the first VAE's latent mean z as a block.")]
LearnerOpt = Annotated[
    str,
    typer.Option(
        "--learner",
        help="ridge (the augmented model) or gp: with --sequences, a Gaussian process on the first "
        "VAE's latent mean z, whose predictions get an sd column.",
    ),
]


def fit_labels_command(
    paths: FitPathsArg,
    label_col: LabelColOpt,
    out: PredictorOutOpt = Path("predictor"),
    sequences: FitSequencesOpt = None,
    mutant_col: MutantColOpt = None,
    sequence_col: SequenceColOpt = None,
    id_col: IdColOpt = None,
    sep: SepOpt = None,
    mutation_separator: MutationSeparatorOpt = None,
    reference_sequence: ReferenceSequenceOpt = None,
    skip_mismatches: SkipMismatchesOpt = False,
    cv: CvOpt = "random",
    folds: FoldsOpt = 5,
    alphas: AlphasOpt = "0.1,1,10,100,1000",
    latent: LatentOpt = False,
    learner: LearnerOpt = "ridge",
    seed: SeedOpt = 0,
    samples: ZSamplesOpt = None,
    fast: FastOpt = False,
    antithetic: AntitheticOpt = False,
    decoder_precision: DecoderPrecisionOpt = None,
    iw: IwOpt = False,
    threads: ThreadsOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Fit a predictor from measured variants: ridge on the one-hot of the variant plus each model's
    zero-shot score (unpenalised), chosen by inner cross-validation (Hsu et al. 2022); or, for
    whole sequences, a Gaussian process on the latent mean z (--learner gp)."""
    from seqvae.analysis.label_models import learning_curve_table
    from seqvae.analysis.labels import PREDICTOR_DIRECTORY, LabelOptions, fit_labels
    from seqvae.analysis.mutations import read_wild_type
    from seqvae.analysis.scoring import ScoringOptions
    from seqvae.cli.common import parse_number_list
    from seqvae.io.output_dirs import check_output_directory
    from seqvae.utils import torch_threads

    models = [p for p in paths if p.is_dir()]
    tables = [p for p in paths if not p.is_dir()]
    if len(tables) != 1 or not models:
        raise InputError("give the run or baseline directories and then one label table")
    labels = tables[0]
    if any(out.resolve() == path.resolve() for path in paths):
        raise InputError("the predictor folder would replace an input", "--out")
    check_output_directory(out, PREDICTOR_DIRECTORY, overwrite)
    wild_type = read_wild_type(reference_sequence) if reference_sequence is not None else None
    arguments = {**locals(), "alphas": parse_number_list(alphas, "--alphas", "penalties")}
    options = options_from_arguments(LabelOptions, arguments, OPTION_FLAGS)
    scoring = ScoringOptions(samples, seed, iw, fast, antithetic, decoder_precision)
    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS), torch_threads(check_threads(threads)):
        with fields_as_flags("scoring"), arguments_as_flags({"wild_type": "--reference-sequence"}):
            predictor = fit_labels(
                models,
                labels,
                label_col,
                sequences=sequences,
                options=options,
                scoring=scoring,
                mutant_column=mutant_col,
                sequence_column=sequence_col,
                id_column=id_col,
                sep=sep,
                mutation_separator=mutation_separator,
                wild_type=wild_type,
                skip_mismatches=skip_mismatches,
            )
    files = predictor.save(out, overwrite=overwrite)
    cv_ = predictor.cv
    print(
        f"{cv_.n} labels, {cv_.folds}-fold {cv_.kind} CV Spearman rho: chosen ({cv_.chosen}) "
        f"{cv_.rho[cv_.chosen]:.3f}; zero-shot {cv_.rho['zero-shot']:.3f}; one-hot ridge {cv_.best('onehot'):.3f}"
    )
    curve = learning_curve_table(predictor.learning_curve, label_col, cv_.kind)
    fitted = curve[curve["model"] == "predictor"]
    if len(fitted):
        steps = ", ".join(f"{row.n} labels {row.median:.3f}" for row in fitted.itertuples())
        print(f"learning curve (test rho, median over draws): {steps}; all {cv_.n}: see the CV above")
    console.print(f"predictor: {files['predictor'].parent}")


PredictPathsArg = Annotated[
    list[Path],
    typer.Argument(help="PREDICTOR [TABLE]: a folder written by fit-labels and a scan (or --sequences)."),
]
PredictOutOpt = Annotated[Path, typer.Option("--out", "-o", help="CSV to write.")]
PredictSequencesOpt = Annotated[
    Path | None,
    typer.Option("--sequences", help="Predict whole aligned sequences (an alignment or a table) instead."),
]


def predict_command(
    paths: PredictPathsArg,
    out: PredictOutOpt = Path("predictions.csv"),
    sequences: PredictSequencesOpt = None,
    mutant_col: MutantColOpt = None,
    sequence_col: SequenceColOpt = None,
    id_col: IdColOpt = None,
    sep: SepOpt = None,
    skip_mismatches: SkipMismatchesOpt = False,
    output_format: FormatOpt = "seqvae",
    threads: ThreadsOpt = None,
) -> None:
    """Predict with a fitted predictor: every row gets each model's zero-shot score, the prediction
    and, from a GP, its sd."""
    from seqvae.analysis.labels import load_predictor
    from seqvae.analysis.scoring import OUTPUT_FORMATS
    from seqvae.io.output_dirs import check_output_paths
    from seqvae.utils import torch_threads

    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}", "--format")
    if len(paths) == 2 and sequences is None:
        data = paths[1]
    elif len(paths) == 1 and sequences is not None:
        data = sequences
    else:
        raise InputError("give PREDICTOR and one table, or PREDICTOR --sequences FILE")
    check_output_paths({"the predictions": out}, {"the table": data, "the predictor": paths[0]}, "--out")
    predictor = load_predictor(paths[0])
    with torch_threads(check_threads(threads)), arguments_as_flags({"sequences": "--sequences"}):
        rows = predictor.predict_file(
            data,
            out,
            output_format=output_format,
            sequences=sequences is not None,
            mutant_column=mutant_col,
            sequence_column=sequence_col,
            id_column=id_col,
            sep=sep,
            skip_mismatches=skip_mismatches,
        )
    console.print(f"predicted {rows} rows ({predictor.model.kind}, {', '.join(predictor.names)}): {out}")
