"""Commands on pairwise structure: sca, pca-matrix, couplings, compare, contacts.

Every command writes position-matrix NPZ files (see :mod:`seqvae.io.matrix_file`) that
the others read, so any two of SCA, PCA, VAE or Potts matrices can be compared or put on a
structure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from seqvae.cli.common import DEVICE_HELP, console, run_on_device
from seqvae.errors import InputError

AlignmentArg = Annotated[
    Path, typer.Argument(help="Alignment: FASTA, A2M, A3M or Stockholm (optionally .gz).")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
ReferenceOpt = Annotated[
    str | None, typer.Option("--reference", help="Reference sequence id (default: first).")
]
PdbOpt = Annotated[
    Path | None,
    typer.Option("--pdb", help="Structure (PDB/mmCIF) whose residue labels number the positions."),
]
ChainOpt = Annotated[str, typer.Option("--chain", help="Chain of the structure.")]


def register(app: typer.Typer) -> None:
    app.command("sca")(sca)
    app.command("pca-matrix")(pca_matrix)
    app.command("couplings")(couplings)
    app.command("compare")(compare)
    app.command("contacts")(contacts)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # no empty line on a redirected stderr
    )


def _read_with_labels(alignment: Path, reference: str | None, pdb: Path | None, chain: str):
    from seqvae.analysis.contacts import read_structure
    from seqvae.analysis.sca import structure_labels_for_columns
    from seqvae.data.alignment import read_alignment

    aln = read_alignment(alignment, reference=reference, nonstandard="drop")
    labels = None
    if pdb is not None:
        labels, identity = structure_labels_for_columns(aln, read_structure(pdb, chain))
        console.print(
            f"reference {aln.registry.reference_id} mapped onto {pdb.name} chain {chain}: "
            f"{int((labels != '').sum())} columns labelled, residue identity {identity:.2f}"
        )
        if identity < 0.5:
            console.print("[yellow]warning:[/] low identity: is this the reference's structure?")
    return aln, labels


def sca(
    alignment: AlignmentArg,
    out: OutOpt = Path("sca"),
    reference: ReferenceOpt = None,
    pdb: PdbOpt = None,
    chain: ChainOpt = "A",
    initial_column_gaps: Annotated[
        float, typer.Option(help="Drop columns with >= this gap fraction first.")
    ] = 0.8,
    max_sequence_gaps: Annotated[
        float, typer.Option(help="Then keep sequences with < this gap fraction.")
    ] = 0.2,
    min_identity: Annotated[
        float, typer.Option(help="Keep sequences with identity to the reference > this.")
    ] = 0.15,
    max_identity: Annotated[
        float, typer.Option(help="... and < this (the reference is always kept).")
    ] = 0.85,
    bounds: Annotated[
        str, typer.Option(help="strict (pySCA 7: <, >, <) or inclusive (seqvae before 2026-12: <=, >=, <=).")
    ] = "strict",
    filter_weight_identity: Annotated[
        float, typer.Option(help="Identity cut-off of the weights of the column gap filter (pySCA 7: 0.85).")
    ] = 0.85,
    weight_identity: Annotated[
        float, typer.Option(help="Sequence weights: identity cut-off (gaps as a letter).")
    ] = 0.8,
    max_column_gaps: Annotated[
        float, typer.Option(help="Then drop columns with weighted gap fraction >= this.")
    ] = 0.3,
    pseudocount: Annotated[float, typer.Option(help="λ, frequency regularisation.")] = 0.03,
    pair_regularisation: Annotated[
        str,
        typer.Option(
            help="pysca7 (pySCA since its April 2020 fix) or pre2020 (the earlier pair pseudocount)."
        ),
    ] = "pysca7",
    randomisations: Annotated[
        int, typer.Option(help="Randomised alignments per significance estimate.")
    ] = 10,
    stability_seeds: Annotated[
        int, typer.Option(help="Independent randomisation sets to count modes over.")
    ] = 3,
    significance_std: Annotated[
        float, typer.Option(help="Cut-off = mean + this x std of random 2nd eigenvalues.")
    ] = 0.0,
    components: Annotated[
        int | None, typer.Option(help="Number of ICs (default: significant modes, at most --max-components).")
    ] = None,
    max_components: Annotated[int, typer.Option(help="Cap on the default number of ICs (pySCA: 10).")] = 10,
    ica_iterations: Annotated[
        int, typer.Option(help="Most infomax iterations (stops at convergence).")
    ] = 100000,
    ica_learning_rate: Annotated[
        float, typer.Option(help="Infomax relaxation r0, each step r0 / L (pySCA's rotICA: 0.1).")
    ] = 0.1,
    ica_tolerance: Annotated[
        float, typer.Option(help="Infomax stops once the squared change of the unmixing matrix is <= this.")
    ] = 1e-15,
    sector_quantile: Annotated[
        float, typer.Option(help="t-distribution quantile selecting IC positions.")
    ] = 0.95,
    sector_cutoff: Annotated[
        str, typer.Option(help="pysca (the quantile on pySCA's 100-point grid) or exact (the t quantile).")
    ] = "pysca",
    published: Annotated[
        Path | None,
        typer.Option(help="NPZ of published sectors (name -> residue labels) to score the ICs against."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the randomisations.")] = 0,
    figures: Annotated[bool, typer.Option(help="Write PNG figures.")] = True,
) -> None:
    """Statistical Coupling Analysis with pySCA's defaults: matrix, spectrum vs random, ICs, sectors."""
    from seqvae.analysis.sca import SCAOptions, run_sca, sector_overlaps, write_sca_outputs
    from seqvae.io.atomic import write_json

    options = SCAOptions(
        initial_column_gaps=initial_column_gaps,
        max_sequence_gaps=max_sequence_gaps,
        min_identity=min_identity,
        max_identity=max_identity,
        bounds=bounds,
        filter_weight_identity=filter_weight_identity,
        weight_identity=weight_identity,
        max_column_gaps=max_column_gaps,
        pseudocount=pseudocount,
        pair_regularisation=pair_regularisation,
        n_randomisations=randomisations,
        significance_std=significance_std,
        n_stability_seeds=stability_seeds,
        n_components=components,
        max_components=max_components,
        ica_learning_rate=ica_learning_rate,
        ica_iterations=ica_iterations,
        ica_tolerance=ica_tolerance,
        sector_quantile=sector_quantile,
        sector_cutoff=sector_cutoff,
        seed=seed,
    ).validate()
    published_sets = _read_published(published) if published is not None else None
    aln, labels = _read_with_labels(alignment, reference, pdb, chain)
    with _progress() as bar:
        task = bar.add_task("randomised alignments", total=randomisations * stability_seeds)
        result = run_sca(
            aln, options, labels, progress=lambda done, total, what: bar.update(task, completed=done)
        )
    write_sca_outputs(result, out)
    if figures:
        from seqvae.plots.matrices import plot_sca

        plot_sca(result, out)
    s = result.summary()
    console.print(
        f"SCA: {s['n_sequences']} sequences x {s['n_positions']} positions, N_eff = {s['n_eff']:.1f}; "
        f"top eigenvalues {', '.join(f'{v:.2f}' for v in s['top_eigenvalues'][:7])}"
    )
    console.print(
        f"significant modes: {result.n_significant} (cut-off {result.cutoff:.2f}); over {stability_seeds} "
        f"randomisation seeds: {result.n_significant_by_seed}; IC group sizes {s['ic_sizes']} "
        f"(ICA {'converged after' if result.ica_converged else 'stopped unconverged at'} "
        f"{result.ica_iterations} iterations)"
    )
    if published_sets is not None:
        if result.labels is None:
            raise InputError("--published needs --pdb (published sectors are given in structure numbering)")
        rows = sector_overlaps(result.labels, result.ic_groups.groups, published_sets)
        write_json(Path(out) / "published_sector_overlaps.json", rows)
        for row in rows:
            console.print(
                f"  {row['sector']}: {row['overlap']}/{row['retained']} retained residues in IC{row['best_ic']} "
                f"(size {row['ic_size']}; chance {row['expected_by_chance']:.1f}; p = {row['hypergeometric_p']:.1e})"
            )
    console.print(f"wrote {out}/sca.npz, positions.csv, summary.json")


