"""Experiments on synthetic families: config validation, the measurements' definitions on
constructed examples, and fast seeded versions of every built-in experiment."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.experiments import (
    EXPERIMENTS,
    ExperimentResult,
    expand_grid,
    get_experiment,
    resolve_config,
    run_experiment,
    shipped_config_path,
)
from seqvae.experiments import measures as m


def _write(tmp_path, data, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


# -- configs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_shipped_configs_state_the_defaults_and_have_a_quick_version(name):
    shipped = resolve_config(name, shipped_config_path(name))
    assert shipped == resolve_config(name, None)
    quick = resolve_config(name, shipped_config_path(name), quick=True)
    assert quick["quick"] is True
    assert len(expand_grid(quick)) < len(expand_grid(shipped))
    assert quick["training"]["max_steps"] < shipped["training"]["max_steps"]


def test_grid_expansion_pairs_each_regulariser_with_its_own_strengths():
    config = resolve_config(
        "compression",
        {
            "grid": {
                "regulariser": ["kl", "mmd"],
                "beta": [0.5, 2.0],
                "mmd_weight": [10.0],
                "latent_dim": [2, 3],
                "seed": [0],
                "family.beta": [1.1, 1.3],
            }
        },
    )
    points = expand_grid(config)
    assert len(points) == 2 * (2 + 1) * 2  # family variants x (kl betas + mmd lambdas) x dims
    assert len({p.name for p in points}) == len(points)
    kl = [p for p in points if p.values["regulariser"] == "kl"]
    assert {p.run_config["model"]["beta"] for p in kl} == {0.5, 2.0}
    mmd = [p for p in points if p.values["regulariser"] == "mmd"]
    assert {p.run_config["model"]["mmd_weight"] for p in mmd} == {10.0}
    assert {p.family["beta"] for p in points} == {1.1, 1.3}
    assert all(p.run_config["data"]["theta"] is None for p in points)


@pytest.mark.parametrize(
    ("name", "config", "key"),
    [
        ("compression", {"family": {"lenght": 40}}, "family.lenght"),
        ("compression", {"grids": {}}, "grids"),
        ("compression", {"grid": {"latent_dims": [2]}}, "grid.latent_dims"),
        ("compression", {"grid": {"latent_dim": []}}, "grid.latent_dim"),
        ("compression", {"grid": {"latent_dim": [0, 2]}}, "grid.latent_dim"),
        ("compression", {"grid": {"seed": [0, 0]}}, "grid.seed"),
        ("compression", {"grid": {"regulariser": ["kl", "vq"]}}, "grid.regulariser"),
        ("compression", {"family": {"length": 20, "motifs": [[18, 5]]}}, "family.motifs"),
        ("compression", {"grid": {"family.motifs": [[], [[40, 2]]]}}, "grid.family.motifs"),
        ("compression", {"model": {"latent_dim": 3}}, "model.latent_dim"),
        ("compression", {"training": {"max_step": 3}}, "max_step"),
        ("compression", {"training": {"max_steps": 0}}, "training.max_steps"),
        ("compression", {"measurements": []}, "measurements"),
        ("compression", {"measurements": ["coverage", "telepathy"]}, "measurements"),
        ("compression", {"analysis": {"regions": ["prior", "moon"]}}, "analysis.regions"),
        ("compression", {"quick": {"grid": {"latent_dim": [-1]}}}, "quick.grid.latent_dim"),
        ("compression", {"experiment": "simpson"}, "experiment"),
        ("posterior-collapse", {"family": {"dim": 4, "n_factors": 6}}, "family.n_factors"),
        ("posterior-collapse", {"family": {"factor_scales": [1.0]}}, "family.factor_scales"),
        ("simpson", {"analysis": {"clade_weights": [1.0, 2.0]}}, "analysis.clade_weights"),
        ("hamming-clusters", {"analysis": {"subsample": 5000}}, "analysis.subsample"),
    ],
)
def test_bad_configs_name_the_key_and_exit_2(tmp_path, capsys, name, config, key):
    path = _write(tmp_path, config)
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        resolve_config(name, path)
    assert (
        main(["experiment", name, "--config", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
        == 2
    )
    message = capsys.readouterr()
    assert key in message.out + message.err
    assert "Traceback" not in message.out + message.err
    assert not (tmp_path / "out").exists()  # nothing is written before the config is valid


def test_unknown_experiment_and_missing_config_exit_2(tmp_path, capsys):
    assert main(["experiment", "telepathy", "--out", str(tmp_path / "x")]) == 2
    assert "compression" in capsys.readouterr().err  # the error lists the experiments
    assert main(["experiment", "simpson", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["experiment", "simpson", "--jobs", "0", "--out", str(tmp_path / "y"), "--quick"]) == 2


def test_show_config_prints_the_resolved_yaml(capsys):
    assert main(["experiment", "posterior-collapse", "--show-config", "--quick"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["family"]["n_factors"] == 3  # the quick section applied
    assert printed["grid"]["latent_dim"] == [5]


# -- measurements on constructed examples -------------------------------------------------------
def test_pooled_and_within_r2_on_a_constructed_simpson_example():
    """Within each group y = z exactly; group offsets in z run against those in y."""
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], 50)
    local = rng.standard_normal(150)
    z = local + 10.0 * groups  # groups far apart along z
    y = local - 10.0 * groups  # ...and in the opposite direction in y
    noise_dim = rng.standard_normal(150)
    result = m.pooled_and_within_r2(np.c_[noise_dim, z], y, groups, min_group_size=10)
    assert result["r2_within"] == pytest.approx(1.0)
    assert result["best_within_dim"] == 1
    assert result["r2_within_same"] == pytest.approx(1.0)
    pooled_r = np.corrcoef(z, y)[0, 1]
    assert result["pooled"][1] == pytest.approx(pooled_r**2)
    assert pooled_r < 0  # the pooled slope has the opposite sign: Simpson's reversal
    assert result["gap"] == pytest.approx(1.0 - result["r2_pooled"])
    # groups smaller than min_group_size are left out
    assert m.pooled_and_within_r2(z[:, None], y, groups, min_group_size=60)["groups"] == []


def test_adjusted_rand_and_hamming_clusters():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert m.adjusted_rand(labels, labels) == 1.0
    assert m.adjusted_rand(labels, np.array([5, 5, 3, 3, 9, 9])) == 1.0  # renamed
    rng = np.random.default_rng(1)
    centres = rng.integers(0, 8, size=(3, 30))
    truth = np.repeat([0, 1, 2], 20)
    codes = centres[truth].copy()
    flips = rng.random(codes.shape) < 0.05
    codes[flips] = rng.integers(0, 8, size=int(flips.sum()))
    found = m.hamming_clusters(codes.astype(np.uint8), 3)
    assert m.adjusted_rand(found, truth) == 1.0
    with pytest.raises(InputError):
        m.hamming_clusters(codes, 3, linkage="ward")


def test_pattern_recovery_counts_polysemantic_dimensions():
    rng = np.random.default_rng(2)
    overlaps = rng.standard_normal((500, 3))
    z = np.c_[
        overlaps[:, 0],  # monosemantic
        overlaps[:, 1] + overlaps[:, 2],  # mixes two patterns
        np.zeros(500),  # collapsed
    ]
    active = np.array([True, True, False])
    result = m.pattern_recovery(z, overlaps, active, threshold=0.3)
    assert result["monosemantic_dims"] == 1
    assert result["polysemantic_dims"] == 1
    assert result["patterns_per_dim_mean"] == pytest.approx(1.5)
    assert result["best_abs_r_min"] > 0.6
    assert result["pattern_r2_mean"] == pytest.approx(2 / 3, abs=0.05)


def test_a_coordinate_signalling_one_cluster_is_monosemantic_despite_exclusion():
    """Cluster indicators exclude each other: a coordinate that only marks cluster A is
    anti-correlated with every other pattern's overlap, but carries only A."""
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 4, 800)
    overlaps = np.eye(4)[labels] * 0.9 + 0.05 * rng.random((800, 4))
    marks_a = (labels == 0) + 0.05 * rng.standard_normal(800)
    assert (m.abs_correlation_matrix(marks_a[:, None], overlaps)[0, 1:] > 0.3).all()
    assert m.patterns_carried(marks_a, overlaps) == [0]
    line = labels + 0.05 * rng.standard_normal(800)  # four clusters in a row along one axis
    assert len(m.patterns_carried(line, overlaps)) == 3  # the fourth is implied by the other three


