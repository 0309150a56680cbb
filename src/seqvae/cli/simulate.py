"""``seqvae simulate``: synthetic families with known ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from seqvae.cli.common import arguments_as_flags, console, parse_number_list, print_json, print_pairs
from seqvae.errors import InputError

simulate_app = typer.Typer(
    name="simulate",
    help="Simulate synthetic families with known ground truth (associative memory, linear factors).",
    no_args_is_help=True,
)

# Python parameter names -> the CLI options users typed, for error messages.
_OPTION_NAMES = {
    "length": "--length",
    "n_letters": "--letters",
    "n_patterns": "--patterns",
    "motifs": "--motifs",
    "beta": "--beta",
    "n_samples": "--samples",
    "n_chains": "--chains",
    "burn_in": "--burn-in",
    "thin": "--thin",
    "pattern_strength": "--pattern-strength",
    "motif_strength": "--motif-strength",
    "init": "--init",
    "seed": "--seed",
    "dim": "--dim",
    "factor_scales": "--factor-scales",
    "n_factors": "--factors",
    "noise_std": "--noise",
    "format": "--format",
}


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")


def parse_motifs(text: str) -> list[tuple[int, int]]:
    """``"5:8,25:6"`` (1-based START:LENGTH) -> ``[(4, 8), (24, 6)]`` (0-based starts).

    ``""`` or ``"none"`` means no motifs.
    """
    text = text.strip()
    if text.lower() in ("", "none"):
        return []
    motifs = []
    for item in text.split(","):
        parts = item.strip().split(":")
        try:
            start, length = (int(p) for p in parts)
        except ValueError:
            raise InputError(
                f"motif {item.strip()!r} is not START:LENGTH (1-based start, e.g. 5:8)", source="--motifs"
            ) from None
        if start < 1:
            raise InputError(f"motif {item.strip()!r}: START is 1-based and must be >= 1", source="--motifs")
        motifs.append((start - 1, length))
    return motifs


@simulate_app.command("associative-memory")
def associative_memory(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output prefix: writes PREFIX.fasta, PREFIX_truth.csv, PREFIX_patterns.npz, PREFIX_mcmc.json.",
        ),
    ] = Path("associative_memory"),
    length: Annotated[int, typer.Option("--length", "-L", help="Sequence length L.")] = 40,
    letters: Annotated[
        int, typer.Option("--letters", "-q", help="Alphabet size q (2-20; the first q protein letters).")
    ] = 10,
    patterns: Annotated[int, typer.Option("--patterns", "-K", help="Number K of long patterns.")] = 4,
    motifs: Annotated[
        str,
        typer.Option(
            "--motifs",
            help="Short motifs as START:LENGTH, comma-separated, 1-based START ('none' for no motifs).",
        ),
    ] = "5:8,25:6",
    beta: Annotated[
        float, typer.Option(help="Inverse temperature β (1 = single-pattern transition; 0 = uniform).")
    ] = 1.2,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Sequences to write.")] = 2500,
    chains: Annotated[int, typer.Option(help="Independent MCMC chains.")] = 100,
    burn_in: Annotated[int, typer.Option("--burn-in", help="Sweeps discarded at the start.")] = 300,
    thin: Annotated[int, typer.Option(help="Sweeps between kept samples.")] = 5,
    pattern_strength: Annotated[float, typer.Option(help="J, weight of the long-pattern term.")] = 1.0,
    motif_strength: Annotated[float, typer.Option(help="h, weight of the short-motif term.")] = 0.5,
    init: Annotated[
        str, typer.Option(help="patterns (chain c starts on pattern c mod K) or random.")
    ] = "patterns",
    seed: Annotated[int, typer.Option(help="The one seed (patterns and chains).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Sample an associative-memory Potts family by Gibbs MCMC (energy and normalisation:
    see seqvae.data.synthetic.associative_memory)."""
    from seqvae.data.synthetic.associative_memory import (
        simulate_associative_memory,
        write_associative_memory,
    )

    with arguments_as_flags(_OPTION_NAMES):
        motif_list = parse_motifs(motifs)
        sample = simulate_associative_memory(
            length=length,
            n_letters=letters,
            n_patterns=patterns,
            motifs=motif_list,
            beta=beta,
            n_samples=samples,
            n_chains=chains,
            burn_in=burn_in,
            thin=thin,
            pattern_strength=pattern_strength,
            motif_strength=motif_strength,
            init=init,
            seed=seed,
        )
    paths = write_associative_memory(sample, out)
    if as_json:
        print_json({**sample.summary.to_dict(), "files": {k: str(v) for k, v in paths.items()}})
        return
    print_pairs("associative-memory MCMC (Gibbs)", sample.summary.rows())
    for kind, path in paths.items():
        console.print(f"wrote {kind}: {path}")


@simulate_app.command("linear-factors")
def linear_factors(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output prefix: writes PREFIX_x, PREFIX_factors and PREFIX_directions (.npy and/or .csv).",
        ),
    ] = Path("linear_factors"),
    samples: Annotated[int, typer.Option("--samples", "-n", help="Number of points N.")] = 5000,
    dim: Annotated[int, typer.Option("--dim", "-D", help="Ambient dimension D.")] = 100,
    factors: Annotated[int, typer.Option("--factors", "-k", help="Number of orthonormal factors k.")] = 6,
    noise: Annotated[float, typer.Option(help="Standard deviation of isotropic Gaussian noise.")] = 0.0,
    seed: Annotated[int, typer.Option(help="The one seed.")] = 0,
    format: Annotated[str, typer.Option(help="npy, csv or both.")] = "both",
    factor_scales: Annotated[
        str | None,
        typer.Option(
            "--factor-scales",
            help="Comma-separated standard deviation of each factor (default all 1), e.g. "
            "4,2.4,1.5,0.9,0.5,0.25 for graded factors that collapse one by one under a β-VAE.",
        ),
    ] = None,
) -> None:
    """Points x = Σ_i α_i u_i (+ noise) with k orthonormal u_i in R^D and α_i ~ N(0, s_i²)."""
    from seqvae.data.synthetic.linear_factors import simulate_linear_factors, write_linear_factors

    with arguments_as_flags(_OPTION_NAMES):
        scales = None
        if factor_scales is not None:
            scales = parse_number_list(factor_scales, "--factor-scales", "factor scales")
        data = simulate_linear_factors(samples, dim, factors, noise, seed, factor_scales=scales)
        paths = write_linear_factors(data, out, format)
    gram = data.directions @ data.directions.T
    rows = [
        ("points × dimensions", f"{data.n_samples} × {data.dim}"),
        ("factors k", str(data.n_factors)),
        ("noise sd", f"{data.noise_std:g}"),
        ("max |U Uᵀ − I|", f"{np.abs(gram - np.eye(data.n_factors)).max():.1e}"),
        ("total variance of x", f"{data.x.var(axis=0).sum():.3f}"),
        ("seed", str(seed)),
    ]
    print_pairs("linear factors", rows)
    for path in paths:
        console.print(f"wrote {path}")
