"""Site-independent and Potts baselines, their directories, evaluation helpers, and the SH3
held-out comparison of a VAE with the site-independent model (issue 2's acceptance)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import seqvae
from conftest import shared_file
from seqvae.analysis.evaluation import evaluate_scores
from seqvae.analysis.scoring import ModelScorer, load_scorer
from seqvae.cli.main import main
from seqvae.data.alignment import alignment_from_sequences
from seqvae.errors import InputError
from seqvae.io.matrix_file import load_matrix_npz
from seqvae.models.potts import PottsModel, average_product_correction
from seqvae.training.baselines import (
    PottsSettings,
    fit_baseline,
    fit_potts,
    fit_site_independent,
    load_baseline,
)

RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def _planted_family(n=300, length=7, seed=0):
    """Random sequences over 4 residues where column 4 copies column 1 (one strong coupling)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACDE"))
    rows = letters[rng.integers(0, 4, size=(n, length))]
    rows[:, 4] = rows[:, 1]
    rows[: n // 10, 6] = "-"
    return ["".join(r) for r in rows]


def test_site_independent_frequencies_and_scores():
    aln = alignment_from_sequences(["ACD-", "ACE-", "GCDA", "ACDA"])
    weights = np.array([1.0, 1.0, 0.5, 0.5])
    model = fit_site_independent(aln.codes, weights, aln.alphabet.gap_code, pseudocount=0.1)
    probs = model.log_frequencies.exp()
    np.testing.assert_allclose(probs.sum(1).numpy(), 1.0)
    # column 0: A has weight 2.5, G 0.5, plus 0.1 for each of the 20 residues
    assert probs[0, RESIDUES.index("A")].item() == pytest.approx(2.6 / 5.0)
    codes = torch.from_numpy(aln.codes)
    manual = sum(model.log_frequencies[i, int(c)] for i, c in enumerate(aln.codes[0]) if c != 20)
    assert model.log_likelihood(codes)[0].item() == pytest.approx(float(manual))
    gapped = fit_site_independent(aln.codes, weights, aln.alphabet.gap_code, pseudocount=0.1, model_gaps=True)
    assert gapped.log_frequencies.shape == (4, 21)
    assert gapped.log_likelihood(codes)[0] < model.log_likelihood(codes)[0]  # the gap costs probability


def test_potts_recovers_planted_coupling_and_is_stationary():
    aln = alignment_from_sequences(_planted_family())
    weights = np.ones(aln.n_sequences)
    settings = PottsSettings(
        max_iterations=300, lambda_j=0.01, scale_lambda_j=False, tolerance=1e-10, bfloat16_gradient=False
    )
    model, report = fit_potts(aln.codes, weights, aln.alphabet.size, settings)
    assert report["iterations"] > 5
    J = model.couplings
    assert torch.equal(J, J.T)
    L, q = model.length, model.n_states
    assert model.coupling_blocks()[2, 2].max() == 0.0  # no self-coupling
    fn = model.frobenius_norms()
    i, j = np.unravel_index(np.argmax(fn), fn.shape)
    assert {int(i), int(j)} == {1, 4}
    # the optimum: the gradient of the documented objective vanishes (independent autograd check)
    codes = torch.from_numpy(aln.codes).long()
    h = model.fields.double().clone().requires_grad_(True)
    Jd = J.double().clone().requires_grad_(True)
    x = torch.nn.functional.one_hot(codes, q).double().view(len(codes), -1)
    log_p = torch.log_softmax((h.view(-1) + x @ Jd).view(len(codes), L, q), -1)
    data = -log_p.gather(-1, codes.unsqueeze(-1)).sum()
    objective = (data + 0.01 * h.pow(2).sum() + 0.01 * 0.5 * Jd.pow(2).sum()) / len(codes)
    objective.backward()
    mask = 1.0 - torch.kron(torch.eye(L), torch.ones(q, q)).double()
    assert h.grad.abs().max() < 1e-3
    assert ((Jd.grad + Jd.grad.T) / 2 * mask).abs().max() < 1e-3


def test_potts_hamiltonian_matches_explicit_sum():
    rng = np.random.default_rng(1)
    L, q = 5, 21
    fields = torch.from_numpy(rng.normal(size=(L, q))).float()
    blocks = rng.normal(size=(L, L, q, q))
    blocks = (blocks + blocks.transpose(1, 0, 3, 2)) / 2
    for i in range(L):
        blocks[i, i] = 0
    J = torch.from_numpy(blocks.transpose(0, 2, 1, 3).reshape(L * q, L * q)).float()
    model = PottsModel(fields, J)
    codes = rng.integers(0, q, size=(4, L))
    explicit = [
        sum(fields[i, s[i]].item() for i in range(L))
        + sum(blocks[i, j, s[i], s[j]] for i in range(L) for j in range(i + 1, L))
        for s in codes
    ]
    np.testing.assert_allclose(model.hamiltonian(torch.from_numpy(codes)).numpy(), explicit, rtol=1e-5)
    np.testing.assert_allclose(model.coupling_blocks()[1, 3], blocks[1, 3], rtol=1e-6)


def test_apc_removes_rank_one_background():
    rng = np.random.default_rng(0)
    background = np.outer(rng.uniform(1, 2, 6), rng.uniform(1, 2, 6))
    background = (background + background.T) / 2
    corrected = average_product_correction(background)
    assert np.abs(corrected).max() < 0.1 * np.abs(background).max()
    assert np.all(np.diag(corrected) == 0)


def test_site_independent_weighted_towards_the_reference(tmp_path, capsys):
    # column 0: the reference's near relatives hold A, the distant majority G
    near = ["ACDEF", "ACDEY", "ACDWF"]
    far = ["GKLMN", "GKLMP", "GKLQN", "GRLMN", "GKTMN"]
    aln = alignment_from_sequences(near + far)
    plain, plain_info = fit_baseline(aln, "site-independent", tmp_path / "plain", theta=None, pseudocount=0.1)
    near_model, info = fit_baseline(
        aln, "site-independent", tmp_path / "near", theta=None, pseudocount=0.1, reference_power=2.0
    )
    a, g = RESIDUES.index("A"), RESIDUES.index("G")
    assert plain.log_frequencies[0, g] > plain.log_frequencies[0, a]  # the family's majority
    assert near_model.log_frequencies[0, a] > near_model.log_frequencies[0, g]  # the relatives'
    # each weight times identity²: 1 + 0.8² + 0.8² for the relatives, 0 for the rest
    assert info["n_eff"] == pytest.approx(1 + 2 * 0.64)
    assert info["report"]["reference_power"] == 2.0 and "reference_power" not in plain_info["report"]
    # p = 0 is the plain fit, byte for byte
    same, _ = fit_baseline(
        aln, "site-independent", tmp_path / "zero", theta=None, pseudocount=0.1, reference_power=0
    )
    assert torch.equal(same.log_frequencies, plain.log_frequencies)
    with pytest.raises(InputError, match="site-independent model only"):
        fit_baseline(aln, "potts", tmp_path / "p", reference_power=1.0)
    with pytest.raises(InputError, match=">= 0"):
        fit_baseline(aln, "site-independent", tmp_path / "n", reference_power=-1.0)
    assert not (tmp_path / "p").exists() and not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--reference-power", "-1"], "--reference-power must be a number >= 0"),
        (["--reference-power", "nan"], "--reference-power must be a number >= 0"),
        (["--model", "potts", "--reference-power", "2"], "weights a site-independent model only"),
    ],
)
def test_bad_reference_power(tmp_path, capsys, flags, message):
    fasta = tmp_path / "family.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(_planted_family(n=20))))
    out = tmp_path / "out"
    assert main(["baseline", "fit", str(fasta), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_baseline_directories_score_like_runs(tmp_path, capsys):
    sequences = _planted_family()
    fasta = tmp_path / "family.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    ref = sequences[0]
    table = tmp_path / "muts.csv"
    mutants = [f"{ref[1]}2{'C' if ref[1] != 'C' else 'D'}", f"{ref[0]}1{'E' if ref[0] != 'E' else 'A'}", "WT"]
    table.write_text("mutant,fitness\n" + "\n".join(f"{m},{k}" for k, m in enumerate(mutants)) + "\n")
    for kind in ("site-independent", "potts"):
        out = tmp_path / kind
        args = ["baseline", "fit", str(fasta), "--model", kind, "--out", str(out), "--max-iterations", "30"]
        assert main(args) == 0
        assert (out / "registry.json").exists() and (out / "model.safetensors").exists()
        scores_csv = tmp_path / f"{kind}.csv"
        assert main(["score", str(out), str(table), "--out", str(scores_csv)]) == 0
        scores = pd.read_csv(scores_csv)["score"].to_numpy()
        assert scores[2] == 0.0 and np.all(np.isfinite(scores))
        model, registry, loaded_kind = load_baseline(out)
        assert loaded_kind == kind and registry.length == 7
        scorer = load_scorer(out)
        assert isinstance(scorer, ModelScorer)
        # the score is the change of the model's log-value
        codes = np.stack([registry.reference_codes(), registry.reference_codes()])
        codes[1, 1] = RESIDUES.index(mutants[0][-1])
        values = model.log_value(torch.from_numpy(codes)).numpy()
        assert scores[0] == pytest.approx(values[1] - values[0], rel=1e-5, abs=1e-5)
    # breaking the planted pair costs more under Potts than moving an independent site
    potts_scores = pd.read_csv(tmp_path / "potts.csv")["score"].to_numpy()
    assert potts_scores[0] < potts_scores[1]
    assert load_matrix_npz(tmp_path / "potts" / "couplings_apc.npz").matrix.shape == (7, 7)
    assert main(["baseline", "fit", str(fasta), "--model", "nope", "--out", str(tmp_path / "x")]) == 2


def test_potts_couplings_written_as_position_matrices(tmp_path, capsys):
    """``baseline fit --model potts`` writes couplings.npz / couplings_apc.npz in the matrix
    convention: L x L, symmetric, zero diagonal, the registry's numbering, readable by compare."""
    sequences = _planted_family(n=200)[::-1]  # the first (reference) row has no gap
    fasta = tmp_path / "family.fasta"
    # the reference is numbered from 11, so its numbering is not just the column index
    headers = ["ref/11-17"] + [f"s{i}" for i in range(1, len(sequences))]
    fasta.write_text("".join(f">{h}\n{s}\n" for h, s in zip(headers, sequences)))
    out = tmp_path / "potts"
    assert (
        main(["baseline", "fit", str(fasta), "--model", "potts", "--out", str(out), "--max-iterations", "40"])
        == 0
    )
    model, registry, _ = load_baseline(out)
    raw = load_matrix_npz(out / "couplings.npz")
    corrected = load_matrix_npz(out / "couplings_apc.npz")
    for pm, kind in ((raw, "potts"), (corrected, "potts-apc")):
        assert pm.kind == kind and pm.matrix.shape == (7, 7)
        np.testing.assert_allclose(pm.matrix, pm.matrix.T)
        assert np.all(np.diag(pm.matrix) == 0)
        np.testing.assert_array_equal(pm.numbering, registry.numbering)
        assert "".join(pm.residues) == registry.reference_sequence
    np.testing.assert_array_equal(registry.numbering, np.arange(11, 18))
    # the gap-free zero-sum-gauge Frobenius norm of one block, computed directly
    block = model.coupling_blocks()[1, 4][:20, :20].astype(np.float64)
    block = block - block.mean(0) - block.mean(1)[:, None] + block.mean()
    assert raw.matrix[1, 4] == pytest.approx(np.linalg.norm(block), rel=1e-5)
    np.testing.assert_allclose(corrected.matrix, average_product_correction(raw.matrix))
    # the planted pair (columns 1 and 4) is the strongest coupling, before and after APC
    for pm in (raw, corrected):
        assert set(np.unravel_index(np.argmax(pm.matrix), pm.matrix.shape)) == {1, 4}
    # compare takes the files directly
    assert main(["compare", str(out / "couplings.npz"), str(out / "couplings_apc.npz"),
                 "--out", str(tmp_path / "cmp"), "--permutations", "5", "--no-figures"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["matched_by"] == "numbering"


def test_evaluation_rho_interval_and_auc():
    rng = np.random.default_rng(0)
    measured = rng.normal(size=400)
    predicted = measured + rng.normal(scale=1.0, size=400)
    result = evaluate_scores(predicted, measured, labels=(measured > 0).astype(float), n_unscored=7)
    assert result.ci_low < result.spearman < result.ci_high
    assert 0.5 < result.spearman < 0.9
    assert result.n_scored == 400 and result.n_skipped == 7
    assert 0.7 < result.auc < 1.0
    perfect = evaluate_scores(np.arange(10.0), np.arange(10.0) * 3)
    assert perfect.spearman == pytest.approx(1.0)
    with pytest.raises(InputError, match="0/1"):
        evaluate_scores(predicted, measured, labels=measured)


def test_sh3_vae_beats_site_independent_on_held_out(tmp_path):
    """Issue 2: a small seeded VAE's mean held-out ELBO beats the site-independent model's
    held-out log-likelihood on the same split (gaps modelled as a state by both)."""
    torch.set_num_threads(1)
    aln = seqvae.read_alignment(shared_file("sh3/sh3_59.fasta"))
    cfg = seqvae.preset_config("explore").updated(
        {
            "seed": 0,
            "model.latent_dim": 4,
            "model.encoder_hidden": [128],
            "model.decoder_hidden": [128],
            "training.max_steps": 600,
            "training.max_time_s": None,
            "training.batch_size": 128,
            "training.eval_every": 200,
            "training.validation_fraction": 0.1,
        }
    )
    run = seqvae.train(aln, cfg, out=tmp_path / "sh3", progress=False)
    codes, weights, _, mask = run.training_data()
    si = fit_site_independent(
        codes[~mask], weights[~mask], aln.alphabet.gap_code, pseudocount=1.0, model_gaps=True
    )
    held_out = torch.from_numpy(codes[mask])
    generator = torch.Generator().manual_seed(0)
    vae_elbo = float(run.model.elbo(held_out, n_samples=10, generator=generator).mean())
    si_log_likelihood = float(si.log_likelihood(held_out).mean())
    assert vae_elbo > si_log_likelihood + 1.0, (vae_elbo, si_log_likelihood)
