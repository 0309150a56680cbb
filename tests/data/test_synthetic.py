"""Synthetic families: the associative-memory Gibbs sampler, linear factors, their files and
CLI, and Sachdeva et al.'s selective posterior collapse on linear factors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

import seqvae
from seqvae.cli.main import main
from seqvae.data.synthetic.associative_memory import (
    Motif,
    critical_scale,
    gelman_rubin,
    integrated_autocorrelation_time,
    load_patterns,
    make_model,
    sample_associative_memory,
    simulate_associative_memory,
    write_associative_memory,
)
from seqvae.data.synthetic.linear_factors import simulate_linear_factors, write_linear_factors
from seqvae.errors import InputError


@pytest.fixture
def one_thread():
    """Small networks train many times faster on one thread on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- associative memory: the model ------------------------------------------------------------
def _one_hot(codes: np.ndarray, q: int) -> np.ndarray:
    return np.eye(q)[codes]


def test_energy_matches_the_documented_formula():
    """E from match counts equals the docstring's formula written with one-hot dot products."""
    rng = np.random.default_rng(3)
    model = make_model(12, 5, 3, [(1, 4), (7, 3)], pattern_strength=1.3, motif_strength=0.7, rng=4)
    codes = rng.integers(0, 5, size=(50, 12))
    q, length = 5, 12
    one_hot = _one_hot(codes, q)  # [N, L, q]
    long_term = 0.0
    for pattern in model.long_patterns:
        dot = (one_hot * _one_hot(pattern, q)[None]).sum(axis=(1, 2))  # S·ξ_long
        m = (q * dot / length - 1) / (q - 1)
        long_term = long_term + 1.3 * length / 2 * m**2
    motif_term = 0.0
    for motif, letters in zip(model.motifs, model.motif_letters):
        xi = np.zeros((length, q))
        xi[np.arange(motif.start, motif.start + motif.length), letters] = 1
        dot = (one_hot * xi[None]).sum(axis=(1, 2))  # S·ξ_short
        s = (q * dot / motif.length - 1) / (q - 1)
        motif_term = motif_term + 0.7 * motif.length * s
    expected = -critical_scale(q) * (motif_term + long_term)
    np.testing.assert_allclose(model.energy(codes), expected, rtol=1e-12)
    # the pattern itself has overlap 1 with itself
    m, _ = model.overlaps(model.long_patterns)
    np.testing.assert_allclose(np.diag(m), 1.0)


def test_critical_scale_puts_mean_field_transition_at_beta_one():
    """Large-L single-pattern free energy: the ordered and disordered minima are equal at β=1."""
    from scipy.special import gammaln

    for q in (3, 10, 20):
        length = 4000
        counts = np.arange(length + 1)
        log_states = (gammaln(length + 1) - gammaln(counts + 1) - gammaln(length - counts + 1)) + (
            length - counts
        ) * np.log(q - 1)
        m = (q * counts / length - 1) / (q - 1)

        def ordered_minus_disordered(beta, m=m, log_states=log_states, q=q, length=length):
            free = -(log_states + beta * critical_scale(q) * length / 2 * m**2) / length
            return free[m > 0.5].min() - free[m < 0.25].min()

        assert ordered_minus_disordered(0.97) > 0 > ordered_minus_disordered(1.03)
    assert critical_scale(2) == 1.0


def test_gibbs_sampler_matches_exact_distribution():
    """On a 3-site, 3-letter system the sampled frequencies match exact enumeration."""
    model = make_model(3, 3, 2, [(1, 2)], pattern_strength=1.0, motif_strength=0.6, rng=1)
    beta = 1.4
    sample = sample_associative_memory(
        model, beta, n_samples=30000, n_chains=3000, burn_in=10, thin=2, init="random", seed=5
    )
    states = np.array(list(itertools.product(range(3), repeat=3)))
    weights = np.exp(-beta * model.energy(states))
    exact = weights / weights.sum()
    index = (sample.alignment.codes.astype(np.int64) * np.array([9, 3, 1])).sum(axis=1)
    empirical = np.bincount(index, minlength=27) / len(index)
    total_variation = 0.5 * np.abs(empirical - exact).sum()
    assert total_variation < 0.02, total_variation


def test_energy_decreases_then_equilibrates():
    sample = simulate_associative_memory(
        length=40,
        n_letters=10,
        n_patterns=3,
        motifs=[(4, 6)],
        beta=1.5,
        n_samples=600,
        n_chains=30,
        burn_in=100,
        thin=5,
        init="random",
        seed=2,
    )
    trace = sample.energy_trace.mean(axis=1)
    post = trace[100:]
    assert trace[0] > post.mean() + 10 * post.std() / np.sqrt(len(post))
    first, second = np.array_split(post, 2)
    spread = sample.energy_trace[100:].std() / np.sqrt(sample.energy_trace[100:].size / 10)
    assert abs(first.mean() - second.mean()) < 5 * spread + 0.5
    assert sample.summary.energy_autocorrelation_time < 20
    assert sample.summary.flip_rate < 0.2  # at β = 1.5 sequences sit near their pattern


