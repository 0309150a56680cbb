"""Output directories: ``--overwrite`` replaces only seqvae's own directories, and a directory is
claimed by one process at a time (issue: nothing lost, nothing half-written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.io.output_dirs import LOCK_FILE, claim_directory, lock_directory
from seqvae.training.run_directory import RUN_DIRECTORY
from test_bad_input import TINY, fails_cleanly, write_family

SRC = str(Path(__file__).resolve().parents[2] / "src")


def train_tiny(aln: Path, out: Path, *extra: str) -> int:
    return main(["train", str(aln), "--out", str(out), *TINY, *extra])


@pytest.fixture
def family(tmp_path) -> Path:
    return write_family(tmp_path / "family.fasta")


def test_overwrite_refuses_a_folder_with_foreign_files(tmp_path, family, capsys):
    folder = tmp_path / "u"
    folder.mkdir()
    (folder / "thesis.tex").write_text("x")
    fails_cleanly(
        capsys,
        ["train", family, "--out", folder, *TINY, "--overwrite"],
        "thesis.tex",
        "nothing was deleted",
        folder=folder,
    )
    assert (folder / "thesis.tex").read_text() == "x"


def test_overwrite_refuses_the_folder_holding_the_input_alignment(tmp_path, capsys):
    folder = tmp_path / "project"
    folder.mkdir()
    aln = write_family(folder / "family.fasta")
    before = aln.read_bytes()
    fails_cleanly(capsys, ["train", aln, "--out", folder, *TINY, "--overwrite"], "family.fasta")
    assert aln.read_bytes() == before


def test_overwrite_refuses_the_working_folder(tmp_path, family, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fails_cleanly(capsys, ["train", family, "--out", ".", *TINY, "--overwrite"], "family.fasta")
    assert family.exists()


def test_overwrite_refuses_an_unrecognised_folder_of_run_file_names(tmp_path, family, capsys):
    # only a train.log: every name is a run file, but no marker says it is a run directory
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "train.log").write_text("my notes")
    fails_cleanly(capsys, ["train", family, "--out", folder, *TINY, "--overwrite"], "not one")
    assert (folder / "train.log").read_text() == "my notes"


def test_overwrite_replaces_a_run_directory(tmp_path, family, capsys):
    out = tmp_path / "run"
    assert train_tiny(family, out, "--seed", "1") == 0
    capsys.readouterr()
    fails_cleanly(capsys, ["train", family, "--out", out, *TINY], "--overwrite")
    (out / ".model.safetensors.abc.tmp").write_text("left by kill -9")
    assert train_tiny(family, out, "--seed", "2", "--overwrite") == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 2
    assert not (out / ".model.safetensors.abc.tmp").exists()


def test_baseline_overwrite_replaces_only_a_baseline_directory(tmp_path, family, capsys):
    out = tmp_path / "baseline"
    assert (
        main(["baseline", "fit", str(family), "--model", "potts", "--max-iterations", "3", "--out", str(out)])
        == 0
    )
    assert (out / "couplings.npz").exists()
    capsys.readouterr()
    assert main(["baseline", "fit", str(family), "--out", str(out), "--overwrite"]) == 0
    # a site-independent fit keeps no coupling matrices of the Potts fit it replaced
    assert not (out / "couplings.npz").exists() and not (out / "couplings_apc.npz").exists()
    capsys.readouterr()
    (out / "notes.txt").write_text("keep")
    fails_cleanly(
        capsys, ["baseline", "fit", family, "--out", out, "--overwrite"], "notes.txt", "baseline directory"
    )
    assert (out / "notes.txt").read_text() == "keep"
    # a run directory is not a baseline directory: --overwrite does not replace one with the other
    run = tmp_path / "run"
    assert train_tiny(family, run) == 0
    capsys.readouterr()
    fails_cleanly(capsys, ["baseline", "fit", family, "--out", run, "--overwrite"], "baseline directory")


def test_a_claimed_directory_refuses_a_second_writer(tmp_path):
    out = tmp_path / "run"
    with claim_directory(out, RUN_DIRECTORY):
        (out / "config.json").write_text("{}")
        with pytest.raises(InputError, match="another seqvae process"):
            with claim_directory(out, RUN_DIRECTORY, overwrite=True):
                pass
        with pytest.raises(InputError, match="another seqvae process"):
            with lock_directory(out, RUN_DIRECTORY):
                pass
    with lock_directory(out, RUN_DIRECTORY):  # released with the first claim
        pass
    assert (out / "config.json").read_text() == "{}"


def test_a_failed_claim_leaves_no_folder_behind(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), claim_directory(out, RUN_DIRECTORY):
        raise RuntimeError("bad input found after the claim")
    assert not out.exists()


def test_parent_that_is_a_file_gets_one_line(tmp_path, family, capsys):
    (tmp_path / "plain").write_text("x")
    fails_cleanly(capsys, ["train", family, "--out", tmp_path / "plain" / "run", *TINY], "not a folder")


def _start(aln: Path, out: Path, seed: int, steps: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = [str(a) for a in TINY]
    args[args.index("--max-steps") + 1] = str(steps)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqvae.cli.main",
            "train",
            str(aln),
            "--out",
            str(out),
            "--seed",
            str(seed),
            *args,
            *list(extra),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_started_at_once_one_wins_and_the_directory_is_whole(tmp_path, family):
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        first, second = _start(family, out, 1, 60), _start(family, out, 2, 60)
        results = [(p, *p.communicate(timeout=300)) for p in (first, second)]
        codes = sorted(p.returncode for p, _, _ in results)
        assert codes == [0, 2], [(p.returncode, err) for p, _, err in results]
        winner = 1 if first.returncode == 0 else 2
        loser_err = next(err for p, _, err in results if p.returncode == 2)
        errors = [line for line in loser_err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in loser_err, loser_err
        assert json.loads((out / "config.json").read_text())["seed"] == winner
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] != "running"
        assert summary.get("seed", winner) == winner
        assert (out / LOCK_FILE).exists()


def test_a_running_training_keeps_the_directory(tmp_path, family, capsys):
    out = tmp_path / "run"
    runner = _start(family, out, 1, 10**7, "--set", "training.early_stopping_patience=null")
    try:
        deadline = time.monotonic() + 120
        while not (out / "summary.json").exists():
            assert runner.poll() is None, runner.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # the runner is another process; the intruders can run in this one
        assert train_tiny(family, out, "--seed", "2") == 2
        err = capsys.readouterr().err
        assert "another seqvae process" in err or "already exists" in err
        assert main(["resume", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "another seqvae process" in err, err
    finally:
        runner.kill()
        runner.communicate()
    assert json.loads((out / "config.json").read_text())["seed"] == 1


def test_a_folder_with_only_seqvae_debris_counts_as_empty(tmp_path, family, capsys):
    # a run killed during its very first write leaves the lock and a temporary, nothing else
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text("")
    (out / ".config.json.123.abc.tmp").write_text("{")
    assert train_tiny(family, out) == 0
    assert not (out / ".config.json.123.abc.tmp").exists()
    assert (out / "config.json").exists()
