"""training.weight_averaging: the ramp of the moving average's decay, and the warning when the
configured decay is never reached within the schedule."""

from __future__ import annotations

import itertools

import pytest

from builders import write_family
from seqvae.cli.main import main
from seqvae.training.config import preset_config
from seqvae.training.trainer import averaging_decay


def test_the_ramp_rises_to_the_configured_decay_and_stops_there():
    assert averaging_decay(0.995, 0) == pytest.approx(0.1)
    assert averaging_decay(0.995, 1500) == pytest.approx(1501 / 1510)
    assert averaging_decay(0.995, 1500) < 0.995  # not reached in the fitness schedule
    assert averaging_decay(0.995, 10_000) == 0.995
    ramp = [averaging_decay(0.9, step) for step in range(200)]
    assert all(a <= b for a, b in itertools.pairwise(ramp)) and ramp[-1] == 0.9


def test_the_fitness_preset_asks_for_no_more_than_its_schedule_reaches():
    training = preset_config("fitness").training
    assert training.weight_averaging <= averaging_decay(1.0, training.max_steps)


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning:") and "weight_averaging" in line]


@pytest.mark.parametrize(("decay", "warned"), [(0.99, True), (0.5, False)])
def test_train_warns_when_the_decay_is_never_reached(tmp_path, capsys, decay, warned):
    out = tmp_path / "run"
    args = ["train", str(write_family(tmp_path / "family.fasta")), "--out", str(out), "--no-progress"]
    args += ["--set", "training.max_steps=30", "--set", f"training.weight_averaging={decay}"]
    args += ["--set", "model.latent_dim=2"]
    assert main(args) == 0
    found = _warnings(capsys.readouterr().err)
    assert len(found) == int(warned)
    if warned:
        # 30 steps: the ramp ends at 31 / 40
        assert "0.99 is never reached in 30 steps" in found[0] and "0.7750" in found[0]
    assert (out / "model.safetensors").exists()
