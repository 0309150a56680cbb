"""Outputs other tools read: embeddings as .h5ad, couplings as a ranked pair table, EVE's sign on
scores, Stockholm from ``align``, and a commented config file that reads back identically."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from builders import fails_cleanly
from seqvae.cli.main import main
from seqvae.data.synthetic.counts import simulate_counts

COUNT_RUN = {
    "model.latent_dim": 2,
    "model.encoder_hidden": [16],
    "model.decoder_hidden": [16],
    "training.max_steps": 10,
    "training.batch_size": 32,
    "training.eval_every": 5,
    "training.log_every": 5,
    "training.device": "cpu",
}


def assert_h5ad_matches_csv(h5ad, csv) -> None:
    anndata = pytest.importorskip("anndata")
    adata = anndata.read_h5ad(h5ad)
    table = pd.read_csv(csv, dtype={"id": str})
    d = sum(c.startswith("z_mean_") for c in table.columns)
    assert adata.n_obs == len(table) and d > 0
    assert list(adata.obs["id"]) == list(table["id"])
    np.testing.assert_allclose(adata.obs["weight"], table["weight"], rtol=1e-6)
    means = table[[f"z_mean_{k}" for k in range(d)]].to_numpy()
    logvars = table[[f"z_logvar_{k}" for k in range(d)]].to_numpy()
    np.testing.assert_allclose(adata.obsm["X_seqvae"], means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adata.obsm["X_seqvae_logvar"], logvars, rtol=1e-5, atol=1e-6)


# -- 1. embeddings as .h5ad ---------------------------------------------------------------------
def test_embed_h5ad_of_an_alignment_run_has_the_numbers_of_the_csv(tiny_run, tmp_path, capsys):
    pytest.importorskip("anndata")
    csv, h5ad = tmp_path / "z.csv", tmp_path / "z.h5ad"
    assert main(["embed", str(tiny_run.run), "-o", str(csv)]) == 0
    assert main(["embed", str(tiny_run.run), "--format", "h5ad", "-o", str(h5ad)]) == 0
    assert_h5ad_matches_csv(h5ad, csv)
    anndata = pytest.importorskip("anndata")
    # the format follows the suffix of --out when --format is not given
    assert main(["embed", str(tiny_run.run), str(tiny_run.alignment), "-o", str(tmp_path / "new.h5ad")]) == 0
    assert anndata.read_h5ad(tmp_path / "new.h5ad").obs_names[0] == "s0"


def test_embed_h5ad_of_a_count_run_has_the_numbers_of_the_csv(tmp_path, capsys):
    import seqvae
    from seqvae.training.config import RunConfig

    pytest.importorskip("anndata")
    counts = simulate_counts(n_cells=60, n_genes=12, seed=1)
    run_dir = tmp_path / "run"
    seqvae.train(counts, RunConfig().updated(COUNT_RUN), out=run_dir, progress=False)
    csv, h5ad = tmp_path / "z.csv", tmp_path / "z.h5ad"
    assert main(["embed", str(run_dir), "-o", str(csv)]) == 0
    assert main(["embed", str(run_dir), "--format", "h5ad", "-o", str(h5ad)]) == 0
    assert "embedded 60 cells" in capsys.readouterr().err
    assert_h5ad_matches_csv(h5ad, csv)
    anndata = pytest.importorskip("anndata")
    assert list(anndata.read_h5ad(h5ad).obs_names) == counts.cells


def test_embed_bad_format_and_missing_anndata_are_one_line(tiny_run, tmp_path, capsys, monkeypatch):
    fails_cleanly(
        capsys,
        ["embed", tiny_run.run, "--format", "loom", "-o", tmp_path / "z.loom"],
        "--format must be one of csv, h5ad",
        "'loom'",
        folder=tmp_path,
    )
    monkeypatch.setitem(sys.modules, "anndata", None)  # import anndata raises ImportError
    fails_cleanly(
        capsys,
        ["embed", tiny_run.run, "--format", "h5ad", "-o", tmp_path / "z.h5ad"],
        "needs anndata",
        "pip install 'seqvae[cells]'",
        folder=tmp_path,
    )


# -- 2. couplings as a ranked pair table ------------------------------------------------------------
def assert_pairs_rank_the_matrix(pairs: pd.DataFrame, npz) -> None:
    """The table holds every pair i < j once, highest score first, and its top pairs are the
    matrix's largest off-diagonal entries, numbered as the matrix file numbers its positions."""
    from seqvae.io.matrix_file import load_matrix_npz

    pm = load_matrix_npz(npz)
    length = pm.length
    assert list(pairs.columns) == ["i", "A_i", "j", "A_j", "score"]
    assert len(pairs) == length * (length - 1) // 2
    assert (np.diff(pairs["score"].to_numpy()) <= 0).all()
    upper = np.triu_indices(length, k=1)
    order = np.argsort(-pm.matrix[upper], kind="stable")[:5]
    number = pm.numbering if pm.numbering is not None else np.arange(1, length + 1)
    expected = [(number[upper[0][k]], number[upper[1][k]]) for k in order]
    assert list(zip(pairs["i"][:5], pairs["j"][:5])) == expected
    np.testing.assert_allclose(pairs["score"][:5], pm.matrix[upper][order], rtol=1e-5)
    if pm.residues is not None:
        column = {n: c for c, n in enumerate(number)}
        assert all(pm.residues[column[i]] == a for i, a in zip(pairs["i"], pairs["A_i"]))


