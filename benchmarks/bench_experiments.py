"""The four built-in experiments from their shipped configs, timed, with their tables and figures.

    nice python benchmarks/bench_experiments.py [NAME ...] [--jobs 2] [--summarise-only]

Runs ``seqvae experiment NAME --jobs 2`` for each experiment (all four by default) in a child
process into benchmarks/out/experiments/NAME (removed first: every run starts from scratch), and reports its wall time, the CPU time of all its
processes (user + system, from the kernel's accounting of waited-for children) and the share of
the two cores it got (CPU / (wall × 2)), beside the peak float32 matmul rate measured on one
thread just before (benchmarks/roof.py) — on a shared machine the roof shows how contended the
cores were. Then prints each experiment's summary table (means over seeds, markdown) and copies
its figures, palette-compressed, to docs/figures/experiments/. ``--summarise-only`` skips the
runs and reads the timings from each folder's run_info.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from seqvae.experiments import EXPERIMENTS, get_experiment  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "experiments"
FIGURES = ROOT / "docs" / "figures" / "experiments"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(name: str, jobs: int) -> dict:
    """Run one experiment from scratch (its folder is removed first) and time it."""
    import shutil

    shutil.rmtree(OUT / name, ignore_errors=True)
    torch.set_num_threads(1)
    roof = peak_matmul_gflops(size=1024, repeats=3)
    command = [
        sys.executable,
        "-m",
        "seqvae.cli.main",
        "experiment",
        name,
        "--out",
        str(OUT / name),
        "--jobs",
        str(jobs),
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    started, cpu_started = time.perf_counter(), _children_cpu()
    completed = subprocess.run(command, env=env, cwd=ROOT, check=False)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu_started
    if completed.returncode != 0:
        raise SystemExit(f"{name}: exit code {completed.returncode}")
    return {"wall": wall, "cpu": cpu, "roof": roof}


def compress_png(source: Path, target: Path) -> Path:
    """Copy a figure as a 256-colour palette PNG (a fraction of the size, same look)."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


def markdown(table: pd.DataFrame) -> str:
    """A pipe table (3 significant digits for floats)."""

    def cell(value) -> str:
        if isinstance(value, float):
            return "-" if value != value else f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def summarise(name: str, timing: dict | None) -> None:
    folder = OUT / name
    info = json.loads((folder / "run_info.json").read_text())
    table = pd.read_csv(folder / "results.csv")
    finished = table[table["status"] == "finished"]
    print(f"\n## {name}: {info['n_points']} models, {info['n_failed']} failed")
    if timing is not None:
        share = timing["cpu"] / (timing["wall"] * 2)
        print(
            f"wall {timing['wall']:.0f} s, CPU {timing['cpu']:.0f} s (all processes), CPU / (wall × 2 cores) = "
            f"{share:.2f}; roof just before: {timing['roof']:.1f} GFLOP/s (1 thread)"
        )
    else:
        print(f"run_info.json: wall {info['wall_seconds']:.0f} s, CPU {info['cpu_seconds']:.0f} s")
    summary = get_experiment(name).summarise(finished)
    print(markdown(summary))
    for figure in info["figures"]:
        target = compress_png(folder / figure, FIGURES / Path(figure).name)
        print(f"figure: {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"experiments to run (default: all of {list(EXPERIMENTS)})")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--summarise-only", action="store_true")
    args = parser.parse_args()
    names = args.names or list(EXPERIMENTS)
    unknown = sorted(set(names) - set(EXPERIMENTS))
    if unknown:
        parser.error(f"unknown experiment {unknown[0]!r}; choose from {list(EXPERIMENTS)}")
    print(f"machine: {machine_description()}, {os.cpu_count()} cores, load average {os.getloadavg()}")
    for name in names:
        timing = None if args.summarise_only else run(name, args.jobs)
        summarise(name, timing)


if __name__ == "__main__":
    main()
