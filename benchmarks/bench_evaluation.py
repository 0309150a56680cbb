"""The bootstrap interval of Spearman ρ (1,000 resamples), at the sizes of the panel's scans.

Side by side, in one process, on the same resamples:
  seqvae       bootstrap_spearman: each resample held as how often it draws each row, its ranks
               from the rows' one sort order, ρ as the count-weighted Pearson r of the ranks
  rank each    the definition: scipy's rankdata over every resample (ties averaged), then the
               Pearson r of the ranks, in blocks of 100 resamples
Both give the same interval (checked); the figures are wall seconds, best of ``--repeats``.

Usage: python benchmarks/bench_evaluation.py [--sizes 1500,4807,35545] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description  # noqa: E402
from seqvae.analysis.evaluation import bootstrap_spearman  # noqa: E402


def rank_each(predicted, measured, n_bootstrap=1000, seed=0, block=100):
    """The interval by ranking every resample (the same draws as bootstrap_spearman)."""
    rng = np.random.default_rng(seed)
    n, values = len(predicted), []
    for start in range(0, n_bootstrap, block):
        index = rng.integers(0, n, size=(min(block, n_bootstrap - start), n))
        a = rankdata(predicted[index], axis=1)
        b = rankdata(measured[index], axis=1)
        a -= a.mean(axis=1, keepdims=True)
        b -= b.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            values.append((a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1)))
    rho = np.concatenate(values)
    rho = rho[np.isfinite(rho)]
    return float(np.percentile(rho, 2.5)), float(np.percentile(rho, 97.5))


def best_time(function, repeats, *args):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1500,4807,35545")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine_description())
    print("| scored rows | seqvae s | rank each s | speed-up | same interval |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in (int(size) for size in args.sizes.split(",")):
        predicted = np.round(rng.normal(size=n), 2)  # ties, as in scores of a scan
        measured = np.round(0.7 * predicted + rng.normal(size=n), 1)
        fast, interval = best_time(bootstrap_spearman, args.repeats, predicted, measured)
        slow, expected = best_time(rank_each, args.repeats, predicted, measured)
        same = bool(np.allclose(interval, expected, rtol=0, atol=1e-12))
        print(f"| {n:,} | {fast:.2f} | {slow:.2f} | {slow / fast:.1f}x | {same} |")


if __name__ == "__main__":
    main()
