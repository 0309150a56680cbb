"""Reading real scans: ';' tables, '/' between substitutions, out-of-region substitutions,
input columns that share a name with the output, and renumbering a trimmed (Pfam) row."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
import torch

import seqvae
from conftest import shared_file
from seqvae.analysis.mutations import (
    MutationMapper,
    WildType,
    detect_separator,
    map_table,
    output_column_names,
    parse_mutant,
    read_wild_type,
)
from seqvae.analysis.scoring import load_scorer, score_file
from seqvae.cli.main import main
from seqvae.data.alignment import AlignmentOptions, read_alignment
from seqvae.errors import InputError

PDZ3_ROW = "DLG4_RAT/313-391"
# the wild-type letters of the McLaughlin et al. 2012 scan, residues 311-393 (kept in the panel)
PDZ3_WILD_TYPE = "PRRIVIHRGSTGLGFNIVGGEDGEGIFISFILAGGPADLSGELRKGDQILSVNGVDLRNASHEQAAIALKNAGQTVTIIAQYK"


def test_parse_slash_and_auto():
    assert parse_mutant("A110D/N146D", separator="/") == parse_mutant("A110D:N146D")
    assert parse_mutant("A110D/N146D", separator=None) == parse_mutant("A110D:N146D", separator=None)
    with pytest.raises(InputError, match="malformed"):
        parse_mutant("A110D/N146D")  # ':' named explicitly
    with pytest.raises(InputError, match="mixes"):
        parse_mutant("A110D/N146D:G4A", separator=None)


def test_output_column_names_never_reuse_an_input_column():
    names = output_column_names(["mutant", "score", "reason", "n_mutations"], "mutant")
    assert names == {
        "mutant": "mutant",
        "n_mutations": "seqvae_n_mutations",
        "score": "seqvae_score",
        "reason": "seqvae_reason",
    }
    assert output_column_names(["variant", "mutant"], "variant")["mutant"] == "seqvae_mutant"
    assert output_column_names(["variant"], "variant")["score"] == "score"


# -- on a tiny BLAT model -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blat_run(tmp_path_factory):
    torch.set_num_threads(1)
    cfg = seqvae.preset_config("fitness").updated(
        {
            "model.encoder_hidden": [16],
            "model.decoder_hidden": [16],
            "model.latent_dim": 2,
            "training.max_steps": 5,
            "training.batch_size": 16,
            "training.threads": 1,
        }
    )
    out = tmp_path_factory.mktemp("scanrun") / "run"
    seqvae.train(shared_file("blat/BLAT_ECOLX_test.a2m"), cfg, out=out, progress=False)
    return out


def test_semicolon_slash_scan_equals_comma_colon(blat_run, tmp_path):
    """The same variants as ';' + '/' and as ',' + ':' get the same scores; out-of-region and a
    measured column named 'score' survive."""
    rows = [("A182T", 1.0), ("A182T/V29A", 0.5), ("H24A", 0.2), ("A300V", 0.1), ("V29A", 0.7)]
    semicolon = tmp_path / "scan.csv"
    semicolon.write_text("variant;score\n" + "".join(f"{v};{s}\n" for v, s in rows))
    comma = tmp_path / "comma.csv"
    comma.write_text("mutant,score\n" + "".join(f"{v.replace('/', ':')},{s}\n" for v, s in rows))
    assert detect_separator(semicolon) == ";"
    assert detect_separator(comma) == ","
    scorer = load_scorer(blat_run, samples=4)
    report = score_file(scorer, semicolon, tmp_path / "a.csv", mutant_column="variant", score_column="score")
    report_b = score_file(scorer, comma, tmp_path / "b.csv", score_column="score", mutation_separator=":")
    a = pd.read_csv(tmp_path / "a.csv")
    b = pd.read_csv(tmp_path / "b.csv")
    # the measured 'score' column is kept as read; the prediction goes to seqvae_score
    assert list(a["score"]) == [s for _, s in rows]
    assert list(a.columns) == [
        "variant",
        "score",
        "mutant",
        "n_mutations",
        "seqvae_score",
        "reason",
    ]
    assert list(a["mutant"]) == ["A182T", "A182T:V29A", "H24A", "A300V", "V29A"]
    pd.testing.assert_series_equal(a["seqvae_score"], b["seqvae_score"])
    assert report.n_scored == report_b.n_scored == 3
    assert "outside the reference" in a["reason"][3]
    assert "not a focus column" in a["reason"][2]
    # the evaluation compares with the measured column, not with the prediction
    assert list(report.measured) == [1.0, 0.5, 0.7]


def test_cli_score_semicolon_scan_with_score_column(blat_run, tmp_path, capsys):
    scan = tmp_path / "scan.csv"
    scan.write_text("variant;score;reason\nA182T;1.0;x\nA182T/V29A;0.5;y\nA300V;0.1;z\nV29A;0.7;w\n")
    out = tmp_path / "out.csv"
    code = main(
        [
            "score",
            str(blat_run),
            str(scan),
            "--mutant-col",
            "variant",
            "--score-col",
            "score",
            "--samples",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    assert list(table["reason"]) == ["x", "y", "z", "w"]
    assert list(table["score"]) == [1.0, 0.5, 0.1, 0.7]
    assert table["seqvae_score"].notna().sum() == 3


# -- renumbering a trimmed Pfam row ----------------------------------------------------------------
@pytest.fixture(scope="module")
def pdz3_registry(tmp_path_factory):
    """The PDZ3 row of the Pfam alignment with a handful of other rows (fast to read)."""
    source = shared_file("pdz3/PF00595_mgap6.fasta.gz")
    with gzip.open(source, "rt") as handle:
        lines = handle.read().splitlines()
    records = [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]
    chosen = [r for r in records if r[0] == f">{PDZ3_ROW}"] + records[:20]
    path = tmp_path_factory.mktemp("pdz3") / "pdz3_small.fasta"
    path.write_text("".join(f"{h}\n{s}\n" for h, s in chosen))
    return read_alignment(path, AlignmentOptions(reference=PDZ3_ROW)).registry


def test_pdz3_renumbered_from_the_wild_type(pdz3_registry, tmp_path):
    fasta = tmp_path / "wt.fasta"
    fasta.write_text(f">DLG4_RAT/311-393 PSD-95 PDZ3\n{PDZ3_WILD_TYPE}\n")
    wild_type = read_wild_type(fasta)
    assert (wild_type.start, wild_type.end) == (311, 393)
    plain = MutationMapper(pdz3_registry)
    assert any("holds 75 residues, its range says 79" in n for n in plain.notes)
    mapper = MutationMapper(pdz3_registry, wild_type)
    # the row's first residue is I314 of the scan, and E352 is cut out of it
    first_column = min(c for c in range(pdz3_registry.length) if pdz3_registry.numbering[c] >= 0)
    assert mapper.column_of(314) == first_column
    assert pdz3_registry.reference_sequence[first_column] == "I"
    assert 313 not in mapper.number_of_position
    assert 352 not in mapper.number_of_position
    assert mapper.column_of(351) is not None and mapper.column_of(353) is not None
    assert pdz3_registry.reference_sequence[mapper.column_of(353)] == "L"
    # every residue the row holds matches the scan's wild-type letter at its new number
    for position in mapper.number_of_position:
        column = mapper.column_of(position)
        if column is not None:
            assert pdz3_registry.reference_sequence[column] == wild_type.sequence[position - 311]
    scan = pd.read_csv(shared_file("pdz3/DLG4_RAT_Ranganathan2012.csv"), dtype=str, keep_default_na=False)
    chunk, skipped = map_table(scan, mapper)
    assert skipped == 0
    assert int(chunk.scorable.sum()) == 1500
    reasons = chunk.table.loc[scan["mutant"].str[1:-1] == "352", "reason"]
    assert len(reasons) > 0 and all("not in the alignment's reference row" in r for r in reasons)
    # counting from the header's start instead: everything after the cut mismatches, and the
    # error names the cause and the option that fixes it
    with pytest.raises(InputError, match=r"do not match.*the reference row is trimmed.*wild_type"):
        map_table(scan, plain)


def test_reference_sequence_that_does_not_align(pdz3_registry, tmp_path):
    with pytest.raises(InputError, match="does not align"):
        MutationMapper(pdz3_registry, WildType("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ" * 2, 1, "unrelated"))


def test_cli_reference_sequence_bad(blat_run, tmp_path, capsys):
    fasta = tmp_path / "unrelated.fasta"
    fasta.write_text(">unrelated\n" + "W" * 120 + "\n")
    scan = tmp_path / "scan.csv"
    scan.write_text("mutant\nA182T\n")
    out = tmp_path / "out.csv"
    code = main(["score", str(blat_run), str(scan), "--reference-sequence", str(fasta), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    # the tiny run's collapse warning may precede it; the error itself is one line
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "does not align" in errors[0] and "Traceback" not in err
    assert not out.exists()
