"""Bad input through the CLI: exit code 2, exactly one line on stderr that names the file
(and line, or the option/field), no traceback, and no output files left behind."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from builders import DAMAGES, RUN_COMMANDS, TINY, cases, fails_cleanly, write_family
from seqvae.cli.main import main


@pytest.fixture
def trained_run(tiny_run) -> tuple[Path, Path]:
    """The session's tiny run (tests/builders.py); tests copy it before changing anything."""
    return tiny_run.run, tiny_run.alignment


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.fasta"
    path.write_text("")
    fails_cleanly(capsys, ["info", path], f"{path}: empty file", folder=tmp_path)
    gz = tmp_path / "empty.fasta.gz"
    gz.write_bytes(gzip.compress(b"  \n"))
    fails_cleanly(capsys, ["info", gz], "empty file", folder=tmp_path)


def test_not_an_alignment(tmp_path, capsys):
    csv = tmp_path / "table.csv"
    csv.write_text("id,value\na,1\n")
    fails_cleanly(capsys, ["info", csv], f"{csv}: not an alignment", folder=tmp_path)
    text = tmp_path / "notes.fasta"
    text.write_text("these are my notes\n>a\nACDE\n")
    fails_cleanly(capsys, ["info", text], f"{text}:1: not an alignment", folder=tmp_path)
    binary = tmp_path / "image.fasta"
    binary.write_bytes(bytes(range(256)))
    fails_cleanly(capsys, ["info", binary], f"{binary}:", "not a text file", folder=tmp_path)
    broken_gz = tmp_path / "cut.fasta.gz"
    broken_gz.write_bytes(gzip.compress(b">a\nACDE\n" * 100)[:30])
    fails_cleanly(capsys, ["info", broken_gz], "corrupt gzip", folder=tmp_path)
    missing = tmp_path / "missing.fasta"
    fails_cleanly(capsys, ["info", missing], f"{missing}: file not found", folder=tmp_path)


def test_ragged_rows(tmp_path, capsys):
    path = tmp_path / "ragged.fasta"
    path.write_text(">a\nACDEF\n>b\nACDE\n>c\nACDEF\n")
    fails_cleanly(
        capsys, ["info", path], f"{path}:3: ragged alignment: sequence 'b' has 4 columns", folder=tmp_path
    )


def test_ragged_stockholm_blocks(tmp_path, capsys):
    path = tmp_path / "ragged.sto"
    path.write_text("# STOCKHOLM 1.0\na ACDE\nb ACDE\n\na FG\nb F\n//\n")
    fails_cleanly(capsys, ["info", path], f"{path}:3: ragged alignment: sequence 'b'", folder=tmp_path)


def test_unknown_characters(tmp_path, capsys):
    path = tmp_path / "odd.fasta"
    path.write_text(">a\nACDEF\n>b\nAC1EF\n")
    fails_cleanly(
        capsys,
        ["info", path],
        f"{path}:3: unknown character '1' in sequence 'b' at column 3",
        folder=tmp_path,
    )
    dna = tmp_path / "dna.fasta"
    dna.write_text(">a\nACGT\n>b\nACGE\n")
    fails_cleanly(capsys, ["info", dna, "--alphabet", "dna"], "unknown character 'E'", "dna alphabet")


def test_duplicate_ids(tmp_path, capsys):
    path = tmp_path / "dup.fasta"
    path.write_text(">a first\nACDE\n>b\nACDF\n>a again\nACDG\n")
    fails_cleanly(
        capsys, ["info", path], f"{path}:5: duplicate sequence id 'a' (first seen on line 1)", folder=tmp_path
    )


def test_unknown_reference_id(tmp_path, capsys):
    path = write_family(tmp_path / "family.fasta")
    fails_cleanly(
        capsys,
        ["info", path, "--reference", "nope"],
        f"{path}: reference id 'nope' is not in the alignment",
        folder=tmp_path,
    )
    out = tmp_path / "run"
    fails_cleanly(
        capsys, ["train", path, "--out", out, "--reference", "nope", *TINY], "'nope'", folder=tmp_path
    )


