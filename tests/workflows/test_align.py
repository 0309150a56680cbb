"""``seqvae align``: jackhmmer (pyhmmer) from one sequence to a family alignment."""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

import seqvae
from conftest import shared_file
from seqvae.cli.main import main as cli
from seqvae.data.search import Query, SearchHit, SearchResult, family_rows
from seqvae.errors import InputError
from seqvae.workflows.align import candidate_path, select_candidate

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

pyhmmer = pytest.importorskip("pyhmmer")


def _error_lines(capsys) -> list[str]:
    captured = capsys.readouterr()
    return [line for line in (captured.err + captured.out).splitlines() if line.strip()]


# --- query-centred rows from a search alignment (no search needed) -------------------------------


def _result(names, rows, query="ACDEFGHIKL", bitscore=0.5, hits=()) -> SearchResult:
    q = Query(name="Q", start=5, sequence=query, source="q.fasta")
    return SearchResult(
        query=q,
        bitscore=bitscore,
        threshold_bits=bitscore * len(query),
        max_iterations=5,
        iterations=[],
        converged=True,
        hits=list(hits),
        msa_names=[q.label, *names],
        msa_rows=rows,
        pyhmmer_version="x",
        hmmer_version="x",
    )


def test_family_rows_query_centred_inserts_coverage_and_lower_case():
    # columns: query has a gap at MSA column 3 (an insert in hit a); hit c covers 3 of 10 residues
    rows = [
        "ACD-EFGHIKL",  # the query: 10 residues, MSA column 3 is an insert column
        "ACDWEFGHIK-",  # a: insert W after D, misses L
        "-CD-EFGHIKL",  # b: misses A
        "---------KL",  # c: 2 of 10 residues -> dropped (coverage < 0.5)
        "ACD-EFG----",  # d: 7 of 10
    ]
    result = _result(["a/1-10", "b/2-11", "c/1-2", "d/1-7"], rows)
    family = family_rows(result, min_coverage=0.5, min_column_occupancy=0.7)
    assert family.names == ["Q/5-14", "a/1-10", "b/2-11", "d/1-7"]
    assert family.report["below_coverage_removed"] == 1
    # occupancy over the 4 kept rows: A 3/4, H,I,K 3/4, L 2/4 -> L lower case, the rest upper
    assert family.focus.tolist() == [True] * 9 + [False]
    # every row has the same length: 10 query letters + 1 insert column
    assert {len(r) for r in family.rows} == {11}
    assert family.rows[0] == "ACD.EFGHIKl"
    assert family.rows[1] == "ACDwEFGHIK."
    assert family.rows[3] == "ACD.EFG---."


def _hit(name, env, ali, hmm, left="", right="") -> SearchHit:
    return SearchHit(
        name=name,
        sequence_score=50.0,
        sequence_evalue=1e-10,
        domain=1,
        n_domains=1,
        domain_score=50.0,
        domain_evalue=1e-10,
        env_from=env[0],
        env_to=env[1],
        ali_from=ali[0],
        ali_to=ali[1],
        included=True,
        hmm_from=hmm[0],
        hmm_to=hmm[1],
        hmm_length=10,
        envelope_left=left,
        envelope_right=right,
    )


