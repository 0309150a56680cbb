"""Inputs of the new surfaces that ended in a traceback or a silently wrong result (issue 30,
items 6-12): each is one line, exit 2, nothing written."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pandas as pd
import pytest
import yaml

from builders import fails_cleanly, snapshot, write_family
from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.io.config_files import parse_yaml

SEQUENCE = "HPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVLSRVDAGQEQLGRRIHYSQNDLVEY"
DEEP = "a: " + "[" * 20000 + "]" * 20000 + "\n"


# -- align: the database ------------------------------------------------------------------------
@pytest.fixture
def search(tmp_path):
    pytest.importorskip("pyhmmer")
    rng = random.Random(0)
    records = []
    for i in range(12):
        mutated = "".join(c if rng.random() > 0.2 else rng.choice("ACDEFGHIKLMNPQRSTVWY") for c in SEQUENCE)
        records.append(f">hit{i}\n{mutated}\n")
    (tmp_path / "wt.fasta").write_text(f">wt\n{SEQUENCE}\n")
    return tmp_path, records


def _align(folder: Path, database: Path) -> list:
    return [
        "align",
        folder / "wt.fasta",
        "--database",
        database,
        "--out",
        folder / "out" / "f.a2m",
        "--cpus",
        "1",
    ]


def test_a_cut_gzip_database_is_refused(search, capsys):
    """A truncated gzip database gave exit 0 and a family from half the records (issue 30, 6)."""
    folder, records = search
    packed = gzip.compress("".join(records * 200).encode())
    (folder / "db.fasta.gz").write_bytes(packed[: len(packed) * 2 // 3])
    fails_cleanly(capsys, _align(folder, folder / "db.fasta.gz"), "db.fasta.gz", folder=folder)


def test_corrupt_deflate_data_in_a_gzip_database_is_refused(search, capsys):
    folder, records = search
    packed = bytearray(gzip.compress("".join(records * 200).encode()))
    for i in range(len(packed) // 2, len(packed) // 2 + 64):
        packed[i] ^= 0xFF
    (folder / "db.fasta.gz").write_bytes(bytes(packed))
    fails_cleanly(capsys, _align(folder, folder / "db.fasta.gz"), "cannot read the database", folder=folder)


def test_duplicate_record_ids_in_the_database_are_refused(search, capsys):
    """Two records named alike gave an A2M with duplicate row ids (issue 30, 7)."""
    folder, records = search
    (folder / "db.fasta").write_text("".join(records) + records[3])
    before = snapshot(folder)
    assert main([str(a) for a in _align(folder, folder / "db.fasta")]) == 2
    err = capsys.readouterr().err
    last = err.splitlines()[-1]  # after a progress line per iteration
    assert "hit3" in last and "distinct ids" in last and "Traceback" not in err
    assert snapshot(folder) == before


# -- batch manifests, YAML and sizes --------------------------------------------------------------
def _manifest(folder: Path, **top) -> Path:
    write_family(folder / "fam.fasta")
    values = {"families": [{"name": "fam", "alignment": "fam.fasta"}], **top}
    path = folder / "m.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize(
    "top, family, fragment",
    [
        ({"overrides": [1, 2]}, {}, "overrides"),
        ({"overrides": "training.max_steps=3"}, {}, "overrides"),
        ({}, {"overrides": [1]}, "overrides"),
        ({}, {"scans": 5}, "scans"),
        ({"seeds": [1.5]}, {}, "seeds"),
        ({"seeds": [True]}, {}, "seeds"),
        ({"seeds": [-1]}, {}, "seeds"),
        ({"seeds": [10**22]}, {}, "seeds"),
        ({"report": "false"}, {}, "report"),
        ({"overrides": {"model.latent_dim": 1_000_000_000}}, {}, "4096"),
        ({"overrides": {"model.encoder_hidden": [200_000_000]}}, {}, "65536"),
    ],
)
def test_bad_manifest_values_are_one_line(tmp_path, capsys, top, family, fragment):
    """Tracebacks and silently wrong batches of issue 30, items 8 and 10."""
    path = _manifest(tmp_path, **top)
    values = yaml.safe_load(path.read_text())
    values["families"][0].update(family)
    path.write_text(yaml.safe_dump(values))
    fails_cleanly(capsys, ["batch", path, "--out", tmp_path / "out"], fragment, folder=tmp_path)


@pytest.mark.parametrize(
    "header, scan, fragment",
    [
        ("mutant,value", {"score_column": "fitness"}, "score_column 'fitness'"),
        ("variant,value", {}, "no 'mutant' or 'mutated_sequence'"),
        ("mutant,value", {"mutant_column": "variant"}, "mutant_column 'variant'"),
    ],
)
def test_a_scan_without_its_columns_is_refused_before_training(tmp_path, capsys, header, scan, fragment):
    """A scan's missing score_column was found only after training (issue 30, 10)."""
    path = _manifest(tmp_path)
    (tmp_path / "scan.csv").write_text(f"{header}\nA1C,0.5\n")
    values = yaml.safe_load(path.read_text())
    values["families"][0]["scans"] = [{"file": "scan.csv", **scan}]
    path.write_text(yaml.safe_dump(values))
    fails_cleanly(capsys, ["batch", path, "--out", tmp_path / "out"], fragment, folder=tmp_path)


