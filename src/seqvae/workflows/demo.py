"""The demo: simulate an associative-memory family, train a 2-D VAE, draw its latent space.

``seqvae demo`` (and ``make demo``) call :func:`run_demo`. Everything it writes lands in one
folder: the family (FASTA, ground truth, patterns, MCMC summary), the run directory, the
embedding joined with the ground truth, and ``latent.png``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.data.synthetic.associative_memory import (
    AssociativeMemorySample,
    simulate_associative_memory,
    write_associative_memory,
)
from seqvae.io.atomic import write_csv
from seqvae.io.output_dirs import check_folder_path
from seqvae.options import check_integer
from seqvae.plots.latent import plot_latent_by_pattern
from seqvae.progress import ProgressLike, progress_argument
from seqvae.report import build_report
from seqvae.run import train
from seqvae.training.config import RunConfig, preset_config
from seqvae.utils import torch_threads

__all__ = ["DemoResult", "demo_config", "run_demo"]

# Sequences whose best overlap is below this are drawn as "no pattern".
PATTERN_OVERLAP_THRESHOLD = 0.5


@dataclass
class DemoResult:
    """What :func:`run_demo` produced, with the paths of everything it wrote."""

    out_dir: Path
    run_dir: Path
    latent_png: Path
    latent_csv: Path
    report_html: Path
    family_files: dict[str, Path]
    sample: AssociativeMemorySample
    embedding: pd.DataFrame
    neighbour_agreement: float
    timings: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        """(what, where) pairs for the printed table."""
        return [
            ("family (aligned FASTA)", str(self.family_files["fasta"])),
            ("ground truth per sequence (CSV)", str(self.family_files["truth"])),
            ("patterns and motifs (NPZ)", str(self.family_files["patterns"])),
            ("MCMC summary (JSON)", str(self.family_files["mcmc"])),
            ("trained run directory", str(self.run_dir)),
            ("embedding + ground truth (CSV)", str(self.latent_csv)),
            ("latent space picture (PNG)", str(self.latent_png)),
            ("report (self-contained HTML)", str(self.report_html)),
        ]


def demo_config(max_steps: int = 1000, seed: int = 0) -> RunConfig:
    """The demo's training config: the ``explore`` preset (2-D latent), unweighted, short.

    Sequence weights are switched off (θ = null): MCMC samples are not phylogenetically
    redundant, and the clusters are tight enough that θ = 0.2 would weigh each cluster as
    roughly one sequence.
    """
    return preset_config("explore").updated(
        {
            "data.theta": None,
            "model.warmup_steps": min(500, max(1, max_steps // 4)),
            "training.max_steps": max_steps,
            "training.max_time_s": 150.0,
            "training.eval_every": max(1, min(250, max_steps // 4)),
            "training.log_every": max(1, min(50, max_steps // 10)),
            "training.checkpoint_every": max(1, max_steps // 2),
            "seed": seed,
        }
    )


def run_demo(
    out_dir: str | Path = "demo_output",
    seed: int = 0,
    n_samples: int = 2500,
    length: int = 40,
    n_letters: int = 10,
    n_patterns: int = 4,
    beta: float = 1.2,
    max_steps: int = 1000,
    threads: int | None = 1,
    progress: ProgressLike = None,
    *,
    show_progress: bool | None = None,
) -> DemoResult:
    """Simulate a family, train a 2-D VAE on it, embed it and draw the latent means.

    Parameters
    ----------
    out_dir
        Folder for everything (created; an earlier demo's files in it are replaced).
    seed
        Seeds the simulation and the training.
    n_samples, length, n_letters, n_patterns, beta
        The associative-memory family (two short motifs are added; see
        :func:`seqvae.data.synthetic.associative_memory.simulate_associative_memory`).
    max_steps
        Training steps (the ``explore`` preset otherwise).
    threads
        torch intra-op threads while training (restored afterwards); ``None`` leaves torch's
        setting. The network is small: one thread is about as fast as two on an idle machine
        and many times faster on a busy one, where threads wait on each other.
    progress
        Where training reports its progress, as in :func:`seqvae.train` (``show_progress``:
        its former name, deprecated).
    """
    progress = progress_argument(progress, show_progress)

    check_integer("max_steps", max_steps, 1)
    if threads is not None:
        check_integer("threads", threads, 1)
    out_dir = Path(out_dir)
    check_folder_path(out_dir)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    motifs = [(length // 8, max(1, length // 5)), (length // 2 + length // 8, max(1, length // 7))]
    sample = simulate_associative_memory(
        length=length,
        n_letters=n_letters,
        n_patterns=n_patterns,
        motifs=motifs,
        beta=beta,
        n_samples=n_samples,
        n_chains=min(100, n_samples),
        init="patterns",
        seed=seed,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    family_files = write_associative_memory(sample, out_dir / "family")
    timings["simulate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    with torch_threads(threads):
        run = train(
            sample.alignment,
            demo_config(max_steps, seed),
            out=out_dir / "run",
            overwrite=True,
            progress=progress,
        )
    timings["train_s"] = time.perf_counter() - started

    started = time.perf_counter()
    embedding = run.embed(sample.alignment)
    truth = sample.truth.drop(columns=["id"])
    joined = pd.concat([embedding.reset_index(drop=True), truth.reset_index(drop=True)], axis=1)
    latent_csv = out_dir / "latent.csv"
    write_csv(latent_csv, joined, "%.6g")
    pattern_means, _ = run.encode(sample.model.long_patterns)
    latent_png = plot_latent_by_pattern(
        joined[["z_mean_0", "z_mean_1"]].to_numpy(),
        pattern_labels(joined),
        out_dir / "latent.png",
        unassigned_label=f"no pattern, overlap < {PATTERN_OVERLAP_THRESHOLD}",
        pattern_means=pattern_means,
        title=(
            f"2-D VAE latent space of an associative-memory family\n"
            f"L={length}, q={n_letters}, K={n_patterns} patterns, MCMC β={beta:g}, "
            f"{len(joined)} sequences"
        ),
    )
    agreement = nearest_neighbour_agreement(joined)
    timings["embed_plot_s"] = time.perf_counter() - started

    started = time.perf_counter()
    report_html = build_report(
        run.path,
        out_dir / "report.html",
        phenotypes=latent_csv,
        color=["nearest_pattern", "energy"],
    )
    timings["report_s"] = time.perf_counter() - started
    return DemoResult(
        out_dir=out_dir,
        run_dir=run.path,
        latent_png=latent_png,
        latent_csv=latent_csv,
        report_html=report_html,
        family_files=family_files,
        sample=sample,
        embedding=joined,
        neighbour_agreement=agreement,
        timings=timings,
    )


def pattern_labels(table: pd.DataFrame) -> np.ndarray:
    """Nearest pattern per sequence, 0 where the best overlap is below the threshold."""
    labels = table["nearest_pattern"].to_numpy().copy()
    labels[table["nearest_overlap"].to_numpy() < PATTERN_OVERLAP_THRESHOLD] = 0
    return labels


def nearest_neighbour_agreement(table: pd.DataFrame) -> float:
    """Fraction of sequences whose nearest other point in latent space has the same nearest
    pattern (a number for "the patterns separate"; chance ≈ Σ share²)."""
    from sklearn.neighbors import NearestNeighbors

    z = table[["z_mean_0", "z_mean_1"]].to_numpy()
    labels = pattern_labels(table)
    if len(z) < 2:
        return float("nan")
    _, index = NearestNeighbors(n_neighbors=2).fit(z).kneighbors(z)
    return float((labels[index[:, 1]] == labels).mean())