def test_family_rows_extend_hits_to_their_envelopes():
    # HMMER aligned only part of each envelope; the envelope's other residues go, without gaps,
    # into the match columns next to the aligned region (as many as there are columns)
    rows = [
        "ACDEFGHIKL",  # the query: model node k = query position k
        "--DEFGHI--",  # a: residues 4-9 on nodes 3-8; envelope 1-11: MNP before, QR after
        "ACDEFG----",  # b: envelope = alignment, nothing to add
        "------HIKL",  # c: residues 5-8 on nodes 7-10 (40 %); envelope 3-8 adds FG -> 60 %
    ]
    hits = [
        _hit("a", env=(1, 11), ali=(4, 9), hmm=(3, 8), left="MNP", right="QR"),
        _hit("b", env=(1, 6), ali=(1, 6), hmm=(1, 6)),
        _hit("c", env=(3, 8), ali=(5, 8), hmm=(7, 10), left="FG"),
    ]
    result = _result([h.alignment_name for h in hits], rows, hits=hits)
    assert [h.alignment_name for h in hits] == ["a/4-9", "b/1-6", "c/5-8"]
    family = family_rows(result, min_coverage=0.5, min_column_occupancy=0.7)
    # a: two columns before node 3, so N and P are placed and M is left out; Q and R fill nodes 9-10
    assert family.names == ["Q/5-14", "a/2-11", "b/1-6", "c/3-8"]
    assert [h.row_name for h in hits] == ["a/2-11", "b/1-6", "c/3-8"]
    assert family.rows == ["ACDEFGHIKL", "NPDEFGHIQR", "ACDEFG----", "----FGHIKL"]
    assert family.report["envelope_residues_added"] == 6
    assert family.report["below_coverage_removed"] == 0  # c is kept thanks to its envelope
    assert family.coverage.tolist() == [1.0, 1.0, 0.6, 0.6]
    assert family.focus.all()
    # without the hits (no envelopes known), a and b occupy only positions 3-6 together
    unextended = family_rows(_result(["a/4-9", "b/1-6"], rows[:3]), min_column_occupancy=0.7)
    assert unextended.names == ["Q/5-14", "a/4-9", "b/1-6"]
    assert unextended.focus.tolist() == [False, False] + [True] * 4 + [False] * 4


def test_family_rows_reads_back_with_the_query_numbering(tmp_path):
    rows = ["ACD-EFGHIKL", "ACDWEFGHIK-", "-CD-EFGHIKL", "ACD-EFG-IKL"]
    family = family_rows(_result(["a/1-10", "b/2-11", "d/1-9"], rows))
    path = tmp_path / "f.a2m"
    path.write_text("".join(f">{n}\n{r}\n" for n, r in zip(family.names, family.rows)))
    aln = seqvae.read_alignment(path)
    assert aln.registry.reference_id == "Q/5-14"
    assert aln.length == int(family.focus.sum())
    # numbering from the header: residue 5 is A; every position is occupied in >= 3 of 4 rows
    assert aln.registry.numbering.tolist() == list(range(5, 15))


def test_no_hit_above_threshold_is_an_input_error():
    with pytest.raises(InputError, match="no hit above the threshold"):
        family_rows(_result([], ["ACDEFGHIKL"]))


# --- EVE's selection rule --------------------------------------------------------------------------


def test_select_candidate_rule_tiers():
    length = 100
    candidates = [
        {"bitscore": 0.1, "n_sequences": 150_000, "focus_columns": 95},  # too many for tier 1
        {"bitscore": 0.3, "n_sequences": 50_000, "focus_columns": 75},  # too few columns for tier 1
        {"bitscore": 0.5, "n_sequences": 20_000, "focus_columns": 85},  # tier 1
        {"bitscore": 0.7, "n_sequences": 900, "focus_columns": 90},  # N < 10 L
    ]
    chosen, tier = select_candidate(candidates, length)
    assert (chosen["bitscore"], tier) == (0.5, 1)
    # without the tier-1 candidate, the relaxed rule takes the most inclusive one (0.1: N <= 200,000)
    chosen, tier = select_candidate([c for c in candidates if c["bitscore"] != 0.5], length)
    assert (chosen["bitscore"], tier) == (0.1, 2)
    assert select_candidate([candidates[3], {"bitscore": 0.9, "n_sequences": None}], length) == (None, None)


# --- the BLAT family from its wild type ------------------------------------------------------------


@pytest.fixture(scope="module")
def blat_search(tmp_path_factory):
    shared_file("blat/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m")
    shared_file("sh3/sh3_59.fasta")
    shared_file("s1a/halabi_s1a_alignment.fasta")
    from benchmarks.bench_align import build_database

    work = tmp_path_factory.mktemp("blat_align")
    # a subsample of the members keeps the search to seconds; decoys of three kinds
    db = build_database(work / "db", members=400, sh3=150, s1a=150, shuffled=200, seed=0)
    out = work / "family.a2m"
    code = cli(
        [
            "align",
            str(db["query"]),
            "--database",
            str(db["database"]),
            "--out",
            str(out),
            "--bitscore",
            "0.4",
            "--cpus",
            "1",
        ]
    )
    return db, out, code


