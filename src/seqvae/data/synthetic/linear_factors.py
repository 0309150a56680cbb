"""Linear-factor family: k orthonormal directions in R^D mixed with standard-normal weights.

``x = Σ_i α_i u_i + ε`` with ``α_i ~ N(0, 1)`` independent, ``u_i`` orthonormal (the rows of
``U``, drawn from a seeded Gaussian matrix via QR) and optional isotropic noise
``ε ~ N(0, noise_std² I)``. The data span exactly ``k`` directions (plus noise), so a β-VAE
with more than ``k`` latent dimensions should keep ``k`` of them and collapse the rest — the
Sachdeva et al.'s "selective posterior collapse" experiment (6 factors in R^100, 10 latent dimensions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open, write_csv
from seqvae.io.output_dirs import check_output_paths
from seqvae.options import check_integer

__all__ = ["LinearFactors", "simulate_linear_factors", "write_linear_factors"]

WRITE_FORMATS = ("npy", "csv", "both")


@dataclass
class LinearFactors:
    """A simulated linear-factor data set.

    Attributes
    ----------
    x
        Observations ``float32 [N, D]``.
    factors
        The weights ``α``, ``float64 [N, k]``.
    directions
        The orthonormal directions ``U``, ``float64 [k, D]`` (``U Uᵀ = I_k``).
    noise_std
        Standard deviation of the isotropic Gaussian noise added to ``x``.
    seed
        The seed everything was drawn with.
    """

    x: np.ndarray
    factors: np.ndarray
    directions: np.ndarray
    noise_std: float
    seed: int

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_factors(self) -> int:
        return int(self.directions.shape[0])


def simulate_linear_factors(
    n_samples: int = 5000,
    dim: int = 100,
    n_factors: int = 6,
    noise_std: float = 0.0,
    seed: int = 0,
    factor_scales: Sequence[float] | np.ndarray | None = None,
) -> LinearFactors:
    """Draw ``n_samples`` points ``x = Σ_i α_i u_i (+ noise)`` in ``R^dim``.

    Parameters
    ----------
    n_samples
        Number of points N (>= 1).
    dim
        Ambient dimension D (>= 1).
    n_factors
        Number of orthonormal directions k (1 <= k <= D).
    noise_std
        Standard deviation of isotropic Gaussian noise (>= 0; 0 = exactly k-dimensional data).
    seed
        Seeds one ``numpy`` generator used for the directions, the weights and the noise.
    factor_scales
        Standard deviation of each factor, ``α_i ~ N(0, s_i²)`` (default: all 1, Sachdeva et al.'s
        setup). Graded scales give each factor its own collapse point under a β-VAE.

    Returns
    -------
    LinearFactors
        ``x [N, D]``, ``factors`` α ``[N, k]`` and ``directions`` U ``[k, D]``.
    """
    check_integer("n_samples", n_samples, 1)
    check_integer("dim", dim, 1)
    check_integer("n_factors", n_factors, 1)
    if n_factors > dim:
        raise InputError(f"n_factors ({n_factors}) must not exceed dim ({dim})", source="n_factors")
    if not np.isfinite(noise_std) or noise_std < 0:
        raise InputError(f"must be >= 0 (got {noise_std})", source="noise_std")
    check_integer("seed", seed, 0)
    scales = np.ones(n_factors) if factor_scales is None else np.asarray(factor_scales, dtype=np.float64)
    if scales.shape != (n_factors,) or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise InputError(
            f"must be {n_factors} positive numbers, one per factor (got {scales.tolist()})",
            source="factor_scales",
        )
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, n_factors)))
    # fix QR's sign ambiguity so the directions depend on the seed only
    q = q * np.sign(np.diag(r))[None, :]
    directions = np.ascontiguousarray(q.T)
    factors = rng.standard_normal((n_samples, n_factors)) * scales[None, :]
    x = factors @ directions
    if noise_std > 0:
        x = x + noise_std * rng.standard_normal(x.shape)
    return LinearFactors(
        x=x.astype(np.float32),
        factors=factors,
        directions=directions,
        noise_std=float(noise_std),
        seed=int(seed),
    )


def write_linear_factors(data: LinearFactors, prefix: str | Path, format: str = "both") -> list[Path]:
    """Write ``{prefix}_x``, ``{prefix}_factors`` and ``{prefix}_directions`` as NPY and/or CSV.

    Every file is written atomically. CSV columns: ``x_1..x_D``, ``alpha_1..alpha_k`` and
    ``d_1..d_D`` (one row per direction). Returns the paths written.
    """
    if format not in WRITE_FORMATS:
        raise InputError(f"must be one of {WRITE_FORMATS} (got {format!r})", source="format")
    prefix = Path(prefix)
    arrays = {
        "x": (data.x, "x"),
        "factors": (data.factors, "alpha"),
        "directions": (data.directions, "d"),
    }
    suffixes = [suffix for suffix in ("npy", "csv") if format in (suffix, "both")]
    outputs = {
        f"the {n} {x} file": prefix.with_name(f"{prefix.name}_{n}.{x}") for n in arrays for x in suffixes
    }
    check_output_paths(outputs, {}, prefix)
    written: list[Path] = []
    for name, (array, column) in arrays.items():
        if format in ("npy", "both"):
            path = prefix.with_name(f"{prefix.name}_{name}.npy")
            with atomic_open(path, "wb") as handle:
                np.save(handle, array)
            written.append(path)
        if format in ("csv", "both"):
            path = prefix.with_name(f"{prefix.name}_{name}.csv")
            table = pd.DataFrame(array, columns=[f"{column}_{i + 1}" for i in range(array.shape[1])])
            write_csv(path, table, "%.7g")
            written.append(path)
    return written
