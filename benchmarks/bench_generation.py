"""Generative capacity on SH3: hold out a random split, train a small explore-preset model on the
rest, generate 1,000 designs from the prior and judge them against the held-out split.

    nice python benchmarks/bench_generation.py [--threads 1] [--seed 0]

Writes the split FASTAs, the run and the evaluations under benchmarks/out/generation/, and the
figures under docs/figures/. Prints the statistics table (single-site r, pairwise r, r20,
Hamming distances, reconstruction stability) for: designs sampled at T = 1, designs decoded
by argmax, and — as the natural ceiling — 1,000 training sequences drawn by weight. Timings
are reported against the peak matmul rate measured in the same process (benchmarks/roof.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import seqvae  # noqa: E402
from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from seqvae.analysis import capacity as cap  # noqa: E402
from seqvae.analysis import generation as gen  # noqa: E402
from seqvae.cli.main import main as cli  # noqa: E402
from seqvae.data.weights import compute_sequence_weights  # noqa: E402
from seqvae.plots.generation import plot_interpolation, plot_sample_statistics, plot_sequence_logos  # noqa: E402

SH3 = ROOT.parent / "shared" / "data" / "sh3" / "sh3_59.fasta"
PHENOTYPES = ROOT.parent / "shared" / "data" / "sh3" / "sh3_59_phenotypes.csv"
OUT = ROOT / "benchmarks" / "out" / "generation"
FIGURES = ROOT / "docs" / "figures"


def write_fasta(path: Path, ids: list[str], sequences: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for name, seq in zip(ids, sequences):
            handle.write(f">{name}\n{seq}\n")


def row(name: str, ev: cap.SampleEvaluation) -> str:
    s = ev.summary
    return (
        f"| {name} | {s['single_site_r']:.3f} | {s['pairwise_r']:.3f} | {s['r20_mean']:.3f} | "
        f"{s['design_hamming_to_training_median']:.0f} ({s['design_hamming_to_training_mean']:.1f}) | "
        f"{s['design_pairwise_hamming_median']:.0f} | {s['design_unique_fraction']:.3f} | "
        f"{s['design_reconstruction_stability']:.3f} / {s['design_redecode_identity_mean']:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=float, default=0.15)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--r20-sets", type=int, default=200)
    parser.add_argument("--retrain", action="store_true", help="train again even if the run exists")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not SH3.exists():
        raise SystemExit(f"missing {SH3}")
    roof = peak_matmul_gflops(1024)
    print(
        f"machine: {machine_description()}; peak float32 matmul {roof:.1f} GFLOP/s (measured while the machine was shared)"
    )

    # -- split -------------------------------------------------------------------------------
    aln = seqvae.read_alignment(SH3)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(aln.n_sequences)
    n_hold = int(round(args.holdout * aln.n_sequences))
    held_rows, train_rows = np.sort(order[:n_hold]), np.sort(order[n_hold:])
    seqs = aln.sequences()
    train_fasta, held_fasta = OUT / "sh3_train.fasta", OUT / "sh3_heldout.fasta"
    write_fasta(train_fasta, [aln.ids[i] for i in train_rows], [seqs[i] for i in train_rows])
    write_fasta(held_fasta, [aln.ids[i] for i in held_rows], [seqs[i] for i in held_rows])
    print(
        f"SH3: {aln.n_sequences} x {aln.length}; training split {train_rows.size}, held out {held_rows.size}"
    )

    # -- train --------------------------------------------------------------------------------
    run_dir = OUT / "run_explore"
    started = time.perf_counter()
    if args.retrain or not (run_dir / "model.safetensors").exists():
        config = seqvae.preset_config("explore").updated({"seed": args.seed, "training.device": "cpu"})
        run = seqvae.train(aln.subset(train_rows), config, out=run_dir, overwrite=True, show_progress=False)
    else:
        run = seqvae.load(run_dir)
    s = run.summary
    print(
        f"run: explore preset, {s['steps']} steps ({s['stop_reason']}), best val ELBO {s['best_val_elbo']:.2f}, "
        f"{s['train_time_s']:.0f} s training (this call {time.perf_counter() - started:.0f} s)"
    )
    held = run.read_alignment(held_fasta)
    train_acc = gen.reconstruction_accuracy(run)
    held_acc = gen.reconstruction_accuracy(run, held)
    print(
        f"argmax reconstruction at the latent mean: training {train_acc.overall:.3f} (residues "
        f"{train_acc.residue_accuracy:.3f}, gaps {train_acc.gap_accuracy:.3f}, exact {train_acc.exact_fraction:.3f}); "
        f"held out {held_acc.overall:.3f} (residues {held_acc.residue_accuracy:.3f}, exact {held_acc.exact_fraction:.3f})"
    )

    # -- generate (through the CLI, as a user would) --------------------------------------------
    designs_fasta = OUT / "designs_prior_T1.fasta"
    argmax_fasta = OUT / "designs_prior_argmax.fasta"
    t0 = time.perf_counter()
    assert (
        cli(
            [
                "generate",
                str(run_dir),
                "-n",
                str(args.n),
                "--out",
                str(designs_fasta),
                "--seed",
                str(args.seed),
            ]
        )
        == 0
    )
    t_generate = time.perf_counter() - t0
    assert (
        cli(
            [
                "generate",
                str(run_dir),
                "-n",
                str(args.n),
                "--out",
                str(argmax_fasta),
                "--seed",
                str(args.seed),
                "--argmax",
            ]
        )
        == 0
    )
    t0 = time.perf_counter()
    assert (
        cli(
            [
                *("evaluate-samples", str(designs_fasta), "--reference", str(held_fasta)),
                *("--run", str(run_dir), "--out", str(OUT / "eval_prior_T1"), "--seed", str(args.seed)),
                *("--r20-sets", str(args.r20_sets)),
            ]
        )
        == 0
    )
    t_evaluate_cli = time.perf_counter() - t0

    # -- the table: weighted and unweighted reference --------------------------------------------
    training = run.training_alignment()
    designs = run.read_alignment(designs_fasta)
    argmax_designs = run.read_alignment(argmax_fasta)
    natural_pick = rng.choice(
        training.n_sequences, size=args.n, replace=False, p=training.weights / training.n_eff
    )
    natural_sample = training.codes[natural_pick]
    held_weights = compute_sequence_weights(held.codes, held.alphabet.gap_code, 0.2)
    results: dict[str, dict[str, cap.SampleEvaluation]] = {}
    timings = {}
    for weighting, weights in (("weighted", held_weights), ("unweighted", None)):
        results[weighting] = {}
        for name, codes in (
            ("VAE prior, sampled T=1", designs.codes),
            ("VAE prior, argmax", argmax_designs.codes),
            ("natural: 1,000 training seqs (by weight)", natural_sample),
        ):
            t0 = time.perf_counter()
            results[weighting][name] = cap.evaluate_samples(
                codes,
                held,
                training=training,
                run=run,
                reference_weights=weights,
                r20_sets=args.r20_sets,
                seed=args.seed,
                weighting_note=f"designs unweighted, held-out reference {weighting}"
                + (" (theta=0.2 within the held-out set)" if weights is not None else ""),
            )
            timings[(weighting, name)] = time.perf_counter() - t0
    header = (
        "| set (vs held-out natural) | single-site r | pairwise r | r20 (mean n=2..10) | Hamming to nearest training: median (mean) "
        "| pairwise Hamming median | unique fraction | re-decode: exact fraction / mean identity |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for weighting, evals in results.items():
        print(f"\nreference {weighting}:\n{header}")
        for name, ev in evals.items():
            print(row(name, ev))
        any_ev = next(iter(evals.values()))
        print(
            f"held-out natural: median Hamming to nearest training {any_ev.summary['reference_hamming_to_training_median']:.0f} "
            f"(mean {any_ev.summary['reference_hamming_to_training_mean']:.1f}), pairwise median "
            f"{any_ev.summary['reference_pairwise_hamming_median']:.0f}, re-decode exact fraction "
            f"{any_ev.summary['reference_reconstruction_stability']:.3f} / mean identity "
            f"{any_ev.summary['reference_redecode_identity_mean']:.3f}"
        )
    ev = results["weighted"]["VAE prior, sampled T=1"]
    print(
        "\nr20 by n (weighted, prior T=1):",
        ", ".join(f"{n}: {v:.3f}" for n, v in zip(ev.r20.n_values, ev.r20.r20)),
    )
    print(
        "r20 by n (weighted, natural ceiling):",
        ", ".join(
            f"{n}: {v:.3f}"
            for n, v in zip(
                ev.r20.n_values, results["weighted"]["natural: 1,000 training seqs (by weight)"].r20.r20
            )
        ),
    )

    # -- timings against the roof ----------------------------------------------------------------
    t0 = time.perf_counter()
    cap.nearest_sequences(designs.codes, training.codes, 21)
    t_nearest = time.perf_counter() - t0
    flops = 2.0 * designs.n_sequences * training.n_sequences * training.length * 21
    length = held.length
    t0 = time.perf_counter()
    cap.compare_connected_correlations(held.codes, designs.codes, 21, held_weights)
    t_pairs = time.perf_counter() - t0
    pair_flops = 2.0 * (held.n_sequences + designs.n_sequences) * (length * 21) ** 2 / 2
    print(
        f"\ntimings: generate {args.n} designs + ELBO (8 samples) + nearest natural via CLI {t_generate:.2f} s; "
        f"evaluate-samples CLI incl. figures {t_evaluate_cli:.1f} s; evaluate_samples (no figures) "
        f"{timings[('weighted', 'VAE prior, sampled T=1')]:.1f} s\n"
        f"nearest natural ({designs.n_sequences} x {training.n_sequences}, one-hot products): {t_nearest:.2f} s = "
        f"{flops / t_nearest / 1e9:.1f} GFLOP/s = {flops / t_nearest / 1e9 / roof:.2f} x roof\n"
        f"connected correlations, both sets ({length} positions): {t_pairs:.2f} s = "
        f"{pair_flops / t_pairs / 1e9:.1f} GFLOP/s = {pair_flops / t_pairs / 1e9 / roof:.2f} x roof"
    )

    # -- figures ----------------------------------------------------------------------------------
    FIGURES.mkdir(parents=True, exist_ok=True)
    plot_sample_statistics(
        {
            "VAE prior T=1": results["weighted"]["VAE prior, sampled T=1"],
            "VAE prior argmax": results["weighted"]["VAE prior, argmax"],
            "natural training sample": results["weighted"]["natural: 1,000 training seqs (by weight)"],
        },
        FIGURES / "generation_sh3_statistics.png",
        title=f"SH3: {args.n} samples vs {held.n_sequences} held-out natural sequences (explore preset, z = 2)",
    )
    plot_sequence_logos(
        {
            "held-out natural (weighted)": held.codes,
            "VAE prior designs, T = 1": designs.codes,
            "VAE prior designs, argmax": argmax_designs.codes,
        },
        held.alphabet,
        FIGURES / "generation_sh3_logos.png",
        weights={"held-out natural (weighted)": held_weights},
    )
    import pandas as pd

    table = pd.read_csv(PHENOTYPES)
    group = dict(zip(table["id"], table["taxon_group"]))
    ids = training.ids
    # end points: the fungal and the animal sequence that the model reconstructs best
    _, redecoded = gen.reconstruction_stability(run.model, training.codes)
    groups = np.array([group.get(i, "") for i in ids])
    fungus = ids[int(np.argmin(np.where(groups == "Fungi", redecoded, 10**6)))]
    animal = ids[int(np.argmin(np.where(groups == "Metazoa", redecoded, 10**6)))]
    path = gen.interpolate(run, fungus, animal, steps=21)
    plot_interpolation(
        path,
        FIGURES / "generation_sh3_interpolation.png",
        title=f"SH3 latent path: {fungus.split('||')[0]} (fungus) → {animal.split('||')[0]} (animal)",
    )
    print(
        f"interpolation {fungus.split('||')[0]} → {animal.split('||')[0]}: Hamming between the ends "
        f"{int((training.codes[ids.index(fungus)] != training.codes[ids.index(animal)]).sum())}; "
        f"to A along the path {path.extra['hamming_to_a'].tolist()}; to B {path.extra['hamming_to_b'].tolist()}"
    )
    print(f"figures in {FIGURES.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