def test_blat_family_members_found_no_decoy(blat_search):
    from benchmarks.bench_align import recovery

    db, out, code = blat_search
    assert code == 0
    found = recovery(out, db["members"], db["decoys"])
    assert found["member_recall"] >= 0.95, found
    assert found["decoys_found"] == 0, found


def test_blat_family_a2m_is_read_as_is(blat_search):
    from benchmarks.bench_align import original_focus_positions

    db, out, _ = blat_search
    aln = seqvae.read_alignment(out)
    assert aln.ids[0] == "BLAT_ECOLX/24-286"
    assert aln.registry.reference_start == 24
    first = out.read_text().split("\n")[1]
    assert first[:5] == first[:5].lower()  # N-terminal positions occupied by few hits are not modelled
    covered = {int(n) for n in aln.registry.numbering}
    original = original_focus_positions()
    # the members end where the original rows end; HMMER's local alignments stop one to three
    # residues short of a sequence's ends, inside the envelope. Extended to their envelopes, the
    # rows occupy the query's terminal match columns as the original's do: 29, 30 and 283 (249 of
    # 253 without the envelope residues) are upper case. 216 stays under 70 % on this database:
    # HMMER's own model places a frequent one-residue deletion at 216 where the original spread
    # it over 213-215 (see test_blat_position_216_is_the_originals_deletion_in_one_column)
    assert {29, 30, 31, 282, 283} <= covered
    assert original - covered <= {216}, sorted(original - covered)
    assert len(covered - original) <= 0.02 * len(original), sorted(covered - original)
    provenance = json.loads(out.with_name("family.json").read_text())
    assert provenance["filters"]["envelope_residues_added"] > aln.n_sequences
    # the A2M's query row holds every residue of the query, in order
    wt = db["query"].read_text().split("\n")[1]
    assert first.replace(".", "").upper().startswith(wt[:60])


def _letters_by_position(text: str, position_columns: list[int]) -> str:
    """An A2M row's letters on the query's positions, upper case, ``-`` for a gap."""
    return "".join(text[i] for i in position_columns).upper().replace(".", "-")


def test_blat_position_216_is_the_originals_deletion_in_one_column(blat_search):
    # Why 216 is the one original position not covered. About 30 % of the members lack one of the
    # query's residues 213-216 (KVAG). HMMER's search model puts that deletion at 216 for (nearly)
    # all of them; the original alignment spread the same deletions over 213, 214 and 215 (mostly
    # 215), so none of its columns reached 30 % gaps. Same rows, same number of residues in the
    # loop: only the column that holds the gap differs, and one column cannot hold it under the
    # 70 % rule once the deletion is placed consistently.
    from seqvae.io.alignment_formats import read_records

    _, out, _ = blat_search
    original = read_records(
        shared_file("blat/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m")
    ).records
    o_query = original[0].text
    o_columns = [i for i, c in enumerate(o_query) if c not in ".-"]
    by_id = {r.id.replace("/", "_"): _letters_by_position(r.text, o_columns) for r in original[1:]}
    records = read_records(out).records
    query = records[0].text
    columns = [i for i, c in enumerate(query) if c != "."]
    assert len(columns) == len(o_columns) == 263
    ours, theirs = [], []
    for record in records[1:]:
        member = record.id.rsplit("/", 1)[0].split("_", 2)[2]
        ours.append(_letters_by_position(record.text, columns))
        theirs.append(by_id[member])
    loop = slice(213 - 24, 217 - 24)  # residues 213-216

    def gaps(rows: list[str], position: int) -> int:
        return sum(row[position - 24] == "-" for row in rows)

    n = len(ours) + 1  # the query counts, as in the 70 % rule
    assert 1 - gaps(ours, 216) / n < 0.70 <= 1 - max(gaps(ours, p) for p in (213, 214, 215)) / n
    # the original's placement of the same rows: spread, every column above 70 %
    spread = [gaps(theirs, p) for p in (213, 214, 215, 216)]
    assert sum(g > 0.02 * n for g in spread[:3]) >= 2 and spread[3] < 0.05 * n, spread
    assert all(1 - g / n >= 0.70 for g in spread), spread
    # the same deletion: a row's number of gaps in 213-216 is the same in both for almost all rows
    same = sum(a[loop].count("-") == b[loop].count("-") for a, b in zip(ours, theirs))
    assert same >= 0.95 * len(ours)
    # most gaps at 216 are one-residue deletions the original placed at 213-215, with the same
    # letters around them
    moved = [
        (a, b)
        for a, b in zip(ours, theirs)
        if a[216 - 24] == "-" and b[216 - 24] != "-" and a[loop].count("-") == b[loop].count("-") == 1
    ]
    assert len(moved) >= 0.85 * gaps(ours, 216)
    assert all(a[loop].replace("-", "") == b[loop].replace("-", "") for a, b in moved)


