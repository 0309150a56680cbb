"""A rerun reuses only what was made with the same settings (issue 30, items 4 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from builders import fails_cleanly, snapshot, write_family
from seqvae.cli.main import main
from seqvae.training.config import RunConfig
from seqvae.workflows.batch import run_batch

TINY = {
    "model.encoder_hidden": [8],
    "model.decoder_hidden": [8],
    "model.latent_dim": 2,
    "training.batch_size": 16,
    "training.eval_every": 5,
    "training.checkpoint_every": 5,
    "training.log_every": 5,
    "training.device": "cpu",
}


def test_config_differences_ignore_where_a_run_trains():
    config = RunConfig().updated({"training.max_steps": 400})
    same = config.updated({"training.device": "cuda", "training.threads": 3, "model.length": 9})
    assert config.differences(same) == []
    assert config.differences(config.updated({"training.max_steps": 600})) == ["training.max_steps"]


def _batch(folder: Path, steps: int) -> Path:
    write_family(folder / "fam.fasta", n=40, length=8)
    path = folder / "batch.yaml"
    manifest = {
        "preset": "explore",
        "report": False,
        "overrides": {**TINY, "training.max_steps": steps},
        "families": [{"name": "fam", "alignment": "fam.fasta"}],
    }
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_batch_killed_during_training_and_rerun_with_a_changed_config_retrains(tmp_path):
    """400 -> 600 steps after a kill resumed the 400-step run and recorded it as done under the
    new manifest's fingerprint (issue 30, 4)."""
    out = tmp_path / "out"
    assert not run_batch(_batch(tmp_path, 10), out).failures
    run = out / "fam" / "seed0"
    # as a kill during training leaves it: a checkpoint, no finished status, no task results
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    for task in ("train-seed0", "score"):
        (out / "fam" / "tasks" / task / ".seqvae-task.json").unlink()
    result = run_batch(_batch(tmp_path, 15), out)
    assert not result.failures, result.failures
    assert json.loads((run / "config.json").read_text())["training"]["max_steps"] == 15
    finished = json.loads((run / "summary.json").read_text())
    assert finished["status"] == "finished" and finished["steps"] == 15
    # the same manifest again: everything is already done
    assert run_batch(_batch(tmp_path, 15), out).info["n_skipped"] == 3


def test_batch_rerun_with_a_changed_config_after_it_finished_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(_batch(tmp_path, 10)), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    args = ["batch", _batch(tmp_path, 15), "--out", out, "--quiet"]
    fails_cleanly(capsys, args, "made with other inputs", "new output folder", folder=out)


# -- the panel ---------------------------------------------------------------------------------
def _panel(folder: Path) -> Path:
    aln = write_family(folder / "fam.fasta", n=40, length=8)
    reference = aln.read_text().splitlines()[1]
    mutants = [f"{reference[i]}{i + 1}{'A' if reference[i] != 'A' else 'C'}" for i in range(8)]
    (folder / "scan.csv").write_text(
        "mutant,fitness\n" + "".join(f"{m},{k}\n" for k, m in enumerate(mutants))
    )
    panel = folder / "panel.yaml"
    protein = {"name": "fam", "alignment": "fam.fasta", "scan": "scan.csv", "score_column": "fitness"}
    panel.write_text(yaml.safe_dump({"families": [protein]}))
    return panel


def _panel_args(panel: Path, out: Path, *extra: str) -> list[str]:
    sets = [item for key, value in TINY.items() for item in ("--set", f"{key}={json.dumps(value)}")]
    return [
        "benchmark-dms",
        "--panel",
        str(panel),
        "--out",
        str(out),
        "--models",
        "potts,vae",
        "--samples",
        "2",
        "--potts-iterations",
        "3",
        "--set",
        "training.max_steps=6",
        *sets,
        *extra,
    ]


def test_panel_rerun_with_other_settings_is_refused_not_reprinted(tmp_path, capsys):
    """Another --set, --preset or --potts-iterations retrained nothing and reprinted the old ρ
    (issue 30, 5): a fitted model is recognised by its settings."""
    panel = _panel(tmp_path)
    out = tmp_path / "out"
    assert main(_panel_args(panel, out)) == 0, capsys.readouterr().err
    capsys.readouterr()
    changes = [
        ["--set", "training.max_steps=7"],
        ["--potts-iterations", "4"],
        ["--preset", "explore"],
    ]
    for change in changes:
        args = _panel_args(panel, out)
        if change[0] == "--set":
            args += change
        else:
            index = args.index(change[0]) if change[0] in args else None
            args = args[:index] + change + args[index + 2 :] if index is not None else args + change
        before = snapshot(out)
        assert main(args) == 2
        error = capsys.readouterr().err.splitlines()[-1]
        assert "fitted with other settings" in error and "use a new output folder (--out)" in error
        assert snapshot(out) == before
    # the same settings: nothing fitted again
    assert main(_panel_args(panel, out)) == 0
    assert "fitted" not in capsys.readouterr().err


def test_panel_rescores_when_the_scoring_settings_change(tmp_path, capsys):
    panel = _panel(tmp_path)
    out = tmp_path / "out"
    assert main(_panel_args(panel, out)) == 0, capsys.readouterr().err
    first = json.loads((out / "fam" / "eval_vae_seed0.json").read_text())
    args = _panel_args(panel, out)
    args[args.index("--samples") + 1] = "3"
    assert main(args) == 0
    second = json.loads((out / "fam" / "eval_vae_seed0.json").read_text())
    assert first["inputs"] != second["inputs"]
    table = pd.read_csv(out / "panel.csv")
    assert list(table["model"]) == ["potts", "vae (seed 0)", "vae (seed 0) + potts"]
