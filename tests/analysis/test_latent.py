"""Latent-space analyses: diagnostics, PCA comparison, predictability, Simpson flags,
localisation, phenotype joins, figures and the ``seqvae latent`` command."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import torch

import seqvae
from seqvae.analysis.diagnostics import latent_diagnostics, participation_ratio
from seqvae.analysis.latent import (
    alignment_pca,
    canonical_correlations,
    cross_validated_accuracy,
    cross_validated_r2,
    grouped_predictability,
    linear_r2,
    localisation_test,
)
from seqvae.analysis.phenotypes import column_kind, join_phenotypes, read_phenotype_table, top_categories
from seqvae.cli.main import main
from seqvae.data.alignment import alignment_from_sequences
from seqvae.data.onehot import one_hot_sparse
from seqvae.plots.latent import latent_panels

AMINO = "ACDEFGHIKLMNPQRSTVWY"


# -- diagnostics ----------------------------------------------------------------------------------
def test_diagnostics_variances_active_dimensions_and_kl():
    rng = np.random.default_rng(0)
    scales = np.array([1.2, 0.0, 0.9, 0.05])
    z_mean = rng.standard_normal((4000, 4)) * scales
    z_logvar = np.log(np.full_like(z_mean, 0.25))
    diag = latent_diagnostics(z_mean, z_logvar, threshold=0.1)
    np.testing.assert_allclose(diag.table["variance"], scales**2, atol=0.06)
    assert diag.active_dimensions == [0, 2]
    assert diag.trace_cov == pytest.approx(float(z_mean.var(axis=0).sum()), rel=1e-9)
    np.testing.assert_allclose(diag.table["posterior_variance"], 0.25)
    # KL of N(m, 0.25) vs N(0, 1) averaged: 0.5 (E[m²] + 0.25 - 1 - ln 0.25)
    expected = 0.5 * ((z_mean**2).mean(axis=0) + 0.25 - 1 - np.log(0.25))
    np.testing.assert_allclose(diag.table["kl"], expected, rtol=1e-9)
    assert diag.dimensions_by_use()[:2] == [0, 2]
    # the collapsed (constant) dimension gets zero correlations, not NaN
    assert np.isfinite(diag.correlation).all()
    assert diag.participation_ratio_active == pytest.approx(2.0, abs=0.05)


def test_diagnostics_weights_equal_duplicated_rows():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((50, 3))
    duplicated = np.vstack([z, z[:10]])
    weights = np.r_[np.ones(50), np.ones(10)]
    weights[:10] = 0.5
    weights[50:] = 0.5
    a = latent_diagnostics(duplicated, weights=weights)
    b = latent_diagnostics(z)
    np.testing.assert_allclose(a.table["variance"], b.table["variance"], rtol=1e-10)
    np.testing.assert_allclose(a.correlation, b.correlation, atol=1e-10)


def test_redundant_dimensions_lower_the_participation_ratio():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(2000)
    independent = latent_diagnostics(rng.standard_normal((2000, 3)))
    redundant = latent_diagnostics(np.c_[x, x + 0.05 * rng.standard_normal(2000), -x])
    assert independent.participation_ratio_active > 2.8
    assert redundant.participation_ratio_active < 1.1
    assert participation_ratio(np.eye(4)) == pytest.approx(4.0)


def test_diagnostics_bad_input():
    with pytest.raises(seqvae.InputError):
        latent_diagnostics(np.zeros((1, 2)))
    with pytest.raises(seqvae.InputError):
        latent_diagnostics(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(seqvae.InputError):
        latent_diagnostics(np.zeros((5, 2)), weights=np.ones(4))
    with pytest.raises(seqvae.InputError):
        latent_diagnostics(np.full((5, 2), np.nan))


# -- PCA comparison ------------------------------------------------------------------------------
def test_alignment_pca_matches_dense_weighted_pca():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 21, size=(120, 9)).astype(np.uint8)
    weights = rng.uniform(0.2, 1.0, 120)
    pca = alignment_pca(codes, 21, weights, n_components=4, seed=0)
    dense = one_hot_sparse(codes, 21).toarray()
    w = weights / weights.sum()
    centred = dense - w @ dense
    covariance = (centred * w[:, None]).T @ centred
    values, vectors = np.linalg.eigh(covariance)
    top = np.argsort(-values)[:4]
    np.testing.assert_allclose(pca.explained_variance, values[top], rtol=1e-6)
    # scores agree up to the sign of each component
    expected = centred @ vectors[:, top]
    for k in range(4):
        corr = np.corrcoef(pca.scores[:, k], expected[:, k])[0, 1]
        assert abs(corr) == pytest.approx(1.0, abs=1e-6)
    assert pca.explained_variance_ratio.sum() < 1.0
    # deterministic for a seed
    again = alignment_pca(codes, 21, weights, n_components=4, seed=0)
    np.testing.assert_allclose(again.scores, pca.scores)
    # without gaps as a state, gap rows are all zero
    no_gap = one_hot_sparse(np.array([[20, 0]], dtype=np.uint8), 21, include_gaps=False)
    assert no_gap.nnz == 1 and no_gap.shape == (1, 40)


def test_canonical_correlations_and_linear_r2():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((500, 3))
    mixed = a @ rng.standard_normal((3, 3))
    np.testing.assert_allclose(canonical_correlations(a, mixed), 1.0, atol=1e-8)
    unrelated = canonical_correlations(a, rng.standard_normal((500, 2)))
    assert len(unrelated) == 2 and unrelated.max() < 0.25
    # a collapsed (constant) column is dropped, not a division by zero
    with_constant = np.c_[a[:, :2], np.zeros(500)]
    assert len(canonical_correlations(with_constant, a)) == 2
    r2 = linear_r2(a, np.c_[2 * a[:, 0] - a[:, 1], rng.standard_normal(500)])
    assert r2["per_target"][0] == pytest.approx(1.0)
    assert r2["per_target"][1] < 0.05


# -- predictability and Simpson's paradox ----------------------------------------------------------
def test_cross_validated_r2_linear_and_knn():
    rng = np.random.default_rng(5)
    x = rng.uniform(-2, 2, size=(600, 2))
    linear = 2 * x[:, 0] + 0.3 * rng.standard_normal(600)
    ring = np.sin(3 * np.linalg.norm(x, axis=1)) + 0.1 * rng.standard_normal(600)
    assert cross_validated_r2(x, linear, "linear", seed=0) > 0.9
    assert cross_validated_r2(x, ring, "linear", seed=0) < 0.1
    assert cross_validated_r2(x, ring, "knn", seed=0) > 0.8
    assert cross_validated_r2(x, rng.standard_normal(600), "linear", seed=0) < 0.02
    assert cross_validated_r2(x, linear, seed=1) == cross_validated_r2(x, linear, seed=1)
    with pytest.raises(seqvae.InputError):
        cross_validated_r2(x, linear, "forest")


def test_cross_validated_accuracy():
    rng = np.random.default_rng(6)
    centres = np.array([[0, 0], [5, 0], [0, 5]])
    labels = np.repeat(["a", "b", "c"], [200, 100, 50])
    x = centres[np.repeat([0, 1, 2], [200, 100, 50])] + 0.5 * rng.standard_normal((350, 2))
    result = cross_validated_accuracy(x, labels, seed=0)
    assert result["accuracy"] > 0.97
    assert result["chance"] == pytest.approx(200 / 350)
    assert result["n_classes"] == 3
    noise = cross_validated_accuracy(rng.standard_normal((350, 2)), labels, seed=0)
    assert noise["balanced_accuracy"] < 0.5


def _simpson_data(seed: int = 7):
    """Three clades: the phenotype rises with z0 between clades but falls within each."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(["A", "B", "C"], 150)
    offset = np.repeat([0.0, 3.0, 6.0], 150)
    z0 = offset + rng.standard_normal(450)
    y = 2.0 * offset - 0.8 * (z0 - offset) + 0.3 * rng.standard_normal(450)
    z = np.c_[z0, rng.standard_normal(450)]
    return z, y, groups


