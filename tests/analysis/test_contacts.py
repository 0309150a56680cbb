from __future__ import annotations

import numpy as np
import pytest

from builders import hairpin_pdb as _hairpin_pdb
from seqvae.analysis.contacts import (
    cluster_test,
    contact_precision,
    map_positions,
    pymol_selection,
    residue_distances,
)
from seqvae.data.pairwise import align_sequences
from seqvae.errors import InputError
from seqvae.io.matrix_file import PositionMatrix
from seqvae.io.structure_files import read_structure


def test_read_structure_and_distances(tmp_path):
    structure = read_structure(_hairpin_pdb(tmp_path / "toy.pdb"), "A")
    assert structure.sequence == "AKWSLEAGKWSLEA"
    assert structure.labels[:3] == ["1", "2", "3"]
    heavy = residue_distances(structure, "heavy")
    cb = residue_distances(structure, "cb")
    assert heavy[0, 13] == pytest.approx(5.0, abs=1e-4)  # residues 1 and 14 face each other
    assert cb[0, 1] == pytest.approx(3.8, abs=1e-4)
    # heavy-atom minimum distance never exceeds the C-beta distance
    assert np.all(heavy <= cb + 1e-6)
    with pytest.raises(InputError):
        read_structure(tmp_path / "toy.pdb", "Z")
    with pytest.raises(InputError):
        read_structure(tmp_path / "missing.pdb", "A")


def test_contact_precision_on_a_toy_hairpin(tmp_path):
    structure = read_structure(_hairpin_pdb(tmp_path / "toy.pdb", first=3), "A")  # PDB numbers 3..16
    distances = residue_distances(structure, "heavy")
    length = 14
    m = np.zeros((length, length))

    def put(i, j, value):  # 1-based residue indices in the hairpin
        m[i - 1, j - 1] = m[j - 1, i - 1] = value

    put(5, 6, 20)  # neighbours in sequence: excluded by |i - j| >= 6
    put(1, 14, 10)  # contact
    put(2, 13, 9)  # contact
    put(1, 8, 8)  # far apart
    put(3, 12, 7)  # contact
    put(2, 9, 6)  # far
    put(4, 11, 5)  # contact
    put(1, 10, 4)  # far
    positions = PositionMatrix(m, numbering=np.arange(1, 15), residues=np.array(list("AKWSLEAGKWSLEA")))
    mapping = map_positions(positions, structure, offset=2)  # PDB number = reference number + 2
    assert mapping.n_mapped == 14 and mapping.identity == 1.0
    result = contact_precision(positions, mapping, distances, min_separation=6, threshold=8.0)
    assert result.length == 14
    assert result.n_pairs["L/5"] == 2 and result.precision["L/5"] == 1.0
    assert result.n_pairs["L/2"] == 7 and result.precision["L/2"] == pytest.approx(4 / 7)
    assert tuple(result.top_pairs[0]) == (0, 13)
    # the same mapping by sequence alignment, and a wrong offset maps almost nothing
    by_sequence = map_positions(positions, structure, method="sequence")
    assert np.array_equal(by_sequence.residue_index, mapping.residue_index)
    wrong = map_positions(positions, structure, offset=40)
    assert wrong.n_mapped == 0
    with pytest.raises(InputError):
        contact_precision(positions, wrong, distances)


def test_labels_with_insertion_codes_and_alignment(tmp_path):
    path = _hairpin_pdb(tmp_path / "toy.pdb")
    text = path.read_text().replace("A  10 ", "A   9A")  # residue 10 becomes 9A
    path.write_text(text)
    structure = read_structure(path, "A")
    assert "9A" in structure.labels and "10" not in structure.labels
    labels = np.array(structure.labels)
    positions = PositionMatrix(np.eye(14), labels=labels[::-1])
    mapping = map_positions(positions, structure)
    assert mapping.method == "labels"
    assert np.array_equal(mapping.residue_index, np.arange(14)[::-1])
    # alignment tolerates a missing stretch
    mapped = align_sequences("AKWSLEAGKWSLEA", "WSLEAGKWS")
    assert mapped[2] == 0 and mapped[0] == -1 and mapped[10] == 8


def test_cluster_test_and_pymol(tmp_path):
    structure = read_structure(_hairpin_pdb(tmp_path / "toy.pdb"), "A")
    distances = residue_distances(structure, "cb")
    pool = np.arange(14)
    compact = cluster_test("end", np.array([0, 1, 12, 13]), pool, distances, n_random=500)
    spread = cluster_test("spread", np.array([0, 6, 7, 13]), pool, distances, n_random=500)
    assert compact.mean_distance < compact.random_mean and compact.p_value < 0.1
    assert spread.p_value > compact.p_value
    assert pymol_selection("sector 1", ["17", "184A"], "E") == "select sector_1, chain E and resi 17+184A"
