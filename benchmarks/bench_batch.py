"""``seqvae batch`` wall time: the same small manifest one task after another, then ``--jobs 2``.

    python benchmarks/bench_batch.py [--steps 200] [--seeds 3] [--jobs 2] [--ray]

Families: the 46-sequence BLAT test alignment with a 1,000-mutant slice of its scan, and the
avGFP alignment (996 × 214, no scan here). Each family × seed is trained for ``--steps`` steps
of the ``explore`` preset, then scored with the family's ensemble. Prints the wall time of
each backend and checks that their summaries and scores are identical. (The full BLAT/avGFP/PDZ3
× 3 seeds panel with the fitness preset is hours of CPU; this one fits a shared 2-core machine.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TIMES = ["prepare_s", "train_s", "score_s", "report_s"]


def _manifest(folder: Path, steps: int, seeds: int) -> Path:
    scan = pd.read_csv(DATA / "blat" / "BLAT_ECOLX_Ranganathan2015.csv").iloc[:1000]
    scan[["mutant", "2500"]].to_csv(folder / "blat_scan.csv", index=False)
    manifest = {
        "preset": "explore",
        "seeds": list(range(seeds)),
        "samples": 20,
        "report": False,
        "overrides": {"training.max_steps": steps, "training.eval_every": 100, "training.device": "cpu"},
        "families": [
            {
                "name": "blat_small",
                "alignment": str(DATA / "blat" / "BLAT_ECOLX_test.a2m"),
                "scans": [{"name": "stiffler", "file": "blat_scan.csv", "score_column": "2500"}],
            },
            {"name": "avgfp", "alignment": str(DATA / "avgfp" / "uref100_avgfp_jhmmer_119.a2m")},
        ],
    }
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


def main() -> None:
    from seqvae.executor import make_executor
    from seqvae.workflows.batch import run_batch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--ray", action="store_true", help="Also run on a local Ray cluster.")
    args = parser.parse_args()
    print(machine_description())
    with tempfile.TemporaryDirectory() as folder:
        manifest = _manifest(Path(folder), args.steps, args.seeds)
        backends = [("sequential", "local", 1), (f"local --jobs {args.jobs}", "local", args.jobs)]
        if args.ray:
            backends.append((f"ray --jobs {args.jobs}", "ray", args.jobs))
        summaries = {}
        for label, backend, jobs in backends:
            out = Path(folder) / label.replace(" ", "_")
            started = time.perf_counter()
            result = run_batch(manifest, out, executor=make_executor(backend, jobs))
            wall = time.perf_counter() - started
            summaries[label] = (result.summary.drop(columns=TIMES), out)
            print(
                f"{label}: {result.info['n_tasks']} tasks, {len(result.failures)} failed, {wall:.1f} s wall"
            )
        first, out0 = summaries["sequential"]
        scores0 = pd.read_csv(out0 / "blat_small" / "scores" / "stiffler.csv")
        for label, (summary, out) in summaries.items():
            same = summary.equals(first) and pd.read_csv(
                out / "blat_small" / "scores" / "stiffler.csv"
            ).equals(scores0)
            print(f"{label}: summary and scores identical to sequential: {same}")
        print(first.to_string(index=False))


if __name__ == "__main__":
    main()
