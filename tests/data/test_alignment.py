from __future__ import annotations

import numpy as np
import pytest

import seqvae
from seqvae.data.alignment import alignment_from_sequences


def test_blat_full_shape_and_numbering(blat_full):
    aln = seqvae.read_alignment(blat_full)
    assert aln.codes.shape == (8355, 253)
    assert aln.codes.dtype == np.uint8
    assert aln.filter_report["sequences_with_nonstandard_removed"] == 48
    reg = aln.registry
    assert reg.reference_id == "BLAT_ECOLX/24-286"
    # 'hpetl' are lower-case inserts: the first focus residue is V29
    assert reg.numbering[0] == 29
    assert reg.reference_sequence[0] == "V"
    # each focus residue matches the raw reference letter at index (number - start)
    raw_letters = [c for c in reg.reference_raw if c.isalpha()]
    for column, number in enumerate(reg.numbering):
        if number >= 0:
            assert raw_letters[number - reg.reference_start].upper() == reg.reference_sequence[column]


def test_gap_code_is_last():
    aln = alignment_from_sequences(["AC-D", "ACED"])
    assert aln.alphabet.gap_code == 20
    assert aln.codes[0, 2] == 20
    assert aln.alphabet.decode(aln.codes[0]) == "AC-D"


def test_column_and_sequence_gap_filters():
    aln = seqvae.data.alignment.build_alignment(
        seqvae.io.alignment_formats.RawAlignment(
            [
                seqvae.io.alignment_formats.SequenceRecord(f"s{i}", f"s{i}", s, i + 1)
                for i, s in enumerate(["ACDE", "AC--", "A---", "ACD-"])
            ],
            "fasta",
            "mem",
        ),
        seqvae.AlignmentOptions(max_sequence_gap_fraction=0.5, max_column_gap_fraction=0.4),
    )
    assert aln.ids == ["s0", "s1", "s3"]
    assert aln.length == 3  # last column has 2/3 gaps among the kept rows
    assert list(aln.registry.focus_columns) == [0, 1, 2]


def test_nonstandard_map_to_gap():
    from seqvae.data.alignment import AlignmentOptions, build_alignment
    from seqvae.io.alignment_formats import RawAlignment, SequenceRecord

    raw = RawAlignment(
        [SequenceRecord("a", "a", "ACDX", 1), SequenceRecord("b", "b", "ACDE", 2)], "fasta", "m"
    )
    dropped = build_alignment(raw, AlignmentOptions())
    assert dropped.n_sequences == 2  # reference is never dropped; its X becomes a gap
    assert dropped.codes[0, 3] == 20
    raw2 = RawAlignment(
        [SequenceRecord("b", "b", "ACDE", 1), SequenceRecord("a", "a", "ACDX", 2)], "fasta", "m"
    )
    with pytest.raises(seqvae.InputError):
        build_alignment(raw2, AlignmentOptions())  # everything but the reference filtered away
    mapped = build_alignment(raw2, AlignmentOptions(nonstandard="gap"))
    assert mapped.n_sequences == 2 and mapped.codes[1, 3] == 20
