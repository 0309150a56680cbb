"""Commands on pairwise structure: pca-matrix, couplings, compare, contacts (sca: :mod:`seqvae.cli.sca`).

Every command writes position-matrix NPZ files (see :mod:`seqvae.io.matrix_file`) that
the others read, so any two of SCA, PCA, VAE or Potts matrices can be compared or put on a
structure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from seqvae.cli.common import (
    AlignmentArg,
    ChainOpt,
    DeviceOpt,
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
    run_on_device,
)
from seqvae.errors import InputError
from seqvae.progress import tracking

#: the options section the couplings command's flags set, and the flags not spelt ``--field-name``
OPTIONS_SECTION = "couplings"
OPTION_FLAGS = {"n_references": "--n-ref", "include_gap_substitutions": "--gap-substitutions"}


def register(app: typer.Typer) -> None:
    app.command("pca-matrix")(pca_matrix)
    app.command("couplings")(couplings)
    app.command("compare")(compare)
    app.command("contacts")(contacts)


def pca_matrix(
    alignment: AlignmentArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="NPZ file to write.")] = Path("pca.npz"),
    reference: ReferenceOpt = None,
    pdb: PdbOpt = None,
    chain: ChainOpt = None,
    components: Annotated[int, typer.Option(help="Principal components kept.")] = 10,
    sca_filters: Annotated[
        bool,
        typer.Option(
            help="Apply SCA's (pySCA default) filters and weights, so positions match `seqvae sca`."
        ),
    ] = True,
) -> None:
    """The L x L matrix of PCA loadings (rank-k one-hot covariance, Frobenius norm per block)."""
    from seqvae.analysis.compare import pca_loading_matrix
    from seqvae.analysis.sca import SCAOptions, preprocess_alignment, sca_weights
    from seqvae.io.matrix_file import save_matrix_npz
    from seqvae.io.output_dirs import check_output_paths

    check_output_paths(
        {"the matrix": out}, {"ALIGNMENT": alignment, **({"--pdb": pdb} if pdb else {})}, "--out"
    )
    aln, labels = read_alignment_with_labels(alignment, reference, pdb, chain)
    if sca_filters:
        processed = preprocess_alignment(aln, SCAOptions())
        codes, weights, columns, numbering = (
            processed.codes,
            processed.weights,
            processed.columns,
            processed.numbering,
        )
        residues = processed.residues
    else:
        codes = aln.codes
        weights = sca_weights(codes, aln.alphabet.n_residues, 0.8)
        columns = np.arange(aln.length)
        numbering = aln.registry.numbering
        residues = aln.registry.reference_sequence
    matrix, variances = pca_loading_matrix(codes, weights, aln.alphabet.n_residues, components)
    save_matrix_npz(
        out,
        matrix,
        numbering=numbering,
        labels=None if labels is None else labels[columns],
        residues=residues,
        kind="pca",
        variances=variances,
        alignment_columns=columns,
    )
    console.print(f"PCA loading matrix over {matrix.shape[0]} positions from {components} components: {out}")


def couplings(
    run_dir: Annotated[Path, typer.Argument(help="A trained run directory (sequence VAE).")],
    alignment: Annotated[
        Path | None,
        typer.Argument(help="Reference sequences aligned like the training set (default: training set)."),
    ] = None,
    out: OutDirOpt = Path("couplings"),
    n_ref: Annotated[
        int | None, typer.Option("--n-ref", help="Weighted sample of this many references (default: all).")
    ] = None,
    seed: SeedOpt = 0,
    full: Annotated[
        bool, typer.Option("--full", help="Also write the (i, a, j, b)-resolved tensors.")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Neighbours per encoder/decoder batch.")] = 512,
    gap_substitutions: Annotated[
        bool, typer.Option(help="Also mutate to a gap (models with a gap state only).")
    ] = False,
    method: Annotated[str, typer.Option(help="fast (first-layer update) or naive (re-encode).")] = "fast",
    decoder_precision: Annotated[
        str,
        typer.Option(
            help="float32, or bfloat16: the change of the decoder's logits by a bfloat16 matrix product "
            "(faster on CPUs with AMX/AVX-512 bf16; fast method only)."
        ),
    ] = "float32",
    figures: FiguresOpt = True,
    device: DeviceOpt = None,
) -> None:
    """The VAE's L x L coupling matrix: RMS change of log p(x_i) when x_j is mutated (all Hamming-1)."""
    from seqvae.analysis.couplings import CouplingOptions, vae_couplings
    from seqvae.run import load

    with fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        options = options_from_arguments(CouplingOptions, locals(), OPTION_FLAGS).validate()
    run = run_on_device(load(run_dir), device)
    with (
        fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS),
        tracking(progress_display(), "couplings", unit="references") as shown,
    ):
        result = vae_couplings(run, alignment, None, options, shown.update)
    paths = result.save(out, run)
    if figures:
        from seqvae.plots.matrices import plot_coupling_matrix

        plot_coupling_matrix(result, out)
    console.print(f"{result.describe()}; wrote {paths['npz']} and {paths['pairs']}")


