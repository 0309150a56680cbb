"""Mutation parsing, mapping onto focus columns, scoring and the score CLI (small BLAT alignment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import seqvae
from conftest import shared_file
from seqvae.analysis.mutations import MutationMapper, Substitution, map_table, parse_mutant
from seqvae.analysis.scoring import EnsembleScorer, VAEScorer, load_scorer, score_all_singles, score_file
from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.models.regularisers import gaussian_kl


# -- parsing ---------------------------------------------------------------------------------
def test_parse_single_and_multi():
    assert parse_mutant("M182T") == [Substitution("M", 182, "T")]
    assert parse_mutant("a23v:G45D") == [Substitution("A", 23, "V"), Substitution("G", 45, "D")]
    assert parse_mutant("WT") == []
    assert parse_mutant("") == []
    assert parse_mutant("Q39*") == [Substitution("Q", 39, "*")]


@pytest.mark.parametrize("text", ["A23", "23V", "A2x3V", "A23V:", "A23V;G45D", "AA23V", "A23VV", "hello"])
def test_parse_malformed(text):
    with pytest.raises(InputError, match="malformed mutant"):
        parse_mutant(text)


def test_parse_same_position_twice():
    with pytest.raises(InputError, match="same position twice"):
        parse_mutant("A23V:A23G")


# -- mapping ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry():
    return seqvae.read_alignment(shared_file("blat/BLAT_ECOLX_test.a2m")).registry


def test_blat_dms_maps_exactly(registry):
    """Every DMS wild type matches the reference (no off-by-one), 4,807 of 4,997 on focus columns."""
    dms = pd.read_csv(shared_file("blat/BLAT_ECOLX_Ranganathan2015.csv"), dtype=str, keep_default_na=False)
    mapper = MutationMapper(registry)
    assert mapper.start == 24
    subs = [parse_mutant(m)[0] for m in dms["mutant"]]
    assert all(mapper.wild_type_matches(s) for s in subs)
    # residue 182 sits at index 182 - 24 of the raw reference residues (lower case included)
    assert mapper.reference_letter(182) == "A"
    assert mapper.reference_letter(24) == "H"  # the lower-case first letter counts
    chunk, skipped = map_table(dms, mapper)
    assert skipped == 0
    assert len(dms) == 4997
    assert int(chunk.scorable.sum()) == 4807
    # focus mapping: the mutated code sits at the column whose residue number is the position
    column = int(np.flatnonzero(registry.numbering == 182)[0])
    assert registry.reference_sequence[column] == "A"
    codes = mapper.apply(parse_mutant("A182T"))
    assert registry.alphabet.decode(codes[[column]]) == "T"
    assert (codes != registry.reference_codes()).sum() == 1


def test_mismatch_is_an_error_listing_offenders(registry):
    mapper = MutationMapper(registry)
    table = pd.DataFrame({"mutant": ["A182T", "M182T", "G182T", "V29A"]})
    with pytest.raises(
        InputError,
        match=r"2 mutant\(s\) do not match.*M182T \(line 3: reference has A\).*\(check the numbering",
    ):
        map_table(table, mapper)  # an untrimmed row: no hint about --reference-sequence
    chunk, skipped = map_table(table, mapper, skip_mismatches=True)
    assert skipped == 2
    assert list(chunk.table["mutant"]) == ["A182T", "V29A"]


def test_non_focus_and_outside(registry):
    mapper = MutationMapper(registry)
    chunk, _ = map_table(pd.DataFrame({"mutant": ["H24A", "A182T", "A182T:H24A", "A182*"]}), mapper)
    assert list(chunk.scorable) == [False, True, False, False]
    assert "not a focus column" in chunk.table["reason"][0]
    assert "stop" in chunk.table["reason"][3]
    # outside the reference's residues: kept, not scored, with a reason (no wild-type check)
    chunk, skipped = map_table(pd.DataFrame({"mutant": ["A300V", "A23V", "A23V:A182T"]}), mapper)
    assert skipped == 0
    assert not chunk.scorable.any()
    assert all("outside the reference BLAT_ECOLX/24-286" in r for r in chunk.table["reason"])
    assert "position 300" in chunk.table["reason"][0]


def test_mutated_sequence_column_matches_mutant_strings(registry):
    mapper = MutationMapper(registry)
    full = list(mapper.reference_residues)
    full[182 - 24] = "T"
    full[45 - 24] = "A"
    wt45 = mapper.reference_letter(45)
    focus = list(registry.reference_sequence)
    column = int(np.flatnonzero(registry.numbering == 182)[0])
    focus[column] = "T"
    table = pd.DataFrame({"mutated_sequence": ["".join(full), "".join(focus)]})
    chunk, _ = map_table(table, mapper, mutant_column=None, sequence_column="mutated_sequence")
    names = list(chunk.table["mutant"])
    assert names[1] == "A182T"
    assert names[0] == f"{wt45}45A:A182T"
    with pytest.raises(InputError, match="mutated sequence has 5 residues"):
        map_table(pd.DataFrame({"s": ["ACDEF"]}), mapper, mutant_column=None, sequence_column="s")


# -- scoring ------------------------------------------------------------------------------------
def _tiny_run(path, seed):
    torch.set_num_threads(1)
    cfg = seqvae.preset_config("fitness").updated(
        {
            "seed": seed,
            "model.encoder_hidden": [32],
            "model.decoder_hidden": [32],
            "model.latent_dim": 3,
            "training.max_steps": 20,
            "training.max_time_s": None,
            "training.eval_every": 10,
            "training.batch_size": 16,
            "training.validation_fraction": 0.1,
        }
    )
    return seqvae.train(shared_file("blat/BLAT_ECOLX_test.a2m"), cfg, out=path, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("mutruns")
    return [_tiny_run(base / f"run{s}", s).path for s in (0, 1)]


@pytest.fixture
def table_csv(tmp_path):
    path = tmp_path / "muts.csv"
    path.write_text(
        "mutant,fitness,label\nA182T,0.5,1\nH24A,0.1,0\nA182T:S104K,-1.2,0\nV29A,-0.3,0\nA182A,0.0,1\nWT,0.2,1\n"
    )
    return path


def test_fast_path_equals_naive_elbo(runs):
    scorer = load_scorer(runs[0], samples=7, seed=3)
    assert isinstance(scorer, VAEScorer) and scorer._fast
    mapper = MutationMapper(scorer.registry)
    codes = np.stack([mapper.apply(parse_mutant(m)) for m in ("A182T", "V29A", "A182T:S104K")])
    fast = scorer.log_value(torch.from_numpy(codes)).numpy()
    model = scorer.model
    with torch.no_grad():
        x = torch.from_numpy(codes)
        mean, logvar = model.encode(x)
        naive = []
        for i in range(len(codes)):
            z = mean[i] + torch.exp(0.5 * logvar[i]) * scorer.noise
            log_px = model.log_likelihood(x[i : i + 1].expand(len(z), -1), z)
            naive.append(float(log_px.mean() - gaussian_kl(mean[i], logvar[i]).sum()))
    np.testing.assert_allclose(fast, naive, rtol=1e-5, atol=1e-3)


def test_scores_identity_determinism_and_batching(runs, tmp_path):
    scorer = load_scorer(runs[0], samples=16, seed=0)
    mapper = MutationMapper(scorer.registry)
    names = ["A182T", "V29A", "A182T:S104K", "A182A"]
    codes = np.stack([mapper.apply(parse_mutant(m)) for m in names])
    scores = scorer.score_codes(codes)
    assert scores[3] == 0.0  # identity "mutation"
    assert np.all(scores[:3] != 0.0)
    # same seed: identical; row order / batch composition does not matter beyond rounding
    again = load_scorer(runs[0], samples=16, seed=0).score_codes(codes)
    np.testing.assert_array_equal(scores, again)
    alone = scorer.score_codes(codes[1:2])
    np.testing.assert_allclose(alone, scores[1:2], rtol=1e-5, atol=1e-4)
    other_seed = load_scorer(runs[0], samples=16, seed=1).score_codes(codes)
    assert not np.allclose(other_seed[:3], scores[:3])
    # importance-weighted variant: also 0 for the wild type, finite otherwise
    iw = load_scorer(runs[0], samples=16, seed=0, iw=True).score_codes(codes)
    assert iw[3] == 0.0 and np.all(np.isfinite(iw))


def test_wild_type_scored_through_the_same_path_is_near_zero(runs):
    """Without the identity short-cut, the wild type's own ELBO difference is rounding only."""
    scorer = load_scorer(runs[0], samples=16, seed=0)
    wt = torch.from_numpy(scorer.registry.reference_codes()[None, :])
    assert abs(float(scorer.log_value(wt)[0]) - scorer.wild_type_value()) < 1e-6