def test_cluster_pair_distances_find_the_anticorrelated_pair():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 100)
    overlaps = np.zeros((300, 3))
    overlaps[np.arange(300), labels] = 1.0
    overlaps[labels == 2, 1] = 0.6  # patterns 2 and 3 share letters: their overlaps co-vary
    overlaps += 0.01 * rng.standard_normal(overlaps.shape)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [2.0, 0.5]])
    z = centres[labels] + 0.1 * rng.standard_normal((300, 2))
    result = m.cluster_pair_distances(z, labels, overlaps)
    assert result["anticorrelated_pair"] in ([0, 1], [0, 2])
    assert result["anticorrelated_distance_ratio"] > 1.0
    assert result["separation"] > 10


def test_latent_points_regions():
    rng = np.random.default_rng(4)
    data = np.r_[rng.normal(-2, 0.1, (100, 2)), rng.normal(2, 0.1, (100, 2))]
    tail, _ = m.latent_points("tail", 2, 50, rng, tail_quantile=0.99)
    assert np.allclose(np.linalg.norm(tail, axis=1), np.sqrt(-2 * np.log(0.01)))  # χ²₂ quantile
    gap, gap_isolation = m.latent_points("gap", 2, 50, rng, data_means=data)
    _, prior_isolation = m.latent_points("prior", 2, 50, rng, data_means=data)
    assert (np.sum(gap**2, axis=1) <= 2 * np.log(2) + 1e-9).all()  # inside the prior's median radius
    assert np.median(gap_isolation) > np.median(prior_isolation)
    with pytest.raises(InputError):
        m.latent_points("moon", 2, 5, rng)


