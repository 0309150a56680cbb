"""``seqvae design``: designs that climb a phenotype fitted on the latent space. A thin wrapper
over :func:`seqvae.analysis.latent_design.design_from_phenotype` (the files:
``PhenotypeDesign.save``; the map: :func:`seqvae.plots.design.plot_phenotype_map`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import OverwriteOpt, SeedOpt, console, fields_as_flags, options_from_arguments, stdout

#: the options section this command's flags set, and the flags not spelt ``--field-name``
#: (``None``: a library-only field)
OPTIONS_SECTION = "design"
OPTION_FLAGS: dict[str, str | None] = {
    "n": "-n",
    "step_size": None,
    "max_points": None,
    "resolution": None,
    "elbo_samples": None,
}


def register(app: typer.Typer) -> None:
    app.command("design")(design_command)


RunArg = Annotated[Path, typer.Argument(help="A trained run directory (sequences).")]
LabelsOpt = Annotated[
    Path,
    typer.Option("--labels", "-l", help="Phenotype table (CSV/TSV) keyed by the training sequences' ids."),
]
LabelColOpt = Annotated[str | None, typer.Option(help="The phenotype column to design for (numeric).")]
IdColOpt = Annotated[str, typer.Option(help="The table's column of sequence ids (FASTA ids).")]
CountOpt = Annotated[int, typer.Option("-n", "--n", help="Designs wanted.")]
FoldsOpt = Annotated[int, typer.Option(help="Cross-validation folds for the predictor's ρ.")]
KappaOpt = Annotated[float, typer.Option(help="Climb the bound mean − kappa·sd of the predictor.")]
ElboQuantileOpt = Annotated[
    float, typer.Option(help="Keep designs whose ELBO reaches this quantile of the naturals' ELBOs.")
]
TargetQuantileOpt = Annotated[
    float,
    typer.Option(help="Keep designs predicted at or above this quantile of the measured naturals."),
]
StartsOpt = Annotated[
    int, typer.Option(help="Climb from the latent means of this many best measured naturals.")
]
StepsOpt = Annotated[int, typer.Option(help="Steps per climb.")]
DecodingOpt = Annotated[str, typer.Option(help="sample (each position at --temperature) or argmax.")]
TemperatureOpt = Annotated[float, typer.Option(help="Sampling temperature.")]
DesignOutOpt = Annotated[
    Path,
    typer.Option("--out", "-o", help="Folder for designs.fasta/.csv/.json and the phenotype map."),
]


def design_command(
    run_dir: RunArg,
    labels: LabelsOpt,
    label_col: LabelColOpt = None,
    id_col: IdColOpt = "id",
    n: CountOpt = 200,
    folds: FoldsOpt = 5,
    kappa: KappaOpt = 1.0,
    elbo_quantile: ElboQuantileOpt = 0.05,
    target_quantile: TargetQuantileOpt = 0.9,
    starts: StartsOpt = 100,
    steps: StepsOpt = 200,
    decoding: DecodingOpt = "sample",
    temperature: TemperatureOpt = 1.0,
    seed: SeedOpt = 0,
    out: DesignOutOpt = Path("designs"),
    overwrite: OverwriteOpt = False,
) -> None:
    """Fit the phenotype on the latent means of labelled training sequences (a Gaussian process,
    cross-validated), draw its map, and propose designs that climb it where the decoder is
    confident (ELBO no lower than a quantile of the naturals')."""
    from seqvae.analysis.latent_design import (
        DESIGN_DIRECTORY,
        DesignOptions,
        design_files,
        design_from_phenotype,
    )
    from seqvae.io.output_dirs import check_output_directory, check_output_paths
    from seqvae.plots.design import plot_phenotype_map
    from seqvae.run import load

    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        options = options_from_arguments(DesignOptions, locals(), OPTION_FLAGS).validate()
        check_output_paths({}, {"the run": run_dir, "--labels": labels}, "--out", {"the design folder": out})
        check_output_directory(out, DESIGN_DIRECTORY, overwrite)  # before the long part
        run = load(run_dir)
        with console.status("designing") as status:
            result = design_from_phenotype(run, labels, options, log=lambda line: status.update(line))
    paths = result.save(out, overwrite)
    paths["figure"] = plot_phenotype_map(result.map, result.designs.table(), design_files(out)["figure"])
    stdout.print(result.describe())
    console.print(f"wrote {', '.join(path.name for path in paths.values())} to {out}")