def test_ensemble_is_mean_of_members(runs, tmp_path):
    members = [load_scorer(r, samples=8, seed=0) for r in runs]
    mapper = MutationMapper(members[0].registry)
    codes = np.stack([mapper.apply(parse_mutant(m)) for m in ("A182T", "V29A", "S104K")])
    expected = (members[0].score_codes(codes) + members[1].score_codes(codes)) / 2
    np.testing.assert_allclose(EnsembleScorer(members).score_codes(codes), expected, rtol=0, atol=1e-12)
    # and through the CLI
    out_a, out_b, out_e = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "e.csv"
    table = tmp_path / "t.csv"
    table.write_text("mutant\nA182T\nV29A\nS104K\n")
    assert main(["score", str(runs[0]), str(table), "--out", str(out_a), "--samples", "8"]) == 0
    assert main(["score", str(runs[1]), str(table), "--out", str(out_b), "--samples", "8"]) == 0
    assert (
        main(
            ["score", str(runs[0]), str(table), "--runs", str(runs[1]), "--out", str(out_e), "--samples", "8"]
        )
        == 0
    )
    a, b, e = (pd.read_csv(p)["score"].to_numpy() for p in (out_a, out_b, out_e))
    np.testing.assert_allclose(e, (a + b) / 2, rtol=1e-6, atol=1e-5)