def test_factor_recovery_separates_factor_noise_and_redundant_dimensions():
    rng = np.random.default_rng(5)
    factors = rng.standard_normal((600, 2))
    z = np.c_[factors, factors[:, 0] ** 2, rng.standard_normal(600), np.zeros(600)]
    result = m.factor_recovery(z, factors, np.array([True, True, True, True, False]))
    assert result["factor_r2_min"] > 0.99
    assert result["factor_dims"] == 3
    assert result["redundant_dims"] == 1
    assert result["noise_dims"] == 1


# -- the experiments, test-sized ----------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    return {name: run_experiment(name, out=root / name, quick=True, progress=False) for name in EXPERIMENTS}


def test_quick_experiments_write_table_config_and_figures(quick_runs):
    for name, result in quick_runs.items():
        assert (result.table["status"] == "finished").all(), name
        table = pd.read_csv(result.out / "results.csv")
        assert len(table) == len(result.table)
        assert json.loads((result.out / "experiment.json").read_text())["experiment"] == name
        assert result.figures and all(path.exists() and path.stat().st_size > 1000 for path in result.figures)
        assert json.loads((result.out / "run_info.json").read_text())["n_failed"] == 0


def test_parquet_table_equals_the_csv(quick_runs):
    pytest.importorskip("pyarrow", reason="pip install 'seqvae[parquet]' (make test installs it)")
    for name, result in quick_runs.items():
        assert json.loads((result.out / "run_info.json").read_text())["parquet"] == "results.parquet"
        from_parquet = pd.read_parquet(result.out / "results.parquet")
        from_csv = pd.read_csv(result.out / "results.csv")
        assert list(from_parquet.columns) == list(from_csv.columns), name
        assert len(from_parquet) == len(from_csv), name
        # text columns that happen to be empty (e.g. no pattern missed) read back from CSV as NaN
        numeric = from_csv.select_dtypes("number").columns.intersection(
            from_parquet.select_dtypes("number").columns
        )
        assert len(numeric) >= 5, name
        np.testing.assert_allclose(
            from_parquet[numeric].astype(float).to_numpy(),
            from_csv[numeric].to_numpy(dtype=float),
            rtol=1e-5,
            err_msg=name,
        )


def test_posterior_collapse_strong_beta_keeps_at_most_the_true_factors(quick_runs):
    table = quick_runs["posterior-collapse"].table
    n_factors = int(table["n_factors"].iloc[0])
    kl = table[table["regulariser"] == "kl"].set_index("strength")
    assert kl.loc[30.0, "active_dims"] <= n_factors
    assert kl.loc[30.0, "trace_cov"] < kl.loc[0.5, "trace_cov"]
    assert kl.loc[0.5, "factor_r2_mean"] > 0.8  # weak β: the factors are encoded
    mmd = table[table["regulariser"] == "mmd"].iloc[0]
    assert mmd["active_dims"] >= kl.loc[30.0, "active_dims"]


