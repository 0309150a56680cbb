"""Generative capacity on SH3: hold out a random split, train a small explore-preset model on the
rest, generate 1,000 designs from the prior and from phenotype regions, sample a site-independent
model fitted on the same split, and judge every set against the held-out split.

    nice python benchmarks/bench_generation.py [--threads 1] [--seed 0] [--retrain]

Writes the split FASTAs, the run, the baseline and the evaluations under
benchmarks/out/generation/, and the figures under docs/figures/. Prints the statistics table
(single-site r, pairwise r, r20, Hamming distances, reconstruction stability) for: designs sampled
at T = 1, designs decoded by argmax, and — as the natural ceiling — 1,000 training sequences drawn
by weight; then the issue's comparison, every set made and judged through the CLI (the commands
are printed): VAE prior, VAE region ``RE_norm >= q90`` (and ``>= q97``), site-independent samples
and natural training sequences. Timings are reported against the peak matmul rate measured in the
same process (benchmarks/roof.py).
"""

from __future__ import annotations

import argparse
import shlex
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
from seqvae.analysis import reconstruction as rec  # noqa: E402
from seqvae.analysis import sample_evaluation as se  # noqa: E402
from seqvae.cli.main import main as cli  # noqa: E402
from seqvae.data.weights import compute_sequence_weights  # noqa: E402
from seqvae.plots.generation import plot_interpolation, plot_sample_statistics, plot_sequence_logos  # noqa: E402

SH3 = ROOT.parent / "shared" / "data" / "sh3" / "sh3_59.fasta"
PHENOTYPES = ROOT.parent / "shared" / "data" / "sh3" / "sh3_59_phenotypes.csv"
OUT = ROOT / "benchmarks" / "out" / "generation"
FIGURES = ROOT / "docs" / "figures"
# phenotype regions: the top decile, and the top 3 % (the functional island, RE_norm > -0.9)
REGIONS = {"RE_norm >= q90": "region_q90", "RE_norm >= q97": "region_q97"}


def write_fasta(path: Path, ids: list[str], sequences: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for name, seq in zip(ids, sequences):
            handle.write(f">{name}\n{seq}\n")


def row(name: str, ev: se.SampleEvaluation) -> str:
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
        run = seqvae.train(aln.subset(train_rows), config, out=run_dir, overwrite=True, progress=False)
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
    generate = ["generate", str(run_dir), "-n", str(args.n), "--seed", str(args.seed)]
    t_generate = seqvae_cli([*generate, "--out", str(designs_fasta)])
    seqvae_cli([*generate, "--out", str(argmax_fasta), "--argmax"])
    t_evaluate_cli = seqvae_cli(
        [
            *("evaluate-samples", str(designs_fasta), "--reference", str(held_fasta)),
            *("--run", str(run_dir), "--out", str(OUT / "eval_prior_T1"), "--seed", str(args.seed)),
            *("--r20-sets", str(args.r20_sets)),
        ]
    )

    # -- the table: weighted and unweighted reference --------------------------------------------
    training = run.training_alignment()
    designs = run.read_alignment(designs_fasta)
    argmax_designs = run.read_alignment(argmax_fasta)
    natural_pick = rng.choice(
        training.n_sequences, size=args.n, replace=False, p=training.weights / training.n_eff
    )
    natural_sample = training.codes[natural_pick]
    held_weights = compute_sequence_weights(held.codes, held.alphabet.gap_code, 0.2)
    results: dict[str, dict[str, se.SampleEvaluation]] = {}
    timings = {}
    for weighting, weights in (("weighted", held_weights), ("unweighted", None)):
        results[weighting] = {}
        for name, codes in (
            ("VAE prior, sampled T=1", designs.codes),
            ("VAE prior, argmax", argmax_designs.codes),
            ("natural: 1,000 training seqs (by weight)", natural_sample),
        ):
            t0 = time.perf_counter()
            results[weighting][name] = se.evaluate_samples(
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
    _, redecoded = rec.reconstruction_stability(run.model, training.codes)
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
    baseline_comparison(args, run, run_dir, train_fasta, held_fasta, held, held_weights, training)
    print(f"figures in {FIGURES.relative_to(ROOT)}/")


def seqvae_cli(args: list[str]) -> float:
    """Run a seqvae command (printed with paths relative to the project) and return its seconds."""
    shown = [str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT)) else a for a in args]
    shown = [
        str(Path("..") / Path(a).relative_to(ROOT.parent)) if a.startswith(str(ROOT.parent)) else a
        for a in shown
    ]
    print("$ seqvae " + shlex.join(shown))
    started = time.perf_counter()
    code = cli(args)
    if code != 0:
        raise SystemExit(f"seqvae {' '.join(shown)} exited {code}")
    return time.perf_counter() - started


