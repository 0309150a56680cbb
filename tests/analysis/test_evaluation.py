"""The bootstrap interval of Spearman ρ: each resample's ρ as if ranked on its own."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from seqvae.analysis.evaluation import bootstrap_spearman


def _ranked_one_by_one(predicted, measured, n_bootstrap, seed, block=100):
    """The interval by the definition: draw the resamples as bootstrap_spearman does, rank each."""
    rng = np.random.default_rng(seed)
    n, rho = len(predicted), []
    for start in range(0, n_bootstrap, block):
        for rows in rng.integers(0, n, size=(min(block, n_bootstrap - start), n)):
            with np.errstate(invalid="ignore", divide="ignore"):
                rho.append(spearmanr(predicted[rows], measured[rows]).statistic)
    rho = np.asarray(rho)
    rho = rho[np.isfinite(rho)]
    return np.percentile(rho, 2.5), np.percentile(rho, 97.5)


@pytest.mark.parametrize("ties", [False, True])
def test_the_interval_equals_ranking_every_resample(ties):
    rng = np.random.default_rng(7)
    predicted = rng.normal(size=300)
    measured = 0.5 * predicted + rng.normal(size=300)
    if ties:  # scores and measurements with many equal values, as in scans of binned fitness
        predicted, measured = np.round(predicted, 1), np.round(measured)
    low, high = bootstrap_spearman(predicted, measured, n_bootstrap=250, seed=3)
    expected = _ranked_one_by_one(predicted, measured, 250, seed=3)
    np.testing.assert_allclose([low, high], expected, rtol=0, atol=1e-12)
    assert low < spearmanr(predicted, measured).statistic < high


def test_constant_resamples_are_left_out_and_all_constant_gives_nan():
    low, high = bootstrap_spearman(np.ones(20), np.arange(20.0), n_bootstrap=50)
    assert np.isnan(low) and np.isnan(high)
    # two rows: about half the resamples draw one row twice (constant), the rest give ±1
    low, high = bootstrap_spearman(np.array([0.0, 1.0]), np.array([0.0, 2.0]), n_bootstrap=200)
    assert low == high == 1.0