def test_pair_table_of_a_planted_matrix_and_its_bad_input(tmp_path):
    from seqvae.errors import InputError
    from seqvae.io.matrix_file import pair_table, save_matrix_npz, save_pair_table

    rng = np.random.default_rng(0)
    matrix = rng.random((6, 6))
    matrix = matrix + matrix.T
    matrix[1, 4] = matrix[4, 1] = 10.0  # the planted strongest pair
    numbering = np.arange(21, 27)
    save_matrix_npz(tmp_path / "m.npz", matrix, numbering=numbering, residues="ACDEFG")
    save_pair_table(tmp_path / "m.csv", matrix, numbering=numbering, residues="ACDEFG")
    pairs = pd.read_csv(tmp_path / "m.csv")
    assert tuple(pairs.iloc[0][["i", "A_i", "j", "A_j"]]) == (22, "C", 25, "F")
    assert_pairs_rank_the_matrix(pairs, tmp_path / "m.npz")
    # without numbering the positions are 1-based columns
    assert tuple(pair_table(matrix).iloc[0][["i", "j"]]) == (2, 5)
    with pytest.raises(InputError, match="'numbering' must have one entry per position"):
        pair_table(matrix, numbering=np.arange(5))
    with pytest.raises(InputError, match="square"):
        pair_table(matrix[:, :5])


def test_vae_couplings_and_potts_write_the_same_pair_table(tiny_run, tmp_path, capsys):
    out = tmp_path / "couplings"
    assert main(["couplings", str(tiny_run.run), "--out", str(out), "--n-ref", "4", "--no-figures"]) == 0
    assert "couplings_pairs.csv" in capsys.readouterr().err
    assert_pairs_rank_the_matrix(pd.read_csv(out / "couplings_pairs.csv"), out / "couplings.npz")
    potts = tmp_path / "potts"
    args = ["baseline", "fit", str(tiny_run.alignment), "--model", "potts", "--max-iterations", "20"]
    assert main([*args, "--out", str(potts)]) == 0
    pairs = pd.read_csv(potts / "couplings_apc_pairs.csv")
    assert_pairs_rank_the_matrix(pairs, potts / "couplings_apc.npz")
    assert pairs["i"].min() == 1 and pairs["j"].max() == 12  # the reference s0 numbered 1..12


