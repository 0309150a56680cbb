"""Synthetic count matrices: groups of cells drawn from a negative-binomial model.

Each group has its own gene-expression profile: a shared baseline of log-proportions plus,
for a random subset of genes per group, a fold change up or down. Each cell gets a library
size (log-normal) and its counts are drawn as NB(μ = library × proportion, θ_gene), via the
Gamma–Poisson mixture. The group of each cell is the ground truth a 2-D latent should separate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from seqvae.data.counts import CountMatrix, count_matrix


def simulate_counts(
    n_cells: int = 2000,
    n_genes: int = 500,
    n_groups: int = 4,
    seed: int = 0,
    marker_fraction: float = 0.1,
    log_fold_change: float = 1.5,
    library_log_mean: float = 7.5,
    library_log_sd: float = 0.5,
    dispersion_range: tuple[float, float] = (0.5, 10.0),
) -> CountMatrix:
    """Counts ``[n_cells, n_genes]`` of ``n_groups`` groups from a seeded negative-binomial model.

    Parameters
    ----------
    n_cells, n_genes, n_groups
        Size and number of groups (cells are split as evenly as possible).
    seed
        The one seed (profiles, library sizes, counts).
    marker_fraction
        Fraction of genes shifted in each group.
    log_fold_change
        Size of each shift in natural-log units (up or down at random).
    library_log_mean, library_log_sd
        Library sizes are log-normal with these parameters (e^7.5 ≈ 1,800 counts per cell).
    dispersion_range
        Inverse dispersions θ are log-uniform in this range (smaller θ, noisier gene).

    Returns
    -------
    CountMatrix
        Sparse counts; ``obs`` has the columns ``group`` (``g0``, ``g1``, …) and
        ``library_size`` (the simulated, expected library size).
    """
    rng = np.random.default_rng(seed)
    baseline = rng.normal(0.0, 1.0, n_genes)
    profiles = np.tile(baseline, (n_groups, 1))
    n_markers = max(1, int(round(marker_fraction * n_genes)))
    for g in range(n_groups):
        markers = rng.choice(n_genes, n_markers, replace=False)
        profiles[g, markers] += log_fold_change * rng.choice([-1.0, 1.0], n_markers)
    proportions = np.exp(profiles - profiles.max(axis=1, keepdims=True))
    proportions /= proportions.sum(axis=1, keepdims=True)
    groups = np.arange(n_cells) % n_groups
    rng.shuffle(groups)
    library = np.exp(rng.normal(library_log_mean, library_log_sd, n_cells))
    low, high = np.log(dispersion_range[0]), np.log(dispersion_range[1])
    theta = np.exp(rng.uniform(low, high, n_genes))
    mean = library[:, None] * proportions[groups]
    rate = rng.gamma(theta[None, :], mean / theta[None, :])
    counts = rng.poisson(rate)
    obs = pd.DataFrame(
        {"group": [f"g{g}" for g in groups], "library_size": np.round(library, 1)},
        index=[f"cell{i}" for i in range(n_cells)],
    )
    return count_matrix(
        sparse.csr_matrix(counts),
        cells=list(obs.index),
        genes=[f"gene{j}" for j in range(n_genes)],
        obs=obs,
        source="<simulated counts>",
    )