def test_grouped_predictability_flags_sign_reversal():
    z, y, groups = _simpson_data()
    result = grouped_predictability(z, y, groups, grouping="clade", min_group_size=30, seed=0)
    assert result.pooled["r"][0] > 0.8
    assert list(result.groups["group"]) == ["A", "B", "C"]
    assert result.groups["flag_sign"].all()
    assert all(0 in dims for dims in result.groups["reversed_dimensions"])
    assert result.flagged
    assert "opposite signs" in result.rule
    # the same phenotype without the between-clade trend: nothing reverses
    no_trend = y - 2.8 * np.repeat([0.0, 3.0, 6.0], 150)  # = -0.8 z0 + noise everywhere
    calm = grouped_predictability(z, no_trend, groups, min_group_size=30, seed=0)
    assert not calm.groups["flag_sign"].any()


def test_grouped_predictability_strength_and_small_groups():
    rng = np.random.default_rng(8)
    n = 300
    z = rng.standard_normal((n, 2))
    groups = np.where(np.arange(n) < 150, "tight", "loose")
    y = np.where(groups == "tight", 3 * z[:, 0], rng.standard_normal(n) * 3)
    groups[:5] = "tiny"
    result = grouped_predictability(z, y, groups, min_group_size=30, seed=0, strength_delta=0.2)
    flags = dict(zip(result.groups["group"], result.groups["flag_strength"]))
    assert flags["tight"] and flags["loose"]
    assert result.skipped_groups == {"tiny": 5}
    # missing targets and groups are ignored
    y_missing = y.copy()
    y_missing[:20] = np.nan
    assert grouped_predictability(z, y_missing, groups, seed=0).pooled["n"] == n - 20


