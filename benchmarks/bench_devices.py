"""Training and scoring time on the CPU and, when there is one, on a CUDA device, side by side.

    python benchmarks/bench_devices.py [--steps 100] [--samples 50] [--preset fitness]

Trains the same seeded model for ``--steps`` steps on the BLAT alignment on each device, then
scores the BLAT deep mutational scan (4,807 focus mutants) with the CPU-trained model on each
device, and prints ms/step, mutants/s and the largest score difference against the CPU
(the stated tolerance of ``--device``: 1e-4). Without CUDA it reports the CPU only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description  # noqa: E402
from benchmarks.shared_data import BLAT_ALIGNMENT as ALIGNMENT  # noqa: E402
from benchmarks.shared_data import BLAT_DMS as DMS  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    import seqvae
    from seqvae.analysis.scoring import VAEScorer, score_file
    from seqvae.data.weights import compute_sequence_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--preset", default="fitness")
    parser.add_argument("--alignment", type=Path, default=ALIGNMENT)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(machine_description())
    print(f"devices: {', '.join(devices)}" + ("" if len(devices) > 1 else " (no CUDA device: CPU only)"))
    aln = seqvae.read_alignment(args.alignment)
    config = seqvae.preset_config(args.preset)
    aln.sequence_weights = compute_sequence_weights(aln.codes, aln.alphabet.gap_code, config.data.theta)
    aln.theta = config.data.theta
    print(
        f"{aln.n_sequences} x {aln.length}, N_eff {aln.n_eff:.1f}; preset {args.preset}, {args.steps} steps"
    )
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for device in devices:
            cfg = config.updated(
                {
                    "training.device": device,
                    "training.max_steps": args.steps,
                    "training.eval_every": args.steps,
                    "training.max_time_s": None,
                }
            )
            started = time.perf_counter()
            runs[device] = seqvae.train(aln, cfg, out=Path(folder) / device, progress=False)
            _sync(device)
            seconds = time.perf_counter() - started
            print(f"train {device}: {seconds:.1f} s, {1000 * seconds / args.steps:.0f} ms/step (with set-up)")
        reference = None
        model = runs["cpu"].model
        for device in devices:
            scorer = VAEScorer(model, runs["cpu"].registry, samples=args.samples, seed=0, device=device)
            started = time.perf_counter()
            report = score_file(scorer, DMS, Path(folder) / f"scores_{device}.csv")
            _sync(device)
            seconds = time.perf_counter() - started
            values = pd.read_csv(Path(folder) / f"scores_{device}.csv")["score"].to_numpy()
            line = f"score {device}: {report.n_scored} mutants x {args.samples} samples in {seconds:.1f} s"
            line += f", {report.n_scored / seconds:.0f} mutants/s"
            if reference is None:
                reference = values
            else:
                diff = np.nanmax(np.abs(values - reference))
                line += f"; max |score - CPU score| = {diff:.2e}"
            print(line)


if __name__ == "__main__":
    main()