@pytest.mark.parametrize("kind", ["manifest", "panel", "config"])
def test_yaml_nested_too_deeply_is_one_line(tmp_path, capsys, kind):
    path = tmp_path / ("run.yaml" if kind == "config" else f"{kind}.yaml")
    path.write_text(DEEP)
    write_family(tmp_path / "fam.fasta")
    args = {
        "manifest": ["batch", path, "--out", tmp_path / "out"],
        "panel": ["benchmark-dms", "--panel", path, "--out", tmp_path / "out"],
        "config": ["train", tmp_path / "fam.fasta", "--config", path, "--out", tmp_path / "out"],
    }[kind]
    fails_cleanly(capsys, args, "nested too deeply", folder=tmp_path)


def test_a_key_given_twice_in_yaml_is_refused():
    """A duplicate top-level key silently replaced the first section (issue 30, 12)."""
    with pytest.raises(InputError, match="'model' is given twice") as caught:
        parse_yaml("model:\n  latent_dim: 3\ntraining:\n  max_steps: 2\nmodel:\n  beta: 2\n", "run.yaml")
    assert caught.value.line == 5
    assert parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n")["other"] == {"x": 2}


@pytest.mark.parametrize(
    "setting, fragment",
    [("model.latent_dim=1000000000", "4096"), ("model.decoder_hidden=[200000000]", "65536")],
)
def test_sizes_beyond_their_bound_are_one_line(tmp_path, capsys, setting, fragment):
    aln = write_family(tmp_path / "fam.fasta")
    fails_cleanly(
        capsys, ["train", aln, "--out", tmp_path / "run", "--set", setting], fragment, folder=tmp_path
    )


def test_a_model_too_large_for_its_alignment_is_one_line(tmp_path, capsys):
    aln = write_family(tmp_path / "fam.fasta", length=300)
    args = ["train", aln, "--out", tmp_path / "run", "--set", "model.encoder_hidden=[60000,60000]"]
    fails_cleanly(capsys, args, "more than the bound", folder=tmp_path)


# -- report --include --------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["binary", "no column", "quote"])
def test_report_include_with_a_damaged_scores_csv(tiny_run, tmp_path, capsys, damage, monkeypatch):
    scores = tmp_path / "scored"
    scores.mkdir()
    (scores / "s_summary.json").write_text(
        json.dumps(
            {"column": "fitness", "spearman": 0.5, "ci_low": 0.1, "ci_high": 0.8, "scores_file": "s.csv"}
        )
    )
    content = {
        "binary": b"\xff\xfe\x00\x01garbage",
        "no column": b"mutant,score\nA1C,0.3\n",
        "quote": b'mutant,score,fitness\n"A1C,0.3,1\n',
    }[damage]
    (scores / "s.csv").write_bytes(content)
    args = ["report", tiny_run.run, "--include", scores, "--out", tmp_path / "r.html"]
    # refused before the run's latent figures (most of a report's time) are drawn
    monkeypatch.setattr("seqvae.report.sections.write_latent_report", lambda *a, **k: pytest.fail("drawn"))
    fails_cleanly(capsys, args, "s.csv", folder=tmp_path)