# -- localisation --------------------------------------------------------------------------------
def test_localisation_detects_a_concentrated_set():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((800, 2))
    members = np.zeros(800, dtype=bool)
    close = np.argsort(np.linalg.norm(z - np.array([1.0, 1.0]), axis=1))[:120]
    members[close[::2]] = True  # every second sequence near (1, 1)
    weights = rng.uniform(0.2, 1.0, 800)
    for statistic in ("pairwise", "knn"):
        result = localisation_test(z, members, weights, statistic=statistic, n_permutations=199, seed=0)
        assert result.p_value == pytest.approx(1 / 200)
        assert result.ratio < 0.8 and result.z_score < -3
    random_set = np.zeros(800, dtype=bool)
    random_set[rng.choice(800, 60, replace=False)] = True
    result = localisation_test(z, random_set, weights, n_permutations=199, seed=0, null_sampling="uniform")
    assert result.p_value > 0.01
    assert result.to_dict()["n_permutations"] == 199
    # the large-set path (sampled pairs) agrees with the exact one
    big = np.ones(800, dtype=bool)
    big[:100] = False
    exact = localisation_test(z, big, n_permutations=3, seed=0, max_exact=5000).observed
    sampled = localisation_test(z, big, n_permutations=3, seed=0, max_exact=100).observed
    assert sampled == pytest.approx(exact, rel=0.02)


def test_localisation_bad_input():
    z = np.zeros((10, 2))
    members = np.zeros(10, dtype=bool)
    members[:3] = True
    pool = np.ones(10, dtype=bool)
    pool[0] = False
    with pytest.raises(seqvae.InputError, match="pool"):
        localisation_test(z, members, pool=pool)
    with pytest.raises(seqvae.InputError, match="size"):
        localisation_test(z, np.ones(10, dtype=bool))
    with pytest.raises(seqvae.InputError, match="statistic"):
        localisation_test(z, members, statistic="median")


# -- phenotype tables ----------------------------------------------------------------------------
def test_phenotype_join_by_fasta_id(tmp_path):
    table_path = tmp_path / "ph.csv"
    table_path.write_text("id,score,kind\n007,1.5,x\nseqB,,y\nunused,3.0,x\n")
    table = read_phenotype_table(table_path)
    assert table["id"].tolist() == ["007", "seqB", "unused"]  # ids stay strings
    joined = join_phenotypes(["seqB", "007", "seqC"], table)
    assert joined.n_matched == 2 and joined.n_unused_rows == 1
    assert joined.table["score"].iloc[1] == 1.5
    assert pd.isna(joined.table["score"].iloc[0]) and pd.isna(joined.table["kind"].iloc[2])
    with pytest.raises(seqvae.InputError, match="no sequence id matches"):
        join_phenotypes(["a", "b"], table)


def test_phenotype_table_errors(tmp_path):
    with pytest.raises(seqvae.InputError, match="not found"):
        read_phenotype_table(tmp_path / "missing.csv")
    path = tmp_path / "ph.csv"
    path.write_text("name,score\na,1\n")
    with pytest.raises(seqvae.InputError, match="id_column"):
        read_phenotype_table(path)
    path.write_text("id,score\na,1\na,2\n")
    with pytest.raises(seqvae.InputError, match="more than once") as err:
        read_phenotype_table(path)
    assert err.value.line == 3


def test_column_kinds_and_top_categories():
    assert column_kind(pd.Series(np.linspace(0, 1, 50))) == "continuous"
    assert column_kind(pd.Series([0, 1, 1, 0, 2])) == "categorical"
    assert column_kind(pd.Series(["a", "b"])) == "categorical"
    values = pd.Series([*"aaaabbbccd", None])
    labels, order = top_categories(values, max_categories=3)
    assert order == ["a", "b", "other"]
    assert labels.tolist()[-3:] == ["other", "other", None]
    assert (labels == "other").sum() == 3


