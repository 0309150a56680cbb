"""``score --format proteingym`` writes what ProteinGym's readers expect (issue 32, item 4): the
measured column as ``DMS_score``, the label as ``DMS_score_bin``, one column per model named by
its directory, and ``mutated_sequence`` = the wild type with the mutant applied."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import seqvae
from seqvae.analysis.mutations import MutationMapper
from seqvae.cli.main import main


def read_proteingym(path, models: list[str]) -> pd.DataFrame:
    """A small ProteinGym-style reader: the columns its scoring scripts use, scores as floats."""
    table = pd.read_csv(path)
    for column in ("mutant", "mutated_sequence", "DMS_score", *models):
        assert column in table.columns, (column, list(table.columns))
    table["DMS_score"] = table["DMS_score"].astype(float)
    for model in models:
        table[model] = table[model].astype(float)
    return table


def apply_mutant(wild_type: str, start: int, mutant: str) -> str:
    residues = list(wild_type)
    for part in mutant.split(":"):
        old, position, new = part[0], int(part[1:-1]), part[-1]
        assert residues[position - start] == old, part
        residues[position - start] = new
    return "".join(residues)


@pytest.fixture(scope="module")
def site_independent(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("pg") / "si"
    assert main(["baseline", "fit", str(tiny_run.alignment), "--out", str(out)]) == 0
    return out


def _scan(tiny_run, path):
    registry = seqvae.read_alignment(tiny_run.alignment).registry
    mapper = MutationMapper(registry)
    rng = np.random.default_rng(0)
    rows = []
    for k in range(30):
        positions = sorted(rng.choice(np.arange(mapper.start, mapper.end + 1), size=1 + k % 2, replace=False))
        mutant = ":".join(
            f"{mapper.reference_letter(p)}{p}{next(c for c in 'WYA' if c != mapper.reference_letter(p))}"
            for p in positions
        )
        rows.append(f"{mutant},{rng.normal():.4f},{k % 2}\n")
    path.write_text("mutant,2500,active\n" + "".join(rows))
    return mapper


@pytest.mark.parametrize("ensemble", [False, True], ids=["baseline", "ensemble"])
def test_proteingym_round_trip(tiny_run, site_independent, tmp_path, ensemble):
    scan = tmp_path / "scan.csv"
    mapper = _scan(tiny_run, scan)
    out = tmp_path / "pg.csv"
    runs = [tiny_run.run, site_independent] if ensemble else [site_independent]
    args = [*runs, scan, "--out", out, "--format", "proteingym", "--samples", "2"]
    assert main([str(a) for a in ["score", *args, "--score-col", "2500", "--label-col", "active"]]) == 0
    models = ["run", "si", "ensemble"] if ensemble else ["si"]
    table = read_proteingym(out, models)
    # the model columns by directory name only (no "site-independent:si"), after the measured ones
    assert list(table.columns) == ["mutant", "mutated_sequence", "DMS_score", "DMS_score_bin", *models]
    measured = pd.read_csv(scan)
    np.testing.assert_allclose(table["DMS_score"], measured["2500"])
    assert list(table["DMS_score_bin"]) == list(measured["active"])
    for mutant, sequence in zip(table["mutant"], table["mutated_sequence"]):
        assert sequence == apply_mutant(mapper.reference_residues, mapper.start, mutant)
    assert table[models].notna().all().all()
    if ensemble:
        np.testing.assert_allclose(table["ensemble"], (table["run"] + table["si"]) / 2, rtol=1e-6)


def test_proteingym_names_collide_only_when_they_must(tiny_run, site_independent, tmp_path):
    """Two models in folders of one name, and a folder named like a ProteinGym column."""
    scan = tmp_path / "scan.csv"
    _scan(tiny_run, scan)
    twin = tmp_path / "twin" / "si"
    shutil.copytree(site_independent, twin)
    clash = tmp_path / "DMS_score"
    shutil.copytree(site_independent, clash)
    out = tmp_path / "pg.csv"
    args = [
        site_independent,
        twin,
        clash,
        scan,
        "--out",
        out,
        "--format",
        "proteingym",
        "--score-col",
        "2500",
    ]
    assert main([str(a) for a in ["score", *args]]) == 0
    columns = list(pd.read_csv(out).columns)
    assert columns == ["mutant", "mutated_sequence", "DMS_score", "si", "si_2", "DMS_score_2", "ensemble"]