def test_blat_family_provenance_and_hits(blat_search):
    db, out, _ = blat_search
    provenance = json.loads(out.with_name("family.json").read_text())
    assert provenance["query"]["id"] == "BLAT_ECOLX/24-286" and provenance["query"]["length"] == 263
    import hashlib

    assert provenance["database"]["sha256"] == hashlib.sha256(db["database"].read_bytes()).hexdigest()
    assert provenance["database"]["size_bytes"] == db["database"].stat().st_size
    assert provenance["software"]["pyhmmer"] == pyhmmer.__version__
    assert provenance["software"]["hmmer"].startswith("3.")
    thresholds = provenance["thresholds"]
    assert thresholds["T"] == thresholds["incdomT"] == pytest.approx(0.4 * 263, abs=1e-3)
    iterations = provenance["iterations"]
    assert 1 <= iterations["run"] <= 5 and len(iterations["hits_per_iteration"]) == iterations["run"]
    included = [i["included"] for i in iterations["hits_per_iteration"]]
    assert included == sorted(included)  # jackhmmer only adds sequences here
    summary = provenance["summary"]
    aln = seqvae.read_alignment(out)
    assert summary["n_sequences"] == aln.n_sequences and summary["length"] == aln.length
    assert 0 < summary["n_eff"] <= aln.n_sequences
    with open(out.with_name("family_hits.csv"), newline="") as handle:
        hits = list(csv.DictReader(handle))
    assert len(hits) == provenance["hits"]["reported_domains"]
    scores = [float(h["sequence_score"]) for h in hits]
    assert min(scores) >= 0.4 * 263 - 1e-6
    assert all(float(h["sequence_evalue"]) >= 0 for h in hits)
    in_alignment = {h["row_name"] for h in hits if h["in_alignment"] == "True"}
    # the hit table names each domain as its A2M row (the aligned region extended to the envelope)
    a2m_rows = {line[1:].strip() for line in out.read_text().splitlines() if line.startswith(">")}
    assert in_alignment == a2m_rows - {"BLAT_ECOLX/24-286"}
    assert len(in_alignment) >= 0.95 * (aln.n_sequences - 1)
    for h in hits:
        first, last = (int(x) for x in h["row_name"].rsplit("/", 1)[1].split("-"))
        assert (
            int(h["env_from"]) <= first <= int(h["ali_from"]) <= int(h["ali_to"]) <= last <= int(h["env_to"])
        )


def test_python_api_matches_the_written_file(blat_search, tmp_path):
    db, _, _ = blat_search
    small = tmp_path / "small.fasta"
    # the API on a small database (the members of the first 60 records) returns what it writes
    records = db["database"].read_text().split(">")[1:]
    small.write_text("".join(">" + r for r in records[:60]))
    written = tmp_path / "api.a2m"
    aln = seqvae.align(db["query"], small, written, bitscore=0.4, iterations=2, cpus=1)
    assert isinstance(aln, seqvae.Alignment)
    again = seqvae.read_alignment(written)
    np.testing.assert_array_equal(aln.codes, again.codes)
    assert aln.ids == again.ids and aln.sequence_weights is not None
    assert cli(["info", str(written)]) == 0