# -- 3. EVE's sign on scores -----------------------------------------------------------------------
def _signed_scan(tiny_run, tmp_path):
    """A scan of singles and doubles whose measured column follows a site-independent model's
    fitness scores (plus noise), and that model's directory."""
    import json

    import seqvae
    from seqvae.analysis.mutations import MutationMapper

    baseline = tmp_path / "si"
    assert main(["baseline", "fit", str(tiny_run.alignment), "--out", str(baseline)]) == 0
    mapper = MutationMapper(seqvae.read_alignment(tiny_run.alignment).registry)
    rng = np.random.default_rng(0)
    mutants = []
    for k in range(40):
        positions = sorted(rng.choice(np.arange(mapper.start, mapper.end + 1), 1 + k % 2, replace=False))
        parts = []
        for p in positions:
            wt = mapper.reference_letter(p)
            parts.append(f"{wt}{p}{rng.choice([c for c in 'ACDEFGHIKLMNPQRSTVWY' if c != wt])}")
        mutants.append(":".join(parts))
    mutants = list(dict.fromkeys(mutants))
    pd.DataFrame({"mutant": mutants}).to_csv(tmp_path / "plain.csv", index=False)
    assert main(["score", str(baseline), str(tmp_path / "plain.csv"), "-o", str(tmp_path / "fit0.csv")]) == 0
    fitness = pd.read_csv(tmp_path / "fit0.csv")["score"].to_numpy()
    measured = fitness + rng.normal(scale=0.1 * fitness.std(), size=len(fitness))
    scan = tmp_path / "scan.csv"
    pd.DataFrame(
        {"mutant": mutants, "assay": measured, "bin": (measured > np.median(measured)).astype(int)}
    ).to_csv(scan, index=False)

    def summary(path):
        return json.loads(path.with_name(path.stem + "_summary.json").read_text())

    return baseline, scan, summary


def test_eve_sign_flips_scores_and_spearman_in_both_formats(tiny_run, tmp_path, capsys):
    baseline, scan, summary = _signed_scan(tiny_run, tmp_path)
    results = {}
    for sign in ("fitness", "eve"):
        for fmt in ("seqvae", "proteingym"):
            out = tmp_path / f"{sign}_{fmt}.csv"
            args = ["score", baseline, scan, "-o", out, "--score-col", "assay", "--format", fmt]
            assert main([str(a) for a in [*args, "--sign", sign, "--label-col", "bin"]]) == 0
            column = "score" if fmt == "seqvae" else "si"
            results[sign, fmt] = (pd.read_csv(out)[column].to_numpy(), summary(out)["spearman"])
            assert summary(out)["sign"] == sign  # the summary says which sign its numbers carry
    fitness, rho = results["fitness", "seqvae"]
    assert rho > 0.8  # the assay follows the fitness scores
    for fmt in ("seqvae", "proteingym"):
        np.testing.assert_allclose(results["fitness", fmt][0], fitness, rtol=1e-6)
        np.testing.assert_allclose(results["eve", fmt][0], -fitness, rtol=1e-6)
        assert results["fitness", fmt][1] == pytest.approx(rho)
        assert results["eve", fmt][1] == pytest.approx(-rho)
    pg = pd.read_csv(tmp_path / "eve_proteingym.csv")
    assert list(pg.columns) == ["mutant", "mutated_sequence", "DMS_score", "DMS_score_bin", "si"]


def test_figures_label_the_scores_by_their_sign(tiny_run):
    """Under EVE's sign the heatmap and the scatter say "evolutionary index, higher = more
    damaging", not "higher = fitter"."""
    from seqvae.analysis.scorers import SCORE_SIGNS, load_scorer
    from seqvae.analysis.scoring import single_mutant_scores
    from seqvae.plots.mutations import SCORE_LABELS, draw_score_scatter, draw_single_mutant_scores

    for sign in ("fitness", "eve"):
        scorer = load_scorer(tiny_run.run, samples=2)
        scorer.sign = SCORE_SIGNS[sign]
        singles = single_mutant_scores(scorer)
        assert singles.sign == sign
        figure = draw_single_mutant_scores(singles)
        labels = [ax.get_ylabel() for ax in figure.axes]
        assert SCORE_LABELS[sign][0] in labels
        scatter = draw_score_scatter(np.arange(5.0), np.arange(5.0), 1.0, sign=sign)
        assert scatter.axes[0].get_xlabel() == SCORE_LABELS[sign][1]
    assert SCORE_LABELS["eve"][0] != SCORE_LABELS["fitness"][0]