def _read_published(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            sets = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable NPZ file ({err})", path) from None
    if not sets:
        raise InputError("no sector arrays in the file", path)
    return sets


def pca_matrix(
    alignment: AlignmentArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="NPZ file to write.")] = Path("pca.npz"),
    reference: ReferenceOpt = None,
    pdb: PdbOpt = None,
    chain: ChainOpt = "A",
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

    aln, labels = _read_with_labels(alignment, reference, pdb, chain)
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
    out: OutOpt = Path("couplings"),
    n_ref: Annotated[
        int | None, typer.Option("--n-ref", help="Weighted sample of this many references (default: all).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the reference sample.")] = 0,
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
    figures: Annotated[bool, typer.Option(help="Write a PNG heatmap.")] = True,
    device: Annotated[str | None, typer.Option("--device", help=DEVICE_HELP)] = None,
) -> None:
    """The VAE's L x L coupling matrix: RMS change of log p(x_i) when x_j is mutated (all Hamming-1)."""
    from seqvae.analysis.couplings import CouplingOptions, vae_couplings, write_coupling_outputs
    from seqvae.data.weights import compute_sequence_weights
    from seqvae.run import load

    options = CouplingOptions(
        n_references=n_ref,
        seed=seed,
        batch_size=batch_size,
        include_gap_substitutions=gap_substitutions,
        full=full,
        method=method,
        decoder_precision=decoder_precision,
    ).validate()
    run = run_on_device(load(run_dir), device)
    if run.registry is None:
        raise InputError("this run was trained on continuous data, not sequences", run_dir)
    codes = weights = None
    if alignment is not None:
        aln = run.read_alignment(alignment)
        codes = aln.codes
        weights = compute_sequence_weights(codes, run.registry.alphabet.gap_code, run.config.data.theta)
    with _progress() as bar:
        task = bar.add_task("references", total=None)
        result = vae_couplings(
            run,
            codes,
            weights,
            options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    write_coupling_outputs(result, run, out)
    if figures:
        from seqvae.plots.matrices import plot_coupling_matrix

        plot_coupling_matrix(result, out)
    console.print(
        f"couplings: {result.reference_rows.size} references, {result.n_neighbours} neighbours in "
        f"{result.elapsed_s:.1f} s ({result.n_neighbours / max(result.elapsed_s, 1e-9):.0f} neighbours/s); "
        f"wrote {out}/couplings.npz"
    )


def compare(
    first: Annotated[Path, typer.Argument(help="Position-matrix NPZ (key 'matrix').")],
    second: Annotated[Path, typer.Argument(help="Position-matrix NPZ (key 'matrix').")],
    out: OutOpt = Path("compare"),
    k: Annotated[int, typer.Option("--k", help="Top eigenvectors compared.")] = 3,
    permutations: Annotated[int, typer.Option(help="Position permutations for the null (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the null simulations.")] = 0,
    names: Annotated[str | None, typer.Option(help="Names of the two matrices, comma-separated.")] = None,
    apc: Annotated[bool, typer.Option(help="Average-product-correct both matrices first.")] = False,
    figures: Annotated[bool, typer.Option(help="Write PNG figures.")] = True,
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
    chain: ChainOpt = "A",
    out: OutOpt = Path("contacts"),
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
    figures: Annotated[bool, typer.Option(help="Write the contact map PNG.")] = True,
) -> None:
    """Contact precision of a matrix's top pairs on a structure; 3-D clustering of its sectors."""
    from seqvae.analysis.compare import average_product_correction
    from seqvae.analysis.contacts import (
        contact_precision,
        map_positions,
        read_structure,
        residue_distances,
        sector_sets,
        structure_clusters,
    )
    from seqvae.io.atomic import atomic_open, write_json
    from seqvae.io.matrix_file import load_matrix_npz
    from seqvae.plots.matrices import CONTACT_MAP_PNG, plot_contact_map

    positions = load_matrix_npz(matrix_file)
    if apc:
        positions.matrix = average_product_correction(positions.matrix)
    structure = read_structure(pdb, chain)
    structure_map = map_positions(positions, structure, offset=offset, method=mapping)
    if structure_map.identity is not None and structure_map.identity < 0.6:
        console.print(
            f"[yellow]warning:[/] only {structure_map.identity:.0%} of mapped positions carry the structure's "
            "residue: check --offset / --chain"
        )
    distances = residue_distances(structure, distance)
    result = contact_precision(positions, structure_map, distances, min_separation, threshold)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "matrix": str(matrix_file),
        "structure": str(pdb),
        "chain": chain,
        "mapping": structure_map.method,
        "mapped_positions": structure_map.n_mapped,
        "mapped_identity": structure_map.identity,
        "distance": distance,
        "threshold": threshold,
        "min_separation": min_separation,
        "apc": apc,
        "precision": result.precision,
        "n_pairs": result.n_pairs,
        "contact_fraction_among_candidates": result.contact_fraction,
    }
    if clusters:
        tests, selections = structure_clusters(
            positions, structure, structure_map, sector_sets(positions), n_random=random_sets
        )
        summary["clusters"] = [t.__dict__ for t in tests]
        with atomic_open(out / "sectors.pml", "w", encoding="utf-8") as handle:
            handle.write("\n".join(selections) + "\n")
        for t in tests:
            console.print(
                f"  {t.name}: {t.size} residues, mean distance {t.mean_distance:.1f} Å vs random "
                f"{t.random_mean:.1f} ± {t.random_std:.1f} Å, p = {t.p_value:.3g}"
            )
    write_json(out / "contacts.json", json.loads(json.dumps(summary, default=float)))
    if figures:
        plot_contact_map(positions, structure_map, distances, result, out / CONTACT_MAP_PNG, threshold)
    precision = ", ".join(f"{k}: {v:.3f}" for k, v in result.precision.items())
    console.print(
        f"{structure_map.n_mapped} positions on {pdb.name} chain {chain} (by {structure_map.method}); "
        f"precision at {threshold:g} Å, |i-j| >= {min_separation}: {precision} "
        f"(background contact rate {result.contact_fraction:.3f}); wrote {out}/contacts.json"
    )