# --- the selection rule on a second family (SH3) -----------------------------------------------


def _sh3_database(tmp_path: Path, fragments: int) -> tuple[Path, Path, int]:
    """700 SH3 domains, ``fragments`` other SH3 domains cut to their first 40 of ~58 residues (they
    pass the 50 % coverage filter but leave the C-terminal columns under-occupied), BLAT decoys."""
    from benchmarks.bench_align import ungapped

    sh3 = ungapped(shared_file("sh3/sh3_59.fasta"))
    rng = random.Random(1)
    query_seq = sh3[0][1]
    pool = rng.sample(sh3[1:], 700 + fragments)
    decoys = ungapped(shared_file("blat/BLAT_ECOLX_test.a2m"))
    query = tmp_path / "q.fasta"
    query.write_text(f">SH3_query\n{query_seq}\n")
    database = tmp_path / "db.fasta"
    with open(database, "w") as handle:
        for i, (_, s) in enumerate(pool[:700]):
            handle.write(f">sh3_{i}\n{s}\n")
        for i, (_, s) in enumerate(pool[700:]):
            handle.write(f">fragment_{i}\n{s[:40]}\n")
        for i, (_, s) in enumerate(decoys):
            handle.write(f">blat_{i}\n{s}\n")
    return query, database, len(query_seq)


SWEEP = ["--bitscores", "0.1,0.3,0.5,0.7,0.9", "--select", "--cpus", "1", "--iterations", "3"]