def test_eve_sign_in_the_api_and_a_bad_sign(tiny_run, tmp_path, capsys):
    from seqvae.analysis.scoring import ScoringOptions, load_scorers
    from seqvae.errors import ConfigError

    fitness = load_scorers([tiny_run.run], ScoringOptions(samples=4))
    eve = load_scorers([tiny_run.run], ScoringOptions(samples=4, sign="eve"))
    registry = fitness.registry
    codes = np.repeat(registry.reference_codes()[None, :], 3, axis=0)
    codes[1, 0], codes[2, 3] = (codes[1, 0] + 1) % 20, (codes[2, 3] + 5) % 20
    np.testing.assert_allclose(eve.score_codes(codes), -fitness.score_codes(codes), rtol=1e-6)
    assert fitness.score_codes(codes)[0] == 0 and np.abs(fitness.score_codes(codes)[1:]).min() > 0
    with pytest.raises(ConfigError, match=r"scoring\.sign.*fitness.*eve"):
        ScoringOptions(sign="EVE").validate()
    scan = tmp_path / "scan.csv"
    scan.write_text("mutant\nA1C\n")
    fails_cleanly(
        capsys, ["score", tiny_run.run, scan, "--sign", "evolutionary"], "--sign", "fitness", folder=tmp_path
    )


# -- 4. align also writes Stockholm -----------------------------------------------------------------
def test_stockholm_writer_round_trips_through_the_reader(tmp_path):
    import seqvae
    from seqvae.errors import InputError
    from seqvae.io.alignment_formats import read_records, stockholm_text

    names = ["query/3-9 the query", "hit1/10-15", "hit2/1-7 a description"]
    # A2M rows: lower case and '.' are insert columns, '-' a gap in a match column
    rows = ["MKtLAVQe", "MK.-AVQ.", "AKsLGV-d"]
    (tmp_path / "family.a2m").write_text("".join(f">{n}\n{r}\n" for n, r in zip(names, rows)))
    for width in (200, 3):  # one block, and interleaved blocks
        path = tmp_path / f"family_{width}.sto"
        path.write_text(stockholm_text(names, rows, width=width))
        raw = read_records(path)
        assert raw.format == "stockholm"
        assert [r.id for r in raw.records] == [n.split()[0] for n in names]
        assert [r.text for r in raw.records] == rows
        a2m, sto = seqvae.read_alignment(tmp_path / "family.a2m"), seqvae.read_alignment(path)
        np.testing.assert_array_equal(sto.codes, a2m.codes)
        assert sto.ids == a2m.ids and list(sto.registry.numbering) == list(a2m.registry.numbering)
    text = stockholm_text(names, rows)
    assert "#=GS hit2/1-7 DE a description" in text and "#=GC RF" in text and text.endswith("//\n")
    with pytest.raises(InputError, match="'hit1/10-15' has 7 columns, the first row 8"):
        stockholm_text(names, [rows[0], rows[1][:-1], rows[2]])
    with pytest.raises(InputError, match="duplicate sequence id 'query/3-9'"):
        stockholm_text([names[0], names[0]], rows[:2])


