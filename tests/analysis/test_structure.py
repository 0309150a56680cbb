"""Structure-aware scores: reading structures, burial per position, the combination rule."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import write_structure
from conftest import shared_file
from seqvae.analysis.burial import (
    MAX_ASA,
    MIN_STRUCTURE_IDENTITY,
    contact_map_burial,
    position_burial,
    relative_accessibility,
    residue_burial,
    structure_burial,
)
from seqvae.analysis.structure_scores import (
    DEFAULT_STRUCTURE_RULE,
    StructureRule,
    structure_aware,
    structure_factors,
    variant_factors,
)
from seqvae.data.alignment import read_alignment
from seqvae.errors import InputError
from seqvae.io.structure_files import read_contact_map, read_structure

# the reference of the toy family: 40 residues numbered 11-50
REFERENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRV"


def build_chain(sequence: str, chain: str = "A"):
    """A Biopython structure of ``sequence`` with default internal coordinates (Biopython PIC)."""
    from Bio.PDB.PICIO import read_PIC_seq
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = read_PIC_seq(SeqRecord(Seq(sequence), id="toy", description=""), chain=chain)
        structure.internal_to_atom_coordinates()
    return structure


def toy_registry(tmp_path: Path):
    rng = np.random.default_rng(0)
    rows = [REFERENCE]
    for _ in range(9):
        letters = list(REFERENCE)
        for k in rng.choice(len(letters), 6, replace=False):
            letters[k] = "ACDEFGHIKLMNPQRSTVWY"[rng.integers(20)]
        rows.append("".join(letters))
    path = tmp_path / "family.fasta"
    path.write_text("".join(f">{'REF/11-50' if i == 0 else f's{i}'}\n{row}\n" for i, row in enumerate(rows)))
    return read_alignment(path).registry


# -- reading ----------------------------------------------------------------------------------
def test_plain_gzip_and_mmcif_read_the_same_chain(tmp_path):
    structure = build_chain("GAWKLE")
    plain = read_structure(write_structure(structure, tmp_path / "toy.pdb"))
    zipped = read_structure(write_structure(structure, tmp_path / "toy.pdb.gz"))
    cif = read_structure(write_structure(structure, tmp_path / "toy.cif.gz"))
    assert plain.sequence == zipped.sequence == cif.sequence == "GAWKLE"
    assert plain.labels == cif.labels == ["1", "2", "3", "4", "5", "6"]
    assert plain.chain == "A"  # the first chain when none is named
    np.testing.assert_allclose(plain.atoms, cif.atoms, atol=1e-3)
    with pytest.raises(InputError, match="chain 'Z' not found"):
        read_structure(tmp_path / "toy.pdb", "Z")
    (tmp_path / "notes.pdb").write_text("just some notes\nnothing here\n")
    with pytest.raises(InputError, match="not a PDB or mmCIF structure"):
        read_structure(tmp_path / "notes.pdb")


def _with_bfactors(structure, per_residue):
    for residue, value in zip(structure.get_residues(), per_residue):
        for atom in residue:
            atom.set_bfactor(value)
    return structure


def test_plddt_is_detected_and_low_confidence_flagged(tmp_path):
    values = [95.0, 88.0, 40.0, 65.0, 90.0, 71.0]
    model = read_structure(write_structure(_with_bfactors(build_chain("GAWKLE"), values), tmp_path / "m.pdb"))
    assert model.confidence_rule == "per-residue B-factors"
    np.testing.assert_allclose(model.confidence, values)
    assert model.low_confidence.tolist() == [False, False, True, True, False, False]
    # the same values with a water: a refined structure, B-factors are not confidence
    text = (
        (tmp_path / "m.pdb")
        .read_text()
        .replace("END", "HETATM  999  O   HOH A 101      30.000  30.000  30.000  1.00 20.00           O\nEND")
    )
    (tmp_path / "crystal.pdb").write_text(text)
    crystal = read_structure(tmp_path / "crystal.pdb")
    assert crystal.confidence is None and not crystal.low_confidence.any()
    assert read_structure(tmp_path / "crystal.pdb", confidence="plddt").confidence_rule == "caller"
    assert read_structure(tmp_path / "m.pdb", confidence="none").confidence is None
    # per-atom B-factors (a crystal's) are not confidence either
    structure = build_chain("GAWKLE")
    for k, atom in enumerate(structure.get_atoms()):
        atom.set_bfactor(10.0 + k)
    assert read_structure(write_structure(structure, tmp_path / "b.pdb")).confidence is None
    # a declared prediction is read whatever its values look like
    text = "TITLE     ALPHAFOLD MONOMER V2.0 PREDICTION FOR TOY\n" + (tmp_path / "crystal.pdb").read_text()
    (tmp_path / "af.pdb").write_text(text)
    assert read_structure(tmp_path / "af.pdb").confidence_rule == "declared"
    # pLDDT written as a fraction (ESMFold) is read on the 0-100 scale
    fractions = _with_bfactors(build_chain("GAWKLE"), [v / 100 for v in values])
    scaled = read_structure(write_structure(fractions, tmp_path / "esm.pdb"), confidence="plddt")
    np.testing.assert_allclose(scaled.confidence, values)


# -- burial ----------------------------------------------------------------------------------
def test_rsa_of_a_tripeptide_matches_shrake_rupley_and_the_max_asa_table(tmp_path):
    from Bio.PDB.SASA import ShrakeRupley

    structure = build_chain("GAG")
    path = write_structure(structure, tmp_path / "gag.pdb")
    rsa = relative_accessibility(read_structure(path))
    reference = read_structure(path).residues[1].get_parent()
    ShrakeRupley().compute(reference, level="R")
    expected = reference[("", 2, " ") if ("", 2, " ") in reference else 2].sasa / MAX_ASA["A"]
    assert rsa[1] == pytest.approx(expected, rel=1e-9)
    assert rsa[1] > 0.5  # the middle residue of an isolated tripeptide is mostly exposed
    burial = residue_burial(read_structure(path))
    assert burial["rsa"][1] == pytest.approx(1 - min(expected, 1.0))
    for values in burial.values():
        assert np.all((values[~np.isnan(values)] >= 0) & (values[~np.isnan(values)] <= 1))


@pytest.mark.shared_data
def test_a_buried_residue_scores_higher_than_an_exposed_one():
    structure = read_structure(shared_file("blat/1FQG.pdb"), "A")
    burial = residue_burial(structure)
    rsa = burial["rsa"]
    buried, exposed = rsa > 0.9, rsa < 0.3
    for measure in ("neighbours", "hse", "contacts"):
        assert np.nanmean(burial[measure][buried]) > np.nanmean(burial[measure][exposed]) + 0.2, measure


# -- mapping the chain onto the reference ----------------------------------------------------
def test_a_chain_with_an_insertion_and_a_missing_loop_maps_onto_the_reference(tmp_path):
    registry = toy_registry(tmp_path)
    # the chain: reference 1-15, two inserted residues, reference 16-25, (26-30 missing), 31-40
    sequence = REFERENCE[:15] + "GW" + REFERENCE[15:]
    structure = build_chain(sequence)
    chain = structure[0]["A"]
    for number in range(28, 33):  # the chain's residues 28-32 = reference 26-30: a missing loop
        chain.detach_child((" ", number, " "))
    path = write_structure(structure, tmp_path / "toy.pdb")
    burial = structure_burial(registry, path)
    assert burial.n_focus == 40 and burial.n_covered == 35
    assert burial.covered.sum() == 35 and not burial.covered[25:30].any()
    assert burial.identity == pytest.approx(1.0)
    # reference residue 11 + k is column k; after the insertion the chain is numbered +2
    assert burial.labels[:15] == [str(k) for k in range(1, 16)]
    assert burial.labels[15] == "18" and burial.labels[24] == "27"
    assert burial.labels[25:30] == [""] * 5 and burial.labels[30] == "33"
    assert np.isnan(burial.burial("rsa")[25:30]).all() and not np.isnan(burial.burial("rsa")[30:]).any()
    frame = burial.to_frame()
    assert list(frame.columns[:4]) == ["column", "position", "wild_type", "label"]
    assert frame["position"].tolist() == list(range(11, 51))
    assert "covers 35 of 40 focus positions, identity 100%" in burial.describe()


def test_a_chain_that_does_not_match_is_refused(tmp_path):
    registry = toy_registry(tmp_path)
    other = write_structure(build_chain("WWGPWWGPHHCCWWGPWWGPHHCCWWGPWWGP"), tmp_path / "other.pdb")
    with pytest.raises(InputError, match="does not match the reference") as err:
        structure_burial(registry, other)
    assert f"{MIN_STRUCTURE_IDENTITY:.0%} needed" in str(err.value) and "\n" not in str(err.value)


# -- the combination rule --------------------------------------------------------------------
def test_factors_follow_the_rule_and_a_multi_mutant_takes_their_mean():
    burial = np.array([1.0, 0.5, 0.0, np.nan])
    rule = StructureRule(measure="rsa", power=2.0, floor=0.2)
    factors = structure_factors(burial, rule)
    np.testing.assert_allclose(factors[:3], [1.0, 0.2 + 0.8 * 0.25, 0.2])
    assert np.isnan(factors[3])
    scores = np.array([-2.0, -2.0, -3.0, -4.0, 5.0])
    variants = [[0], [0, 1, 2], [1, 3], [3], []]
    out = structure_aware(scores, variants, factors)
    assert out[0] == pytest.approx(-2.0)
    assert out[1] == pytest.approx(-2.0 * np.mean(factors[:3]))  # the mean of the three factors
    assert out[2] == pytest.approx(-3.0 * factors[1])  # position 3 is not covered: left out of the mean
    assert out[3] == pytest.approx(-4.0) and out[4] == pytest.approx(5.0)  # nothing covered: plain score
    mask = np.zeros((5, 4), dtype=bool)
    for row, columns in enumerate(variants):
        mask[row, columns] = True
    np.testing.assert_allclose(structure_aware(scores, mask, factors), out)
    _, n_covered = variant_factors(mask, factors)
    assert n_covered.tolist() == [1, 3, 1, 0, 0]


def test_the_rule_round_trips_and_its_defaults_live_in_one_constant():
    assert StructureRule.from_dict({}) == DEFAULT_STRUCTURE_RULE
    assert StructureRule.from_json(DEFAULT_STRUCTURE_RULE.to_json()) == DEFAULT_STRUCTURE_RULE
    changed = StructureRule.from_dict({"power": 1.0})
    assert changed.power == 1.0 and changed.measure == DEFAULT_STRUCTURE_RULE.measure
    assert json.loads(changed.to_json())["power"] == 1.0


def test_the_contact_map_rule_uses_contact_numbers(tmp_path):
    registry = toy_registry(tmp_path)
    lines = ["# i j score distance"]
    lines += [
        f"{i} {j} 0.1 {4.0 if (i + j) % 3 == 0 else 9.0}" for i in range(1, 31) for j in range(i + 1, 31)
    ]
    (tmp_path / "map.dat").write_text("\n".join(lines) + "\n")
    burial = position_burial(registry, contact_map=tmp_path / "map.dat")
    assert burial.measures == ("contacts",) and burial.n_covered == 30 and burial.identity is None
    assert np.isnan(burial.burial("contacts")[30:]).all()
    factors = structure_factors(burial, DEFAULT_STRUCTURE_RULE)  # rsa asked, contacts used
    np.testing.assert_allclose(factors, structure_factors(burial.burial("contacts"), DEFAULT_STRUCTURE_RULE))
    (tmp_path / "far.dat").write_text("1 90 0.1 4.0\n")
    with pytest.raises(InputError, match="numbers columns up to 90"):
        contact_map_burial(registry, tmp_path / "far.dat")
    (tmp_path / "bad.dat").write_text("1 2 0.1\n")
    with pytest.raises(InputError, match=r"bad.dat:1: expected four numbers"):
        read_contact_map(tmp_path / "bad.dat")


@pytest.mark.shared_data
def test_pdz3_contact_map_gives_contact_numbers():
    pairs = read_contact_map(shared_file("pdz3/PF00595_struct.dat"))
    assert pairs.i.min() == 0 and max(pairs.i.max(), pairs.j.max()) == 81
    numbers = pairs.contact_numbers(82, cutoff=6.0, min_separation=3)
    assert numbers.shape == (82,) and not np.isnan(numbers).any()
    # by hand for one column
    column = 40
    near = (pairs.distance < 6.0) & (np.abs(pairs.i - pairs.j) >= 3)
    expected = int((near & ((pairs.i == column) | (pairs.j == column))).sum())
    assert numbers[column] == expected > 0


# -- through the command line ----------------------------------------------------------------
@pytest.fixture(scope="module")
def a2m_baseline(tmp_path_factory):
    """A site-independent baseline on the A2M family (quick to fit; scores like a run)."""
    from builders import write_a2m_family
    from seqvae.cli.main import main

    folder = tmp_path_factory.mktemp("a2m")
    alignment = write_a2m_family(folder / "family.a2m")
    assert main(["baseline", "fit", str(alignment), "--out", str(folder / "si")]) == 0
    return folder / "si"


def _scan(path: Path) -> Path:
    # M1 and K2 are covered; T3 and A4 lie in the structure's missing stretch; K2K is the wild
    # type (no mutated position: not counted as uncovered); fitness made up
    path.write_text(
        "mutant,fitness\nM1A,0.1\nK2R,0.9\nT3A,0.5\nA4G,0.7\nM1A:T3A,0.2\nT3A:A4G,0.3\nI30V,0.6\nQ9E,0.4\n"
        "K2K,0.8\n"
    )
    return path


def test_score_with_a_structure_keeps_the_plain_score_beside_the_structure_aware_one(tmp_path, a2m_baseline):
    from builders import STRUCTURE_FOCUS, STRUCTURE_INSERT, write_chain
    from seqvae.cli.main import main

    # the chain lacks reference residues 3-4 (a missing stretch) and carries the insert residues
    chain = write_chain(
        STRUCTURE_FOCUS[:2] + STRUCTURE_FOCUS[4:] + STRUCTURE_INSERT, tmp_path / "model.pdb.gz"
    )
    out = tmp_path / "scores.csv"
    args = ["score", a2m_baseline, _scan(tmp_path / "scan.csv"), "--score-col", "fitness", "--out", out]
    assert main([str(a) for a in [*args, "--structure", chain]]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "mutant",
        "fitness",
        "n_mutations",
        "score",
        "score_structure",
        "burial",
        "reason",
    ]
    rows = table.set_index("mutant")
    # T3A, A4G and T3A:A4G touch no covered position: their plain score is kept, burial empty
    for mutant in ("T3A", "A4G", "T3A:A4G"):
        assert rows.loc[mutant, "score_structure"] == pytest.approx(rows.loc[mutant, "score"], rel=1e-7)
        assert np.isnan(rows.loc[mutant, "burial"])
    # M1A:T3A: only M1 is covered, so it takes M1's factor
    factor = rows.loc["M1A", "score_structure"] / rows.loc["M1A", "score"]
    assert rows.loc["M1A:T3A", "score_structure"] == pytest.approx(
        rows.loc["M1A:T3A", "score"] * factor, rel=1e-6
    )
    summary = json.loads((tmp_path / "scores_summary.json").read_text())
    structure = summary["structure"]
    assert structure["covered_positions"] == 28 and structure["focus_positions"] == 30
    assert structure["identity"] == 1.0 and structure["variants_without_covered_position"] == 3
    # the same from the saved table, without scoring again
    from seqvae.analysis.mutations import MutationMapper
    from seqvae.analysis.scoring import load_scorer, structure_from_scores

    scorer = load_scorer(a2m_baseline)
    again = structure_from_scores(
        out, MutationMapper(scorer.registry), position_burial(scorer.registry, chain), score_column="fitness"
    )
    assert again.n_uncovered == 3
    np.testing.assert_allclose(again.predicted, table["score_structure"], rtol=1e-6)
    assert again.evaluation.spearman == pytest.approx(structure["evaluation"]["spearman"])
    # the study's path: read the table once, then the two pure functions per rule
    from seqvae.analysis.scoring import read_scored_variants

    variants = read_scored_variants(out, MutationMapper(scorer.registry))
    factors = structure_factors(position_burial(scorer.registry, chain), DEFAULT_STRUCTURE_RULE)
    np.testing.assert_allclose(structure_aware(variants.scores, variants.columns, factors), again.predicted)
    np.testing.assert_allclose(variants.measured("fitness"), table["fitness"])
    assert structure["rule"] == DEFAULT_STRUCTURE_RULE.to_dict()
    assert set(structure["evaluation"]) >= {"spearman", "n_scored"}
    # the ProteinGym format: one column for each
    gym = tmp_path / "gym.csv"
    assert main([str(a) for a in [*args[:-1], gym, "--format", "proteingym", "--structure", chain]]) == 0
    gym_table = pd.read_csv(gym)
    name = gym_table.columns[3]
    assert list(gym_table.columns[3:]) == [name, f"{name}_structure"]
    np.testing.assert_allclose(gym_table[f"{name}_structure"], table["score_structure"], rtol=1e-6)


def test_all_singles_get_a_burial_column_and_a_strip_under_the_heatmap(tmp_path, a2m_baseline):
    from builders import STRUCTURE_FOCUS, write_chain
    from seqvae.analysis.scoring import load_scorer, single_mutant_scores

    chain = write_chain(STRUCTURE_FOCUS[:20], tmp_path / "part.cif")
    out = tmp_path / "singles.csv"
    from seqvae.cli.main import main

    assert (
        main(["score", str(a2m_baseline), "--all-singles", "--out", str(out), "--structure", str(chain)]) == 0
    )
    table = pd.read_csv(out)
    assert {"burial", "score_structure"} <= set(table.columns)
    assert table.loc[table["position"] > 20, "burial"].isna().all()
    assert table.loc[table["position"] <= 20, "burial"].between(0, 1).all()
    assert out.with_suffix(".png").stat().st_size > 1000
    # the Python API gives the same table
    scorer = load_scorer(a2m_baseline)
    singles = single_mutant_scores(scorer, position_burial(scorer.registry, chain))
    pd.testing.assert_frame_equal(
        singles.to_frame().reset_index(drop=True), table, check_dtype=False, rtol=1e-5
    )


def test_predicted_contacts_of_a_position_matrix(tmp_path):
    from seqvae.io.matrix_file import save_matrix_npz

    registry = toy_registry(tmp_path)
    length = registry.length
    matrix = np.zeros((length, length))
    for i, j, value in ((0, 10, 5.0), (0, 20, 4.0), (5, 30, 3.0), (1, 3, 9.0)):  # (1, 3): too close
        matrix[i, j] = matrix[j, i] = value
    path = save_matrix_npz(tmp_path / "couplings_apc.npz", matrix, numbering=registry.numbering)
    burial = position_burial(registry, contact_map=path)
    assert burial.kind == "predicted contacts" and burial.n_covered == length
    counts = burial.burial("contacts") * 5.0  # COUNT_SCALES["predicted"]
    # the 40 strongest pairs at |i - j| >= 6 include the three set ones; column 0 is in two
    assert counts[0] >= 2 and counts[10] >= 1 and counts[30] >= 1
    from seqvae.analysis.burial import predicted_contact_burial

    three = predicted_contact_burial(registry, path, n_pairs=3).burial("contacts") * 5.0
    assert three[[0, 10, 20, 5, 30]].tolist() == [2, 1, 1, 1, 1] and three.sum() == 6
    other = save_matrix_npz(tmp_path / "other.npz", np.zeros((7, 7)))
    with pytest.raises(InputError, match="not the 40 focus columns"):
        position_burial(registry, contact_map=other)
