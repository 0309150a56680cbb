"""Reliability guarantees beyond bad input, grouped by mechanism: atomic writes (symlinks,
special files, stale temporaries, permissions, errors naming the target), alignment reading
(gzip, byte-order marks, Stockholm terminator, A2M match states, all-gap and one-sequence
alignments, non-ASCII letters), tables with bad bytes, divergent training, and reports."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import zlib

import numpy as np
import pandas as pd
import pytest

from builders import TINY, fails_cleanly, write_family
from seqvae.cli.main import main


# -- atomic writes -------------------------------------------------------------------------------
def test_symlink_output_is_written_through(tmp_path, tiny_run, capsys):
    real = tmp_path / "elsewhere" / "z_real.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "z.csv"
    link.symlink_to(real)
    assert main(["embed", str(tiny_run.run), "--out", str(link)]) == 0
    capsys.readouterr()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert pd.read_csv(link)["id"].iloc[0] == "s0"
    assert real.read_text().startswith("id,weight")
    assert not [p for p in real.parent.iterdir() if p.name.endswith(".tmp")]


def test_special_files_are_streamed_not_replaced(tmp_path, tiny_run, capsys):
    from seqvae.io.atomic import atomic_open

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    reader = subprocess.Popen(
        [sys.executable, "-c", f"print(open({str(fifo)!r}).read().splitlines()[0])"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert main(["embed", str(tiny_run.run), "--out", str(fifo)]) == 0
    capsys.readouterr()
    first_line, _ = reader.communicate(timeout=60)
    assert first_line.startswith("id,weight,z_mean_0")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a regular file
    before = os.stat("/dev/null")
    with atomic_open("/dev/null", "w") as handle:
        handle.write("nothing\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_stale_temporaries_of_the_target_are_removed(tmp_path):
    from seqvae.io.atomic import remove_stale_temporaries, write_json

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    target = tmp_path / "scores.csv"
    stale = tmp_path / f".scores.csv.{int(dead.stdout)}.k3j2.tmp"
    mine = tmp_path / f".scores.csv.{os.getpid()}.live.tmp"  # a writer that is alive
    other = tmp_path / f".other.csv.{int(dead.stdout)}.k3j2.tmp"  # another target's
    for path in (stale, mine, other):
        path.write_text("partial")
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert not stale.exists() and mine.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path) == [other]


def test_written_files_get_the_usual_mode(tmp_path, tiny_run):
    from seqvae.io.atomic import atomic_path

    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tiny_run.run.rglob("*") if p.is_file()}
    assert modes["model.safetensors"] == expected, modes
    assert set(modes.values()) == {expected}, modes
    target = tmp_path / "kept.txt"
    target.write_text("x")
    target.chmod(0o640)
    with atomic_path(target) as tmp:
        tmp.write_text("y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() == "y"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_errors_name_the_target_not_the_temporary(tmp_path, tiny_run, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        line = fails_cleanly(
            capsys, ["embed", tiny_run.run, "--out", locked / "z.csv"], str(locked / "z.csv")
        )
        assert ".tmp" not in line
    finally:
        locked.chmod(0o755)


def test_errors_name_the_target_when_writing_fails(tmp_path):
    from seqvae.io.atomic import atomic_path

    target = tmp_path / "out.bin"
    with pytest.raises(OSError) as caught, atomic_path(target) as tmp:
        raise OSError(28, "No space left on device", str(tmp))
    assert caught.value.filename == str(target)
    assert not list(tmp_path.iterdir())


def test_parent_that_is_a_file(tmp_path, tiny_run, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    fails_cleanly(
        capsys,
        ["embed", tiny_run.run, "--out", blocker / "sub" / "z.csv"],
        f"{blocker} is not a folder",
        folder=tmp_path,
    )
    assert blocker.read_text() == "mine"


# -- alignment reading ---------------------------------------------------------------------------
def test_corrupt_deflate_data(tmp_path, capsys):
    data = bytearray(gzip.compress(b">a\nACDEFGHIK\n>b\nACDEFGHIK\n" * 200))
    data[20:40] = bytes(20)  # the header is intact, the deflate stream is not
    path = tmp_path / "bad.fasta.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(zlib.error):
        gzip.decompress(bytes(data))
    fails_cleanly(capsys, ["info", path], f"{path}: corrupt gzip data", folder=tmp_path)


def test_byte_order_mark_is_accepted(tmp_path, capsys):
    fasta = tmp_path / "bom.fasta"
    fasta.write_bytes("\ufeff>a\nACDEF\n>b\nACDEG\n>c\nACDEH\n".encode())
    sto = tmp_path / "bom.sto"
    sto.write_bytes("\ufeff# STOCKHOLM 1.0\na ACDEF\nb ACDEG\nc ACDEH\n//\n".encode())
    from seqvae.data.alignment import read_alignment

    for path in (fasta, sto):
        alignment = read_alignment(path)
        assert alignment.ids == ["a", "b", "c"] and alignment.length == 5
        assert main(["info", str(path)]) == 0
    capsys.readouterr()


def test_stockholm_needs_its_terminator(tmp_path, capsys):
    path = tmp_path / "cut.sto"
    path.write_text("# STOCKHOLM 1.0\na ACDE\nb ACDF\n\na GHIK\nb GHIL\n")
    fails_cleanly(
        capsys, ["info", path], f"{path}:6: Stockholm alignment has no '//' terminator", folder=tmp_path
    )


def test_a2m_row_with_other_match_states(tmp_path, capsys):
    path = tmp_path / "shifted.a2m"
    # same length, but row b has its insert in another place: read column by column it would shift
    path.write_text(">ref/1-6\nACdEFG\n>b\nAC.EFG\n>c\nACDEFG\n")
    fails_cleanly(
        capsys,
        ["info", path],
        f"{path}:5: sequence 'c' has 6 match columns",
        "reference has 5",
        folder=tmp_path,
    )


def test_all_gap_alignment_is_refused(tmp_path, capsys):
    path = tmp_path / "gaps.fasta"
    path.write_text(">a\n------\n>b\n------\n>c\n------\n")
    out = tmp_path / "run"
    fails_cleanly(
        capsys,
        ["train", path, "--out", out, *TINY],
        f"{path}: the alignment holds no residues",
        folder=tmp_path,
    )


def test_one_sequence_warns_that_there_is_no_validation(tmp_path, capsys):
    path = tmp_path / "one.fasta"
    path.write_text(">only\nACDEFGHIKL\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out), *TINY]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "no validation split is possible" in warnings[0], err
    assert json.loads((out / "summary.json").read_text())["n_validation"] == 0


def test_non_ascii_letter_is_quoted(tmp_path, capsys):
    path = tmp_path / "accent.fasta"
    path.write_text(">a\nACDEF\n>b\nACDÉF\n", encoding="utf-8")
    line = fails_cleanly(
        capsys, ["info", path], f"{path}:3: unknown character 'É'", "column 4", folder=tmp_path
    )
    assert "'?'" not in line


# -- tables ------------------------------------------------------------------------------------
def test_bad_byte_in_a_scan_data_row(tmp_path, tiny_run, capsys):
    table = tmp_path / "scan.csv"
    reference = json.loads((tiny_run.run / "registry.json").read_text())["registry"]["reference_sequence"]
    rows = [f"{reference[0]}1A,0.5", f"{reference[1]}2C,0.1", f"{reference[2]}3D,0.2"]
    table.write_bytes(
        ("mutant,fitness\n" + "\n".join(rows[:2]) + "\n").encode() + b"\xff" + rows[2].encode() + b"\n"
    )
    out = tmp_path / "scores.csv"
    fails_cleanly(
        capsys,
        ["score", tiny_run.run, table, "--samples", "2", "--out", out],
        f"{table}:4:",
        "not UTF-8",
        folder=tmp_path,
    )
    phenotypes = tmp_path / "phenotypes.csv"
    phenotypes.write_bytes(b"id,value\ns0,1\ns1,\xe9\n")
    fails_cleanly(
        capsys,
        ["latent", tiny_run.run, "--phenotypes", phenotypes, "--out", tmp_path / "latent"],
        f"{phenotypes}:3:",
        "not UTF-8",
        folder=tmp_path,
    )


# -- training that diverges ------------------------------------------------------------------------
def test_divergence_stops_training_and_fails(tmp_path, capsys):
    aln = write_family(tmp_path / "family.fasta")
    out = tmp_path / "run"
    assert main(["train", str(aln), "--out", str(out), *TINY, "--lr", "1e6"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"error: {out}: training diverged") and "last checkpoint (step 0)" in line, line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "diverged" in summary["error"]
    assert not (out / "model.safetensors").exists()
    rows = pd.read_csv(out / "metrics.csv")
    assert np.isfinite(rows["loss"]).all()  # no NaN row was written
    fails_cleanly(
        capsys,
        ["score", out, "--all-singles", "--out", tmp_path / "s.csv"],
        "no weights: training failed at step 6",
    )


# -- reports -------------------------------------------------------------------------------------
def test_report_without_data_says_so(tmp_path, tiny_run, capsys):
    import shutil

    run = tiny_run.copy(tmp_path)
    shutil.rmtree(run / "data")
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert any(line.startswith("warning:") and "no data/ folder" in line for line in err.splitlines()), err
    assert "Not shown: the run directory has no data/ folder" in out.read_text()


def test_report_training_text_tells_the_truth():
    from seqvae.report.sections import training_summary_text

    finished = {
        "status": "finished",
        "steps": 12,
        "stop_reason": "max_steps",
        "best_val_elbo": None,
        "best_step": None,
        "weights": "final",
        "weights_step": 12,
    }
    text = training_summary_text(finished)
    assert "step 12 (final)" in text and "None" not in text and "No validation ELBO" in text
    best = dict(finished, best_val_elbo=-10.5, best_step=6, weights="best validation ELBO", weights_step=6)
    assert "best validation ELBO (step 6, -10.500)" in training_summary_text(best)


def test_baseline_overwrite_leaves_no_stale_couplings(tmp_path, capsys):
    pytest.importorskip("seqvae.io.output_dirs", reason="the --overwrite mechanism of issue 13 (defect 1)")
    aln = write_family(tmp_path / "family.fasta")
    out = tmp_path / "baseline"
    base = ["baseline", "fit", str(aln), "--out", str(out)]
    assert main([*base, "--model", "potts", "--max-iterations", "5"]) == 0
    assert (out / "couplings.npz").exists()
    assert main([*base, "--model", "site-independent", "--overwrite"]) == 0
    capsys.readouterr()
    assert not list(out.glob("couplings*.npz"))
