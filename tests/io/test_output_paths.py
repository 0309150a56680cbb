"""Nothing of the user's is overwritten by a command that writes several files (issue 30, 1-3).

The whole class: every multi-file command is given an ``--out`` equal to each of its inputs and
to each of its other outputs, and every name a manifest or panel turns into a path is given
``..``-style and ``/``-style values. Each case fails with one line, exit 2, nothing changed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from builders import fails_cleanly, snapshot, write_family
from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.io.output_dirs import check_name, check_output_paths
from seqvae.workflows.align import candidate_path, output_paths

BAD_NAMES = ["..", "../../../m/scan", "a/b", "a\\b", "/abs", ".hidden", "", " x", "x.", "a\x00b", "a\nb"]
SEQUENCE = "HPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVLSRVDAGQEQLGRRIHYSQNDLVEY"


# -- the rules themselves --------------------------------------------------------------------
@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_is_not_a_plain_file_name_is_refused(name):
    with pytest.raises(InputError, match="cannot be a file name"):
        check_name(name, "scan name")


def test_a_reserved_name_is_refused_whatever_its_case():
    assert check_name("BLAT 2015.v1", "family name") == "BLAT 2015.v1"
    with pytest.raises(InputError, match=r"own 'batch\.json'"):
        check_name("Batch.JSON", "family name", reserved=("batch.json",))


def test_output_rule_inputs_outputs_devices_and_links(tmp_path):
    data = tmp_path / "db.fasta"
    data.write_text(">a\nAC\n")
    link = tmp_path / "link.a2m"
    link.symlink_to(data)
    hard = tmp_path / "hard.a2m"
    hard.hardlink_to(data)
    for out in (data, link, hard):
        with pytest.raises(InputError, match="would overwrite the input"):
            check_output_paths({"the A2M": out, "the JSON": tmp_path / "x.json"}, {"--database": data})
    with pytest.raises(InputError, match="same file"):
        check_output_paths({"a": tmp_path / "x", "b": tmp_path / "sub" / ".." / "x"}, {})
    with pytest.raises(InputError, match="inside"):
        check_output_paths({"a": tmp_path / "x", "b": tmp_path / "x" / "y"}, {})
    with pytest.raises(InputError, match="device"):
        check_output_paths({"a": Path("/dev/stdout"), "b": Path("/dev/stdout.json")}, {})
    check_output_paths({"a": Path("/dev/stdout")}, {})  # one file may go to a device


# -- align -----------------------------------------------------------------------------------
@pytest.fixture
def family(tmp_path):
    pytest.importorskip("pyhmmer")
    rng = random.Random(0)
    lines = []
    for i in range(12):
        mutated = "".join(c if rng.random() > 0.2 else rng.choice("ACDEFGHIKLMNPQRSTVWY") for c in SEQUENCE)
        lines.append(f">hit{i}\n{mutated}\n")
    (tmp_path / "db.fasta").write_text("".join(lines))
    (tmp_path / "wt.fasta").write_text(f">wt\n{SEQUENCE}\n")
    return tmp_path


def _align(folder: Path, out: str | Path, *extra: str) -> list[str]:
    return [
        "align",
        folder / "wt.fasta",
        "--database",
        folder / "db.fasta",
        "--out",
        out,
        "--cpus",
        "1",
        *extra,
    ]


@pytest.mark.parametrize("out", ["db.fasta", "wt.fasta"])
@pytest.mark.parametrize("sweep", [(), ("--bitscores", "0.3,0.5", "--select")])
def test_align_out_equal_to_an_input(family, capsys, out, sweep):
    fails_cleanly(capsys, _align(family, family / out, *sweep), "would overwrite the input", folder=family)


@pytest.mark.parametrize("other", ["provenance", "hits"])
def test_align_out_equal_to_another_output(family, capsys, other):
    """``--out fam.json``: the A2M and its provenance are one file; a database named like the
    hits table of ``--out``."""
    out = output_paths(family / "fam.a2m")[other]
    if other == "provenance":
        fails_cleanly(capsys, _align(family, out), "same file", folder=family)
    else:
        (family / "db.fasta").rename(out)
        args = ["align", family / "wt.fasta", "--database", out, "--out", family / "fam.a2m", "--cpus", "1"]
        fails_cleanly(capsys, args, "would overwrite the input --database", folder=family)


def test_align_sweep_candidates_equal_to_other_outputs(family, capsys):
    # a candidate of --out fam.a2m is fam_b0.5.a2m; --out fam_b0.5.json is its own provenance's A2M
    candidate = candidate_path(family / "fam.a2m", 0.5)
    fails_cleanly(
        capsys,
        _align(family, candidate.with_suffix(".json"), "--bitscores", "0.5", "--select"),
        "same file",
        folder=family,
    )


def test_align_bit_scores_that_print_alike_write_two_files(family):
    assert candidate_path("f.a2m", 0.1234561) != candidate_path("f.a2m", 0.1234562)
    assert candidate_path("f.a2m", 0.3).name == "f_b0.3.a2m"


def test_align_to_a_device_is_refused(family, capsys):
    fails_cleanly(capsys, _align(family, "/dev/stdout"), "device", folder=family)


# -- batch -----------------------------------------------------------------------------------
def _batch_manifest(folder: Path, family_name="fam", scan_name="scan", **extra) -> Path:
    write_family(folder / "fam.fasta")
    (folder / "scan.csv").write_text("mutant,value\nA1C,0.5\n")
    manifest = {
        "families": [
            {
                "name": family_name,
                "alignment": "fam.fasta",
                "scans": [{"name": scan_name, "file": "scan.csv"}],
            }
        ],
        **extra,
    }
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


@pytest.mark.parametrize("name", [*BAD_NAMES, "batch.json", "batch_summary.csv", "BATCH_SUMMARY.md"])
def test_batch_family_names_are_file_names(tmp_path, capsys, name):
    manifest = _batch_manifest(tmp_path, family_name=name)
    fails_cleanly(capsys, ["batch", manifest, "--out", tmp_path / "out"], "family name", folder=tmp_path)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_batch_scan_names_are_file_names(tmp_path, capsys, name):
    """A scan named ``../../../m/scan`` replaced the user's scan with its scores (issue 30, 1)."""
    manifest = _batch_manifest(tmp_path, scan_name=name)
    fails_cleanly(capsys, ["batch", manifest, "--out", tmp_path / "out"], "scan name", folder=tmp_path)