def test_high_beta_concentrates_near_patterns():
    sample = simulate_associative_memory(
        length=40, n_letters=8, n_patterns=3, beta=2.0, n_samples=300, n_chains=30, init="random", seed=1
    )
    truth = sample.truth
    assert (truth["nearest_overlap"] > 0.8).mean() > 0.95
    # the nearest pattern is, letter by letter, what most positions carry
    model = sample.model
    nearest = model.long_patterns[truth["nearest_pattern"].to_numpy() - 1]
    identity = (sample.alignment.codes == nearest).mean(axis=1)
    assert identity.mean() > 0.85
    # energies in the table are the model's energies of the written sequences
    np.testing.assert_allclose(truth["energy"], model.energy(sample.alignment.codes))


def test_beta_zero_gives_uniform_sequences():
    q = 6
    sample = simulate_associative_memory(
        length=30, n_letters=q, n_patterns=2, beta=0.0, n_samples=3000, n_chains=100, burn_in=5, seed=0
    )
    codes = sample.alignment.codes
    frequencies = np.stack([(codes == a).mean(axis=0) for a in range(q)])  # [q, L]
    standard_error = np.sqrt((1 / q) * (1 - 1 / q) / len(codes))
    assert np.abs(frequencies - 1 / q).max() < 5 * standard_error
    assert sample.summary.flip_rate == pytest.approx((q - 1) / q, abs=0.01)
    assert abs(sample.truth["overlap_long_1"].mean()) < 0.02


def test_same_seed_same_family_other_seed_different():
    kwargs = dict(length=20, n_letters=5, n_patterns=2, motifs=[(0, 4)], n_samples=80, n_chains=8, burn_in=30)
    a = simulate_associative_memory(seed=7, **kwargs)
    b = simulate_associative_memory(seed=7, **kwargs)
    c = simulate_associative_memory(seed=8, **kwargs)
    assert np.array_equal(a.alignment.codes, b.alignment.codes)
    assert a.truth.drop(columns=[]).equals(b.truth)
    assert not np.array_equal(a.alignment.codes, c.alignment.codes)
    assert not np.array_equal(a.model.long_patterns, c.model.long_patterns)


def test_ground_truth_table_and_ids():
    sample = simulate_associative_memory(
        length=25, n_letters=4, n_patterns=3, motifs=[(0, 5), (20, 5)], n_samples=55, n_chains=10, seed=0
    )
    truth = sample.truth
    assert list(truth["id"][:2]) == ["am_00001", "am_00002"]
    assert sample.alignment.ids == list(truth["id"])
    assert len(truth) == 55 and sample.alignment.codes.shape == (55, 25)
    expected = {"id", "chain", "sweep", "energy", "nearest_pattern", "nearest_overlap"}
    expected |= {f"overlap_long_{i}" for i in (1, 2, 3)} | {"overlap_short_1", "overlap_short_2"}
    assert set(truth.columns) == expected
    overlaps = truth[[f"overlap_long_{i}" for i in (1, 2, 3)]].to_numpy()
    assert np.array_equal(truth["nearest_pattern"].to_numpy() - 1, overlaps.argmax(axis=1))
    assert (overlaps >= -1 / 3 - 1e-12).all() and (overlaps <= 1).all()
    assert sample.alignment.alphabet.residues == "ACDE"


def test_writers_round_trip(tmp_path):
    sample = simulate_associative_memory(
        length=20, n_letters=20, n_patterns=2, motifs=[(3, 4)], n_samples=40, n_chains=4, seed=3
    )
    paths = write_associative_memory(sample, tmp_path / "sub" / "fam")
    assert {p.name for p in (tmp_path / "sub").iterdir()} == {
        "fam.fasta",
        "fam_truth.csv",
        "fam_patterns.npz",
        "fam_mcmc.json",
    }
    read_back = seqvae.read_alignment(paths["fasta"])
    assert read_back.ids == sample.alignment.ids
    assert np.array_equal(read_back.codes, sample.alignment.codes)
    import pandas as pd

    truth = pd.read_csv(paths["truth"])
    assert list(truth["id"]) == sample.alignment.ids
    np.testing.assert_allclose(truth["energy"], sample.truth["energy"], rtol=1e-5)
    model = load_patterns(paths["patterns"])
    assert np.array_equal(model.long_patterns, sample.model.long_patterns)
    assert model.motifs == sample.model.motifs
    assert all(np.array_equal(a, b) for a, b in zip(model.motif_letters, sample.model.motif_letters))
    np.testing.assert_allclose(model.energy(read_back.codes), sample.truth["energy"])
    summary = json.loads(paths["mcmc"].read_text())
    assert summary["n_samples"] == 40 and summary["seed"] == 3


