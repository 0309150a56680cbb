"""What the VAE learns against SCA, PCA and contacts: the numbers in benchmarks/RESULTS.md
("Couplings, SCA and contacts").

One command: ``python benchmarks/couplings_experiments.py [--stage train|s1a|compare|contacts|all]``.
Small VAEs are trained (a few minutes each, CPU) into ``runs/couplings/`` unless present;
outputs go to ``benchmarks/out/couplings/`` and small figures to ``benchmarks/figures/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import seqvae
from seqvae.analysis import sca as S
from seqvae.analysis.compare import compare_matrices, pca_loading_matrix, write_comparison
from seqvae.analysis.contacts import contact_precision, map_positions, read_structure, residue_distances
from seqvae.analysis.couplings import CouplingOptions, vae_couplings, write_coupling_outputs
from seqvae.analysis.matrix_file import PositionMatrix, load_matrix_npz, save_matrix_npz

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RUNS = ROOT / "runs" / "couplings"
OUT = ROOT / "benchmarks" / "out" / "couplings"
FIGURES = ROOT / "benchmarks" / "figures"

S1A = DATA / "s1a" / "halabi_s1a_alignment.fasta"
SH3 = DATA / "sh3" / "sh3_59.fasta"
BLAT = DATA / "blat" / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"

# (name, alignment, preset, overrides)
# Step limits (not wall-time limits) so that a busy machine changes only how long training takes.
STEPS = {"training.max_steps": 3000, "training.max_time_s": 900.0}
S1A_DATA = {"data.max_column_gap_fraction": 0.3, **STEPS}
RUN_SPECS = [
    ("sh3_z2", SH3, "explore", STEPS),
    ("sh3_z10", SH3, "explore", {**STEPS, "model.latent_dim": 10}),
    ("s1a_z2", S1A, "explore", S1A_DATA),
    ("s1a_z10", S1A, "explore", {**S1A_DATA, "model.latent_dim": 10}),
    (
        "blat_z30",
        BLAT,
        "explore",
        {
            "model.latent_dim": 30,
            "model.model_gaps": False,
            "model.encoder_hidden": [512, 256],
            "model.decoder_hidden": [256, 512],
            "model.decoder_l2": 1000.0,
            "model.warmup_steps": 1000,
            "training.batch_size": 256,
            "training.max_steps": 2000,
            "training.max_time_s": 3000.0,
        },
    ),
]


def small_copy(source: Path, target: Path) -> None:
    """Copy a figure into the repository as a small palette PNG (same pixels, 128 colours)."""
    from PIL import Image

    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=128).save(target, optimize=True)


def train_runs(names: list[str] | None = None) -> None:
    for name, path, preset, overrides in RUN_SPECS:
        if names and name not in names:
            continue
        out = RUNS / name
        if (out / "summary.json").exists() and json.loads((out / "summary.json").read_text()).get(
            "status"
        ) == "finished":
            print(f"{name}: exists")
            continue
        cfg = seqvae.preset_config(preset).updated(overrides)
        print(f"training {name} ...", flush=True)
        run = seqvae.train(path, cfg, out=out, overwrite=True, show_progress=False)
        print(
            f"{name}: {run.summary['steps']} steps, {run.summary['train_time_s']:.0f} s, stop={run.summary['stop_reason']}, best val ELBO={run.summary['best_val_elbo']}",
            flush=True,
        )


def sca_for(
    name: str, alignment_path: Path, pdb: Path | None = None, chain: str = "A", seeds: int = 5
) -> S.SCAResult:
    aln = seqvae.read_alignment(alignment_path)
    labels = None
    if pdb is not None:
        labels, identity = S.structure_labels_for_columns(aln, read_structure(pdb, chain))
        print(f"{name}: reference vs {pdb.name} chain {chain}: identity {identity:.3f}")
    started = time.perf_counter()
    result = S.run_sca(aln, S.SCAOptions(n_stability_seeds=seeds), structure_labels=labels)
    print(f"{name}: SCA in {time.perf_counter() - started:.1f} s {result.timings}")
    S.write_sca_outputs(result, OUT / f"sca_{name}")
    return result


def s1a_stage() -> dict:
    result = sca_for("s1a", S1A, DATA / "s1a" / "3tgi.pdb", "E", seeds=5)
    published = dict(np.load(DATA / "s1a" / "halabi_s1a_sectors.npz"))
    rows = S.sector_overlaps(result.labels, result.ic_groups.groups, published, n_random=2000)
    summary = {"sca": result.summary(), "sector_overlaps": rows}
    (OUT / "s1a_sectors.json").write_text(json.dumps(summary, indent=2, default=float))
    for fig in ("sca_matrix.png", "sca_spectrum.png", "sca_ics.png"):
        small_copy(OUT / "sca_s1a" / fig, FIGURES / f"s1a_{fig}")
    print(json.dumps(rows, indent=1, default=float))
    summary["structure"] = s1a_structure_stage()
    (OUT / "s1a_sectors.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary


def s1a_structure_stage() -> dict:
    """3-D clustering on 3TGI chain E of the SCA IC groups, top-eigenvector positions and the
    published sectors (mean pairwise C-beta distance vs random sets of mapped positions)."""
    from seqvae.analysis.contacts import cluster_test, sector_sets, structure_clusters

    structure = read_structure(DATA / "s1a" / "3tgi.pdb", "E")
    positions = load_matrix_npz(OUT / "sca_s1a" / "sca.npz")
    mapping = map_positions(positions, structure)
    tests, selections = structure_clusters(
        positions, structure, mapping, sector_sets(positions), n_random=5000
    )
    distances = residue_distances(structure, "cb")
    pool = mapping.residue_index[mapping.residue_index >= 0]
    index_of = structure.index_of()
    published = dict(np.load(DATA / "s1a" / "halabi_s1a_sectors.npz"))
    for name, residues in published.items():
        idx = np.array([index_of[str(r)] for r in residues if str(r) in index_of])
        tests.append(cluster_test(f"published {name}", idx, pool, distances, 5000))
    (OUT / "s1a_sectors.pml").write_text("\n".join(selections) + "\n")
    for t in tests:
        print(
            f"{t.name}: n={t.size} mean CB distance {t.mean_distance:.1f} A vs random "
            f"{t.random_mean:.1f} +- {t.random_std:.1f}, p={t.p_value:.2g}"
        )
    out = {"clusters": [t.__dict__ for t in tests], "pymol": selections}
    (OUT / "s1a_structure.json").write_text(json.dumps(out, indent=2, default=float))
    return out


def couplings_for(name: str, n_ref: int | None = 300) -> PositionMatrix:
    path = OUT / f"vae_{name}" / "couplings.npz"
    if path.exists():
        return load_matrix_npz(path)
    run = seqvae.load(RUNS / name)
    result = vae_couplings(run, options=CouplingOptions(n_references=n_ref, seed=0))
    print(
        f"{name}: couplings on {result.reference_rows.size} references, {result.n_neighbours} neighbours in {result.elapsed_s:.1f} s"
    )
    write_coupling_outputs(result, run, OUT / f"vae_{name}")
    return load_matrix_npz(path)


def compare_stage(families: list[str]) -> dict:
    path = OUT / "comparisons.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for family, aln_path in (("sh3", SH3), ("s1a", S1A)):
        if family not in families:
            continue
        sca_path = OUT / f"sca_{family}" / "sca.npz"
        if not sca_path.exists():
            sca_for(family, aln_path, DATA / "s1a" / "3tgi.pdb" if family == "s1a" else None, "E", seeds=1)
        sca = load_matrix_npz(sca_path)
        # PCA on the same processed alignment as SCA
        aln = seqvae.read_alignment(aln_path)
        processed = S.preprocess_alignment(aln, S.SCAOptions())
        pca_matrix, _ = pca_loading_matrix(processed.codes, processed.weights, 20, n_components=10)
        pca = PositionMatrix(
            pca_matrix, numbering=processed.numbering, labels=sca.labels, residues=sca.residues, kind="pca"
        )
        save_matrix_npz(
            OUT / f"pca_{family}.npz",
            pca.matrix,
            numbering=pca.numbering,
            labels=pca.labels,
            residues=pca.residues,
            kind="pca",
        )
        comparison, a, b = compare_matrices(pca, sca, k=3, name_a="PCA", name_b="SCA")
        write_comparison(comparison, a, b, OUT / f"compare_{family}_pca_sca")
        results[f"{family}: PCA vs SCA"] = comparison.to_dict()
        for z in ("z2", "z10"):
            vae = couplings_for(f"{family}_{z}")
            for other_name, other in (("SCA", sca), ("PCA", pca)):
                for apc in (False, True):
                    suffix = " (APC)" if apc else ""
                    comparison, a, b = compare_matrices(
                        vae, other, k=3, name_a=f"VAE {z}{suffix}", name_b=f"{other_name}{suffix}", apc=apc
                    )
                    key = f"{family}_{z}_{other_name.lower()}" + ("_apc" if apc else "")
                    write_comparison(comparison, a, b, OUT / f"compare_{key}")
                    results[f"{family}: VAE {z} vs {other_name}{suffix}"] = comparison.to_dict()
                    if other_name == "SCA":
                        for fig in ("overlaps", "heatmaps"):
                            small_copy(
                                OUT / f"compare_{key}" / f"compare_{fig}.png", FIGURES / f"{key}_{fig}.png"
                            )
    (OUT / "comparisons.json").write_text(json.dumps(results, indent=2, default=float))
    for key, c in results.items():
        print(
            f"{key}: L={c['length']} pearson={c['pearson']:.3f} spearman={c['spearman']:.3f} "
            f"top3 |v.w|={np.round(c['top_dots'], 3).tolist()} principal cos={np.round(c['principal_cosines'], 3).tolist()} "
            f"random={c['random_vectors']['dot_mean']:.3f} perm={np.round(c['permutation']['dot_mean'], 3).tolist()} "
            f"perm q95={np.round(c['permutation']['dot_q95'], 3).tolist()} perm pearson q95={c['permutation']['pearson_q95']:.3f}"
        )
    return results


def contacts_stage() -> dict:
    structure = read_structure(DATA / "blat" / "1FQG.pdb", "A")
    distances = residue_distances(structure, "heavy")
    vae = couplings_for("blat_z30", n_ref=200)
    small_copy(OUT / "vae_blat_z30" / "couplings_matrix.png", FIGURES / "blat_vae_couplings_matrix.png")
    out = {}
    sca_path = OUT / "sca_blat" / "sca.npz"
    if not sca_path.exists():
        sca_for("blat", BLAT, None, seeds=1)
    sca = load_matrix_npz(sca_path)
    from seqvae.analysis.compare import average_product_correction
    from seqvae.analysis.contacts import plot_contact_map

    by_sequence = map_positions(vae, structure, method="sequence")
    by_offset = map_positions(vae, structure, offset=2)
    print(
        f"mapping by sequence == numbering + 2: {np.array_equal(by_sequence.residue_index, by_offset.residue_index)}"
    )
    variants = []
    for name, pm in (("VAE z30", vae), ("SCA", sca)):
        variants.append((name, pm))
        corrected = PositionMatrix(
            average_product_correction(pm.matrix), numbering=pm.numbering, residues=pm.residues
        )
        variants.append((f"{name} APC", corrected))
    for name, matrix in variants:
        mapping = map_positions(matrix, structure, offset=2)
        result = contact_precision(matrix, mapping, distances)
        tag = name.lower().replace(" ", "_")
        plot_contact_map(
            matrix,
            mapping,
            distances,
            result,
            OUT / f"blat_contacts_{tag}.png",
            title=f"BLAT {name}: top L/2 pairs, precision {result.precision['L/2']:.2f}",
        )
        small_copy(OUT / f"blat_contacts_{tag}.png", FIGURES / f"blat_contacts_{tag}.png")
        out[name] = {
            "precision": result.precision,
            "n_pairs": result.n_pairs,
            "length": result.length,
            "mapped_identity": mapping.identity,
            "contact_fraction": result.contact_fraction,
        }
        print(name, out[name])
    (OUT / "blat_contacts.json").write_text(json.dumps(out, indent=2, default=float))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--stage", default="all", choices=["train", "s1a", "s1a-structure", "compare", "contacts", "all"]
    )
    parser.add_argument("--runs", nargs="*", default=None, help="train only these runs")
    parser.add_argument(
        "--families", nargs="*", default=["sh3", "s1a"], help="families for the compare stage"
    )
    args = parser.parse_args()
    # one thread: on this shared 2-core machine two torch threads made a training step ~7x slower
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    if args.stage in ("train", "all"):
        train_runs(args.runs)
    if args.stage in ("s1a", "all"):
        s1a_stage()
    if args.stage == "s1a-structure":
        s1a_structure_stage()
    if args.stage in ("compare", "all"):
        compare_stage(args.families)
    if args.stage in ("contacts", "all"):
        contacts_stage()


if __name__ == "__main__":
    main()