def test_align_writes_stockholm_beside_the_a2m(tmp_path, capsys):
    import random

    import seqvae

    pytest.importorskip("pyhmmer")
    seq = "HPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVLSRVDAGQEQLGRRIHYSQNDLVEY"
    rng = random.Random(0)
    rows = []
    for i in range(20):
        mutated = "".join(c if rng.random() > 0.2 else rng.choice("ACDEFGHIKLMNPQRSTVWY") for c in seq)
        rows.append(f">hit{i}\n{mutated[: 60 + i]}\n")
    (tmp_path / "db.fasta").write_text("".join(rows))
    (tmp_path / "q.fasta").write_text(f">wt\n{seq}\n")
    out = tmp_path / "out" / "family.a2m"
    args = ["align", tmp_path / "q.fasta", "--database", tmp_path / "db.fasta", "--out", out, "--cpus", "1"]
    assert main([str(a) for a in args]) == 0
    assert "family.sto" in capsys.readouterr().err
    a2m, sto = seqvae.read_alignment(out), seqvae.read_alignment(out.with_suffix(".sto"))
    assert a2m.n_sequences == sto.n_sequences == 21
    np.testing.assert_array_equal(sto.codes, a2m.codes)
    assert sto.ids == a2m.ids and list(sto.registry.numbering) == list(a2m.registry.numbering)


# -- 5. seqvae config: described fields, no derived ones, reads back identically -----------------
@pytest.mark.parametrize("preset", [None, "explore", "fitness"])
def test_config_yaml_describes_each_field_and_hides_derived_ones(tmp_path, capsys, preset):
    import yaml

    from seqvae.io.config_files import read_config_file
    from seqvae.options import field_descriptions
    from seqvae.training.config import DataConfig, RunConfig, TrainingConfig, preset_config

    path = tmp_path / "config.yaml"
    assert main(["config", *(["--preset", preset] if preset else []), "--out", str(path)]) == 0
    text = path.read_text()
    assert RunConfig.from_dict(read_config_file(path)) == preset_config(preset)
    assert RunConfig.from_dict(yaml.safe_load(text)) == preset_config(preset)
    lines = text.splitlines()
    values = yaml.safe_load(text)
    hidden = set(RunConfig.derived)
    assert "model.length" in hidden
    for dotted in hidden:  # a derived field that no longer exists is a stale declaration
        section, name = dotted.split(".")
        assert name in getattr(RunConfig(), section).field_names(), dotted
    for section in ("data", "model", "training"):
        for name in getattr(preset_config(preset), section).field_names():
            key = f"  {name}:"
            if f"{section}.{name}" in hidden:
                assert name not in values[section] and not any(line.startswith(key) for line in lines)
                continue
            k = next(i for i, line in enumerate(lines) if line.startswith(key))
            assert lines[k - 1].startswith("  # "), (name, lines[k - 1])  # a comment above each field
    # descriptions come from the docstrings (DataConfig's shared fields from AlignmentOptions')
    for cls in (DataConfig, TrainingConfig):
        described = field_descriptions(cls)
        assert set(cls.field_names()) <= set(described), set(cls.field_names()) - set(described)
    assert "# Sequences per step, sampled with probability proportional to their weights." in text
    assert "# Id of the reference sequence; the first sequence when None." in text
    # printed to stdout: the same text
    assert main(["config", *(["--preset", preset] if preset else [])]) == 0
    assert capsys.readouterr().out == text.replace(str(path), "")


def test_config_toml_and_json_hide_derived_fields_and_train_reads_the_yaml(tmp_path, capsys):
    import json

    from builders import TINY, write_family
    from seqvae.io.config_files import read_config_file
    from seqvae.training.config import RunConfig, preset_config

    for suffix in (".toml", ".json"):
        path = tmp_path / f"config{suffix}"
        assert main(["config", "--preset", "explore", "--out", str(path)]) == 0
        read = read_config_file(path)
        assert "length" not in read["model"] and "input_dim" not in read["model"]
        assert RunConfig.from_dict(read) == preset_config("explore")
    path = tmp_path / "config.yaml"
    assert main(["config", "--preset", "explore", "--out", str(path)]) == 0
    aln = write_family(tmp_path / "family.fasta")
    run = tmp_path / "run"
    assert main([str(a) for a in ["train", aln, "--config", path, "--out", run, *TINY]]) == 0
    saved = RunConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert saved.data == preset_config("explore").data and saved.model.length == 12
    capsys.readouterr()
    fails_cleanly(
        capsys, ["config", "--out", tmp_path / "config.txt"], "config.txt", ".yaml", folder=tmp_path
    )