def test_compression_measurements_are_in_range(quick_runs):
    table = quick_runs["compression"].table
    assert sorted(table["latent_dim"]) == [1, 4]
    for column in ("reconstruction_accuracy", "prior_coverage", "stable_prior", "stable_gap", "stable_tail"):
        assert table[column].between(0, 1).all(), column
    shares = table[[c for c in table.columns if c.startswith("prior_share_p")]].sum(axis=1)
    assert (shares <= table["prior_on_pattern"] + 1e-9).all()
    assert (table["isolation_gap"] >= table["isolation_prior"]).all()  # gaps are emptier than the prior
    assert (table["active_dims"] <= table["latent_dim"]).all()


def test_simpson_gap_depends_on_the_clade_effect(quick_runs):
    table = quick_runs["simpson"].table
    assert set(table["clade_effect"]) == {0.0, 4.0}
    by_effect = table.groupby("clade_effect")[["gap", "r2_pooled"]].mean()
    # with no between-clade phenotype the clades' latent offsets dilute the pooled R²
    assert by_effect.loc[0.0, "gap"] > by_effect.loc[4.0, "gap"]
    assert by_effect.loc[4.0, "r2_pooled"] > by_effect.loc[0.0, "r2_pooled"]


def test_hamming_clusters_match_the_patterns_in_a_condensed_family(quick_runs):
    row = quick_runs["hamming-clusters"].table.iloc[0]
    assert row["ari_hamming_truth"] > 0.9
    assert -0.5 <= row["ari_latent_hamming"] <= 1.0


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_printed_summary_averages_each_grid_point_over_its_seeds(quick_runs, name):
    """The table ``seqvae experiment`` prints: one row per grid point, whatever the seeds; with a
    second copy of every point under other seeds, measured 1 higher, ``n`` doubles and each mean
    rises by 0.5."""
    summarise = get_experiment(name).summarise
    table = quick_runs[name].table
    first = summarise(table)
    metrics = list(first.columns[first.columns.get_loc("n") + 1 :])
    assert metrics and "seed" not in first.columns
    assert first["n"].sum() == len(table)
    other = table.assign(seed=table["seed"] + 1000)
    other[metrics] = other[metrics] + 1.0
    both = summarise(pd.concat([table, other], ignore_index=True))
    assert len(both) == len(first) and (both["n"] == 2 * first["n"]).all()
    pd.testing.assert_frame_equal(both[metrics], first[metrics].astype(float) + 0.5)


def test_failed_points_are_the_rows_not_finished(tmp_path):
    table = pd.DataFrame({"point": ["a", "b", "c"], "status": ["finished", "failed: diverged", "finished"]})
    result = ExperimentResult(out=tmp_path, config={}, table=table, figures=[], info={})
    assert list(result.failed["point"]) == ["b"]
    assert result.failed["status"].iloc[0] == "failed: diverged"


def test_rerun_skips_finished_points_and_remeasures_changed_analysis(quick_runs, tmp_path):
    first = quick_runs["hamming-clusters"]
    again = run_experiment("hamming-clusters", out=first.out, quick=True, progress=False)
    assert again.info["n_skipped"] == again.info["n_points"]
    pd.testing.assert_frame_equal(again.table, first.table)
    changed = run_experiment(
        "hamming-clusters",
        {"analysis": {"linkage": "complete"}},
        out=first.out,
        quick=True,
        progress=False,
    )
    assert changed.info["n_trained_or_measured"] == changed.info["n_points"]
    point = changed.out / "points" / changed.table["point"].iloc[0] / "measurements.json"
    assert json.loads(point.read_text())["trained_now"] is False  # the model was reused


def test_parallel_workers_give_the_same_rows_as_one_process(quick_runs, tmp_path):
    serial = quick_runs["hamming-clusters"].table
    parallel = run_experiment(
        "hamming-clusters",
        {"grid": {"seed": [0, 1]}},
        out=tmp_path / "two",
        quick=True,
        jobs=2,
        progress=False,
    ).table
    assert len(parallel) == 2
    columns = ["point", "active_dims", "ari_latent_hamming", "ari_latent_truth", "trace_cov"]
    pd.testing.assert_frame_equal(
        serial[columns], parallel[parallel["seed"] == 0][columns].reset_index(drop=True)
    )


def test_cli_resumes_a_quick_experiment(quick_runs, capsys):
    out = quick_runs["simpson"].out
    assert main(["experiment", "simpson", "--quick", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "means over seeds" in captured.out
    assert "already done" in captured.err
