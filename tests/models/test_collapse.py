"""A run says when its posterior collapsed: summary.json records per-dimension KL and posterior
variance and the number of active dimensions; train, score, latent and report warn at zero."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqvae.cli.main import main
from seqvae.models.latent_usage import latent_diagnostics
from seqvae.run import collapse_warning, load

AMINO = "ACDEFGHIKLMNPQRSTVWY"


def _two_cluster_family(path, n=200, length=24, noise=0.08, seed=0):
    """Two clusters of point-mutated copies of two random sequences: z has something to carry."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 20, size=(2, length))
    lines = []
    for i in range(n):
        row = centres[i % 2].copy()
        flip = rng.random(length) < noise
        row[flip] = rng.integers(0, 20, size=int(flip.sum()))
        lines.append(f">s{i}\n{''.join(AMINO[k] for k in row)}\n")
    path.write_text("".join(lines))
    return path


def _train(aln, out, decoder_l2, capsys):
    code = main(
        [
            "train", str(aln), "--out", str(out), "--preset", "explore", "--set", f"model.decoder_l2={decoder_l2}",
            "--max-steps", "300", "--batch-size", "64", "--seed", "0", "--no-progress",
            "--set", "training.eval_every=100", "--set", "training.threads=1", "--set", "model.warmup_steps=0",
        ]
    )  # fmt: skip
    assert code == 0
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    return _two_cluster_family(tmp_path_factory.mktemp("collapse") / "two.fasta")


def test_collapsed_run_warns_in_train_score_latent_and_report(tmp_path, capsys):
    # every letter drawn independently and a decoder prior (as in the fitness preset): nothing
    # is worth encoding and every dimension collapses
    family = _two_cluster_family(tmp_path / "iid.fasta", noise=1.0)
    run_dir = tmp_path / "collapsed"
    err = _train(family, run_dir, 100, capsys)
    summary = json.loads((run_dir / "summary.json").read_text())
    latent = summary["latent"]
    assert latent["n_active"] == 0
    assert latent["participation_ratio_active_correlation"] == 0.0  # no active dimension
    assert latent["trace_cov_z_mean"] <= 2 * latent["threshold"]
    assert latent["latent_dim"] == 2 and len(latent["per_dimension"]) == 2
    for row in latent["per_dimension"]:
        assert row["variance"] <= latent["threshold"]
        assert set(row) == {"dimension", "variance", "posterior_variance", "kl"}
        assert row["posterior_variance"] > 0.5  # a collapsed posterior sits on the prior
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "site-independent" in warnings[0]
    assert warnings[0] == collapse_warning(summary)

    mutants = tmp_path / "m.csv"
    wt = load(run_dir).registry.reference_sequence
    mutants.write_text(f"mutant\n{wt[0]}1{'A' if wt[0] != 'A' else 'C'}\n")
    assert (
        main(["score", str(run_dir), str(mutants), "--out", str(tmp_path / "s.csv"), "--samples", "5"]) == 0
    )
    assert "posterior collapsed" in capsys.readouterr().err
    assert main(["latent", str(run_dir), "--out", str(tmp_path / "lat"), "--permutations", "9"]) == 0
    assert "posterior collapsed" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--out", str(tmp_path / "r.html")]) == 0
    assert "posterior collapsed" in capsys.readouterr().err
    assert "Warning: posterior collapse" in (tmp_path / "r.html").read_text()


def test_a_run_that_uses_its_latent_space_does_not_warn(family, tmp_path, capsys):
    run_dir = tmp_path / "used"
    err = _train(family, run_dir, 0, capsys)
    latent = json.loads((run_dir / "summary.json").read_text())["latent"]
    assert latent["n_active"] >= 1
    assert latent["total_kl"] > 0.5
    # the record is latent_diagnostics over the training rows (validation excluded), weighted
    run = load(run_dir)
    codes, weights, _, validation = run.training_data()
    z_mean, z_logvar = run.encode(codes[~validation])
    expected = latent_diagnostics(z_mean, z_logvar, weights[~validation])
    assert latent["n_active"] == expected.n_active
    assert latent["trace_cov_z_mean"] == pytest.approx(expected.trace_cov, rel=1e-5)
    assert latent["participation_ratio_active_correlation"] == pytest.approx(
        expected.participation_ratio_active, rel=1e-5
    )
    assert 1.0 <= latent["participation_ratio_active_correlation"] <= latent["n_active"]
    assert "warning:" not in err
    assert load(run_dir).collapse_warning is None
    # runs written before the record existed stay silent
    assert collapse_warning({"status": "finished"}) is None