@pytest.mark.parametrize("column", ["family", "scan_name"])
def test_batch_csv_manifest_names_are_file_names(tmp_path, capsys, column):
    write_family(tmp_path / "fam.fasta")
    (tmp_path / "scan.csv").write_text("mutant,value\nA1C,0.5\n")
    row = {"family": "fam", "alignment": "fam.fasta", "scan": "scan.csv", "scan_name": "s", column: "../x"}
    manifest = tmp_path / "m.csv"
    manifest.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    fails_cleanly(
        capsys, ["batch", manifest, "--out", tmp_path / "out"], "cannot be a file name", folder=tmp_path
    )


def test_batch_scan_names_that_differ_only_in_case_are_one_file(tmp_path, capsys):
    manifest = _batch_manifest(tmp_path)
    values = yaml.safe_load(manifest.read_text())
    values["families"][0]["scans"].append({"name": "SCAN", "file": "scan.csv"})
    manifest.write_text(yaml.safe_dump(values))
    fails_cleanly(capsys, ["batch", manifest, "--out", tmp_path / "out"], "listed twice", folder=tmp_path)


@pytest.mark.parametrize("out", ["batch.yaml", "fam.fasta", "scan.csv", "."])
def test_batch_out_equal_to_an_input(tmp_path, capsys, out):
    manifest = _batch_manifest(tmp_path)
    fails_cleanly(capsys, ["batch", manifest, "--out", tmp_path / out], folder=tmp_path)


def test_batch_scores_equal_to_a_scan(tmp_path, capsys):
    """A scan read from where the batch writes a score: the rerun would replace it."""
    manifest = _batch_manifest(tmp_path)
    scores = tmp_path / "out" / "fam" / "scores"
    scores.mkdir(parents=True)
    (tmp_path / "out" / "batch.json").write_text("{}")
    (tmp_path / "scan.csv").rename(scores / "scan.csv")
    values = yaml.safe_load(manifest.read_text())
    values["families"][0]["scans"][0]["file"] = "out/fam/scores/scan.csv"
    manifest.write_text(yaml.safe_dump(values))
    fails_cleanly(
        capsys, ["batch", manifest, "--out", tmp_path / "out"], "would overwrite the input", folder=tmp_path
    )


# -- the DMS panel ---------------------------------------------------------------------------
def _panel(folder: Path, name: str = "fam") -> Path:
    write_family(folder / "fam.fasta")
    (folder / "scan.csv").write_text("mutant,fitness\nA1C,0.5\n")
    panel = folder / "panel.yaml"
    panel.write_text(
        yaml.safe_dump(
            {
                "families": [
                    {"name": name, "alignment": "fam.fasta", "scan": "scan.csv", "score_column": "fitness"}
                ]
            }
        )
    )
    return panel


@pytest.mark.parametrize("name", [*BAD_NAMES, "panel.csv", "Panel.md", "panel.json"])
def test_panel_protein_names_are_file_names(tmp_path, capsys, name):
    """``../../x`` fitted models outside --out, ``a/b`` nested folders (issue 30, 3)."""
    panel = _panel(tmp_path, name)
    args = ["benchmark-dms", "--panel", panel, "--out", tmp_path / "out", "--models", "site-independent"]
    fails_cleanly(capsys, args, "family name", folder=tmp_path)


