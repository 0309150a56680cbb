"""``seqvae generate``: designs from a run, or samples from a baseline directory. A thin wrapper
over :func:`seqvae.analysis.generation.generate_from` (the files: ``SequenceSet.save``; the
interpolation figure: :func:`seqvae.plots.generation.plot_design_figures`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.analysis.sequence_sets import DESIGNS_FASTA
from seqvae.cli.common import (
    DeviceOpt,
    SeedOpt,
    console,
    device_option,
    fields_as_flags,
    options_from_arguments,
)
from seqvae.io.output_dirs import check_output_paths

#: the options section this command's flags set, and the flags not spelt ``--field-name``
OPTIONS_SECTION = "generation"
OPTION_FLAGS = {"n": "-n"}


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)


SourceArg = Annotated[
    Path,
    typer.Argument(
        help="A trained run directory, or a site-independent baseline directory (seqvae baseline fit)."
    ),
]
CountOpt = Annotated[int | None, typer.Option("-n", "--n", help="Number of designs (>= 1).")]
FastaOutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="FASTA to write; a CSV (z, ELBO, nearest natural) and a JSON of settings go beside it.",
    ),
]
TemperatureOpt = Annotated[
    float | None, typer.Option(help="Sample each position from softmax(log p / T) (default T = 1).")
]
ArgmaxOpt = Annotated[bool, typer.Option("--argmax", help="Decode by argmax instead of sampling.")]
RegionIdsOpt = Annotated[
    str | None,
    typer.Option(
        help="Gaussian fitted to these training sequences' latent means: a file of ids or a comma list."
    ),
]
RegionPhenotypeOpt = Annotated[
    str | None,
    typer.Option(
        help="Gaussian fitted to the training sequences passing a phenotype threshold, e.g. "
        "'RE_norm >= q90' (OP: >= > <= < ==; a number or qNN, the quantile over measured "
        "training sequences). Needs --phenotypes."
    ),
]
PhenotypesOpt = Annotated[
    Path | None, typer.Option("--phenotypes", "-p", help="Phenotype table (CSV/TSV) for --region-phenotype.")
]
IdColumnOpt = Annotated[str, typer.Option(help="The phenotype table's column of sequence ids (FASTA ids).")]
RegionScaleOpt = Annotated[float, typer.Option(help="Scale the fitted Gaussian's standard deviations.")]
RegionBallOpt = Annotated[
    str | None,
    typer.Option(help="Uniform in a ball around this training sequence's latent mean (with --radius)."),
]
RegionCoordsOpt = Annotated[
    str | None,
    typer.Option(help="Ball around explicit latent coordinates, e.g. '0.1,-0.3' (with --radius; default 0)."),
]
RadiusOpt = Annotated[float | None, typer.Option(help="Ball radius for --region-ball / --region-coords.")]
InterpolateOpt = Annotated[
    tuple[str, str] | None,
    typer.Option(
        help="Decode a straight latent path between two training sequences: --interpolate ID_A ID_B."
    ),
]
StepsOpt = Annotated[int, typer.Option(help="Points on the interpolation path (>= 2).")]
ElboSamplesOpt = Annotated[int, typer.Option(help="z draws per design for its ELBO (0 skips it).")]
FigureOpt = Annotated[
    Path | None, typer.Option(help="Interpolation figure (default: beside the FASTA, .png).")
]
SweepsOpt = Annotated[
    int | None,
    typer.Option(help="Potts baselines: Gibbs sweeps per chain (default 200; one chain per sample)."),
]


def generate_command(
    run_dir: SourceArg,
    n: CountOpt = None,
    out: FastaOutOpt = Path(DESIGNS_FASTA),
    seed: SeedOpt = 0,
    temperature: TemperatureOpt = None,
    argmax: ArgmaxOpt = False,
    region_ids: RegionIdsOpt = None,
    region_phenotype: RegionPhenotypeOpt = None,
    phenotypes: PhenotypesOpt = None,
    id_column: IdColumnOpt = "id",
    region_scale: RegionScaleOpt = 1.0,
    region_ball: RegionBallOpt = None,
    region_coords: RegionCoordsOpt = None,
    radius: RadiusOpt = None,
    interpolate: InterpolateOpt = None,
    steps: StepsOpt = 10,
    elbo_samples: ElboSamplesOpt = 8,
    figure: FigureOpt = None,
    sweeps: SweepsOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Generate sequences: z from the prior (or a region, or a path between two sequences),
    decoded by sampling (default, T = 1) or argmax.

    Runs trained with model_gaps=False have no gap state: their designs contain no gaps.
    Given a baseline directory (seqvae baseline fit), draws -n sequences from it: column by
    column from a site-independent model (the CSV holds the log-likelihood), by Gibbs sampling
    from a Potts model (--sweeps; the CSV holds the Hamiltonian). --seed and --temperature apply.
    """
    from seqvae.analysis import generation as gen
    from seqvae.plots.generation import plot_design_figures

    options = options_from_arguments(gen.GenerationOptions, locals(), OPTION_FLAGS)
    target = device_option(device)
    vae_only = ["--figure"] if figure is not None else []
    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS), console.status(f"generating {n or steps} sequences"):
        gen.check_fasta_target(out)  # its own message first: --out is the FASTA
        outputs = {f"the {kind} file": path for kind, path in gen.sequence_set_files(out).items()}
        if interpolate is None:
            del outputs["the figure file"]
        elif figure is not None:
            outputs["the figure file"] = figure
        inputs = {"the run": run_dir, **({"--phenotypes": phenotypes} if phenotypes is not None else {})}
        check_output_paths(outputs, inputs, "--out")
        result = gen.generate_from(run_dir, options, out, vae_only=vae_only, device=target, log=console.print)
    paths = result.save(out)
    console.print(f"{result.describe()}\nwrote {paths['fasta']}, {paths['table']}, {paths['settings']}")
    if result.note:
        console.print(result.note)
    for path in plot_design_figures(result, out, figure).values():
        console.print(f"wrote {path}")
