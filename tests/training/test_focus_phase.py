"""training.focus_steps: the end of the schedule trains on the family weighted towards the
reference sequence (each weight times its identity to the reference, to a power)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seqvae.cli.main import main
from seqvae.data.weights import reference_identity
from seqvae.errors import ConfigError
from seqvae.models.vae import VAE, ModelConfig
from seqvae.training.config import RunConfig, TrainingConfig
from seqvae.training.sampling import FocusSchedule, SamplingSchedule, sampling_schedule
from seqvae.training.trainer import Trainer


def test_reference_identity_counts_matching_columns():
    reference = np.array([1, 2, 3, 20], dtype=np.uint8)
    codes = np.array([[1, 2, 3, 20], [1, 0, 3, 4], [20, 20, 20, 20], [0, 0, 0, 0]], dtype=np.uint8)
    assert reference_identity(codes, reference).tolist() == [1.0, 0.5, 0.25, 0.0]
    with pytest.raises(ValueError, match="does not fit"):
        reference_identity(codes, reference[:3])


def test_the_focus_phase_is_a_sampling_schedule():
    weights = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    mask = torch.tensor([False, True, False, False])
    factors = np.array([0.5, 1.0, 0.0, 1.0])
    plain = sampling_schedule(TrainingConfig(max_steps=10), weights, mask)
    assert type(plain) is SamplingSchedule and plain.phase_start is None and plain.phase_n_eff is None
    assert [w.tolist() for w in plain.weights(9)] == [[1.0, 3.0, 4.0], [2.0]]
    focus = sampling_schedule(
        TrainingConfig(max_steps=10, focus_steps=4, focus_power=2.0), weights, mask, factors
    )
    assert isinstance(focus, FocusSchedule) and focus.phase_start == 6
    assert [w.tolist() for w in focus.weights(5)] == [[1.0, 3.0, 4.0], [2.0]]
    assert [w.tolist() for w in focus.weights(6)] == [[0.25, 0.0, 4.0], [2.0]]
    assert focus.phase_n_eff == 4.25
    with pytest.raises(ValueError, match="needs focus_factors"):
        sampling_schedule(TrainingConfig(max_steps=10, focus_steps=4), weights, mask)
    with pytest.raises(ValueError, match="focus weight 0"):
        sampling_schedule(TrainingConfig(max_steps=10, focus_steps=4), weights, mask, np.zeros(4))


def _trainer(tmp_path, focus_steps: int, factors: np.ndarray | None) -> Trainer:
    rng = np.random.default_rng(0)
    data = torch.from_numpy(rng.integers(0, 21, (40, 6)).astype(np.uint8))
    mask = np.zeros(40, dtype=bool)
    mask[:8] = True
    model = VAE(ModelConfig(length=6, latent_dim=2, encoder_hidden=[8], decoder_hidden=[8]))
    config = TrainingConfig(
        batch_size=16,
        max_steps=30,
        eval_every=5,
        log_every=5,
        checkpoint_every=10,
        focus_steps=focus_steps,
        focus_power=2.0,
        early_stopping_patience=1,
        device="cpu",
    ).validate()
    return Trainer(model, data, np.ones(40), mask, config, tmp_path, seed=0, focus_factors=factors)


def test_focus_phase_samples_by_the_focused_weights_and_keeps_its_best(tmp_path):
    factors = np.linspace(0.0, 1.0, 40)
    trainer = _trainer(tmp_path, focus_steps=10, factors=factors)
    assert trainer.focus_start == 20
    assert trainer.focus_n_eff == pytest.approx(float((factors[8:] ** 2).sum()))
    sampled = []
    original = trainer._train_step

    def recording_step():
        sampled.append((trainer.step, trainer.train_weights.clone()))
        return original()

    trainer._train_step = recording_step
    outcome = trainer.fit()
    assert outcome.steps == 30  # early stopping (patience 1) waits for the focus phase
    for step, weights in sampled:
        expected = factors[8:] ** 2 if step >= 20 else np.ones(32)
        assert np.allclose(weights.numpy(), expected), step
    assert trainer.best_step is not None and trainer.best_step >= 20
    assert np.allclose(trainer.val_weights.numpy(), factors[:8] ** 2)


def test_focus_phase_needs_factors_and_weight(tmp_path):
    with pytest.raises(ValueError, match="needs focus_factors"):
        _trainer(tmp_path, focus_steps=10, factors=None)
    with pytest.raises(ValueError, match="focus weight 0"):
        _trainer(tmp_path, focus_steps=10, factors=np.zeros(40))


def test_focus_steps_must_end_the_schedule():
    with pytest.raises(ConfigError, match=r"training.focus_steps: must be below training.max_steps"):
        TrainingConfig(max_steps=100, focus_steps=100).validate()
    with pytest.raises(ConfigError, match=r"training.focus_steps"):
        TrainingConfig(max_steps=None, max_epochs=3, focus_steps=10).validate()
    with pytest.raises(ConfigError, match="need sequences"):
        RunConfig.from_dict(
            {"model": {"likelihood": "gaussian"}, "training": {"max_steps": 50, "focus_steps": 10}}
        ).validate()


def test_train_with_focus_records_it(tmp_path, capsys):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 20, (60, 12))
    rows[1:30] = rows[0]  # half the family is the reference, the rest is far from it
    aln = tmp_path / "family.fasta"
    aln.write_text("".join(f">s{i}\n{''.join(letters[r])}\n" for i, r in enumerate(rows)))
    out = tmp_path / "run"
    args = ["train", str(aln), "--out", str(out), "--no-progress", "--set", "training.max_steps=40"]
    args += [
        "--set",
        "training.focus_steps=20",
        "--set",
        "model.latent_dim=2",
        "--set",
        "training.eval_every=10",
    ]
    assert main(args) == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["focus"]["start_step"] == 20 and summary["focus"]["power"] == 1.0
    assert 0 < summary["focus"]["n_eff_train"] < summary["n_eff_train"]
    assert "weighted towards the reference" in (out / "train.log").read_text()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "only" in warnings[0] and "effective sequences" in warnings[0]
    bad = ["train", str(aln), "--out", str(tmp_path / "bad"), "--set", "training.focus_steps=40"]
    assert main([*bad, "--set", "training.max_steps=40"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "training.focus_steps" in err
    assert not (tmp_path / "bad").exists()