# -- batch on a Ray cluster that is not there --------------------------------------------------
def test_a_ray_address_with_nothing_listening_is_one_line(tmp_path, capsys):
    """``--address 127.0.0.1:9`` retried for ever (issue 30, 9)."""
    pytest.importorskip("ray")
    path = _manifest(tmp_path)
    args = ["batch", path, "--out", tmp_path / "out", "--backend", "ray", "--address", "127.0.0.1:9"]
    fails_cleanly(capsys, args, "--address", "no Ray cluster answers at 127.0.0.1:9", folder=tmp_path)


def test_a_loopback_ray_cluster_is_joined_from_the_loopback(monkeypatch):
    """Ray rewrote a loopback address to the machine's LAN address (issue 30, 9)."""
    pytest.importorskip("ray")
    import socket

    from seqvae.executor import RayExecutor

    with socket.create_server(("127.0.0.1", 0)) as server:
        executor = RayExecutor(address=f"127.0.0.1:{server.getsockname()[1]}")
    calls = []

    class Stop(Exception):
        pass

    def init(**kwargs):
        calls.append(kwargs)
        raise Stop

    monkeypatch.setattr(executor.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(executor.ray, "init", init)
    with pytest.raises(Stop):
        executor.start()
    assert calls[0]["_node_ip_address"] == "127.0.0.1"


# -- counts --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, fragment",
    [
        ("cell,G1,G4,G4\nc1,1,2,3\nc2,0,1,4\n", "'G4' appears twice"),
        ("cell,G1,G2\nc1,0,0\nc2,0,0\n", "every count is zero"),
    ],
)
def test_count_tables_that_trained_before(tmp_path, capsys, text, fragment):
    """Duplicate gene names were renamed G4.1; an all-zero matrix trained to finished (issue 30, 11)."""
    (tmp_path / "counts.csv").write_text(text)
    fails_cleanly(
        capsys, ["train", tmp_path / "counts.csv", "-o", tmp_path / "run"], fragment, folder=tmp_path
    )


# -- score ---------------------------------------------------------------------------------------
def _rows(tiny_run) -> list[str]:
    return tiny_run.alignment.read_text().splitlines()[1::2]


def _mutants(tiny_run) -> list[str]:
    reference = _rows(tiny_run)[0]
    return [f"{wt}{i + 1}{'A' if wt != 'A' else 'C'}" for i, wt in enumerate(reference)]


def test_score_sequences_from_a_one_column_csv(tiny_run, tmp_path):
    """csv.Sniffer split a one-column header on the letter e (issue 30, 12)."""
    from seqvae.cli.main import main as cli

    rows = _rows(tiny_run)[:3]
    (tmp_path / "seqs.csv").write_text("sequence\n" + "".join(f"{r}\n" for r in rows))
    assert (
        cli(
            [
                "score",
                str(tiny_run.run),
                "--sequences",
                str(tmp_path / "seqs.csv"),
                "--out",
                str(tmp_path / "s.csv"),
                "--samples",
                "2",
            ]
        )
        == 0
    )
    assert len(pd.read_csv(tmp_path / "s.csv")) == 3


def test_a_full_disk_names_the_file(tiny_run, tmp_path, capsys):
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    (tmp_path / "muts.csv").write_text("mutant\n" + "\n".join(_mutants(tiny_run) * 500) + "\n")
    args = ["score", tiny_run.run, tmp_path / "muts.csv", "--out", "/dev/full", "--samples", "1"]
    fails_cleanly(capsys, args, "/dev/full", "No space left on device")