def baseline_comparison(args, run, run_dir, train_fasta, held_fasta, held, held_weights, training) -> None:
    """The issue's must-show table: VAE prior, VAE top-decile RE_norm region (and, as an extra,
    the top 3 %), site-independent samples and natural training sequences, each judged by
    ``seqvae evaluate-samples`` against the held-out split; then whether the regions steer, and
    the logos and statistics figures."""
    import json

    import pandas as pd

    print("\n-- VAE prior, VAE phenotype regions, site-independent, natural (all via the CLI) --")
    seed = str(args.seed)
    n = str(args.n)
    seconds = {}
    region_fastas = {}
    for expression, stem in REGIONS.items():
        region_fastas[expression] = OUT / f"designs_{stem}.fasta"
        seconds[stem] = seqvae_cli(
            [
                *("generate", str(run_dir), "-n", n, "--seed", seed, "--out", str(region_fastas[expression])),
                *("--region-phenotype", expression, "--phenotypes", str(PHENOTYPES)),
            ]
        )
    baseline_dir = OUT / "site_independent"
    seconds["baseline fit"] = seqvae_cli(
        [
            *("baseline", "fit", str(train_fasta), "--model", "site-independent", "--model-gaps"),
            *("--theta", "0.2", "--out", str(baseline_dir), "--overwrite"),
        ]
    )
    baseline_fasta = OUT / "samples_site_independent.fasta"
    seconds["baseline sample"] = seqvae_cli(
        ["generate", str(baseline_dir), "-n", n, "--seed", seed, "--out", str(baseline_fasta)]
    )
    potts_dir = OUT / "potts"
    seconds["potts fit"] = seqvae_cli(
        [
            *("baseline", "fit", str(train_fasta), "--model", "potts", "--model-gaps"),
            *("--theta", "0.2", "--out", str(potts_dir), "--overwrite"),
        ]
    )
    potts_fasta = OUT / "samples_potts.fasta"
    seconds["potts sample"] = seqvae_cli(
        ["generate", str(potts_dir), "-n", n, "--seed", seed, "--sweeps", "200", "--out", str(potts_fasta)]
    )
    # the ceiling: a finite sample of the true distribution, n training sequences drawn by weight
    natural_fasta = OUT / "natural_training_sample.fasta"
    rng = np.random.default_rng(args.seed + 100)
    pick = np.sort(
        rng.choice(training.n_sequences, size=args.n, replace=False, p=training.weights / training.n_eff)
    )
    sequences = training.sequences()
    write_fasta(natural_fasta, [training.ids[i] for i in pick], [sequences[i] for i in pick])
    sets = {
        "VAE prior": OUT / "designs_prior_T1.fasta",
        "VAE region RE_norm >= q90 (top decile)": region_fastas["RE_norm >= q90"],
        "site-independent": baseline_fasta,
        "Potts (pseudo-likelihood, Gibbs 200 sweeps)": potts_fasta,
        "natural training split (ceiling)": natural_fasta,
        "extra: VAE region RE_norm >= q97": region_fastas["RE_norm >= q97"],
    }
    summaries = {}
    for k, (name, fasta) in enumerate(sets.items()):
        folder = OUT / f"eval_compare_{k}"
        seconds[f"evaluate {k}"] = seqvae_cli(
            [
                *("evaluate-samples", str(fasta), "--reference", str(held_fasta), "--run", str(run_dir)),
                *("--out", str(folder), "--seed", seed, "--r20-sets", str(args.r20_sets), "--no-figures"),
            ]
        )
        summaries[name] = json.loads((folder / "summary.json").read_text())
    print(
        f"\n| set ({args.n:,} sequences each, vs {held.n_sequences} held-out natural) | single-site r | pairwise r "
        "| r20 (mean n = 2…10) | Hamming to nearest training: median | within-set pairwise Hamming: median "
        "| re-decode through the VAE: exact / mean identity |\n|---|---|---|---|---|---|---|"
    )
    for name, s in summaries.items():
        print(
            f"| {name} | {s['single_site_r']:.3f} | {s['pairwise_r']:.3f} | {s['r20_mean']:.3f} | "
            f"{s['design_hamming_to_training_median']:.0f} | {s['design_pairwise_hamming_median']:.0f} | "
            f"{s['design_reconstruction_stability']:.3f} / {s['design_redecode_identity_mean']:.3f} |"
        )
    s = next(iter(summaries.values()))
    print(
        f"held-out natural itself: Hamming to nearest training median {s['reference_hamming_to_training_median']:.0f}, "
        f"pairwise median {s['reference_pairwise_hamming_median']:.0f}, re-decode "
        f"{s['reference_reconstruction_stability']:.3f} / {s['reference_redecode_identity_mean']:.3f}; "
        f"weighting: {s['weighting']}"
    )
    print("seconds:", ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))

    # -- do the regions steer? where each set's nearest training sequences lie -----------------
    re_norm = pd.read_csv(PHENOTYPES, dtype={"id": str}).set_index("id")["RE_norm"]
    selections = {e: gen.select_by_phenotype(training.ids, PHENOTYPES, e) for e in REGIONS}
    all_re = re_norm.reindex(training.ids).to_numpy()
    for expression, selection in selections.items():
        region, _ = gen.region_from_phenotype(run, PHENOTYPES, expression)
        sd = np.sqrt(np.diag(region.covariance))
        print(
            f"region {selection.describe()}; median RE_norm of the selection "
            f"{np.nanmedian(all_re[selection.mask]):.3f}; Gaussian centre "
            f"({', '.join(f'{v:.2f}' for v in region.center)}), sd ({', '.join(f'{v:.2f}' for v in sd)})"
        )
    means, _ = run.encode(training.codes)
    print(
        f"all training latent means: sd ({', '.join(f'{v:.2f}' for v in means.std(axis=0))}); "
        f"{np.isfinite(all_re).sum()} measured, median RE_norm {np.nanmedian(all_re):.3f}"
    )
    for k, name in enumerate(list(sets)):
        per_design = pd.read_csv(
            OUT / f"eval_compare_{k}" / "per_design.csv", dtype={"nearest_training_id": str}
        )
        nearest = per_design["nearest_training_id"]
        nearest_re = re_norm.reindex(nearest).to_numpy()
        shares = ", ".join(
            f"{nearest.isin([training.ids[i] for i in np.flatnonzero(sel.mask)]).mean():.3f} in {e.split()[-1]}"
            for e, sel in selections.items()
        )
        print(
            f"{name}: nearest training sequence {shares}; median RE_norm of the nearest "
            f"{np.nanmedian(nearest_re):.3f}; nearest has RE_norm > -1: {np.nanmean(nearest_re > -1):.3f}"
        )

    # -- each region's designs against the held-out sequences above the same cutoff ---------------
    held_re = re_norm.reindex(held.ids).to_numpy()
    for expression, selection in selections.items():
        held_top = np.isfinite(held_re) & (held_re >= float(selection.cutoff))
        top_weights = compute_sequence_weights(held.codes[held_top], held.alphabet.gap_code, 0.2)
        for name, fasta in (
            ("region designs", region_fastas[expression]),
            ("prior designs", sets["VAE prior"]),
        ):
            ev = se.evaluate_samples(
                run.read_alignment(fasta).codes,
                held.codes[held_top],
                n_codes=held.alphabet.size,
                reference_weights=top_weights,
                r20_sets=args.r20_sets,
                seed=args.seed,
            )
            print(
                f"{name} vs the {int(held_top.sum())} held-out sequences with {expression} "
                f"(RE_norm >= {float(selection.cutoff):.3f}, N_eff {top_weights.sum():.1f}): single-site r "
                f"{ev.summary['single_site_r']:.3f}, pairwise r {ev.summary['pairwise_r']:.3f}, "
                f"r20 {ev.summary['r20_mean']:.3f}"
            )

    # -- figures --------------------------------------------------------------------------------
    logos: dict[str, np.ndarray] = {}
    logo_weights: dict[str, np.ndarray] = {}
    for expression, selection in selections.items():
        label = f"natural {expression.split()[-1]}: {selection.n_selected} training seqs with RE_norm ≥ {float(selection.cutoff):.2f} (weighted)"
        logos[label] = training.codes[selection.mask]
        logo_weights[label] = training.weights[selection.mask]
        logos[f"VAE designs from the region {expression}, T = 1"] = run.read_alignment(
            region_fastas[expression]
        ).codes
    logos["VAE designs from the prior, T = 1"] = run.read_alignment(sets["VAE prior"]).codes
    plot_sequence_logos(
        logos,
        held.alphabet,
        FIGURES / "generation_sh3_region_logos.png",
        weights=logo_weights,
        title="SH3: natural high-RE_norm sequences vs VAE designs from their latent regions",
    )
    full = {}
    for name in (
        "VAE prior",
        "VAE region RE_norm >= q90 (top decile)",
        "site-independent",
        "natural training split (ceiling)",
    ):
        full[name.split(" (")[0]] = se.evaluate_samples(
            run.read_alignment(sets[name]).codes,
            held,
            training=training,
            run=run,
            reference_weights=held_weights,
            r20_sets=args.r20_sets,
            seed=args.seed,
            weighting_note="designs unweighted, held-out reference weighted (theta=0.2 within the held-out set)",
        )
    plot_sample_statistics(
        full,
        FIGURES / "generation_sh3_vae_vs_site_independent.png",
        title=f"SH3: {args.n:,} samples each vs {held.n_sequences} held-out natural sequences (explore preset, z = 2)",
    )


if __name__ == "__main__":
    main()
