"""Cells: does a 2-D latent separate groups of cells, negative binomial vs Gaussian on log counts?

    python benchmarks/bench_counts.py [--seeds 0,1,2] [--hard]

Simulates 2,000 cells x 500 genes in 4 groups from a seeded negative-binomial model with
per-cell library sizes (``seqvae.data.synthetic.counts.simulate_counts``; the setting of
``tests/data/test_counts.py``), trains the same network (encoder 128, decoder 128, z = 2, 400 steps of
batch 128, one thread) with the negative-binomial likelihood on the counts and with a Gaussian
likelihood on log(1 + counts), and prints the 5-fold 15-NN accuracy of the group from the latent
means for each, with the training time. ``--hard`` adds a shallower, weaker setting (median
library ~250 counts, marker log-fold change 0.8) where the two likelihoods can differ.
Runs go to benchmarks/out/counts/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import seqvae  # noqa: E402
from seqvae.analysis.latent import cross_validated_accuracy  # noqa: E402
from seqvae.data.synthetic.counts import simulate_counts  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "counts"
SETTINGS = {
    "model.latent_dim": 2,
    "model.encoder_hidden": [128],
    "model.decoder_hidden": [128],
    "training.max_steps": 400,
    "training.batch_size": 128,
    "training.eval_every": 200,
    "training.log_every": 50,
    "training.early_stopping_patience": None,
    "training.threads": 1,
    "training.device": "cpu",
}
CASES = {
    "test setting": {},
    "hard: shallow, weak markers": {"library_log_mean": 5.5, "log_fold_change": 0.8},
}


def accuracy(name: str, seed: int, simulation: dict) -> dict[str, tuple[float, float]]:
    counts = simulate_counts(n_cells=2000, n_genes=500, n_groups=4, seed=seed, **simulation)
    labels = counts.obs["group"].to_numpy()
    out = {}
    for likelihood in ("negative_binomial", "gaussian"):
        config = seqvae.RunConfig().updated({**SETTINGS, "model.likelihood": likelihood, "seed": seed})
        folder = OUT / f"{name.split(':')[0].replace(' ', '_')}_seed{seed}_{likelihood}"
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        run = seqvae.train(counts, config, out=folder, progress=False)
        elapsed = time.perf_counter() - started
        z = run.embed()[["z_mean_0", "z_mean_1"]].to_numpy()
        value = cross_validated_accuracy(z, labels, folds=5, seed=0, neighbours=15)["accuracy"]
        out[likelihood] = (value, elapsed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--hard", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    cases = CASES if args.hard else {"test setting": {}}
    print("case | seed | NB kNN acc | Gaussian(log1p) kNN acc | NB train s | Gaussian train s")
    for name, simulation in cases.items():
        for seed in seeds:
            result = accuracy(name, seed, simulation)
            (nb, nb_s), (gauss, gauss_s) = result["negative_binomial"], result["gaussian"]
            print(f"{name} | {seed} | {nb:.3f} | {gauss:.3f} | {nb_s:.1f} | {gauss_s:.1f}", flush=True)


if __name__ == "__main__":
    main()
