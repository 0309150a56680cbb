"""``seqvae evaluate-samples``: how well a design set reproduces natural statistics. A thin wrapper
over :func:`seqvae.analysis.sample_evaluation.evaluate_sample_files` (the files:
``SampleSetEvaluation.save``; the figures: :func:`seqvae.plots.generation.plot_sample_evaluation`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import (
    FiguresOpt,
    SeedOpt,
    ThetaOpt,
    console,
    fields_as_flags,
    options_from_arguments,
    print_pairs,
)
from seqvae.data.weights import DEFAULT_THETA

#: the options section this command's flags set, and the flags not spelt ``--field-name``
OPTIONS_SECTION = "evaluation"
OPTION_FLAGS = {"include_gaps": "--include-gaps"}


def register(app: typer.Typer) -> None:
    app.command("evaluate-samples")(evaluate_samples_command)


DesignsArg = Annotated[Path, typer.Argument(help="Generated sequences (aligned FASTA).")]
NaturalOpt = Annotated[
    Path, typer.Option(help="Natural target set, e.g. a held-out split, aligned to the same columns.")
]
EvaluationOutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Folder for summary.json, CSVs and figures.")
]
TrainingOpt = Annotated[
    Path | None,
    typer.Option(
        help="Training sequences, for Hamming distances to the nearest one (default with --run: the run's)."
    ),
]
RunOpt = Annotated[
    Path | None,
    typer.Option(
        "--run",
        help="The run that made the designs: adds reconstruction stability and codes inputs with its registry.",
    ),
]
AlphabetOpt = Annotated[str, typer.Option(help="protein, dna, rna or residue letters (without --run).")]
WeightingOpt = Annotated[
    str,
    typer.Option(
        help="'reference': weight the natural set by sequence weights (designs never weighted); 'none'."
    ),
]
IncludeGapsOpt = Annotated[
    bool | None,
    typer.Option(
        "--include-gaps/--exclude-gaps",
        help="Count the gap as a state in the statistics (default: yes, unless the run has no gap state).",
    ),
]
R20SetsOpt = Annotated[int, typer.Option(help="Random position sets per n for r20.")]
R20FlatOpt = Annotated[
    str,
    typer.Option(
        help="r20 position sets whose top sub-sequences all have the same frequency in the designs: "
        "drop (HOM_r20's convention) or zero (score r = 0)."
    ),
]
MaxPairsOpt = Annotated[int, typer.Option(help="Pairs per set for within-set Hamming distances.")]
FamilyOpt = Annotated[
    Path | None,
    typer.Option(
        "--family",
        help="Synthetic family's PREFIX_patterns.npz (seqvae simulate associative-memory): adds the "
        "energy distributions of designs vs reference and the coverage of the long patterns.",
    ),
]
CoverageThresholdOpt = Annotated[
    float,
    typer.Option(help="Identity to a pattern at which a design counts as reaching it (with --family)."),
]


def evaluate_samples_command(
    designs: DesignsArg,
    reference: NaturalOpt,
    out: EvaluationOutOpt = Path("evaluation"),
    training: TrainingOpt = None,
    run_dir: RunOpt = None,
    alphabet: AlphabetOpt = "protein",
    weighting: WeightingOpt = "reference",
    theta: ThetaOpt = DEFAULT_THETA,
    include_gaps: IncludeGapsOpt = None,
    r20_sets: R20SetsOpt = 200,
    r20_flat: R20FlatOpt = "drop",
    max_pairs: MaxPairsOpt = 100_000,
    seed: SeedOpt = 0,
    figures: FiguresOpt = True,
    family: FamilyOpt = None,
    coverage_threshold: CoverageThresholdOpt = 0.8,
) -> None:
    """Judge generated sequences against natural ones: single-site, pairwise and higher-order
    (r20) statistics, Hamming distances and reconstruction stability; for a synthetic family,
    energies and pattern coverage."""
    from seqvae.analysis.sample_evaluation import EvaluationOptions, evaluate_sample_files

    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        options = options_from_arguments(EvaluationOptions, locals(), OPTION_FLAGS).validate()
    with console.status("evaluating samples"):
        result = evaluate_sample_files(
            designs, reference, options, training=training, run=run_dir, alphabet=alphabet, family=family
        )
    result.save(out)
    if figures:
        from seqvae.plots.generation import plot_sample_evaluation

        plot_sample_evaluation(result, out)
    print_pairs(result.title, result.table(), justify="right")
    console.print(f"{result.describe()}\nwrote {out}/")
