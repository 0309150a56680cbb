"""Sampling the site-independent baseline, and the VAE against it on pairwise statistics.

The family is the associative-memory Potts model (sequences condensed around 4 random
patterns), whose clusters make strong pairwise correlations that a model drawing each column
independently cannot reproduce.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import seqvae
from seqvae.analysis import generation as gen
from seqvae.analysis import sample_evaluation as se
from seqvae.cli.main import main
from seqvae.data.synthetic.associative_memory import simulate_associative_memory
from seqvae.errors import InputError
from seqvae.models.site_independent import SiteIndependentModel
from seqvae.training.baselines import fit_site_independent, load_baseline

GAP = 20  # protein alphabet: gap is the last of 21 codes
N_HELD_OUT = 300


@pytest.fixture(scope="module")
def family():
    """An associative-memory family (L = 16, q = 6, K = 4) split into training and held out."""
    sample = simulate_associative_memory(
        length=16,
        n_letters=6,
        n_patterns=4,
        motifs=None,
        beta=1.2,
        n_samples=1200,
        n_chains=40,
        burn_in=50,
        thin=2,
        seed=0,
    )
    alignment = sample.alignment
    order = np.random.default_rng(0).permutation(alignment.n_sequences)
    held, train = np.sort(order[:N_HELD_OUT]), np.sort(order[N_HELD_OUT:])
    return {"training": alignment.subset(train), "held_out": alignment.subset(held)}


@pytest.fixture(scope="module")
def run(family, tmp_path_factory):
    config = seqvae.preset_config("explore").updated(
        {
            "model.encoder_hidden": [48],
            "model.decoder_hidden": [48],
            "model.warmup_steps": 50,
            "training.max_steps": 400,
            "training.max_time_s": None,
            "training.batch_size": 64,
            "training.eval_every": 100,
            "training.early_stopping_patience": None,
            "training.device": "cpu",
            # the held-out set is an unweighted Boltzmann sample: train unweighted too
            "data.theta": None,
            "seed": 0,
        }
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains faster on one thread
    try:
        return seqvae.train(
            family["training"], config, out=tmp_path_factory.mktemp("am") / "run", progress=False
        )
    finally:
        torch.set_num_threads(threads)


def _write_fasta(path: Path, alignment) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for name, sequence in zip(alignment.ids, alignment.sequences()):
            handle.write(f">{name}\n{sequence}\n")
    return path


# -- the sampler ----------------------------------------------------------------------------------
def test_site_independent_samples_are_seeded_and_follow_the_frequencies():
    codes = np.random.default_rng(1).integers(0, 21, size=(300, 12)).astype(np.uint8)
    codes[:, 3] = 5  # a conserved column
    model = fit_site_independent(codes, np.ones(len(codes)), GAP, pseudocount=0.5, model_gaps=True)
    first = model.sample(20_000, torch.Generator().manual_seed(4))
    again = model.sample(20_000, torch.Generator().manual_seed(4))
    other = model.sample(20_000, torch.Generator().manual_seed(5))
    assert first.dtype == torch.uint8 and first.shape == (20_000, 12)
    assert torch.equal(first, again) and not torch.equal(first, other)
    counts = np.stack([np.bincount(column, minlength=21) for column in first.numpy().T]) / 20_000
    assert np.abs(counts - model.log_frequencies.exp().numpy()).max() < 0.015
    assert (first[:, 3] == 5).float().mean() > 0.9
    # a cold temperature gives the most frequent state everywhere (no ties in random logits)
    logits = torch.randn(12, 21, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    untied = SiteIndependentModel(torch.log_softmax(logits, dim=1), GAP)
    cold = untied.sample(50, torch.Generator().manual_seed(0), temperature=1e-3)
    assert torch.equal(cold, logits.argmax(dim=1).to(torch.uint8).expand(50, -1))
    # without a gap state the samples contain no gaps
    no_gaps = fit_site_independent(codes, np.ones(len(codes)), GAP, model_gaps=False)
    assert not (no_gaps.sample(2000, torch.Generator().manual_seed(0)) == GAP).any()


@pytest.mark.parametrize("n", [0, -2, 2.5, True])
def test_bad_sample_counts(n):
    model = SiteIndependentModel(torch.zeros(4, 21), GAP)
    with pytest.raises(InputError, match=">= 1"):
        model.sample(n)


def test_bad_temperature():
    with pytest.raises(InputError, match="temperature"):
        SiteIndependentModel(torch.zeros(4, 21), GAP).sample(3, temperature=0.0)


# -- the VAE against the baseline -----------------------------------------------------------------
def test_vae_samples_match_pairwise_statistics_better_than_site_independent(family, run):
    training = run.training_alignment()
    alphabet = training.alphabet  # the family's 6 letters and the gap
    baseline = fit_site_independent(training.codes, training.weights, alphabet.gap_code, model_gaps=True)
    site_independent = gen.sample_site_independent(baseline, alphabet, 800, seed=0)
    designs = gen.generate(run, 800, seed=0, elbo_samples=0)
    held_out = family["held_out"].codes
    results = {
        name: se.evaluate_samples(codes, held_out, n_codes=alphabet.size, r20_sets=20, max_pairs=2000).summary
        for name, codes in (("vae", designs.codes), ("site-independent", site_independent.codes))
    }
    vae, independent = results["vae"], results["site-independent"]
    # both reproduce the column frequencies ...
    assert vae["single_site_r"] > 0.9 and independent["single_site_r"] > 0.95
    # ... but only the VAE reproduces the pairwise (connected-correlation) structure
    assert vae["pairwise_r"] > independent["pairwise_r"] + 0.5
    assert abs(independent["pairwise_r"]) < 0.25
    assert vae["r20_mean"] > independent["r20_mean"]


# -- the CLI: seqvae generate BASELINE_DIR ---------------------------------------------------------
def test_generate_from_a_baseline_directory(family, tmp_path):
    train_fasta = _write_fasta(tmp_path / "train.fasta", family["training"])
    baseline_dir = tmp_path / "si"
    fit = ["baseline", "fit", str(train_fasta), "--model", "site-independent", "--model-gaps"]
    assert main([*fit, "--out", str(baseline_dir)]) == 0
    out = tmp_path / "samples.fasta"
    assert main(["generate", str(baseline_dir), "-n", "60", "--out", str(out), "--seed", "3"]) == 0
    first = out.read_text()
    assert main(["generate", str(baseline_dir), "-n", "60", "--out", str(out), "--seed", "3"]) == 0
    assert out.read_text() == first
    samples = seqvae.read_alignment(out)
    assert samples.codes.shape == (60, 16)
    table = pd.read_csv(out.with_suffix(".csv"))
    assert list(table.columns) == ["id", "sequence", "log_likelihood"]
    model, _, _ = load_baseline(baseline_dir)
    expected = model.log_likelihood(torch.from_numpy(samples.codes)).numpy()
    assert np.allclose(table["log_likelihood"], expected, atol=1e-3)
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["model"] == "site-independent" and settings["seed"] == 3


def test_bad_baseline_generation_exits_2(family, tmp_path):
    train_fasta = _write_fasta(tmp_path / "train.fasta", family["training"])
    baseline_dir = tmp_path / "si"
    assert main(["baseline", "fit", str(train_fasta), "--out", str(baseline_dir)]) == 0
    out = tmp_path / "x.fasta"
    base = ["generate", str(baseline_dir), "--out", str(out)]
    assert main([*base, "-n", "0"]) == 2
    assert main([*base, "-n", "-4"]) == 2
    assert main(base) == 2  # no -n
    assert main([*base, "-n", "5", "--temperature", "0"]) == 2
    assert main([*base, "-n", "5", "--argmax"]) == 2
    assert main([*base, "-n", "5", "--region-ids", "am_00001,am_00002"]) == 2
    assert main([*base, "-n", "5", "--region-coords", "0,0"]) == 2
    assert main([*base, "-n", "5", "--sweeps", "10"]) == 2  # --sweeps is for Potts baselines
    potts_dir = tmp_path / "potts"
    potts = ["baseline", "fit", str(train_fasta), "--model", "potts", "--max-iterations", "2"]
    assert main([*potts, "--out", str(potts_dir)]) == 0
    assert main(["generate", str(potts_dir), "-n", "5", "--sweeps", "0", "--out", str(out)]) == 2
    assert not out.exists()


def test_potts_gibbs_samples_follow_the_exact_distribution():
    """3 positions x 3 states: 27 sequences, so p(x) is known exactly; Gibbs frequencies match it."""
    from itertools import product

    from seqvae.models.potts import PottsModel

    rng = np.random.default_rng(4)
    length, q = 3, 3
    fields = rng.normal(0, 0.7, (length, q))
    couplings = rng.normal(0, 0.8, (length * q, length * q))
    couplings = (couplings + couplings.T) / 2
    for i in range(length):
        couplings[i * q : (i + 1) * q, i * q : (i + 1) * q] = 0
    model = PottsModel(torch.tensor(fields), torch.tensor(couplings))
    states = torch.tensor(list(product(range(q), repeat=length)))
    exact = torch.softmax(model.hamiltonian(states), 0).numpy()
    trace: list[float] = []
    samples = model.sample(6000, torch.Generator().manual_seed(0), sweeps=20, trace=trace)
    index = (samples.long() * torch.tensor([q * q, q, 1])).sum(1).numpy()
    observed = np.bincount(index, minlength=q**length) / len(index)
    assert np.abs(observed - exact).max() < 0.015, np.abs(observed - exact).max()
    assert len(trace) == 20
    again = model.sample(6000, torch.Generator().manual_seed(0), sweeps=20)
    assert torch.equal(samples, again)  # seeded


def test_generate_from_a_potts_baseline(family, tmp_path):
    train_fasta = _write_fasta(tmp_path / "train.fasta", family["training"])
    potts_dir = tmp_path / "potts"
    fit = ["baseline", "fit", str(train_fasta), "--model", "potts", "--model-gaps"]
    assert main([*fit, "--max-iterations", "40", "--out", str(potts_dir)]) == 0
    out = tmp_path / "potts.fasta"
    assert main(["generate", str(potts_dir), "-n", "400", "--sweeps", "30", "--out", str(out)]) == 0
    samples = seqvae.read_alignment(out)
    table = pd.read_csv(out.with_suffix(".csv"))
    assert list(table.columns) == ["id", "sequence", "hamiltonian"]
    model, _, _ = load_baseline(potts_dir)
    expected = model.hamiltonian(torch.from_numpy(samples.codes)).numpy()
    assert np.allclose(table["hamiltonian"], expected, atol=1e-3)
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["model"] == "potts" and len(settings["mean_hamiltonian_per_sweep"]) == 30
    # a pairwise model reproduces the family's pairwise statistics, which site-independent cannot
    held_out = seqvae.read_alignment(_write_fasta(tmp_path / "held.fasta", family["held_out"]))
    evaluation = se.evaluate_samples(samples, held_out, r20_sets=20)
    assert evaluation.summary["pairwise_r"] > 0.5, evaluation.summary["pairwise_r"]


def test_evaluate_samples_with_a_synthetic_family_reports_energy_and_coverage(tmp_path, capsys):
    """`--family PATTERNS.npz`: energies of designs vs true samples, and which patterns are reached."""
    import json

    from seqvae.cli.main import main
    from seqvae.data.synthetic.associative_memory import load_patterns

    prefix = tmp_path / "am"
    simulate = ["simulate", "associative-memory", "-L", "20", "-q", "4", "-K", "3", "-n", "300"]
    assert main([*simulate, "--motifs", "none", "--seed", "2", "--out", str(prefix)]) == 0
    model = load_patterns(tmp_path / "am_patterns.npz")
    lines = (tmp_path / "am.fasta").read_text().splitlines()
    records = [lines[i : i + 2] for i in range(0, len(lines), 2)]
    # designs: true samples from the family's first two patterns only -> pattern 3 missed
    from seqvae.data.alignment import read_alignment

    family = read_alignment(tmp_path / "am.fasta", alphabet="ACDE")
    nearest = model.long_counts(family.codes).argmax(axis=1)
    designs = [r for r, k in zip(records, nearest) if k < 2][:80]
    reference = records[150:]
    for name, chosen in (("designs", designs), ("reference", reference)):
        (tmp_path / f"{name}.fasta").write_text("".join(f"{head}\n{seq}\n" for head, seq in chosen))
    out = tmp_path / "eval"
    arguments = [
        "evaluate-samples",
        str(tmp_path / "designs.fasta"),
        "--reference",
        str(tmp_path / "reference.fasta"),
        "--alphabet",
        "ACDE",
        "--r20-sets",
        "5",
        "--out",
        str(out),
    ]
    assert main([*arguments, "--family", str(tmp_path / "am_patterns.npz")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["patterns"]["missed"] == [2]
    assert summary["pattern_coverage"] == pytest.approx(2 / 3)
    assert set(summary["energy"]) >= {"designs", "reference", "ks_statistic", "ks_pvalue"}
    # the designs are true samples, so their energies look like the reference's
    assert summary["energy"]["ks_pvalue"] > 1e-3
    assert (out / "energies.png").stat().st_size > 5_000
    assert "patterns missed" in capsys.readouterr().out
    # a family of another length is refused in one line
    other = tmp_path / "other"
    assert main([*simulate[:2], "-L", "12", *simulate[4:], "--motifs", "none", "--out", str(other)]) == 0
    capsys.readouterr()
    assert main([*arguments, "--family", str(tmp_path / "other_patterns.npz")]) == 2
    assert "length 12" in capsys.readouterr().err