def test_score_file_streams_chunks(runs, table_csv, tmp_path):
    scorer = load_scorer(runs[0], samples=4, seed=0)
    whole = score_file(scorer, table_csv, tmp_path / "w.csv", score_column="fitness")
    chunked = score_file(scorer, table_csv, tmp_path / "c.csv", score_column="fitness", chunk_size=2)
    a, b = pd.read_csv(tmp_path / "w.csv"), pd.read_csv(tmp_path / "c.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5)
    assert whole.n_scored == chunked.n_scored == 5
    assert whole.n_unscored == 1
    assert list(a.columns) == ["mutant", "fitness", "label", "n_mutations", "score", "reason"]
    assert np.isnan(a.loc[a["mutant"] == "H24A", "score"]).all()
    assert a.loc[a["mutant"] == "A182A", "score"].item() == 0.0


def test_cli_score_reports_rho_and_auc(runs, table_csv, tmp_path, capsys):
    out = tmp_path / "s.csv"
    code = main(
        [
            "score",
            str(runs[0]),
            str(table_csv),
            "--out",
            str(out),
            "--score-col",
            "fitness",
            "--label-col",
            "label",
            "--samples",
            "4",
            "--summary",
            str(tmp_path / "s.json"),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Spearman rho" in text and "N scored = 5" in text and "AUC" in text
    assert (tmp_path / "s.json").exists()


def test_all_singles(runs, tmp_path):
    scorer = load_scorer(runs[0], samples=2, seed=0)
    table = score_all_singles(scorer)
    n_focus = int((scorer.registry.numbering >= 0).sum())
    assert len(table) == n_focus * 19
    assert np.isfinite(table["score"]).all()
    out = tmp_path / "singles.csv"
    assert main(["score", str(runs[0]), "--all-singles", "--out", str(out), "--samples", "2"]) == 0
    assert out.exists() and out.with_suffix(".png").stat().st_size > 1000


# -- bad input: one line, exit 2, nothing written -------------------------------------------------
@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("mutant,fitness\nA182T,1\nM18-2T,2\n", [], "malformed mutant"),
        ("mutant,fitness\nA182T,1\nM182T,2\n", [], "do not match"),
        ("mutant,fitness\nA182T,1\n", ["--score-col", "missing"], "column 'missing' not found"),
        ("variant,fitness\nA182T,1\n", [], "no 'mutant' or 'mutated_sequence' column"),
        ("mutant,fitness\nA182T,1\nV29A,high\n", ["--score-col", "fitness"], "must be numeric"),
    ],
)
def test_cli_bad_input(runs, tmp_path, capsys, content, extra, message):
    table = tmp_path / "bad.csv"
    table.write_text(content)
    out = tmp_path / "out.csv"
    code = main(["score", str(runs[0]), str(table), "--out", str(out), "--samples", "2", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.csv*"))  # no temporary left behind


def test_cli_skip_mismatches(runs, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("mutant\nA182T\nM182T\n")
    out = tmp_path / "out.csv"
    assert (
        main(["score", str(runs[0]), str(table), "--out", str(out), "--samples", "2", "--skip-mismatches"])
        == 0
    )
    assert "1 wild-type mismatches dropped" in capsys.readouterr().err
    assert list(pd.read_csv(out)["mutant"]) == ["A182T"]


def test_benchmark_dms_table(tmp_path, capsys):
    code = main(
        [
            "benchmark-dms",
            str(shared_file("blat/BLAT_ECOLX_test.a2m")),
            str(shared_file("blat/BLAT_ECOLX_Ranganathan2015.csv")),
            "--score-col",
            "2500",
            "--out",
            str(tmp_path / "bench"),
            "--models",
            "site-independent,vae",
            "--ensemble",
            "2",
            "--samples",
            "2",
            "--set",
            "training.max_steps=3",
            "--set",
            "model.encoder_hidden=[16]",
            "--set",
            "model.decoder_hidden=[16]",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    for name in ("site-independent", "vae (seed 0)", "vae (seed 1)", "vae ensemble of 2"):
        assert name in text
    rows = pd.read_json(tmp_path / "bench" / "benchmark.json")
    assert list(rows["n_scored"].unique()) == [4807]