def test_latent_panels_by_dimension():
    rng = np.random.default_rng(10)
    assert len(latent_panels(rng.standard_normal((50, 2)))) == 1
    assert len(latent_panels(rng.standard_normal((50, 3)))) == 3
    z = rng.standard_normal((50, 6)) * np.array([0.1, 2, 0.1, 1.5, 1.0, 0.1])
    panels = latent_panels(z)
    assert len(panels) == 4
    assert [p.xlabel.split()[0] for p in panels[:3]] == ["z1", "z1", "z3"]
    assert "PCA" in panels[3].title


# -- the command ---------------------------------------------------------------------------------
def _family(n: int = 240, length: int = 14, seed: int = 0):
    """Two clades differing at half the columns; a phenotype higher in clade 1."""
    rng = np.random.default_rng(seed)
    ancestors = rng.integers(0, 20, size=(2, length))
    ancestors[1, : length // 2] = (ancestors[0, : length // 2] + 7) % 20
    clade = rng.integers(0, 2, n)
    codes = ancestors[clade].copy()
    mutate = rng.random((n, length)) < 0.1
    codes[mutate] = rng.integers(0, 20, mutate.sum())
    sequences = ["".join(AMINO[c] for c in row) for row in codes]
    ids = [f"s{i}" for i in range(n)]
    phenotype = clade * 2.0 + 0.3 * rng.standard_normal(n)
    return sequences, ids, clade, phenotype


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("latent")
    sequences, ids, clade, phenotype = _family()
    fasta = folder / "family.fasta"
    fasta.write_text("".join(f">{i} description text\n{s}\n" for i, s in zip(ids, sequences)))
    aln = seqvae.read_alignment(fasta)
    config = seqvae.RunConfig().updated(
        {
            "model.latent_dim": 4,
            "model.encoder_hidden": [32],
            "model.decoder_hidden": [32],
            "training.max_steps": 60,
            "training.eval_every": 30,
            "training.batch_size": 64,
            "seed": 0,
        }
    )
    run = seqvae.train(aln, config, out=folder / "run", progress=False)
    table = pd.DataFrame(
        {
            "id": ids,
            "score": phenotype,
            "clade": np.where(clade == 1, "one", "zero"),
            "site": np.where(np.arange(len(ids)) % 2 == 0, "even", "odd"),
            "alias": [f"other{i}" for i in range(len(ids))],
        }
    )
    table.loc[::7, "score"] = np.nan  # some unmeasured sequences
    table.iloc[:-5].to_csv(folder / "phenotypes.csv", index=False)  # 5 sequences absent from the table
    return folder, run, fasta


def test_latent_command_end_to_end(tiny_run):
    folder, run, fasta = tiny_run
    out = folder / "out"
    code = main(
        [
            "latent",
            str(run.path),
            str(fasta),
            "--phenotypes",
            str(folder / "phenotypes.csv"),
            "--color",
            "score",
            "--color",
            "clade",
            "--group",
            "site",
            "--permutations",
            "49",
            "--min-group-size",
            "20",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads((out / "latent_metrics.json").read_text())
    assert metrics["phenotypes"]["n_matched"] == 235
    assert metrics["latent_dim"] == 4
    assert len(metrics["diagnostics"]["per_dimension"]) == 4
    columns = metrics["columns"]
    assert columns["score"]["kind"] == "continuous" and columns["clade"]["kind"] == "categorical"
    pred = columns["score"]["predictability"]
    assert set(pred) >= {"latent_linear", "latent_knn", "pca_linear", "pca_knn"}
    assert pred["pca_linear"] > 0.5  # the phenotype follows the clade, which PC1 separates
    assert columns["score"]["grouped"][0]["grouping"] == "site"
    assert columns["clade"]["classification"]["pca"]["accuracy"] > 0.8
    assert columns["score"]["localisation"][0]["n_permutations"] == 49
    for name in (
        "latent_density.png",
        "latent_dimensions.png",
        "pca_comparison.png",
        "latent_score.png",
        "latent_clade.png",
        "predictability.png",
        "classification.png",
        "simpson_score_site.png",
        "localisation.png",
        "latent_coordinates.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    coordinates = pd.read_csv(out / "latent_coordinates.csv")
    assert {"id", "weight", "z_mean_3", "PC1", "score"} <= set(coordinates.columns)


def test_analyse_latent_training_set_clusters_and_html(tiny_run):
    from seqvae.analysis.latent_report import LatentOptions, analyse_latent
    from seqvae.plots.latent import write_interactive_html

    folder, run, _ = tiny_run
    options = LatentOptions(n_permutations=9, n_clusters=2, min_group_size=20)
    report = analyse_latent(
        run, None, folder / "phenotypes.csv", color_columns=["clade", "score"], options=options
    )
    grouped = report.metrics["columns"]["score"]["grouped"][0]
    assert grouped["grouping"] == "k-means clusters (k=2)"
    assert {g["group"] for g in grouped["groups"]} <= {"cluster 0", "cluster 1"}
    assert report.metrics["source"]["sequences"] == "training sequences of the run"
    assert len(report.ids) == 240
    if importlib.util.find_spec("plotly") is not None:
        html = write_interactive_html(report, "clade", folder / "clade.html").read_text()
        assert "<script src=" not in html  # plotly.js embedded, no CDN
        assert "s10" in html  # sequence ids on hover


def test_analyse_latent_of_a_run_on_continuous_vectors_compares_with_their_pca(tmp_path):
    """A run on real vectors has no alphabet: its latent space is compared with the weighted PCA of
    the vectors themselves (all weights 1: the plain PCA), signs fixed by the largest loading."""
    from sklearn.decomposition import PCA

    from seqvae.analysis.latent_report import LatentOptions, analyse_latent
    from seqvae.data.synthetic.linear_factors import simulate_linear_factors

    data = simulate_linear_factors(200, 10, 2, noise_std=0.1, seed=0)
    config = seqvae.preset_config(None).updated(
        {"model.latent_dim": 2, "model.encoder_hidden": [16], "model.decoder_hidden": [16],
         "training.max_steps": 20, "training.eval_every": 10, "training.batch_size": 32,
         "training.device": "cpu", "seed": 0}
    )  # fmt: skip
    run = seqvae.train(data.x, config, out=tmp_path / "run", progress=False)
    assert run.kind == "continuous"
    report = analyse_latent(run, None, options=LatentOptions(n_permutations=9, n_pcs=3))
    assert report.unit == "rows" and report.source["sequences"] == "training rows of the run"
    rows, _, weights = run.input_rows(None)
    assert np.all(weights == 1.0)
    reference = PCA(n_components=3).fit(np.asarray(rows, dtype=np.float64))
    ratio = report.metrics["pca_comparison"]["explained_variance_ratio"]
    np.testing.assert_allclose(ratio, reference.explained_variance_ratio_, rtol=1e-6)
    assert sum(ratio[:2]) > 0.9 and ratio[2] < 0.05  # two factors, little noise
    components = report.pca.components
    np.testing.assert_allclose(np.abs(components), np.abs(reference.components_.T), atol=1e-6)
    largest = components[np.abs(components).argmax(axis=0), np.arange(3)]
    assert (largest > 0).all()


def test_latent_interactive_without_plotly(tiny_run, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_plotly(name, *args, **kwargs):
        if name.startswith("plotly"):
            raise ImportError("no plotly")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_plotly)
    folder, run, _ = tiny_run
    code = main(["latent", str(run.path), "--interactive", "--out", str(folder / "x")])
    assert code == 2
    assert "pip install" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--color", "score"], "phenotype table"),
        (["-p", "PH", "-c", "nonexistent"], "no column"),
        (["-p", "PH", "-c", "score", "--id-column", "alias"], "no sequence id matches"),
        (["-p", "PH", "-c", "score", "--top-fraction", "1.5"], "top fraction"),
        (["-p", "PH", "-c", "score", "--statistic", "mean"], "statistic"),
    ],
)
def test_latent_command_bad_input(tiny_run, capsys, arguments, message):
    folder, run, _ = tiny_run
    arguments = [str(folder / "phenotypes.csv") if a == "PH" else a for a in arguments]
    code = main(["latent", str(run.path), *arguments, "--out", str(folder / "bad")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (folder / "bad" / "latent_metrics.json").exists()


def test_latent_command_rejects_misaligned_sequences(tiny_run, capsys):
    folder, run, _ = tiny_run
    other = folder / "other.fasta"
    other.write_text(">x\nACDE\n>y\nACDF\n")
    assert main(["latent", str(run.path), str(other), "--out", str(folder / "bad2")]) == 2
    assert "columns" in capsys.readouterr().err


def test_alignment_from_sequences_roundtrip_for_pca():
    aln = alignment_from_sequences(["ACDE", "ACDF", "GCDE", "A-DE"])
    pca = alignment_pca(aln.codes, aln.alphabet.size, n_components=2)
    assert pca.scores.shape == (4, 2)