def compare(
    first: Annotated[Path, typer.Argument(help="Position-matrix NPZ (key 'matrix').")],
    second: Annotated[Path, typer.Argument(help="Position-matrix NPZ (key 'matrix').")],
    out: OutDirOpt = Path("compare"),
    k: Annotated[int, typer.Option("--k", help="Top eigenvectors compared.")] = 3,
    permutations: Annotated[int, typer.Option(help="Position permutations for the null (0: none).")] = 200,
    seed: SeedOpt = 0,
    names: Annotated[str | None, typer.Option(help="Names of the two matrices, comma-separated.")] = None,
    apc: Annotated[bool, typer.Option(help="Average-product-correct both matrices first.")] = False,
    figures: FiguresOpt = True,
) -> None:
    """Compare two L x L matrices: correlations, eigenvector overlaps, principal angles, nulls."""
    from seqvae.analysis.compare import compare_matrices, write_comparison
    from seqvae.io.matrix_file import load_matrix_npz

    if permutations < 0:
        raise InputError("--permutations must be >= 0", source="--permutations")
    a = load_matrix_npz(first)
    b = load_matrix_npz(second)
    if names:
        parts = [p.strip() for p in names.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError("--names expects two names separated by a comma", source="--names")
        name_a, name_b = parts
    else:
        name_a, name_b = a.kind or first.stem, b.kind or second.stem
    comparison, a_sub, b_sub = compare_matrices(a, b, k, permutations, seed, name_a, name_b, apc=apc)
    write_comparison(comparison, out)
    if figures:
        from seqvae.plots.matrices import plot_comparison

        plot_comparison(comparison, a_sub, b_sub, out)
    c = comparison
    dots = ", ".join(f"{d:.2f}" for d in c.top_dots)
    cos = ", ".join(f"{d:.2f}" for d in c.principal_cosines)
    console.print(
        f"{c.name_a} vs {c.name_b}: {c.length} common positions (by {c.matched_by}); off-diagonal Pearson "
        f"{c.pearson:.3f}, Spearman {c.spearman:.3f}"
    )
    console.print(
        f"top-{c.k} |v_k . w_k|: {dots} (random unit vectors {c.random_vectors['dot_mean']:.3f}, "
        f"sqrt(2/(pi L)) {c.random_vectors['dot_analytic']:.3f}, 1/sqrt(L) {c.random_vectors['one_over_sqrt_L']:.3f})"
    )
    if c.permutation:
        perm = ", ".join(f"{d:.2f}" for d in c.permutation["dot_mean"])
        p_dots = ", ".join(f"{d:.3g}" for d in c.permutation["dot_p"])
        console.print(
            f"  permuted-position null |v_k . w_k|: {perm} (p {p_dots}); Pearson 95th percentile "
            f"{c.permutation['pearson_q95']:.3f} (p {c.permutation['pearson_p']:.3g})"
        )
    console.print(
        f"principal-angle cosines: {cos} (random subspaces: mean {c.random_vectors['principal_cosine_mean']:.3f}); "
        f"wrote {out}/comparison.json"
    )


def contacts(
    matrix_file: Annotated[Path, typer.Argument(help="Position-matrix NPZ (key 'matrix').")],
    pdb: Annotated[Path, typer.Option("--pdb", help="Structure file (PDB or mmCIF).")],
    chain: ChainOpt = None,
    out: OutDirOpt = Path("contacts"),
    offset: Annotated[
        int | None,
        typer.Option(help="Structure residue number = reference numbering + offset (BLAT in 1FQG: 2)."),
    ] = None,
    mapping: Annotated[str, typer.Option(help="auto, labels, numbering or sequence.")] = "auto",
    distance: Annotated[str, typer.Option(help="heavy (minimum heavy-atom distance) or cb.")] = "heavy",
    apc: Annotated[
        bool, typer.Option(help="Average-product-correct the matrix before ranking pairs.")
    ] = False,
    threshold: Annotated[float, typer.Option(help="Contact distance in Å.")] = 8.0,
    min_separation: Annotated[int, typer.Option(help="Minimum |i - j| in reference numbering.")] = 6,
    clusters: Annotated[
        bool, typer.Option(help="Test 3-D clustering of IC groups / top-eigenvector positions.")
    ] = True,
    random_sets: Annotated[int, typer.Option(help="Random sets per clustering test.")] = 2000,
    figures: FiguresOpt = True,
) -> None:
    """Contact precision of a matrix's top pairs on a structure; 3-D clustering of its sectors."""
    from seqvae.analysis.contacts import analyse_contacts

    analysis = analyse_contacts(
        matrix_file,
        pdb,
        chain,
        offset=offset,
        mapping=mapping,
        distance=distance,
        apc=apc,
        threshold=threshold,
        min_separation=min_separation,
        clusters=clusters,
        random_sets=random_sets,
    )
    if analysis.warning:
        console.print(f"[yellow]warning:[/] {analysis.warning}")
    paths = analysis.save(out)
    if figures:
        from seqvae.plots.matrices import plot_contacts

        plot_contacts(analysis, out)
    console.print(f"{analysis.describe()}; wrote {paths['summary']}")
