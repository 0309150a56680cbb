"""``seqvae demo``: a synthetic family, a 2-D VAE and its latent map, in about a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqvae.cli.common import ProgressOpt, console, print_pairs, progress_display


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for everything the demo writes.")] = Path(
        "demo_output"
    ),
    seed: Annotated[int, typer.Option(help="The one seed (simulation and training).")] = 0,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Sequences to simulate.")] = 2500,
    steps: Annotated[int, typer.Option("--steps", help="Training steps.")] = 1000,
    beta: Annotated[float, typer.Option(help="MCMC inverse temperature of the family.")] = 1.2,
    threads: Annotated[
        int, typer.Option(help="torch threads while training (1 is fastest for this small network).")
    ] = 1,
    progress: ProgressOpt = True,
) -> None:
    """Simulate an associative-memory family, train a 2-D VAE on it and draw its latent space
    coloured by nearest pattern (latent.png)."""
    from seqvae.workflows.demo import run_demo

    console.print(
        f"simulating {samples} sequences from an associative-memory family, then training a 2-D VAE "
        f"({steps} steps)"
    )
    result = run_demo(
        out,
        seed=seed,
        n_samples=samples,
        beta=beta,
        max_steps=steps,
        threads=threads,
        progress=progress_display(progress),
    )
    print_pairs(f"seqvae demo: everything is in {result.out_dir}", result.rows(), header=("what", "where"))
    summary = result.sample.summary
    timings = result.timings
    console.print(
        f"MCMC: flip rate {summary.flip_rate:.3f}, energy autocorrelation {summary.energy_autocorrelation_time:.2f} "
        f"sweeps; latent nearest-neighbour agreement with the nearest pattern: "
        f"{result.neighbour_agreement:.3f}\n"
        f"time: simulate {timings['simulate_s']:.1f} s, train {timings['train_s']:.1f} s, "
        f"embed and plot {timings['embed_plot_s']:.1f} s"
    )