def test_sigterm_during_score_leaves_no_temporary(tiny_run, tmp_path):
    """SIGTERM during ``score`` left its hidden temporary (issue 30, 12)."""
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "muts.csv").write_text("mutant\n" + "\n".join(_mutants(tiny_run) * 20000) + "\n")
    out = tmp_path / "out" / "s.csv"
    out.parent.mkdir()
    source = Path(__file__).resolve().parents[1] / "src"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqvae.cli.main",
            "score",
            str(tiny_run.run),
            str(tmp_path / "muts.csv"),
            "--out",
            str(out),
            "--samples",
            "1",
        ],
        env={**__import__("os").environ, "PYTHONPATH": str(source)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "score finished before it could be stopped"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert list(out.parent.iterdir()) == []


# -- every field of a manifest or a panel with a value of the wrong type: one line ---------------
@pytest.mark.parametrize("value", [5, [1], {"a": 1}, True, 1.5])
@pytest.mark.parametrize(
    "where, key",
    [
        ("top", "preset"),
        ("family", "preset"),
        ("scan", "sep"),
        ("scan", "mutant_column"),
        ("scan", "evaluate"),
    ],
)
def test_manifest_fields_of_the_wrong_type(tmp_path, capsys, where, key, value):
    if key == "evaluate" and value is True:
        value = "true"  # a boolean as a string
    path = _manifest(tmp_path)
    (tmp_path / "scan.csv").write_text("mutant,value\nA1C,0.5\n")
    values = yaml.safe_load(path.read_text())
    family = values["families"][0]
    family["scans"] = [{"file": "scan.csv"}]
    {"top": values, "family": family, "scan": family["scans"][0]}[where][key] = value
    path.write_text(yaml.safe_dump(values))
    fails_cleanly(capsys, ["batch", path, "--out", tmp_path / "out"], key, folder=tmp_path)


@pytest.mark.parametrize("value", [5, [1], {"a": 1}, True, 1.5])
@pytest.mark.parametrize("key", ["alignment", "scan", "reference_sequence", "sep"])
def test_panel_fields_of_the_wrong_type(tmp_path, capsys, key, value):
    write_family(tmp_path / "fam.fasta")
    (tmp_path / "scan.csv").write_text("mutant,fitness\nA1C,0.5\n")
    protein = {
        "name": "fam",
        "alignment": "fam.fasta",
        "scan": "scan.csv",
        "score_column": "fitness",
        key: value,
    }
    (tmp_path / "panel.yaml").write_text(yaml.safe_dump({"families": [protein]}))
    args = ["benchmark-dms", "--panel", tmp_path / "panel.yaml", "--out", tmp_path / "out"]
    fails_cleanly(capsys, args, key, folder=tmp_path)


@pytest.mark.parametrize(
    "extra, fragment",
    [(["--jobs", "100000000000"], "--jobs"), (["--threads", "100000000000"], "--threads")],
)
def test_worker_counts_beyond_their_bound(tmp_path, capsys, extra, fragment):
    write_family(tmp_path / "fam.fasta")
    (tmp_path / "scan.csv").write_text("mutant,fitness\nA1C,0.5\n")
    protein = {"name": "fam", "alignment": "fam.fasta", "scan": "scan.csv", "score_column": "fitness"}
    (tmp_path / "panel.yaml").write_text(yaml.safe_dump({"families": [protein]}))
    args = ["benchmark-dms", "--panel", tmp_path / "panel.yaml", "--out", tmp_path / "out", *extra]
    fails_cleanly(capsys, args, fragment, "4096", folder=tmp_path)
    fails_cleanly(
        capsys, ["batch", _manifest(tmp_path), "--out", tmp_path / "b", "--jobs", "100000000000"], "4096"
    )


def test_a_column_named_by_a_number_reads_unquoted(tmp_path):
    from seqvae.workflows.batch import read_batch_manifest as read_manifest

    path = _manifest(tmp_path)
    (tmp_path / "scan.csv").write_text("mutant,2500\nA1C,0.5\n")
    path.write_text(
        path.read_text().replace(
            "alignment: fam.fasta", "alignment: fam.fasta\n  scans: [{file: scan.csv, score_column: 2500}]"
        )
    )
    assert read_manifest(path).families[0].scans[0].reading == {"score_column": "2500"}