@pytest.mark.parametrize("out", ["panel.yaml", "fam.fasta", "scan.csv", "."])
def test_panel_out_equal_to_an_input(tmp_path, capsys, out):
    panel = _panel(tmp_path)
    args = ["benchmark-dms", "--panel", panel, "--out", tmp_path / out, "--models", "site-independent"]
    fails_cleanly(capsys, args, folder=tmp_path)


def test_panel_scores_equal_to_its_scan(tmp_path, capsys):
    panel = _panel(tmp_path)
    (tmp_path / "out" / "fam").mkdir(parents=True)
    (tmp_path / "out" / "panel.json").write_text("{}")
    (tmp_path / "scan.csv").rename(tmp_path / "out" / "fam" / "scores_site-independent.csv")
    values = yaml.safe_load(panel.read_text())
    values["families"][0]["scan"] = "out/fam/scores_site-independent.csv"
    panel.write_text(yaml.safe_dump(values))
    args = ["benchmark-dms", "--panel", panel, "--out", tmp_path / "out", "--models", "site-independent"]
    fails_cleanly(capsys, args, "would overwrite the input", folder=tmp_path)


# -- score and generate (the files beside a CSV / a FASTA) -------------------------------------
def _scan(folder: Path) -> Path:
    path = folder / "muts.csv"
    path.write_text("mutant,fitness\n" + "".join(f"{c}{i}A,{i}\n" for i, c in ((1, "C"), (2, "D"), (3, "E"))))
    return path


@pytest.mark.parametrize("out", ["muts.csv", "run/config.json", "run/registry.json"])
def test_score_out_equal_to_an_input(tiny_run, tmp_path, capsys, out):
    run = tiny_run.copy(tmp_path)
    muts = _scan(tmp_path)
    before = snapshot(tmp_path)
    args = ["score", run, muts, "--out", tmp_path / out, "--score-col", "fitness", "--samples", "2"]
    fails_cleanly(capsys, args, "would overwrite the input")
    assert snapshot(tmp_path) == before


def test_score_outputs_that_are_one_file(tiny_run, tmp_path, capsys):
    run = tiny_run.copy(tmp_path)
    muts = _scan(tmp_path)
    args = [
        "score",
        run,
        muts,
        "--out",
        tmp_path / "s.csv",
        "--score-col",
        "fitness",
        "--summary",
        tmp_path / "s.csv",
    ]
    fails_cleanly(capsys, args, "same file", folder=tmp_path)


@pytest.mark.parametrize("out", ["run/train.log", "run/model.safetensors"])
def test_generate_out_equal_to_an_input(tiny_run, tmp_path, capsys, out):
    run = tiny_run.copy(tmp_path)
    fails_cleanly(
        capsys,
        ["generate", run, "-n", "3", "--out", tmp_path / out],
        "would overwrite the input",
        folder=tmp_path,
    )


def test_generate_out_equal_to_its_own_table(tiny_run, tmp_path, capsys):
    run = tiny_run.copy(tmp_path)
    fails_cleanly(
        capsys,
        ["generate", run, "-n", "3", "--out", tmp_path / "d.csv"],
        "--out is the FASTA",
        folder=tmp_path,
    )


def test_generate_default_outputs_still_write(tiny_run, tmp_path):
    run = tiny_run.copy(tmp_path)
    assert main(["generate", str(run), "-n", "3", "--out", str(tmp_path / "d.fasta")]) == 0
    assert (tmp_path / "d.csv").exists() and (tmp_path / "d.json").exists()


# -- benchmark-dms (one scan) and simulate (files from a prefix) -------------------------------
def test_benchmark_dms_scores_equal_to_its_scan(tmp_path, capsys):
    aln = write_family(tmp_path / "fam.fasta")
    (tmp_path / "scores_site-independent.csv").write_text("mutant,fitness\nA1C,0.5\n")
    args = ["benchmark-dms", aln, tmp_path / "scores_site-independent.csv", "--score-col", "fitness"]
    args += ["--out", tmp_path, "--models", "site-independent"]
    fails_cleanly(capsys, args, "would overwrite the input fam's scan", folder=tmp_path)


@pytest.mark.parametrize("command", ["associative-memory", "linear-factors"])
def test_simulate_to_a_device_prefix_is_refused(tmp_path, capsys, command):
    fails_cleanly(capsys, ["simulate", command, "--out", "/dev/stdout"], "device", folder=tmp_path)


