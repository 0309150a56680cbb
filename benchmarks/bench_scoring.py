"""Scoring throughput: all 4,807 focus mutants of the BLAT DMS with 200 z samples each.

    python benchmarks/bench_scoring.py [--run RUN_DIR] [--samples 200]

Without ``--run`` the model is a freshly initialised VAE of the ``fitness`` preset's shape
(timing does not depend on the weights' values). Prints wall and CPU time, rows decoded per
second, the decoder's achieved GFLOP/s against the machine's peak matmul rate measured in the
same run (``roof.py``), peak resident memory, and the generic path (log-softmax over the
natural [L, 20] layout) on a subset side by side.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from seqvae.analysis.scoring import VAEScorer, load_scorer, score_file  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "blat"
ALIGNMENT = DATA / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
DMS = DATA / "BLAT_ECOLX_Ranganathan2015.csv"


def _fresh_scorer(samples: int) -> VAEScorer:
    import seqvae
    from seqvae.models.vae import VAE

    registry = seqvae.read_alignment(ALIGNMENT).registry
    config = seqvae.preset_config("fitness").model
    config.length = registry.length
    config.alphabet_size = registry.alphabet.size
    torch.manual_seed(0)
    return VAEScorer(VAE(config), registry, samples=samples, seed=0)


def _decoder_flops(scorer: VAEScorer) -> float:
    sizes = [scorer.model.config.latent_dim, *scorer.model.config.decoder_hidden]
    out = scorer.model.decoder_out.weight.shape[0]
    return 2.0 * (sum(a * b for a, b in itertools.pairwise(sizes)) + sizes[-1] * out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    scorer = load_scorer(args.run, samples=args.samples) if args.run else _fresh_scorer(args.samples)
    roof = peak_matmul_gflops()
    with tempfile.TemporaryDirectory() as tmp:
        wall = time.perf_counter()
        cpu = time.process_time()
        report = score_file(scorer, DMS, Path(tmp) / "scores.csv")
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
    rows = report.n_scored * args.samples
    achieved = rows * _decoder_flops(scorer) / wall / 1e9
    # the generic path on a subset, for a side-by-side baseline
    subset = scorer.registry.reference_codes()[None, :].repeat(200, 0)
    subset[:, 10] = (subset[:, 10] + 1) % 20
    scorer._fast = True
    t = time.perf_counter()
    scorer.log_value(torch.from_numpy(subset))
    fast_subset = time.perf_counter() - t
    scorer._fast = False
    t = time.perf_counter()
    scorer.log_value(torch.from_numpy(subset))
    generic_subset = time.perf_counter() - t
    scorer._fast = True
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {machine_description()}")
    print(
        f"model: {'fresh fitness preset' if args.run is None else args.run}, decoder {scorer.model.config.decoder_hidden}"
    )
    print(f"scored {report.n_scored} mutants x {args.samples} samples = {rows} decoder rows")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s, {rows / wall:,.0f} rows/s, peak RSS {peak_mb:.0f} MB")
    print(
        f"decoder {achieved:.1f} GFLOP/s vs peak matmul {roof:.1f} GFLOP/s: {achieved / roof:.2f} of the roof"
    )
    print(
        f"200 variants: state-major fast path {fast_subset:.2f} s vs generic log-softmax path "
        f"{generic_subset:.2f} s ({generic_subset / fast_subset:.2f}x)"
    )


if __name__ == "__main__":
    main()
