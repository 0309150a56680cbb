"""Interrupted training resumes exactly: a run killed with SIGKILL (or stopped with Ctrl-C)
and continued with ``seqvae resume`` ends with the same weights, early-stopping state and
metrics as an uninterrupted run with the same seed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

import seqvae
from seqvae.cli.main import main

LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
SRC = str(Path(seqvae.__file__).resolve().parents[1])


def write_family(path: Path, n: int = 300, length: int = 20, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ancestors = rng.integers(0, 21, (4, length))
    rows = ancestors[rng.integers(0, 4, n)]
    rows = np.where(rng.random((n, length)) < 0.25, rng.integers(0, 21, (n, length)), rows)
    alphabet = np.append(LETTERS, "-")
    path.write_text("".join(f">s{i}\n{''.join(alphabet[r])}\n" for i, r in enumerate(rows)))
    return path


def write_config(path: Path, regulariser: str, **training) -> Path:
    config = {
        "seed": 3,
        "model": {
            "encoder_hidden": [32],
            "decoder_hidden": [32],
            "latent_dim": 2,
            "dropout": 0.1,  # dropout draws from the global generator: part of what must resume
            "regulariser": regulariser,
            "warmup_steps": 50,
        },
        "training": {
            "batch_size": 32,
            "max_steps": 240,
            "eval_every": 20,
            "log_every": 8,  # not a divisor of checkpoint_every: rows span checkpoints
            "checkpoint_every": 20,
            "early_stopping_patience": 3,
            "validation_fraction": 0.2,
            **training,
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def start_training(aln: Path, config: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqvae.cli.main",
            "train",
            aln,
            "--config",
            config,
            "--out",
            out,
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _checkpoint_step(out: Path) -> int:
    try:
        return int(torch.load(out / "checkpoint.pt", weights_only=True)["step"])
    except Exception:  # not there yet (written atomically, so never half-read)
        return -1


def wait_for_checkpoint(process: subprocess.Popen, out: Path, timeout: float = 120.0, step: int = 1) -> None:
    """Wait until a checkpoint of at least ``step`` exists (training writes one at step 0)."""
    deadline = time.monotonic() + timeout
    while _checkpoint_step(out) < step:
        if process.poll() is not None:
            raise AssertionError(f"training ended before a checkpoint: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("no checkpoint written in time")
        time.sleep(0.02)


def wait_for_metrics(process: subprocess.Popen, out: Path, rows: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not (out / "metrics.csv").exists() or len((out / "metrics.csv").read_text().splitlines()) <= rows:
        if process.poll() is not None:
            raise AssertionError(f"training ended too early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("no metrics written in time")
        time.sleep(0.01)


def metric_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "time_s"} for row in csv.DictReader(handle)]


def assert_same_run(resumed: Path, reference: Path) -> None:
    final, expected = load_file(resumed / "model.safetensors"), load_file(reference / "model.safetensors")
    assert final.keys() == expected.keys()
    for name in expected:
        assert torch.equal(final[name], expected[name]), name
    summary, expected_summary = (json.loads((d / "summary.json").read_text()) for d in (resumed, reference))
    for key in ("status", "steps", "stop_reason", "best_step", "best_val_elbo"):
        assert summary[key] == expected_summary[key], key
    # rows written after the last checkpoint by the killed process are dropped, then rewritten
    assert metric_rows(resumed) == metric_rows(reference)


def kill_then_resume(family: Path, config: Path, out: Path, reference: Path, after_step: int) -> None:
    """SIGKILL a training once a checkpoint of ``after_step`` or later exists (before its end),
    resume it, and check it ends as the uninterrupted ``reference``."""
    process = start_training(family, config, out)
    wait_for_checkpoint(process, out, step=after_step)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert after_step <= torch.load(out / "checkpoint.pt", weights_only=True)["step"] < 240
    assert main(["resume", str(out), "--no-progress"]) == 0
    assert_same_run(out, reference)


@pytest.fixture(scope="module")
def family(tmp_path_factory) -> Path:
    return write_family(tmp_path_factory.mktemp("family") / "family.fasta")


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory, family) -> dict[str, Path]:
    """Uninterrupted runs, one per regulariser."""
    folder = tmp_path_factory.mktemp("reference")
    runs = {}
    for regulariser in ("kl", "mmd"):
        config = write_config(folder / f"{regulariser}.yaml", regulariser)
        runs[regulariser] = folder / regulariser
        assert main(["train", str(family), "--config", str(config), "--out", str(runs[regulariser])]) == 0
        assert main(["train", str(family), "--config", str(config), "--out", str(runs[regulariser])]) == 2
    return runs


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, family, reference_runs, capsys):
    config = write_config(tmp_path / "kl.yaml", "kl")
    out = tmp_path / "killed"
    process = start_training(family, config, out)
    wait_for_checkpoint(process, out)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "running"  # really killed mid-run, not finished
    assert 0 < state["step"] < 240

    assert main(["resume", str(out), "--no-progress"]) == 0
    assert "finished" in capsys.readouterr().err
    assert_same_run(out, reference_runs["kl"])


@pytest.fixture(scope="module")
def stopped_by_ctrl_c(tmp_path_factory, family) -> tuple[Path, int, str]:
    """One training stopped with Ctrl-C past three evaluations (a checkpoint of step 60 or later),
    read by the tests below: its folder (copy it before resuming), exit code and stderr."""
    folder = tmp_path_factory.mktemp("ctrl_c")
    config = write_config(folder / "mmd.yaml", "mmd")
    out = folder / "stopped"
    process = start_training(family, config, out)
    wait_for_checkpoint(process, out, step=60)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.fail("training finished before Ctrl-C arrived; make the run longer")
    return out, process.returncode, stderr


def test_ctrl_c_saves_and_exits_130_then_resumes_exactly(tmp_path, stopped_by_ctrl_c, reference_runs):
    import shutil

    out, returncode, stderr = stopped_by_ctrl_c
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert "interrupted at step" in message and f"seqvae resume {out}" in message
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["steps"] == state["step"] == summary["checkpoint_step"]  # saved at the stop
    assert f"interrupted at step {state['step']}" in message
    seqvae.load(out)  # the interrupted run's weights are usable as they are

    copy = tmp_path / "stopped"
    shutil.copytree(out, copy)
    assert main(["resume", str(copy), "--no-progress"]) == 0
    assert_same_run(copy, reference_runs["mmd"])


def test_resume_of_finished_run_changes_nothing(tmp_path, reference_runs):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference_runs["kl"], copy)
    assert main(["resume", str(copy), "--no-progress"]) == 0
    assert_same_run(copy, reference_runs["kl"])


def test_metrics_truncation_drops_late_and_cut_rows(tmp_path):
    from seqvae.training.run_directory import METRIC_COLUMNS
    from seqvae.training.trainer import _truncate_metrics

    path = tmp_path / "metrics.csv"
    rows = [",".join([str(step)] + ["1.0"] * (len(METRIC_COLUMNS) - 1)) for step in (10, 20, 30, 40)]
    path.write_text(",".join(METRIC_COLUMNS) + "\n" + "\n".join(rows) + "\n4")  # '4' = row cut short
    _truncate_metrics(path, 30)
    with open(path, newline="") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [10, 20, 30]


def test_sigterm_is_handled_like_ctrl_c_then_resumes_exactly(tmp_path, family, reference_runs, capsys):
    config = write_config(tmp_path / "kl.yaml", "kl")
    out = tmp_path / "terminated"
    process = start_training(family, config, out)
    wait_for_checkpoint(process, out)
    process.send_signal(signal.SIGTERM)  # what `timeout` and job schedulers send
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.fail("training finished before SIGTERM arrived; make the run longer")
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert "interrupted by SIGTERM at step" in stderr.strip().splitlines()[-1]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["steps"] == state["step"] == summary["checkpoint_step"]
    assert "SIGTERM" in (out / "train.log").read_text()

    assert main(["resume", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert_same_run(out, reference_runs["kl"])


def test_killed_before_first_checkpoint_is_resumable(tmp_path, family, reference_runs, capsys):
    config = write_config(tmp_path / "kl.yaml", "kl")
    settings = yaml.safe_load(config.read_text())
    settings["training"]["checkpoint_every"] = 10_000  # no regular checkpoint before the end
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "early"
    process = start_training(family, config, out)
    wait_for_metrics(process, out, rows=2)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert _checkpoint_step(out) == 0  # the state before the first step

    assert main(["resume", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert_same_run(out, reference_runs["kl"])


def test_interrupted_weights_agree_with_summary(stopped_by_ctrl_c):
    """After Ctrl-C, model.safetensors holds what summary.json says (the best validation ELBO's
    weights with early stopping) and the report says which step they are from."""
    from seqvae.report.sections import training_summary_text

    out, returncode, stderr = stopped_by_ctrl_c
    assert returncode == 130, stderr
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] >= 60  # past three evaluations
    summary = json.loads((out / "summary.json").read_text())
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert summary["weights"] == "best validation ELBO"
    assert summary["weights_step"] == summary["best_step"] == state["best_step"] is not None
    assert summary["best_step"] < summary["steps"] or summary["best_step"] == summary["steps"]
    weights = load_file(out / "model.safetensors")
    for name, tensor in state["best_model"].items():
        assert torch.equal(weights[name], tensor), name
    text = training_summary_text(summary)
    assert f"best validation ELBO (step {summary['best_step']}" in text and "None" not in text
    assert "Interrupted at step" in text


def test_resume_removes_stale_temporaries(tmp_path, reference_runs, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference_runs["kl"], copy)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)  # a process that has exited
    stale = [copy / f".checkpoint.pt.{dead_pid}.abc123.tmp", copy / "data" / f".codes.npy.{dead_pid}.x1.tmp"]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = copy / f".summary.json.{sleeper.pid}.zz9.tmp"  # another process still writing
        for path in [*stale, live]:
            path.write_bytes(b"partial")
        assert main(["resume", str(copy), "--no-progress"]) == 0
        assert not any(path.exists() for path in stale)
        assert live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigkill_then_resume_with_weight_averaging(tmp_path, family):
    """The moving average of the weights is part of the training state: a killed run resumes
    to the same averaged weights, and those (not the last step's) are the ones kept."""
    config = write_config(tmp_path / "avg.yaml", "kl", weight_averaging=0.95, early_stopping_patience=None)
    reference = tmp_path / "reference"
    assert (
        main(["train", str(family), "--config", str(config), "--out", str(reference), "--no-progress"]) == 0
    )
    state = torch.load(reference / "checkpoint.pt", weights_only=True)
    kept = load_file(reference / "model.safetensors")
    averaged, live = state["averaged_model"], state["model"]
    assert set(averaged) <= set(kept)
    for name, value in averaged.items():
        assert torch.equal(kept[name], value), name
    assert any(not torch.equal(live[k], averaged[k]) for k in averaged)  # really an average

    kill_then_resume(family, config, tmp_path / "killed", reference, after_step=20)


def test_sigkill_inside_the_focus_phase_then_resume(tmp_path, family):
    """A run killed after its family phase resumes in the focus phase: same weights, same
    record of the best (focused) validation ELBO, same metrics."""
    config = write_config(
        tmp_path / "focus.yaml", "kl", focus_steps=100, focus_power=2.0, weight_averaging=0.95
    )
    reference = tmp_path / "reference"
    assert (
        main(["train", str(family), "--config", str(config), "--out", str(reference), "--no-progress"]) == 0
    )
    summary = json.loads((reference / "summary.json").read_text())
    assert summary["focus"]["start_step"] == 140 and summary["best_step"] >= 140  # kept: the focus phase

    kill_then_resume(family, config, tmp_path / "killed", reference, after_step=160)