def _candidates(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        table = list(csv.DictReader(handle))
    return [
        {
            "bitscore": float(r["bitscore"]),
            "n_sequences": int(r["n_sequences"]) if r["n_sequences"] else None,
            "focus_columns": int(r["focus_columns"]),
            "selected": r["selected"] == "True",
        }
        for r in table
    ]


def test_sh3_bitscore_sweep_and_select(tmp_path, capsys):
    query, database, length = _sh3_database(tmp_path, fragments=400)
    out = tmp_path / "sh3.a2m"
    code = cli(["align", str(query), "--database", str(database), "--out", str(out), *SWEEP])
    assert code == 0, capsys.readouterr()
    candidates = _candidates(tmp_path / "sh3_candidates.csv")
    assert [c["bitscore"] for c in candidates] == [0.1, 0.3, 0.5, 0.7, 0.9]
    expected, tier = select_candidate(candidates, length)
    assert [c["bitscore"] for c in candidates if c["selected"]] == [expected["bitscore"]]
    # the rule is not "the lowest": the fragments pulled in at low thresholds leave fewer than
    # 0.8 L focus columns, and the strictest threshold keeps fewer than 10 L sequences
    assert candidates[0]["focus_columns"] < 0.8 * length
    assert candidates[-1]["n_sequences"] < 10 * length
    assert 0.1 < expected["bitscore"] < 0.9 and tier == 1
    n = [c["n_sequences"] or 0 for c in candidates]
    assert n == sorted(n, reverse=True)
    # the chosen candidate is written as --out, with its provenance naming the rule
    assert out.read_text() == candidate_path(out, expected["bitscore"]).read_text()
    provenance = json.loads((tmp_path / "sh3.json").read_text())
    assert provenance["selection"]["bitscore"] == expected["bitscore"]
    assert provenance["thresholds"]["bitscore_per_residue"] == expected["bitscore"]
    aln = seqvae.read_alignment(out)
    assert aln.length >= 0.8 * length
    assert not any(i.startswith("blat_") for i in aln.ids)


def test_sh3_select_without_a_qualifying_candidate(tmp_path, capsys):
    query, database, length = _sh3_database(tmp_path, fragments=700)
    out = tmp_path / "sh3.a2m"
    code = cli(["align", str(query), "--database", str(database), "--out", str(out), *SWEEP])
    lines = _error_lines(capsys)
    assert code == 2
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    assert "no candidate satisfies EVE's rule" in lines[-1]
    assert select_candidate(_candidates(tmp_path / "sh3_candidates.csv"), length) == (None, None)
    assert not out.exists() and not (tmp_path / "sh3.json").exists()


# --- bad input: one line, exit 2, nothing written ----------------------------------------------


@pytest.fixture
def tiny(tmp_path):
    seq = "HPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVLSRVDAGQEQLGRRIHYSQNDLVEY"
    rng = random.Random(0)
    db = tmp_path / "db.fasta"
    lines = []
    for i in range(20):
        mutated = "".join(c if rng.random() > 0.2 else rng.choice("ACDEFGHIKLMNPQRSTVWY") for c in seq)
        lines.append(f">hit{i}\n{mutated}\n")
    db.write_text("".join(lines))
    query = tmp_path / "q.fasta"
    query.write_text(f">wt\n{seq}\n")
    out_dir = tmp_path / "out"
    return {"seq": seq, "db": db, "query": query, "out": out_dir / "family.a2m", "dir": tmp_path}


def _run_bad(tiny, capsys, query=None, database=None, extra=()):
    args = ["align", str(query or tiny["query"]), "--database", str(database or tiny["db"])]
    code = cli([*args, "--out", str(tiny["out"]), "--cpus", "1", *extra])
    lines = _error_lines(capsys)
    assert code == 2, lines
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines
    assert "Traceback" not in "\n".join(lines)
    assert not tiny["out"].parent.exists() or not any(tiny["out"].parent.iterdir())
    return errors[0]


def test_tiny_database_search_works(tiny):
    aln = seqvae.align(tiny["query"], tiny["db"], tiny["out"], cpus=1)
    assert aln.n_sequences == 21 and aln.ids[0] == "wt/1-80"


def test_bad_empty_query(tiny, capsys):
    (tiny["dir"] / "empty.fasta").write_text("")
    assert "empty" in _run_bad(tiny, capsys, query=tiny["dir"] / "empty.fasta")


def test_bad_two_sequences(tiny, capsys):
    two = tiny["dir"] / "two.fasta"
    two.write_text(f">a\n{tiny['seq']}\n>b\n{tiny['seq']}\n")
    message = _run_bad(tiny, capsys, query=two)
    assert "2 sequences" in message and "two.fasta:3" in message


def test_bad_dna_query(tiny, capsys):
    dna = tiny["dir"] / "dna.fasta"
    dna.write_text(">gene\nATGGCTAGCTAGGATCGATCGGGCTAGCTAGCATCGAC\n")
    assert "DNA" in _run_bad(tiny, capsys, query=dna)


def test_bad_database_not_fasta(tiny, capsys):
    bad = tiny["dir"] / "db.txt"
    bad.write_text("# STOCKHOLM 1.0\nseq1 ACDEF\n//\n")
    message = _run_bad(tiny, capsys, database=bad)
    assert "not FASTA" in message and "db.txt" in message


def test_bad_no_hit_above_threshold(tiny, capsys):
    rng = random.Random(3)
    unrelated = tiny["dir"] / "unrelated.fasta"
    unrelated.write_text(">random\n" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(120)) + "\n")
    message = _run_bad(tiny, capsys, query=unrelated)
    assert "no hit above the threshold" in message and "--bitscore" in message


def test_bad_pyhmmer_missing(tiny, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "pyhmmer" or m.startswith("pyhmmer.")]:
        monkeypatch.setitem(sys.modules, name, None)
    message = _run_bad(tiny, capsys)
    assert "pip install 'seqvae[align]'" in message


def test_gzip_database_and_a_progress_line_per_iteration(tiny, capsys):
    import gzip

    packed = tiny["dir"] / "db.fasta.gz"
    packed.write_bytes(gzip.compress(tiny["db"].read_bytes()))
    code = cli(
        ["align", str(tiny["query"]), "--database", str(packed), "--out", str(tiny["out"]), "--cpus", "1"]
    )
    assert code == 0
    provenance = json.loads(tiny["out"].with_name("family.json").read_text())
    assert provenance["database"]["gzip"] is True
    progress = [line for line in _error_lines(capsys) if line.startswith("iteration ")]
    assert len(progress) == provenance["iterations"]["run"] >= 1
    assert seqvae.read_alignment(tiny["out"]).n_sequences == 21
