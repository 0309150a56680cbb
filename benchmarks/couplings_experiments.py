"""What the VAE learns against SCA, PCA and contacts: the numbers in benchmarks/RESULTS.md
("Couplings, SCA and contacts").

One command: ``python benchmarks/couplings_experiments.py [--stage train|s1a|compare|contacts|all]``.
``--stage sizes`` (session 2) repeats the VAE-vs-SCA comparison over latent sizes 2, 3, 5, 10 and
two seeds, with VAEs trained until the validation ELBO stops improving (see ``SIZES_CONFIG``);
``--regulariser mmd --mmd-weight 10`` trains MMD (InfoVAE) models instead, for a fixed number of
steps, into folders of their own (``--sizes`` / ``--seeds`` pick a subset of the grid).
Small VAEs are trained (a few minutes each, CPU) into ``runs/couplings/`` unless present;
outputs go to ``benchmarks/out/couplings/`` and small figures to ``benchmarks/figures/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's seqvae, not an installed one

import seqvae  # noqa: E402
from seqvae.analysis import sca as S  # noqa: E402
from seqvae.analysis import sca_sectors as SS  # noqa: E402
from seqvae.analysis.compare import compare_matrices, pca_loading_matrix, write_comparison  # noqa: E402
from seqvae.analysis.contacts import contact_precision, map_positions, residue_distances  # noqa: E402
from seqvae.analysis.couplings import CouplingOptions, vae_couplings, write_coupling_outputs  # noqa: E402
from seqvae.io.matrix_file import PositionMatrix, load_matrix_npz, save_matrix_npz  # noqa: E402
from seqvae.io.structure_files import read_structure  # noqa: E402
from seqvae.plots.matrices import plot_comparison, plot_coupling_matrix, plot_sca  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def write_and_plot_comparison(comparison, a: PositionMatrix, b: PositionMatrix, out: Path) -> None:
    write_comparison(comparison, out)
    plot_comparison(comparison, a, b, out)


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
        run = seqvae.train(path, cfg, out=out, overwrite=True, progress=False)
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
    plot_sca(result, OUT / f"sca_{name}")
    return result


def s1a_stage() -> dict:
    result = sca_for("s1a", S1A, DATA / "s1a" / "3tgi.pdb", "E", seeds=5)
    published = dict(np.load(DATA / "s1a" / "halabi_s1a_sectors.npz"))
    rows = SS.sector_overlaps(result.labels, result.ic_groups.groups, published, n_random=2000)
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
    plot_coupling_matrix(result, OUT / f"vae_{name}")
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
        write_and_plot_comparison(comparison, a, b, OUT / f"compare_{family}_pca_sca")
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
                    write_and_plot_comparison(comparison, a, b, OUT / f"compare_{key}")
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
    from seqvae.plots.matrices import plot_contact_map

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


# -- latent sizes (session 2) ----------------------------------------------------------------------
# explore preset + dropout 0.2: on S1A (1,435 sequences) the unregularised explore network over-fits
# after ~375 steps (pilot, z = 5: best validation ELBO -421.8, falling to -499.8 by step 1,000);
# dropout 0.2 gave -397.3 at step 1,125 and decoder_l2 = 100 / 1,000 gave -407.5 / -464.3. Step
# limits (not wall time) with early stopping on the validation ELBO (checked every 125 steps, 6
# checks = 750 steps of patience; the best weights are kept).
SIZES_CONFIG = {
    "model.dropout": 0.2,
    "training.max_steps": 6000,
    "training.max_time_s": None,
    "training.eval_every": 125,
    "training.early_stopping_patience": 6,
    "training.threads": 1,
}
# couplings on every sequence of the alignment (Sachdeva et al.'s "all sequences 1 Hamming unit away from
# training sequences"), each with its sequence weight; the bfloat16 Δ-logit decoder (within 1e-3 of
# float32 on a trained S1A model: see RESULTS.md) and batches of 512. A weighted sample of 300 / 150
# references (float32) is kept beside it for z = 10, seed 0, to show the sampling noise.
SIZES_FAMILIES = {
    "sh3": (SH3, {}, 300),
    "s1a": (S1A, {"data.max_column_gap_fraction": 0.3}, 150),
}
ALL_REFERENCES = CouplingOptions(n_references=None, decoder_precision="bfloat16", batch_size=512)
LATENT_SIZES = (2, 3, 5, 10)
SIZES_SEEDS = (0, 1)
SIZES_RUNS = RUNS / "sizes"
SIZES_OUT = OUT / "sizes"


# fixed training length of the MMD models: the KL models' best steps were 3,375-5,250 (SH3)
# and 750-1,125 (S1A)
MMD_STEPS = {"sh3": 4000, "s1a": 1000}


@dataclass(frozen=True)
class SizesVariant:
    """Which regulariser the latent-size study trains, and where its runs and outputs go.

    The KL study (the default) keeps its original folders; any other variant gets folders of its
    own (``sizes_mmd10`` for λ = 10), so one never overwrites the other.
    """

    regulariser: str = "kl"
    mmd_weight: float = 10.0
    sizes: tuple[int, ...] = LATENT_SIZES
    seeds: tuple[int, ...] = SIZES_SEEDS

    @property
    def tag(self) -> str:
        return "" if self.regulariser == "kl" else f"_mmd{self.mmd_weight:g}"

    @property
    def runs(self) -> Path:
        return RUNS / f"sizes{self.tag}"

    @property
    def out(self) -> Path:
        return OUT / f"sizes{self.tag}"

    def overrides(self, family: str) -> dict:
        if self.regulariser == "kl":
            return {}
        # InfoVAE: λ · MMD²(q(z), N(0, I)) replaces β · KL (same warm-up of the weight). The
        # validation ELBO still subtracts KL(q(z|x) || p(z)), which MMD leaves free to grow as
        # the posteriors narrow (pilot, SH3: the ELBO peaked at step 125 for z = 10 while the
        # reconstruction kept falling), so early stopping on it would keep an untrained model:
        # train a fixed number of steps instead, inside the KL models' best-step range.
        return {
            "model.regulariser": "mmd",
            "model.mmd_weight": self.mmd_weight,
            "training.early_stopping_patience": None,
            "training.max_steps": MMD_STEPS[family],
        }

    @property
    def is_full_grid(self) -> bool:
        return self.sizes == LATENT_SIZES and self.seeds == SIZES_SEEDS


def train_size_runs(families: list[str], variant: SizesVariant = SizesVariant()) -> dict:
    rows = {}
    sizes, seeds = variant.sizes, variant.seeds
    for family in families:
        path, data, _ = SIZES_FAMILIES[family]
        for z in sizes:
            for seed in seeds:
                name = f"{family}_z{z}_s{seed}"
                out = variant.runs / name
                summary_path = out / "summary.json"
                if not (
                    summary_path.exists() and json.loads(summary_path.read_text()).get("status") == "finished"
                ):
                    cfg = seqvae.preset_config("explore").updated(
                        {
                            **SIZES_CONFIG,
                            **data,
                            **variant.overrides(family),
                            "model.latent_dim": z,
                            "seed": seed,
                        }
                    )
                    print(f"training {name} ...", flush=True)
                    seqvae.train(path, cfg, out=out, overwrite=True, progress=False)
                summary = json.loads(summary_path.read_text())
                rows[name] = {
                    k: summary[k]
                    for k in ("steps", "stop_reason", "best_val_elbo", "best_step", "train_time_s")
                }
                print(f"{name}: {rows[name]}", flush=True)
    return rows


def size_couplings(
    name: str, options: CouplingOptions, tag: str, variant: SizesVariant = SizesVariant()
) -> tuple[PositionMatrix, dict]:
    out = variant.out / f"vae_{name}_{tag}"
    if not (out / "couplings.npz").exists():
        run = seqvae.load(variant.runs / name)
        result = vae_couplings(run, options=options)
        print(
            f"{name} ({tag}): couplings on {result.reference_rows.size} references, {result.n_neighbours} "
            f"neighbours in {result.elapsed_s:.1f} s",
            flush=True,
        )
        write_coupling_outputs(result, run, out)
    return load_matrix_npz(out / "couplings.npz"), json.loads((out / "summary.json").read_text())


def _row(comparison) -> dict:
    c = comparison.to_dict()
    row = {
        "length": c["length"],
        "pearson": c["pearson"],
        "spearman": c["spearman"],
        "top_dots": c["top_dots"],
        "principal_cosines": c["principal_cosines"],
        "random_dot_mean": c["random_vectors"]["dot_mean"],
    }
    if c["permutation"]:
        row.update(
            perm_dot_mean=c["permutation"]["dot_mean"],
            perm_dot_q95=c["permutation"]["dot_q95"],
            perm_dot_p=c["permutation"]["dot_p"],
            perm_pearson_q95=c["permutation"]["pearson_q95"],
            perm_pearson_p=c["permutation"]["pearson_p"],
            perm_cosine_p=c["permutation"]["principal_cosine_p"],
        )
    return row


def sizes_stage(
    families: list[str], permutations: int = 1000, variant: SizesVariant = SizesVariant()
) -> dict:
    sizes, seeds = variant.sizes, variant.seeds
    variant.out.mkdir(parents=True, exist_ok=True)
    for family in families:
        path = variant.out / f"sizes_{family}.json"
        results = {"training": train_size_runs([family], variant), "comparisons": {}, "couplings": {}}
        aln_path, data, n_ref = SIZES_FAMILIES[family]
        results["settings"] = {
            "config": "explore preset",
            **SIZES_CONFIG,
            **data,
            **variant.overrides(family),
            "couplings": asdict(ALL_REFERENCES),
            "sample_n_references": n_ref,
        }
        sca_path = OUT / f"sca_{family}" / "sca.npz"
        if not sca_path.exists():
            sca_for(family, aln_path, None, seeds=1)
        sca = load_matrix_npz(sca_path)
        aln = seqvae.read_alignment(aln_path)
        processed = S.preprocess_alignment(aln, S.SCAOptions())
        pca_matrix, _ = pca_loading_matrix(processed.codes, processed.weights, 20, n_components=10)
        pca = PositionMatrix(pca_matrix, numbering=processed.numbering, residues=sca.residues, kind="pca")
        pairs = [(f"{family} PCA", pca)]
        vae = {}
        for z in sizes:
            for seed in seeds:
                name = f"{family}_z{z}_s{seed}"
                vae[(z, seed)], summary = size_couplings(name, ALL_REFERENCES, "all", variant)
                results["couplings"][name] = {
                    k: summary[k] for k in ("n_references", "n_neighbours", "elapsed_s")
                }
                pairs.append((f"{family} z{z} s{seed}", vae[(z, seed)]))
        if variant.is_full_grid:  # the sampling-noise check is part of the full KL grid only
            sample, _ = size_couplings(
                f"{family}_z10_s0", CouplingOptions(n_references=n_ref, seed=0), f"sample{n_ref}", variant
            )
            pairs.append((f"{family} z10 s0, {n_ref}-reference sample", sample))
        for key, matrix in pairs:
            for apc in (False, True):
                comparison, a, b = compare_matrices(
                    matrix, sca, k=3, n_permutations=permutations, name_a=key, name_b="SCA", apc=apc
                )
                # both matrices restricted to the positions whose reference residue numbers
                # match, and the reference residues there must be the same letters
                assert np.array_equal(a.residues, b.residues), f"{key}: reference residues differ"
                results["comparisons"][key + (" APC" if apc else "")] = _row(comparison)
                if key == f"{family} z{sizes[-1]} s{seeds[0]}":
                    write_and_plot_comparison(
                        comparison,
                        a,
                        b,
                        variant.out / (f"compare_{family}_z{sizes[-1]}" + ("_apc" if apc else "")),
                    )
        # how stable the VAE's own top eigenvectors are: two training seeds, and a reference sample
        stability = {}
        if len(seeds) > 1:
            for z in sizes:
                c, _, _ = compare_matrices(vae[(z, seeds[0])], vae[(z, seeds[1])], k=3, n_permutations=0)
                stability[f"{family} z{z}: seed {seeds[0]} vs seed {seeds[1]}"] = _row(c)
        if variant.is_full_grid:
            c, _, _ = compare_matrices(vae[(10, 0)], sample, k=3, n_permutations=0)
            stability[f"{family} z10 s0: all references vs {n_ref}-reference sample"] = _row(c)
        results["stability"] = stability
        path.write_text(json.dumps(results, indent=2, default=float))
    merged = {"training": {}, "comparisons": {}, "stability": {}, "couplings": {}}
    for family in SIZES_FAMILIES:
        path = variant.out / f"sizes_{family}.json"
        if path.exists():
            data = json.loads(path.read_text())
            for key in merged:
                merged[key].update(data.get(key, {}))
    print_sizes_table(merged)
    done = [f for f in SIZES_FAMILIES if (variant.out / f"sizes_{f}.json").exists()]
    title = "" if variant.regulariser == "kl" else f", MMD λ = {variant.mmd_weight:g}"
    plot_sizes(merged, done, variant.out / "latent_sizes.png", sizes, seeds, title)
    small_copy(variant.out / "latent_sizes.png", FIGURES / f"couplings_vae_sca_latent_sizes{variant.tag}.png")
    return merged


def print_sizes_table(results: dict) -> None:
    def f2(x):
        return f"{x:.2f}"

    def pv(x):
        return f"{x:.3f}" if x >= 0.001 else "<0.001"

    print(
        "| comparison | L | Pearson (perm p) | Spearman | |v1·w1| (p) | |v2·w2| (p) | |v3·w3| (p) | "
        "principal cosines | random E|v·w| | perm. null mean |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, r in results["comparisons"].items():
        if "top_dots" in r and "length" not in r:
            print(
                f"| {key} | | {f2(r['pearson'])} | | " + " | ".join(f2(d) for d in r["top_dots"]) + " | | | |"
            )
            continue
        dots = " | ".join(f"{f2(d)} ({pv(p)})" for d, p in zip(r["top_dots"], r["perm_dot_p"]))
        print(
            f"| {key} | {r['length']} | {f2(r['pearson'])} ({pv(r['perm_pearson_p'])}) | {f2(r['spearman'])} | "
            f"{dots} | {'/'.join(f2(c) for c in r['principal_cosines'])} | {r['random_dot_mean']:.3f} | "
            f"{'/'.join(f2(d) for d in r['perm_dot_mean'])} |"
        )
    print("\n| VAE vs VAE | Pearson | |v_k·w_k| | principal cosines |\n|---|---|---|---|")
    for key, r in results["stability"].items():
        print(
            f"| {key} | {f2(r['pearson'])} | {'/'.join(f2(d) for d in r['top_dots'])} | "
            f"{'/'.join(f2(c) for c in r['principal_cosines'])} |"
        )
    for key, r in results["training"].items():
        print(key, r, results["couplings"].get(key))


def plot_sizes(
    results: dict,
    families: list[str],
    path: Path,
    sizes: tuple[int, ...] = LATENT_SIZES,
    seeds: tuple[int, ...] = SIZES_SEEDS,
    title_suffix: str = "",
) -> Path:
    """|v_k · w_k| (VAE vs SCA) against latent size, raw and APC, with the nulls and Sachdeva et al.'s 0.5."""
    from seqvae.plots.style import categorical_colors, new_figure, save_figure

    comparisons = results["comparisons"]
    colours = categorical_colors(3)
    fig, axes = new_figure(2, len(families), width=4.4, height=3.4, sharey=True)
    for col, family in enumerate(families):
        for row, suffix in enumerate(("", " APC")):
            ax = axes[row, col]
            for k in range(3):
                for si, seed in enumerate(seeds):
                    xs = np.arange(len(sizes)) + (k - 1) * 0.12 + (si - 0.5) * 0.05
                    ys = [comparisons[f"{family} z{z} s{seed}{suffix}"]["top_dots"][k] for z in sizes]
                    ax.plot(
                        xs,
                        ys,
                        "o" if si == 0 else "s",
                        color=colours[k],
                        ms=5,
                        ls="-" if si == 0 else ":",
                        label=f"v{k + 1}·w{k + 1}" if si == 0 else None,
                    )
                q95 = np.mean(
                    [comparisons[f"{family} z{z} s{seeds[0]}{suffix}"]["perm_dot_q95"][k] for z in sizes]
                )
                ax.axhline(q95, color=colours[k], lw=0.8, ls="--", alpha=0.7)
                pca = comparisons[f"{family} PCA{suffix}"]["top_dots"][k]
                ax.plot(
                    [len(sizes) - 0.4 + (k - 1) * 0.12],
                    [pca],
                    marker="*",
                    color=colours[k],
                    ms=9,
                    ls="none",
                )
            ax.axhline(0.5, color="black", lw=1.0)
            rnd = comparisons[f"{family} z{sizes[0]} s{seeds[0]}{suffix}"]["random_dot_mean"]
            ax.axhline(rnd, color="grey", lw=1.0, ls=":")
            ax.set_xticks(
                [*range(len(sizes)), len(sizes) - 0.4],
                [*(str(z) for z in sizes), "PCA"],
            )
            ax.set_xlim(-0.5, len(sizes) - 0.1)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("latent size (PCA: 10 components, ★)")
            if col == 0:
                ax.set_ylabel("|v_k · w_k| with SCA")
            length = comparisons[f"{family} z{sizes[0]} s{seeds[0]}{suffix}"]["length"]
            ax.set_title(
                f"{family.upper()}{' after APC' if suffix else ', raw matrices'} ({length} positions)"
            )
    handles, labels = axes[0, 0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles += [
        Line2D([], [], color="black", lw=1.0),
        Line2D([], [], color="grey", lw=0.8, ls="--"),
        Line2D([], [], color="grey", lw=1.0, ls=":"),
        *(
            Line2D([], [], color="grey", marker="o" if si == 0 else "s", ls="-" if si == 0 else ":")
            for si in range(len(seeds))
        ),
    ]
    labels += [
        "Sachdeva et al.'s 0.5",
        "permutation null q95 (per k, colour)",
        "random vectors E|v·w|",
        *(f"VAE seed {seed}" for seed in seeds),
    ]
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.07), frameon=False)
    fig.suptitle(f"Top eigenvectors of the VAE coupling matrix vs the SCA matrix{title_suffix}")
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--stage",
        default="all",
        choices=["train", "s1a", "s1a-structure", "compare", "contacts", "sizes", "all"],
    )
    parser.add_argument("--runs", nargs="*", default=None, help="train only these runs")
    parser.add_argument(
        "--families", nargs="*", default=["sh3", "s1a"], help="families for the compare stage"
    )
    parser.add_argument(
        "--regulariser",
        default="kl",
        choices=["kl", "mmd"],
        help="sizes stage: kl (β = 1, the original study) or mmd (InfoVAE, own output folders)",
    )
    parser.add_argument("--mmd-weight", type=float, default=10.0, help="sizes stage: λ for --regulariser mmd")
    parser.add_argument(
        "--sizes", nargs="*", type=int, default=list(LATENT_SIZES), help="sizes stage: latent sizes"
    )
    parser.add_argument("--seeds", nargs="*", type=int, default=list(SIZES_SEEDS), help="sizes stage: seeds")
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
    if args.stage == "sizes":
        variant = SizesVariant(args.regulariser, args.mmd_weight, tuple(args.sizes), tuple(args.seeds))
        sizes_stage(args.families, variant=variant)


if __name__ == "__main__":
    main()