def test_load_patterns_rejects_other_files(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(InputError, match="patterns file"):
        load_patterns(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(length=0), "length"),
        (dict(n_letters=1), "n_letters"),
        (dict(n_letters=21), "n_letters"),
        (dict(n_patterns=0), "n_patterns"),
        (dict(motifs=[(36, 6)]), "outside the sequence"),
        (dict(motifs=[(-1, 3)]), "outside the sequence"),
        (dict(motifs=[(2, 0)]), "length >= 1"),
        (dict(beta=-0.5), "beta"),
        (dict(beta=float("nan")), "beta"),
        (dict(n_samples=0), "n_samples"),
        (dict(n_chains=0), "n_chains"),
        (dict(burn_in=-1), "burn_in"),
        (dict(thin=0), "thin"),
        (dict(init="cold"), "init"),
        (dict(pattern_strength=-1.0), "pattern_strength"),
        (dict(seed=-3), "seed"),
        (dict(length=2.5), "length"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        simulate_associative_memory(**{"length": 40, **kwargs})


def test_autocorrelation_time_and_r_hat_on_known_processes():
    rng = np.random.default_rng(0)
    phi, n, chains = 0.8, 20000, 4
    series = np.zeros((n, chains))
    noise = rng.standard_normal((n, chains))
    for t in range(1, n):
        series[t] = phi * series[t - 1] + noise[t]
    tau = integrated_autocorrelation_time(series)
    assert tau == pytest.approx((1 + phi) / (1 - phi), rel=0.15)
    assert integrated_autocorrelation_time(rng.standard_normal((5000, 2))) == pytest.approx(1.0, abs=0.2)
    assert np.isnan(integrated_autocorrelation_time(np.ones((100, 3))))
    assert gelman_rubin(series) == pytest.approx(1.0, abs=0.02)
    shifted = series + np.arange(chains)[None, :] * 3.0
    assert gelman_rubin(shifted) > 1.5


# -- associative memory: CLI ------------------------------------------------------------------
def test_cli_associative_memory(tmp_path, capsys):
    prefix = tmp_path / "am"
    code = main(
        [
            "simulate",
            "associative-memory",
            "--length",
            "30",
            "--letters",
            "8",
            "--patterns",
            "3",
            "--motifs",
            "2:5,20:4",
            "--samples",
            "90",
            "--chains",
            "9",
            "--burn-in",
            "20",
            "--seed",
            "4",
            "--out",
            str(prefix),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "flip rate" in out and "autocorrelation" in out
    model = load_patterns(tmp_path / "am_patterns.npz")
    assert model.motifs == [Motif(1, 5), Motif(19, 4)]  # 1-based on the command line
    assert (tmp_path / "am.fasta").read_text().count(">am_") == 90


@pytest.mark.parametrize(
    "args",
    [
        ["--length", "0"],
        ["--letters", "1"],
        ["--motifs", "38:6"],
        ["--motifs", "0:4"],
        ["--motifs", "five:2"],
        ["--beta", "-1"],
        ["--samples", "0"],
        ["--init", "hot"],
    ],
)
def test_cli_bad_parameters_exit_2_without_files(tmp_path, capsys, args):
    code = main(["simulate", "associative-memory", *args, "--out", str(tmp_path / "am")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: --")
    assert list(tmp_path.iterdir()) == []


# -- linear factors ---------------------------------------------------------------------------
def test_linear_factors_are_orthonormal_and_exact():
    data = simulate_linear_factors(500, 100, 6, noise_std=0.0, seed=3)
    assert data.x.shape == (500, 100) and data.factors.shape == (500, 6)
    assert data.directions.shape == (6, 100)
    np.testing.assert_allclose(data.directions @ data.directions.T, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(data.x, data.factors @ data.directions, atol=1e-5)
    # projections onto the directions give back the factors; the data have rank 6
    np.testing.assert_allclose(data.x @ data.directions.T, data.factors, atol=1e-5)
    assert np.linalg.matrix_rank(data.x.astype(np.float64), tol=1e-3) == 6
    again = simulate_linear_factors(500, 100, 6, noise_std=0.0, seed=3)
    assert np.array_equal(again.x, data.x)
    assert not np.array_equal(simulate_linear_factors(500, 100, 6, seed=4).x, data.x)


def test_linear_factors_noise_level():
    data = simulate_linear_factors(4000, 50, 3, noise_std=0.2, seed=0)
    residual = data.x - data.factors @ data.directions
    assert residual.std() == pytest.approx(0.2, rel=0.03)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_samples=0),
        dict(dim=0),
        dict(n_factors=0),
        dict(n_factors=11, dim=10),
        dict(noise_std=-0.1),
        dict(seed=-1),
        dict(factor_scales=[1.0]),
        dict(factor_scales=[1.0, 0.0]),
    ],
)
def test_linear_factors_bad_parameters(kwargs):
    with pytest.raises(InputError):
        simulate_linear_factors(**{"n_samples": 10, "dim": 10, "n_factors": 2, **kwargs})


def test_linear_factor_writers_and_cli(tmp_path, capsys):
    data = simulate_linear_factors(20, 8, 2, seed=1)
    paths = write_linear_factors(data, tmp_path / "lf", "both")
    assert len(paths) == 6
    np.testing.assert_array_equal(np.load(tmp_path / "lf_x.npy"), data.x)
    import pandas as pd

    table = pd.read_csv(tmp_path / "lf_factors.csv")
    assert list(table.columns) == ["alpha_1", "alpha_2"]
    np.testing.assert_allclose(table.to_numpy(), data.factors, rtol=1e-6)
    with pytest.raises(InputError, match="format"):
        write_linear_factors(data, tmp_path / "no", "xls")
    out = str(tmp_path / "cli")
    code = main(
        ["simulate", "linear-factors", "-n", "30", "-D", "12", "-k", "3", "--format", "npy", "-o", out]
    )
    assert code == 0
    assert np.load(tmp_path / "cli_directions.npy").shape == (3, 12)
    assert not (tmp_path / "cli_x.csv").exists()
    assert main(["simulate", "linear-factors", "-k", "200", "--out", str(tmp_path / "bad")]) == 2
    assert not list(tmp_path.glob("bad*"))
    for scales in ("1,2", "1,x,3"):
        bad = [
            "simulate",
            "linear-factors",
            "-k",
            "3",
            "--factor-scales",
            scales,
            "-o",
            str(tmp_path / "bad"),
        ]
        assert main(bad) == 2
        assert "--factor-scales" in capsys.readouterr().err
    assert not list(tmp_path.glob("bad*"))


def test_linear_factor_scales_set_each_factor_variance():
    scales = np.array([4.0, 2.0, 1.0, 0.5])
    data = simulate_linear_factors(20_000, 30, 4, seed=3, factor_scales=scales)
    np.testing.assert_allclose(data.factors.std(axis=0), scales, rtol=0.03)
    # the variance of x along each direction is the factor's variance (orthonormal directions)
    np.testing.assert_allclose((data.x @ data.directions.T).var(axis=0), scales**2, rtol=0.06)


def test_selective_posterior_collapse_on_linear_factors(tmp_path, one_thread):
    """Sachdeva et al.'s experiment: 6 orthonormal factors in R^100, a 10-D β-VAE (β = 1) keeps exactly
    6 latent dimensions (variance of the mean embedding > 0.5) and collapses 4 (< 0.05)."""
    data = simulate_linear_factors(4000, 100, 6, noise_std=0.1, seed=0)
    config = seqvae.preset_config(None).updated(
        {
            "model.latent_dim": 10,
            "model.encoder_hidden": [64],
            "model.decoder_hidden": [64],
            "model.beta": 1.0,
            "model.warmup_steps": 0,
            "training.max_steps": 1200,
            "training.batch_size": 256,
            "training.learning_rate": 2e-3,
            "training.validation_fraction": 0.0,
            "training.early_stopping_patience": None,
            "training.device": "cpu",
            "seed": 0,
        }
    )
    run = seqvae.train(data.x, config, out=tmp_path / "run", progress=False)
    assert run.config.model.likelihood == "gaussian"
    z_mean, _ = run.encode(data.x)
    variances = z_mean.var(axis=0)
    active = variances > 0.5
    assert active.sum() == 6, variances
    assert (variances[~active] < 0.05).all(), variances
    # the active dimensions carry the factors: a linear map from them recovers α
    design = np.c_[z_mean[:, active], np.ones(len(z_mean))]
    coefficients, *_ = np.linalg.lstsq(design, data.factors, rcond=None)
    residual = data.factors - design @ coefficients
    r_squared = 1 - residual.var(axis=0) / data.factors.var(axis=0)
    assert (r_squared > 0.9).all(), r_squared
