"""Scoring throughput and accuracy: variants per second of ``score_file`` for several scorer
settings, against the machine's matmul roof measured in the same run, and the change of
Spearman ρ against the 200-draw float32 reference.

    python benchmarks/bench_scoring.py [--run RUN_DIR] [--dms CSV --score-col COL]
        [--configs 200:iid:float32,20:anti:bfloat16] [--limit N] [--threads 1]

Without ``--run`` the model is a freshly initialised VAE of the ``fitness`` preset's shape on
BLAT (timing does not depend on the weights' values; ρ is then meaningless). Without
``--dms`` the table is the BLAT scan (4,807 focus mutants, column ``2500``). Each setting is
``SAMPLES:iid|anti:float32|bfloat16``; the first is the reference. Prints, per setting, the
wall time, variants/s, the decoder's GFLOP/s as a fraction of the float32 roof, ρ, its change
against the reference and the largest score difference; and the peak resident memory.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from benchmarks.shared_data import BLAT_ALIGNMENT as ALIGNMENT  # noqa: E402
from benchmarks.shared_data import BLAT_DMS as DMS  # noqa: E402
from seqvae.analysis.scoring import VAEScorer, load_scorer, score_file  # noqa: E402

DEFAULT_CONFIGS = "200:iid:float32,20:anti:float32,20:anti:bfloat16"


def _fresh_model():
    import seqvae
    from seqvae.models.vae import VAE

    registry = seqvae.read_alignment(ALIGNMENT).registry
    config = seqvae.preset_config("fitness").model
    config.length = registry.length
    config.alphabet_size = registry.alphabet.size
    torch.manual_seed(0)
    return VAE(config), registry


def _decoder_flops(scorer: VAEScorer) -> float:
    sizes = [scorer.model.config.latent_dim, *scorer.model.config.decoder_hidden]
    out = scorer.model.decoder_out.weight.shape[0]
    return 2.0 * (sum(a * b for a, b in itertools.pairwise(sizes)) + sizes[-1] * out)


def _parse(config: str) -> tuple[int, bool, str]:
    samples, kind, precision = config.split(":")
    return int(samples), kind == "anti", precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--dms", type=Path, default=DMS)
    parser.add_argument("--score-col", default="2500")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N rows")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    roof = peak_matmul_gflops()
    roof_bf16 = peak_matmul_gflops(dtype=torch.bfloat16)
    print(f"machine: {machine_description()}")
    print(f"roof: float32 matmul {roof:.1f} GFLOP/s, bfloat16 {roof_bf16:.1f} GFLOP/s (same run)")
    fresh = None if args.run else _fresh_model()
    with tempfile.TemporaryDirectory() as tmp:
        table = args.dms
        if args.limit:
            table = Path(tmp) / "subset.csv"
            pd.read_csv(args.dms, dtype=str, keep_default_na=False, nrows=args.limit).to_csv(
                table, index=False
            )
        reference = None
        print(f"table: {args.dms} ({'first ' + str(args.limit) + ' rows' if args.limit else 'all rows'})")
        print(
            "| draws | precision | wall s | variants/s | decoder GFLOP/s (of f32 roof) | rho | Δrho | max |Δscore| |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for config in args.configs.split(","):
            samples, antithetic, precision = _parse(config)
            options = {"samples": samples, "antithetic": antithetic, "decoder_precision": precision}
            if args.run:
                scorer = load_scorer(args.run, **options)
            else:
                scorer = VAEScorer(fresh[0], fresh[1], **options)
            wall = time.perf_counter()
            report = score_file(scorer, table, Path(tmp) / "scores.csv", score_column=args.score_col)
            wall = time.perf_counter() - wall
            scores = report.predicted
            gflops = report.n_scored * samples * _decoder_flops(scorer) / wall / 1e9
            rho = report.evaluation.spearman
            if reference is None:
                reference = (scores, rho)
            d_rho = rho - reference[1]
            d_max = float(np.nanmax(np.abs(scores - reference[0])))
            rate = report.n_scored / wall
            name = f"{samples} {'antithetic' if antithetic else 'iid'}"
            print(
                f"| {name} | {precision} | {wall:.1f} | {rate:,.0f} | {gflops:.1f} ({gflops / roof:.2f}) "
                f"| {rho:.4f} | {d_rho:+.4f} | {d_max:.3f} |",
                flush=True,
            )
        print(
            f"rank correlation of the last setting's scores with the reference's: "
            f"{spearmanr(scores, reference[0]).statistic:.5f}"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scored {report.n_scored} of {report.n_rows} rows per setting; peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
