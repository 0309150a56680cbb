"""Alignment formats: FASTA, A2M, A3M, Stockholm (plain and gzip), reference choice,
``NAME/start-end`` numbering and alphabets."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

import seqvae
from seqvae.cli.main import main
from seqvae.data.alphabet import PROTEIN

# One small family written in every format. The reference row 'ref/10-17' of the A2M file:
#   x y A C - D e . F G      (x, y, e: insert residues; '.': insert-column gap)
#   10 11 12 13 . 14 15 . 16 17   residue numbers
# Focus (match) columns: A C - D F G  ->  numbering 12 13 -1 14 16 17.
A2M_ROWS = {
    "ref/10-17": "xyAC-De.FG",
    "s2": "..ACWD..FG",
    "s3/1-9": "qrA-CDkkFG",
    "s4": "..-CWDa.F-",
}
FOCUS = {"ref/10-17": "AC-DFG", "s2": "ACWDFG", "s3/1-9": "A-CDFG", "s4": "-CWDF-"}
A3M_ROWS = {
    "ref/10-17": "xyAC-DeFG",
    "s2": "ACWDFG",
    "s3/1-9": "qrA-CDkkFG",
    "s4": "-CWDaF-",
}
NUMBERING = [12, 13, -1, 14, 16, 17]


def write_fasta(path, rows: dict[str, str], compress: bool = False, width: int | None = None) -> None:
    lines = []
    for name, text in rows.items():
        lines.append(f">{name} some description")
        if width:
            lines.extend(text[i : i + width] for i in range(0, len(text), width))
        else:
            lines.append(text)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)


def stockholm_text(rows: dict[str, str], block: int = 4) -> str:
    """Interleaved Stockholm with annotation lines and blocks of ``block`` columns."""
    length = len(next(iter(rows.values())))
    out = ["# STOCKHOLM 1.0", "#=GF ID test_family", "#=GS ref/10-17 DE the reference", ""]
    for start in range(0, length, block):
        for name, text in rows.items():
            out.append(f"{name:12s} {text[start : start + block]}")
        out.append(f"#=GC RF      {'x' * len(rows['ref/10-17'][start : start + block])}")
        out.append("")
    out.append("//")
    return "\n".join(out) + "\n"


def focus_strings(aln: seqvae.Alignment) -> dict[str, str]:
    return dict(zip(aln.ids, aln.sequences()))


@pytest.mark.parametrize("compress", [False, True])
def test_a2m_focus_columns_and_numbering(tmp_path, compress):
    path = tmp_path / ("family.a2m" + (".gz" if compress else ""))
    write_fasta(path, A2M_ROWS, compress=compress, width=3)  # wrapped lines too
    aln = seqvae.read_alignment(path)
    assert focus_strings(aln) == FOCUS
    reg = aln.registry
    assert reg.reference_id == "ref/10-17"
    assert reg.reference_start == 10
    assert list(reg.numbering) == NUMBERING
    assert list(reg.focus_columns) == [2, 3, 4, 5, 8, 9]
    assert reg.raw_length == 10
    assert aln.filter_report["insert_columns_removed"] == 4
    assert aln.codes.dtype == np.uint8
    assert aln.codes.shape == (4, 6)


def test_a2m_without_range_header_numbers_from_one(tmp_path):
    rows = {"ref": A2M_ROWS["ref/10-17"], **{k: v for k, v in A2M_ROWS.items() if k != "ref/10-17"}}
    path = tmp_path / "family.a2m"
    write_fasta(path, rows)
    reg = seqvae.read_alignment(path).registry
    assert reg.reference_start == 1
    assert list(reg.numbering) == [n - 9 if n > 0 else -1 for n in NUMBERING]


@pytest.mark.parametrize("compress", [False, True])
def test_a3m_per_row_inserts(tmp_path, compress):
    path = tmp_path / ("family.a3m" + (".gz" if compress else ""))
    write_fasta(path, A3M_ROWS, compress=compress)
    aln = seqvae.read_alignment(path)
    assert focus_strings(aln) == FOCUS
    assert list(aln.registry.numbering) == NUMBERING
    assert aln.registry.a2m_mode == "strip"


@pytest.mark.parametrize("compress", [False, True])
def test_stockholm_interleaved_blocks(tmp_path, compress):
    path = tmp_path / ("family.sto" + (".gz" if compress else ""))
    data = stockholm_text(A2M_ROWS).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    aln = seqvae.read_alignment(path)
    assert aln.ids == list(A2M_ROWS)
    assert focus_strings(aln) == FOCUS
    assert list(aln.registry.numbering) == NUMBERING


def test_stockholm_detected_by_content(tmp_path):
    path = tmp_path / "family.fasta"  # misleading extension
    path.write_text(stockholm_text(A2M_ROWS))
    assert focus_strings(seqvae.read_alignment(path)) == FOCUS


def test_stockholm_duplicate_in_block_is_an_error(tmp_path):
    path = tmp_path / "dup.sto"
    path.write_text("# STOCKHOLM 1.0\nA ACDE\nB ACDE\nA ACDF\n//\n")
    with pytest.raises(seqvae.InputError, match="duplicate sequence id 'A'") as err:
        seqvae.read_alignment(path)
    assert err.value.line == 4


@pytest.mark.parametrize("compress", [False, True])
def test_plain_fasta(tmp_path, compress):
    rows = {"a": "ACDEF-GH", "b": "acdef.gh", "c": "ACDQF-GW"}
    path = tmp_path / ("plain.fasta" + (".gz" if compress else ""))
    write_fasta(path, rows, compress=compress)
    aln = seqvae.read_alignment(path)
    # A2M rule: focus = the reference's upper case and '-' (here every column); the other
    # rows' lower case and '.' inside focus columns read as residues and gaps
    assert aln.sequences() == ["ACDEF-GH", "ACDEF-GH", "ACDQF-GW"]
    assert list(aln.registry.focus_columns) == list(range(8))
    assert list(aln.registry.numbering) == [1, 2, 3, 4, 5, -1, 6, 7]


def test_fasta_with_a2m_insert_columns(tmp_path):
    # Pfam-style: the reference has no insert residues of its own, only '.' in insert columns
    rows = {"ref": "AC..DE", "b": "ACgkDE", "c": "A-..DW"}
    path = tmp_path / "pfam_like.fasta"
    write_fasta(path, rows)
    aln = seqvae.read_alignment(path)
    assert aln.sequences() == ["ACDE", "ACDE", "A-DW"]
    assert list(aln.registry.focus_columns) == [0, 1, 4, 5]
    assert list(aln.registry.numbering) == [1, 2, 3, 4]


def test_gzip_detected_by_magic_bytes(tmp_path):
    path = tmp_path / "family.a2m"  # gzip data without a .gz name
    write_fasta(path, A2M_ROWS, compress=True)
    assert focus_strings(seqvae.read_alignment(path)) == FOCUS


def test_fasta_content_with_unknown_extension(tmp_path):
    path = tmp_path / "family.txt"
    write_fasta(path, {"a": "ACDE", "b": "ACDF"})
    assert seqvae.read_alignment(path).sequences() == ["ACDE", "ACDF"]


def test_reference_option_changes_focus_and_numbering(tmp_path):
    path = tmp_path / "family.a2m"
    write_fasta(path, A2M_ROWS)
    aln = seqvae.read_alignment(path, reference="s3/1-9")
    reg = aln.registry
    assert reg.reference_id == "s3/1-9"
    # s3 = q r A - C D k k F G: upper case or '-' at columns 2, 3, 4, 5, 8, 9
    assert list(reg.focus_columns) == [2, 3, 4, 5, 8, 9]
    assert reg.reference_start == 1
    assert list(reg.numbering) == [3, -1, 4, 5, 8, 9]
    assert reg.reference_sequence == "A-CDFG"
    assert aln.ids == list(A2M_ROWS)  # order kept; reference not moved


def test_reference_option_in_cli_info(tmp_path, capsys):
    path = tmp_path / "family.a2m"
    write_fasta(path, A2M_ROWS)
    assert main(["info", str(path), "--reference", "s3/1-9", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reference_id"] == "s3/1-9"
    assert summary["reference_numbering"] == "3-9"
    assert summary["n_sequences"] == 4 and summary["length"] == 6
    assert summary["notes"] == []  # s3/1-9 holds its 9 residues


def test_cli_info_warns_of_a_trimmed_reference_row(tmp_path, capsys):
    # a Pfam-style row whose range spans more residues than it holds (a cut inside it)
    rows = {"ref/10-20": A2M_ROWS["ref/10-17"], **{k: v for k, v in A2M_ROWS.items() if k != "ref/10-17"}}
    path = tmp_path / "family.a2m"
    write_fasta(path, rows)
    assert main(["info", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["notes"] == [
        "the reference row ref/10-20 holds 8 residues, its range says 11: the row is trimmed, "
        "so numbers counted from its start are wrong after a cut"
    ]
    assert f"warning: {summary['notes'][0]}" in " ".join(captured.err.split())


def test_nonstandard_residues_dropped_or_gapped(tmp_path):
    path = tmp_path / "x.fasta"
    write_fasta(path, {"a": "ACDEF", "b": "ACXEF", "c": "BCDEF", "d": "ACDEW"})
    dropped = seqvae.read_alignment(path)
    assert dropped.ids == ["a", "d"]
    assert dropped.filter_report["sequences_with_nonstandard_removed"] == 2
    gapped = seqvae.read_alignment(path, nonstandard="gap")
    assert gapped.sequences() == ["ACDEF", "AC-EF", "-CDEF", "ACDEW"]


def test_dna_rna_and_custom_alphabets(tmp_path):
    dna = tmp_path / "dna.fasta"
    write_fasta(dna, {"a": "acgt-acgt", "b": "acgtnacgt", "c": "aggt-acct", "d": "ACGTTACGT"})
    aln = seqvae.read_alignment(dna, alphabet="dna")
    assert aln.alphabet.gap_code == 4 and aln.alphabet.size == 5
    assert aln.ids == ["a", "c", "d"]  # 'n' is an ambiguity code: dropped
    assert aln.sequences()[0] == "ACGT-ACGT"
    assert aln.registry.length == 9  # all lower case is not an insert convention

    rna = tmp_path / "rna.fasta"
    write_fasta(rna, {"a": "ACGU-", "b": "ACGUU", "c": "ACGTU"})
    aln = seqvae.read_alignment(rna, alphabet="rna")
    assert aln.ids == ["a", "b"]  # T is not RNA
    assert aln.alphabet.decode(aln.codes[1]) == "ACGUU"

    custom = tmp_path / "hp.fasta"
    write_fasta(custom, {"a": "HPPH-H", "b": "hpph.p", "c": "PPPHHH"})
    aln = seqvae.read_alignment(custom, alphabet="HP")
    assert aln.alphabet.residues == "HP" and aln.alphabet.gap_code == 2
    assert aln.codes.tolist()[0] == [0, 1, 1, 0, 2, 0]
    assert aln.sequences()[1] == "HPPH-P"
    bad_letter = tmp_path / "q.fasta"
    write_fasta(bad_letter, {"a": "HPQ", "b": "HPP"})
    with pytest.raises(seqvae.InputError, match="unknown character 'Q'"):
        seqvae.read_alignment(bad_letter, alphabet="HP")
    with pytest.raises(seqvae.InputError, match="alphabet"):
        seqvae.read_alignment(custom, alphabet="H-P")


def test_blat_gzip_equals_plain(blat_small, tmp_path):
    gz = tmp_path / "blat_small.a2m.gz"
    with open(blat_small, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain = seqvae.read_alignment(blat_small)
    packed = seqvae.read_alignment(gz)
    assert np.array_equal(plain.codes, packed.codes)
    assert plain.ids == packed.ids
    assert np.array_equal(plain.registry.numbering, packed.registry.numbering)
    # every focus letter of every row is the upper-cased raw letter at that column
    raw = [line for line in open(blat_small).read().split(">")[1:]]
    for record, codes in zip(raw[:5], plain.codes[:5]):
        text = "".join(record.splitlines()[1:])
        letters = "".join(text[c] for c in plain.registry.focus_columns).upper().replace(".", "-")
        assert PROTEIN.decode(codes) == letters


def test_alignment_codes_round_trip_through_registry(tmp_path):
    path = tmp_path / "family.a2m"
    write_fasta(path, A2M_ROWS)
    aln = seqvae.read_alignment(path)
    restored = seqvae.AlignmentRegistry.from_dict(json.loads(json.dumps(aln.registry.to_dict())))
    assert restored.to_dict() == aln.registry.to_dict()
