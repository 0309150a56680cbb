"""Sequence weights for the full BLAT alignment (8,355 x 253, theta = 0.2).

Side by side, in one process:
  seqvae       compute_sequence_weights (exact integer thresholds, symmetric blocks, bfloat16
               one-hot products where the CPU has a bfloat16 matmul)
  dense f32    the plain approach: one float32 one-hot matrix of the whole alignment, one
               N x N product, divide and compare (memory O(N^2))
  EVE loop     one matrix-vector product per sequence in float64 (EVE's algorithm), timed on
               a subset and extrapolated to N
and the roofs measured in the same run: the peak float32 and bfloat16 matmul rates.

Usage: python benchmarks/bench_weights.py [--repeats 3] [--eve-rows 200]
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

from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from seqvae import read_alignment  # noqa: E402
from seqvae.data.weights import compute_sequence_weights, fast_exact_dtype  # noqa: E402

BLAT = (
    ROOT.parent
    / "shared"
    / "data"
    / "blat"
    / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
)
THETA = 0.2


def best_time(function, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def dense_float32(codes: np.ndarray, gap: int) -> np.ndarray:
    """The whole one-hot matrix and the whole N x N identity matrix at once."""
    n, length = codes.shape
    one_hot = torch.eye(gap + 1, gap)[torch.from_numpy(codes).long()].reshape(n, length * gap)
    matches = one_hot @ one_hot.T
    nongap = (torch.from_numpy(codes) != gap).sum(dim=1).clamp(min=1).double()
    neighbours = (matches.double() / nongap[:, None] > 1 - THETA).sum(dim=1)
    return (1.0 / neighbours.clamp(min=1).double()).numpy()


def eve_loop(codes: np.ndarray, gap: int, rows: np.ndarray) -> np.ndarray:
    """EVE's algorithm: a float64 one-hot matrix, one matrix-vector product per sequence."""
    n, length = codes.shape
    one_hot = np.eye(gap + 1, gap)[codes].reshape(n, length * gap)  # float64, as EVE
    weights = np.empty(len(rows))
    for k, i in enumerate(rows):
        seq = one_hot[i]
        denominator = np.dot(one_hot, seq) / max(np.dot(seq, seq), 1.0)
        weights[k] = 1.0 / max(np.sum(denominator > 1 - THETA), 1)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eve-rows", type=int, default=200)
    args = parser.parse_args()
    if not BLAT.exists():
        sys.exit(f"missing {BLAT}")

    aln = read_alignment(BLAT)
    codes, gap = aln.codes, aln.alphabet.gap_code
    n, length = codes.shape
    print(f"BLAT: {n} x {length}, theta {THETA}; {machine_description()}")
    peak_f32 = peak_matmul_gflops()
    peak_bf16 = peak_matmul_gflops(dtype=torch.bfloat16)
    print(f"roof: peak matmul float32 {peak_f32:.0f} GFLOP/s, bfloat16 {peak_bf16:.0f} GFLOP/s")

    seconds, weights = best_time(lambda: compute_sequence_weights(codes, gap, THETA), args.repeats)
    # the symmetric product does half of the 2 N^2 L q multiply-adds of the full one
    flops = float(n) * n * length * gap
    dtype = fast_exact_dtype()
    roof = peak_bf16 if dtype == torch.bfloat16 else peak_f32
    print(
        f"seqvae      {seconds:7.2f} s   N_eff {weights.sum():.3f}   {flops / seconds / 1e9:5.0f} GFLOP/s "
        f"= {flops / seconds / 1e9 / roof:.0%} of the {str(dtype).removeprefix('torch.')} roof"
    )

    dense_seconds, dense = best_time(lambda: dense_float32(codes, gap), 1)
    dense_flops = 2.0 * n * n * length * gap
    print(
        f"dense f32   {dense_seconds:7.2f} s   N_eff {dense.sum():.3f}   "
        f"{dense_flops / dense_seconds / 1e9:5.0f} GFLOP/s = {dense_flops / dense_seconds / 1e9 / peak_f32:.0%} "
        f"of the float32 roof; {dense_seconds / seconds:.1f}x the seqvae time"
    )

    rows = np.random.default_rng(0).choice(n, size=min(args.eve_rows, n), replace=False)
    start = time.perf_counter()
    eve = eve_loop(codes, gap, rows)
    eve_seconds = (time.perf_counter() - start) / len(rows) * n
    print(
        f"EVE loop    {eve_seconds:7.1f} s   (extrapolated from {len(rows)} sequences)   "
        f"{eve_seconds / seconds:.0f}x the seqvae time"
    )
    same = np.array_equal(weights, dense) and np.array_equal(weights[rows], eve)
    print(f"identical weights in all three: {same}")


if __name__ == "__main__":
    main()