def test_all_sequences_filtered_away(tmp_path, capsys):
    path = tmp_path / "x.fasta"
    path.write_text(">ref\nACDEF\n>b\nACXEF\n>c\nBCDEF\n")
    fails_cleanly(
        capsys,
        ["info", path],
        f"{path}: all 2 sequences besides the reference were removed",
        "non",
        folder=tmp_path,
    )
    gappy = tmp_path / "gaps.fasta"
    gappy.write_text(">ref\nACDEF\n>b\nA----\n>c\n-C---\n")
    fails_cleanly(capsys, ["info", gappy, "--max-sequence-gaps", "0.5"], "over gap fraction removed: 2")
    out = tmp_path / "run"
    fails_cleanly(capsys, ["train", path, "--out", out, *TINY], "removed by the filters", folder=tmp_path)


def test_run_from_another_alignment(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    other = write_family(tmp_path / "longer.fasta", length=15)
    out = tmp_path / "z.csv"
    line = fails_cleanly(
        capsys,
        ["embed", run_dir, other, "--out", out],
        f"{other}:1: sequences have 15 columns",
        folder=tmp_path,
    )
    assert "12" in line  # says what the run needs
    assert not out.exists()


def test_truncated_weights_file(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    damaged = tmp_path / "run"
    shutil.copytree(run_dir, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out = tmp_path / "z.csv"
    fails_cleanly(
        capsys,
        ["embed", damaged, "--out", out],
        f"{weights}: weights file is damaged or truncated",
        folder=tmp_path,
    )
    weights.write_bytes(b"")
    fails_cleanly(capsys, ["embed", damaged, "--out", out], f"{weights}:", folder=tmp_path)
    weights.unlink()
    fails_cleanly(capsys, ["embed", damaged, "--out", out], "weights file not found", folder=tmp_path)
    fails_cleanly(capsys, ["embed", tmp_path / "nothing", "--out", out], "run directory not found")


def test_config_with_unknown_key(tmp_path, capsys):
    aln = write_family(tmp_path / "family.fasta")
    config = tmp_path / "bad.yaml"
    config.write_text("seed: 1\nmodel:\n  latent_dim: 2\n  bta: 2.0\n")
    out = tmp_path / "run"
    fails_cleanly(
        capsys,
        ["train", aln, "--config", config, "--out", out],
        f"{config}:4: model: unknown key 'bta' (did you mean 'beta'?)",
        folder=tmp_path,
    )
    toml = tmp_path / "bad.toml"
    toml.write_text("seed = 1\n[training]\nbatch_size = 8\nmax_stepz = 10\n")
    fails_cleanly(
        capsys, ["train", aln, "--config", toml, "--out", out], f"{toml}:4: training: unknown key 'max_stepz'"
    )
    top = tmp_path / "top.yaml"
    top.write_text("seed: 1\nmodle:\n  beta: 1\n")
    fails_cleanly(
        capsys, ["train", aln, "--config", top, "--out", out], f"{top}:2: unknown config key 'modle'"
    )
    fails_cleanly(
        capsys, ["train", aln, "--set", "model.bta=1", "--out", out], "--set model.bta: model: unknown key"
    )
    assert not out.exists()


def test_negative_beta(tmp_path, capsys):
    aln = write_family(tmp_path / "family.fasta")
    out = tmp_path / "run"
    fails_cleanly(
        capsys,
        ["train", aln, "--beta", "-1", "--out", out, *TINY],
        "--beta: model.beta: must be >= 0 (got -1.0)",
        folder=tmp_path,
    )
    config = tmp_path / "neg.yaml"
    config.write_text("model:\n  latent_dim: 2\n  beta: -0.5\ntraining:\n  max_steps: 5\n")
    fails_cleanly(
        capsys,
        ["train", aln, "--config", config, "--out", out],
        f"{config}:3: model.beta: must be >= 0 (got -0.5)",
        folder=tmp_path,
    )
    toml = tmp_path / "neg.toml"
    toml.write_text("[model]\nbeta = -2\n")
    fails_cleanly(capsys, ["train", aln, "--config", toml, "--out", out], f"{toml}:2: model.beta")
    fails_cleanly(
        capsys, ["train", aln, "--set", "training.max_steps=-3", "--out", out], "training.max_steps"
    )
    fails_cleanly(capsys, ["train", aln, "--set", "model.beta=abc", "--out", out], "must be a finite number")
    assert not out.exists()


def test_bad_config_files(tmp_path, capsys):
    aln = write_family(tmp_path / "family.fasta")
    out = tmp_path / "run"
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  beta: [1, 2\n")
    fails_cleanly(capsys, ["train", aln, "--config", broken, "--out", out], f"{broken}:", "invalid YAML")
    broken_toml = tmp_path / "broken.toml"
    broken_toml.write_text("[model]\nbeta = = 2\n")
    fails_cleanly(
        capsys, ["train", aln, "--config", broken_toml, "--out", out], f"{broken_toml}:2: invalid TOML"
    )
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("- 1\n- 2\n")
    fails_cleanly(capsys, ["train", aln, "--config", scalar, "--out", out], "must hold a mapping")
    wrong_ext = tmp_path / "config.ini"
    wrong_ext.write_text("[model]\n")
    fails_cleanly(capsys, ["train", aln, "--config", wrong_ext, "--out", out], "config must be")
    fails_cleanly(
        capsys, ["train", aln, "--preset", "fitnes", "--out", out], "--preset", "did you mean 'fitness'"
    )
    assert not out.exists()


def test_existing_run_directory_is_not_overwritten(trained_run, capsys):
    run_dir, aln = trained_run
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    fails_cleanly(capsys, ["train", aln, "--out", run_dir, *TINY], "already exists")
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before


def test_unavailable_device(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    aln = write_family(tmp_path / "family.fasta")
    out = tmp_path / "run"
    fails_cleanly(
        capsys,
        ["train", aln, "--device", "cuda", "--out", out, *TINY],
        "cuda is not available",
        folder=tmp_path,
    )


def test_weights_from_another_run(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    other_aln = write_family(tmp_path / "other.fasta", length=15)
    other_run = tmp_path / "other_run"
    assert main(["train", str(other_aln), "--out", str(other_run), *TINY]) == 0
    capsys.readouterr()
    mixed = tmp_path / "mixed"
    shutil.copytree(run_dir, mixed)
    shutil.copy(other_run / "model.safetensors", mixed / "model.safetensors")
    fails_cleanly(
        capsys,
        ["embed", mixed, "--out", tmp_path / "z.csv"],
        f"{mixed / 'model.safetensors'}: weights do not match the run's config",
        folder=tmp_path,
    )


def test_damaged_run_config(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    damaged = tmp_path / "run"
    shutil.copytree(run_dir, damaged)
    config = damaged / "config.json"
    config.write_text(config.read_text().replace('"beta": 1.0', '"beta": -1.0'))
    fails_cleanly(
        capsys, ["embed", damaged, "--out", tmp_path / "z.csv"], f"{config}: model.beta", folder=tmp_path
    )
    config.write_text("{not json")
    fails_cleanly(capsys, ["resume", damaged], f"{config}:1: config.json is not valid JSON", folder=tmp_path)
    (damaged / "checkpoint.pt").write_bytes(b"garbage")
    config.write_text((run_dir / "config.json").read_text())
    fails_cleanly(capsys, ["resume", damaged], "checkpoint is damaged or truncated")


# -- every command that reads a run directory, against every damage (tests/builders.py) ---------
@pytest.mark.parametrize(("command", "damage"), cases())
def test_damaged_run_directory(tiny_run, tmp_path, capsys, command, damage):
    run = tiny_run.copy(tmp_path)
    spec = DAMAGES[damage]
    spec.apply(run)
    out = tmp_path / "out"
    out.mkdir()
    argv = RUN_COMMANDS[command].argv(run, tiny_run.alignment, out)
    fails_cleanly(capsys, argv, str(run / spec.file), spec.fragment, folder=tmp_path)


# -- structures (seqvae score --structure / --contact-map) -----------------------------------
@pytest.fixture(scope="module")
def structure_case(tmp_path_factory):
    """A site-independent baseline on an A2M family whose reference ends in ten insert residues."""
    from builders import write_a2m_family

    folder = tmp_path_factory.mktemp("structure_case")
    alignment = write_a2m_family(folder / "family.a2m")
    assert main(["baseline", "fit", str(alignment), "--out", str(folder / "si")]) == 0
    return folder / "si"


def _structure_args(run: Path, tmp_path: Path, *extra) -> list:
    (tmp_path / "scan.csv").write_text("mutant,fitness\nM1A,0.1\nK2R,0.9\nT3A,0.5\n")
    return ["score", run, tmp_path / "scan.csv", "--out", tmp_path / "scores.csv", *extra]


def test_structure_that_is_not_a_structure(structure_case, tmp_path, capsys):
    (tmp_path / "notes.pdb").write_text("these are notes\nnot atoms\n")
    args = _structure_args(structure_case, tmp_path, "--structure", tmp_path / "notes.pdb")
    fails_cleanly(capsys, args, f"{tmp_path / 'notes.pdb'}: no atoms read", folder=tmp_path)
    (tmp_path / "binary.pdb.gz").write_bytes(b"\x00\x01 not gzip")
    args = _structure_args(structure_case, tmp_path, "--structure", tmp_path / "binary.pdb.gz")
    fails_cleanly(capsys, args, "cannot read the structure", folder=tmp_path)


def test_structure_with_corrupt_deflate_data(structure_case, tmp_path, capsys):
    import gzip

    from builders import STRUCTURE_FOCUS, write_chain

    packed = gzip.compress(write_chain(STRUCTURE_FOCUS, tmp_path / "model.pdb").read_bytes())
    damaged = packed[:20] + bytes(b ^ 0x55 for b in packed[20:120]) + packed[120:]
    (tmp_path / "damaged.pdb.gz").write_bytes(damaged)
    args = _structure_args(structure_case, tmp_path, "--structure", tmp_path / "damaged.pdb.gz")
    fails_cleanly(capsys, args, "cannot read the structure (corrupt gzip data", folder=tmp_path)


def test_structure_chain_that_is_absent(structure_case, tmp_path, capsys):
    from builders import STRUCTURE_FOCUS, write_chain

    chain = write_chain(STRUCTURE_FOCUS, tmp_path / "model.pdb")
    args = _structure_args(structure_case, tmp_path, "--structure", chain, "--chain", "Q")
    fails_cleanly(capsys, args, "chain 'Q' not found (chains: A)", folder=tmp_path)


def test_structure_chain_that_does_not_align_to_the_reference(structure_case, tmp_path, capsys):
    from builders import write_chain

    chain = write_chain("WWGPWWGPHHCCWWGPWWGPHHCCWWGPWWGP", tmp_path / "other.pdb")
    args = _structure_args(structure_case, tmp_path, "--structure", chain)
    fails_cleanly(capsys, args, f"{chain}: chain A does not match the reference REF/1-40", folder=tmp_path)


def test_structure_with_no_residue_in_the_focus_columns(structure_case, tmp_path, capsys):
    from builders import STRUCTURE_INSERT, write_chain

    chain = write_chain(STRUCTURE_INSERT, tmp_path / "insert.pdb")  # the reference's insert residues only
    args = _structure_args(structure_case, tmp_path, "--structure", chain)
    fails_cleanly(capsys, args, "chain A covers none of the 30 focus positions", folder=tmp_path)


def test_contact_map_that_does_not_fit_the_alignment(structure_case, tmp_path, capsys):
    (tmp_path / "map.dat").write_text("1 2 0.5 3.0\n1 99 0.5 4.0\n")
    args = _structure_args(structure_case, tmp_path, "--contact-map", tmp_path / "map.dat")
    fails_cleanly(capsys, args, "numbers columns up to 99", folder=tmp_path)
    (tmp_path / "map.dat").write_text("1 2 0.5\n")
    fails_cleanly(capsys, args, "map.dat:1: expected four numbers", folder=tmp_path)
    args = _structure_args(structure_case, tmp_path, "--chain", "A")
    fails_cleanly(capsys, args, "--chain: --chain needs --structure", folder=tmp_path)
