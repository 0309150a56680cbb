"""``seqvae sca``: Statistical Coupling Analysis with pySCA's defaults. A thin wrapper over
:func:`seqvae.analysis.sca.run_sca` (the files: ``SCAResult.save``; the figures:
:func:`seqvae.plots.matrices.plot_sca`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seqvae.cli.common import (
    AlignmentArg,
    ChainOpt,
    FiguresOpt,
    OutDirOpt,
    PdbOpt,
    ReferenceOpt,
    SeedOpt,
    console,
    fields_as_flags,
    options_from_arguments,
    progress_display,
    read_alignment_with_labels,
)
from seqvae.progress import tracking

if TYPE_CHECKING:
    import numpy as np

    from seqvae.analysis.sca import SCAResult


#: the options section the sca command's flags set, and the flags not spelt ``--field-name``
OPTIONS_SECTION = "sca"
OPTION_FLAGS = {
    "n_randomisations": "--randomisations",
    "n_stability_seeds": "--stability-seeds",
    "n_components": "--components",
}


def register(app: typer.Typer) -> None:
    app.command("sca")(sca)


InitialColumnGapsOpt = Annotated[float, typer.Option(help="Drop columns with >= this gap fraction first.")]
MaxSequenceGapsOpt = Annotated[float, typer.Option(help="Then keep sequences with < this gap fraction.")]
MinIdentityOpt = Annotated[float, typer.Option(help="Keep sequences with identity to the reference > this.")]
MaxIdentityOpt = Annotated[float, typer.Option(help="... and < this (the reference is always kept).")]
BoundsOpt = Annotated[str, typer.Option(help="strict (pySCA 7: <, >, <) or inclusive (<=, >=, <=).")]
FilterWeightIdentityOpt = Annotated[
    float, typer.Option(help="Identity cut-off of the weights of the column gap filter (pySCA 7: 0.85).")
]
WeightIdentityOpt = Annotated[
    float, typer.Option(help="Sequence weights: identity cut-off (gaps as a letter).")
]
MaxColumnGapsOpt = Annotated[
    float, typer.Option(help="Then drop columns with weighted gap fraction >= this.")
]
PseudocountOpt = Annotated[float, typer.Option(help="λ, frequency regularisation.")]
PairRegularisationOpt = Annotated[
    str,
    typer.Option(help="pysca7 (pySCA since its April 2020 fix) or pre2020 (the earlier pair pseudocount)."),
]
RandomisationsOpt = Annotated[int, typer.Option(help="Randomised alignments per significance estimate.")]
StabilitySeedsOpt = Annotated[int, typer.Option(help="Independent randomisation sets to count modes over.")]
SignificanceStdOpt = Annotated[
    float, typer.Option(help="Cut-off = mean + this x std of random 2nd eigenvalues.")
]
ComponentsOpt = Annotated[
    int | None, typer.Option(help="Number of ICs (default: significant modes, at most --max-components).")
]
MaxComponentsOpt = Annotated[int, typer.Option(help="Cap on the default number of ICs (pySCA: 10).")]
IcaIterationsOpt = Annotated[int, typer.Option(help="Most infomax iterations (stops at convergence).")]
IcaLearningRateOpt = Annotated[
    float, typer.Option(help="Infomax relaxation r0, each step r0 / L (pySCA's rotICA: 0.1).")
]
IcaToleranceOpt = Annotated[
    float, typer.Option(help="Infomax stops once the squared change of the unmixing matrix is <= this.")
]
SectorQuantileOpt = Annotated[float, typer.Option(help="t-distribution quantile selecting IC positions.")]
SectorCutoffOpt = Annotated[
    str, typer.Option(help="pysca (the quantile on pySCA's 100-point grid) or exact (the t quantile).")
]
PublishedOpt = Annotated[
    Path | None,
    typer.Option(help="NPZ of published sectors (name -> residue labels) to score the ICs against."),
]


def _published_overlaps(result: SCAResult, published: dict[str, np.ndarray], out: Path) -> Path:
    """Score the ICs against published sectors: write the overlaps and print one line per sector."""
    from seqvae.analysis.sca import write_sector_overlaps

    rows = result.published_overlaps(published)
    written = write_sector_overlaps(rows, out)
    for row in rows:
        console.print(
            f"  {row['sector']}: {row['overlap']}/{row['retained']} retained residues in IC{row['best_ic']} "
            f"(size {row['ic_size']}; chance {row['expected_by_chance']:.1f}; p = {row['hypergeometric_p']:.1e})"
        )
    return written


def sca(
    alignment: AlignmentArg,
    out: OutDirOpt = Path("sca"),
    reference: ReferenceOpt = None,
    pdb: PdbOpt = None,
    chain: ChainOpt = None,
    initial_column_gaps: InitialColumnGapsOpt = 0.8,
    max_sequence_gaps: MaxSequenceGapsOpt = 0.2,
    min_identity: MinIdentityOpt = 0.15,
    max_identity: MaxIdentityOpt = 0.85,
    bounds: BoundsOpt = "strict",
    filter_weight_identity: FilterWeightIdentityOpt = 0.85,
    weight_identity: WeightIdentityOpt = 0.8,
    max_column_gaps: MaxColumnGapsOpt = 0.3,
    pseudocount: PseudocountOpt = 0.03,
    pair_regularisation: PairRegularisationOpt = "pysca7",
    randomisations: RandomisationsOpt = 10,
    stability_seeds: StabilitySeedsOpt = 3,
    significance_std: SignificanceStdOpt = 0.0,
    components: ComponentsOpt = None,
    max_components: MaxComponentsOpt = 10,
    ica_iterations: IcaIterationsOpt = 100000,
    ica_learning_rate: IcaLearningRateOpt = 0.1,
    ica_tolerance: IcaToleranceOpt = 1e-15,
    sector_quantile: SectorQuantileOpt = 0.95,
    sector_cutoff: SectorCutoffOpt = "pysca",
    published: PublishedOpt = None,
    seed: SeedOpt = 0,
    figures: FiguresOpt = True,
) -> None:
    """Statistical Coupling Analysis with pySCA's defaults: matrix, spectrum vs random, ICs, sectors."""
    from seqvae.analysis.sca import SCAOptions, run_sca
    from seqvae.analysis.sca_sectors import read_published_sectors

    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        options = options_from_arguments(SCAOptions, locals(), OPTION_FLAGS).validate()
    published_sets = read_published_sectors(published) if published is not None else None
    aln, labels = read_alignment_with_labels(alignment, reference, pdb, chain)
    total = randomisations * stability_seeds
    with tracking(progress_display(), "randomised alignments", total) as shown:
        result = run_sca(aln, options, labels, progress=lambda done, total, what: shown.update(done))
    result.save(out)
    if figures:
        from seqvae.plots.matrices import plot_sca

        plot_sca(result, out)
    console.print(result.describe())
    files = "sca.npz, positions.csv, summary.json"
    if published_sets is not None:
        files += ", " + _published_overlaps(result, published_sets, out).name
    console.print(f"wrote {out}/{files}")