# -- single-file commands: never over an input ----------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        lambda run, aln, tmp: ["embed", run, aln, "--out", aln],
        lambda run, aln, tmp: ["embed", run, "--out", run / "config.json"],
        lambda run, aln, tmp: ["report", run, "--out", run / "summary.json"],
        lambda run, aln, tmp: ["pca-matrix", aln, "--out", aln],
    ],
    ids=["embed-alignment", "embed-run", "report-run", "pca-matrix"],
)
def test_a_single_output_equal_to_an_input(tiny_run, tmp_path, capsys, command):
    run = tiny_run.copy(tmp_path)
    aln = tmp_path / "family.fasta"
    aln.write_bytes(tiny_run.alignment.read_bytes())
    fails_cleanly(capsys, command(run, aln, tmp_path), "would overwrite the input", folder=tmp_path)


def test_an_output_file_that_is_a_folder_is_refused_before_the_search(family, capsys):
    (family / "fam.a2m").mkdir()
    fails_cleanly(capsys, _align(family, family / "fam.a2m"), "is a folder", folder=family)


def test_a_batch_run_folder_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    manifest = _batch_manifest(tmp_path)
    (tmp_path / "out" / "fam").mkdir(parents=True)
    (tmp_path / "out" / "batch.json").write_text("{}")
    (tmp_path / "out" / "fam" / "seed0").write_text("mine")
    fails_cleanly(capsys, ["batch", manifest, "--out", tmp_path / "out"], "is a file", folder=tmp_path)


# -- the class: every multi-file command, --out equal to each input and each other output ------------
def _commands(folder: Path, run: Path) -> dict:
    """Per command: its arguments for an --out, its input files and the files an --out derives."""
    from seqvae.analysis.generation import sequence_set_files
    from seqvae.analysis.scoring import scoring_files

    score_outputs = lambda out: [p for k, p in scoring_files(out).items() if k != "heatmap"]  # noqa: E731
    generate_outputs = lambda out: [p for k, p in sequence_set_files(out).items() if k != "figure"]  # noqa: E731
    commands = {
        "score": (
            lambda out: [
                "score",
                run,
                folder / "muts.csv",
                "--out",
                out,
                "--score-col",
                "fitness",
                "--samples",
                "1",
            ],
            [folder / "muts.csv", run / "config.json"],
            score_outputs,
        ),
        "generate": (
            lambda out: ["generate", run, "-n", "2", "--out", out],
            [run / "train.log"],
            generate_outputs,
        ),
    }
    if __import__("importlib").util.find_spec("pyhmmer") is not None:
        commands["align"] = (
            lambda out: _align(folder, out),
            [folder / "wt.fasta", folder / "db.fasta"],
            lambda out: list(output_paths(out).values()),
        )
        commands["align --bitscores"] = (
            lambda out: _align(folder, out, "--bitscores", "0.3,0.5"),
            [folder / "wt.fasta", folder / "db.fasta"],
            lambda out: [
                Path(out),
                *output_paths(candidate_path(out, 0.3)).values(),
                *output_paths(candidate_path(out, 0.5)).values(),
                Path(out).with_name(Path(out).stem + "_candidates.csv"),
            ],
        )
    return commands


def test_every_multi_file_command_against_its_inputs_and_its_outputs(tiny_run, tmp_path, capsys):
    """Each command gets --out equal to each of its inputs (refused, nothing changed) and to
    each file it derives from a first --out (refused, or every file it derives is its own)."""
    rng = random.Random(0)
    records = "".join(
        f">hit{i}\n{''.join(c if rng.random() > 0.2 else 'A' for c in SEQUENCE)}\n" for i in range(12)
    )
    (tmp_path / "db.fasta").write_text(records)
    (tmp_path / "wt.fasta").write_text(f">wt\n{SEQUENCE}\n")
    run = tiny_run.copy(tmp_path)
    reference = tiny_run.alignment.read_text().splitlines()[1]
    mutants = [f"{wt}{i + 1}{'A' if wt != 'A' else 'C'}" for i, wt in enumerate(reference)]
    (tmp_path / "muts.csv").write_text(
        "mutant,fitness\n" + "".join(f"{m},{i}\n" for i, m in enumerate(mutants))
    )
    checked = 0
    for name, (args, inputs, derived) in _commands(tmp_path, run).items():
        for given in inputs:
            fails_cleanly(capsys, args(given), "would overwrite the input", folder=tmp_path)
            checked += 1
        base = tmp_path / "o" / "f.a2m"
        for other in derived(base)[1:]:
            before = snapshot(tmp_path)
            code = main([str(a) for a in args(other)])
            capsys.readouterr()
            if code == 2:
                assert snapshot(tmp_path) == before, (name, other)
            else:
                assert code == 0, (name, other)
                files = derived(other)
                assert len({p.resolve() for p in files}) == len(files), (name, other)
            checked += 1
            for path in (tmp_path / "o").glob("*"):
                path.unlink()
    assert checked >= 10
