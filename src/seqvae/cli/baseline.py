"""``seqvae baseline fit``: classical baselines (site-independent and Potts models) in a directory
that ``seqvae score`` and ``seqvae generate`` accept like a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import (
    AlignmentArg,
    OverwriteOpt,
    ReferenceOpt,
    ThetaOpt,
    console,
    fields_as_flags,
    options_from_arguments,
    progress_display,
)
from seqvae.data.weights import DEFAULT_THETA

#: the options section the Potts flags of ``baseline fit`` set; the fields without a flag (``None``)
OPTIONS_SECTION = "potts"
OPTION_FLAGS = {"scale_lambda_j": None, "tolerance": None, "block_rows": None, "bfloat16_gradient": None}

baseline_app = typer.Typer(
    help="Classical baselines: site-independent and Potts models.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")
    baseline_app.command("fit")(baseline_fit)


def baseline_fit(
    alignment: AlignmentArg,
    model: Annotated[str, typer.Option("--model", help="site-independent or potts.")] = "site-independent",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to create.")] = Path("runs/baseline"),
    theta: ThetaOpt = DEFAULT_THETA,
    pseudocount: Annotated[
        float, typer.Option(help="Site-independent: weighted pseudocount per state.")
    ] = 1.0,
    model_gaps: Annotated[
        bool, typer.Option("--model-gaps", help="Site-independent: treat the gap as a state.")
    ] = False,
    reference_power: Annotated[
        float,
        typer.Option(
            help="Site-independent: weigh each sequence by its identity to the reference to this "
            "power (0: the family's weights; 2: a profile of the wild type's near relatives, which "
            "ranks DMS scans better)."
        ),
    ] = 0.0,
    lambda_h: Annotated[float, typer.Option(help="Potts: L2 on fields.")] = 0.01,
    lambda_j: Annotated[float, typer.Option(help="Potts: L2 on couplings (times (q-1)(L-1)).")] = 0.01,
    max_iterations: Annotated[int, typer.Option(help="Potts: L-BFGS iterations.")] = 30,
    reference: ReferenceOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Fit a baseline and write a directory that ``seqvae score`` accepts like a run."""
    from seqvae.data.alignment import read_alignment
    from seqvae.io.output_dirs import check_output_directory
    from seqvae.training.baselines import (
        BASELINE_DIRECTORY,
        PottsSettings,
        check_reference_power,
        fit_baseline,
    )

    settings = options_from_arguments(PottsSettings, locals(), OPTION_FLAGS)
    check_reference_power(reference_power, model, "--reference-power")  # before any work
    if model == "potts":  # the Potts flags are checked before any work; a site-independent fit ignores them
        with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
            settings.validate()
    check_output_directory(out, BASELINE_DIRECTORY, overwrite)  # before reading the alignment
    aln = read_alignment(alignment, reference=reference)
    console.print(f"read {aln.n_sequences} sequences x {aln.length} columns from {alignment}")
    _, info = fit_baseline(
        aln,
        model,
        out,
        theta=theta,
        pseudocount=pseudocount,
        model_gaps=model_gaps,
        potts=settings,
        overwrite=overwrite,
        progress=progress_display(),
        reference_power=reference_power,
    )
    console.print(
        f"fitted {model} in {info['fit_time_s']:.1f} s (N_eff {info['n_eff']:.1f}): {out}",
        soft_wrap=True,
        highlight=False,
    )
    if model == "potts":
        console.print(
            f"coupling matrices (Frobenius norms, without / with APC): {out}/couplings.npz, "
            f"{out}/couplings_apc.npz (seqvae compare / contacts read them); ranked pairs: "
            f"{out}/couplings_apc_pairs.csv",
            soft_wrap=True,
            highlight=False,
        )
