"""A workflow of many runs interrupted during a training says to run the same command again,
which keeps its finished work and resumes that training; a single run says ``seqvae resume``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from builders import write_family
from seqvae.cli.main import main
from seqvae.errors import TrainingInterrupted
from seqvae.workflows import multirun, sweep


def _interrupt(*_args, **_kwargs):
    raise TrainingInterrupted(7, Path("somewhere/seed0"))


def _manifest(folder: Path) -> Path:
    wild_type = write_family(folder / "fam.fasta").read_text().splitlines()[1]
    (folder / "scan.csv").write_text(f"mutant,fitness\n{wild_type[0]}1A,0.5\n{wild_type[1]}2C,0.1\n")
    family = {"name": "fam", "alignment": "fam.fasta", "scan": "scan.csv", "score_column": "fitness"}
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump({"families": [family]}))
    return path


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        (["batch", "MANIFEST", "--quiet"], "the same seqvae batch command"),
        (["benchmark-dms", "--panel", "MANIFEST", "--models", "vae"], "the same benchmark-dms command"),
        (
            ["sweep", "DATA", "--param", "model.beta", "--values", "1", "--no-progress"],
            "the same seqvae sweep",
        ),
    ],
)
def test_the_hint_names_the_same_command(tmp_path, capsys, monkeypatch, command, hint):
    monkeypatch.setattr(multirun, "train_or_resume", _interrupt)
    monkeypatch.setattr(sweep, "train_or_resume", _interrupt)
    np.save(tmp_path / "data.npy", np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32))
    files = {"MANIFEST": str(_manifest(tmp_path)), "DATA": str(tmp_path / "data.npy")}
    arguments = [files.get(argument, argument) for argument in command]
    assert main([*arguments, "--out", str(tmp_path / "out")]) == 130
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "interrupted at step 7" in out and f"Continue with: {hint}" in out, out
    assert "seqvae resume" not in out
