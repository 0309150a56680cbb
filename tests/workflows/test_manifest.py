"""One manifest for ``seqvae batch`` and ``benchmark-dms --panel``: one schema, each workflow's view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from builders import fails_cleanly, write_family
from seqvae.data.alignment import read_alignment
from seqvae.errors import InputError
from seqvae.training.config import preset_config
from seqvae.workflows.batch import read_batch_manifest, run_batch
from seqvae.workflows.dms_panel import load_panel, run_panel
from seqvae.workflows.manifest import read_manifest
from seqvae.workflows.multirun import weights_file


def _files(folder: Path) -> None:
    """A family and two scans of it under ``folder/data``."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    wild_type = write_family(data / "fam.fasta").read_text().splitlines()[1]
    variants = [
        f"{residue}{i + 1}{'A' if residue != 'A' else 'C'}" for i, residue in enumerate(wild_type[:4])
    ]
    (data / "a.csv").write_text("variant;fitness\n" + "".join(f"{v};{i}\n" for i, v in enumerate(variants)))
    (data / "b.csv").write_text(
        "variant;fitness;other\n" + "".join(f"{v};{i};{-i}\n" for i, v in enumerate(variants))
    )


def _write(folder: Path, values: dict) -> Path:
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


ONE_SCAN = {
    "root": "data",
    "families": [
        {
            "name": "fam",
            "alignment": "fam.fasta",
            "scan": "a.csv",
            "mutant_column": "variant",
            "score_column": "fitness",
            "published": {"EVE": 0.5},
        }
    ],
}


def test_one_file_read_by_batch_and_by_the_panel(tmp_path):
    _files(tmp_path)
    path = _write(tmp_path, ONE_SCAN)
    (family,) = load_panel(path)
    (batch_family,) = read_batch_manifest(path).families
    assert family.alignment == batch_family.alignment == tmp_path / "data" / "fam.fasta"
    for each in (family, batch_family):
        (scan,) = each.scans
        assert scan.name == "a" and scan.file == tmp_path / "data" / "a.csv"
        assert scan.reading == {"mutant_column": "variant", "score_column": "fitness"}
        assert each.published == {"EVE": 0.5}


def test_a_familys_reading_fields_apply_to_each_of_its_scans(tmp_path):
    _files(tmp_path)
    family = {
        "name": "fam",
        "alignment": "fam.fasta",
        "mutant_column": "variant",
        "score_column": "fitness",
        "scans": ["a.csv", {"file": "b.csv", "name": "b_other", "score_column": "other"}],
    }
    path = _write(tmp_path, {"root": "data", "families": [family]})
    (read,) = read_manifest(path).families
    assert [s.reading for s in read.scans] == [
        {"mutant_column": "variant", "score_column": "fitness"},
        {"mutant_column": "variant", "score_column": "other"},
    ]
    # the panel evaluates one measured scan per family; batch takes both
    with pytest.raises(
        InputError, match=r"a panel family has one scan with a score_column \(the measured column\); found 2"
    ):
        load_panel(path)
    assert len(read_batch_manifest(path).families[0].scans) == 2


@pytest.mark.parametrize(
    ("change", "command", "fragment"),
    [
        ({"seeds": [0, 1]}, "panel", "manifest: 'seeds' is not read by the panel"),
        ({"overrides": {"training.max_steps": 3}}, "panel", "'overrides' is not read by the panel"),
        ({"seeds": [0]}, "family", "family 'fam': 'seeds' is not read by the panel"),
        ({"proteins": []}, "batch", "'proteins' is now 'families'"),
        ({"root": "elsewhere"}, "batch", "alignment: file not found: fam.fasta"),
    ],
)
def test_what_a_workflow_does_not_read_is_refused_by_name(tmp_path, capsys, change, command, fragment):
    _files(tmp_path)
    values = yaml.safe_load(yaml.safe_dump(ONE_SCAN))
    if command == "family":  # one setting for every protein of a panel
        values["families"][0].update(change)
        command = "panel"
    else:
        values.update(change)
    path = _write(tmp_path, values)
    args = {
        "panel": ["benchmark-dms", "--panel", path, "--out", tmp_path / "out"],
        "batch": ["batch", path, "--out", tmp_path / "out"],
    }[command]
    fails_cleanly(capsys, args, str(path), fragment, folder=tmp_path)


def test_the_panel_weights_each_family_once_and_fits_with_those_weights(tmp_path):
    _files(tmp_path)
    path = _write(tmp_path, ONE_SCAN)
    run_panel(load_panel(path), tmp_path / "out", models=["site-independent"], log=lambda _: None)
    saved = np.load(weights_file(tmp_path / "out" / "fam"), allow_pickle=False)
    data = preset_config("fitness").data
    expected = read_alignment(tmp_path / "data" / "fam.fasta", data.alignment_options()).set_weights(
        data.theta
    )
    assert saved.dtype == expected.dtype and np.array_equal(saved, expected)
    table = (tmp_path / "out" / "panel.csv").read_text()
    assert f"{expected.sum():.6g}" in table  # the table's N_eff is that of the saved weights


def test_batch_says_it_does_not_use_a_familys_structure(tmp_path):
    _files(tmp_path)
    values = yaml.safe_load(yaml.safe_dump(ONE_SCAN))
    values["families"][0]["contact_map"] = "contacts.csv"
    (tmp_path / "data" / "contacts.csv").write_text("i,j\n1,5\n")
    values["overrides"] = {"training.max_steps": 2, "model.encoder_hidden": [8], "model.decoder_hidden": [8]}
    values["report"] = False
    said: list[str] = []
    run_batch(_write(tmp_path, values), tmp_path / "out", log=said.append)
    assert "fam: its structure is not used here (benchmark-dms --panel makes structure-aware rows)" in said
