"""The DMS panel (BLAT, avGFP, PDZ3) × seeds through ``seqvae batch``: local pool vs Ray.

    python benchmarks/bench_batch_panel.py --out DIR [--seeds 3] [--jobs 2] [--steps N] [--no-ray]

Writes ``benchmarks/panel.yaml`` (a manifest) with the batch's model settings, runs it with the ``local``
backend (``--jobs``), then the same manifest on a local Ray cluster (loopback only), and prints
each wall time beside the sum of the tasks' own seconds (the time of running them one after
another), the ensemble ρ per protein, and whether the two backends' summaries and score files
are identical. ``--steps`` shortens training (default: the ``fitness`` preset's 1,500 steps).
Rerunning with the same ``--out`` reuses finished tasks (so delete it to time again).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description  # noqa: E402

TIMES = ["prepare_s", "train_s", "score_s", "report_s"]


def write_manifest(folder: Path, seeds: int, steps: int | None, samples: int) -> Path:
    """``benchmarks/panel.yaml`` (a manifest) with the batch's model settings added."""
    panel = ROOT / "benchmarks" / "panel.yaml"
    manifest = yaml.safe_load(panel.read_text(encoding="utf-8"))
    overrides = {"training.threads": 1, "training.device": "cpu"}
    if steps is not None:
        overrides["training.max_steps"] = steps
    manifest.update(
        root=str((panel.parent / manifest.get("root", ".")).resolve()),
        preset="fitness",
        seeds=list(range(seeds)),
        samples=samples,
        report=False,
        overrides=overrides,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "panel_batch.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return path


def _scores(out: Path) -> dict[str, pd.DataFrame]:
    return {str(p.relative_to(out)): pd.read_csv(p) for p in sorted(out.glob("*/scores/*.csv"))}


def main() -> None:
    from seqvae.executor import make_executor
    from seqvae.workflows.batch import run_batch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    print(machine_description(), flush=True)
    manifest = write_manifest(args.out, args.seeds, args.steps, args.samples)
    backends = [("local", f"local --jobs {args.jobs}")]
    if not args.no_ray:
        backends.append(("ray", f"ray --jobs {args.jobs}"))
    results = {}
    for backend, label in backends:
        out = args.out / backend
        started = time.perf_counter()
        result = run_batch(manifest, out, executor=make_executor(backend, args.jobs))
        wall = time.perf_counter() - started
        results[backend] = (result, out)
        print(
            f"{label}: {result.info['n_tasks']} tasks ({result.info['n_skipped']} already done, "
            f"{len(result.failures)} failed), {wall:.0f} s wall; the tasks' own seconds add up to "
            f"{result.summary[TIMES].sum().sum():.0f} s (one after another)",
            flush=True,
        )
        print(result.summary.to_string(index=False), flush=True)
    if len(results) == 2:
        (first, out_a), (second, out_b) = results["local"], results["ray"]
        same_summary = first.summary.drop(columns=TIMES).equals(second.summary.drop(columns=TIMES))
        scores_a, scores_b = _scores(out_a), _scores(out_b)
        same_scores = scores_a.keys() == scores_b.keys() and all(
            scores_a[k].equals(scores_b[k]) for k in scores_a
        )
        print(f"ray vs local: summary identical {same_summary}, score files identical {same_scores}")


if __name__ == "__main__":
    main()
