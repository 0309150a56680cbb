"""``seqvae sweep``: a β grid on linear factors shows selective posterior collapse; resumable;
bad input rejected before any training."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import seqvae
from seqvae.cli.main import main
from seqvae.data.synthetic.linear_factors import simulate_linear_factors
from seqvae.errors import InputError
from seqvae.io.output_dirs import check_output_directory
from seqvae.training.run_directory import RUN_DIRECTORY
from seqvae.workflows import sweep
from seqvae.workflows.sweep import sweep_points

BASE = [
    "--set",
    "model.latent_dim=10",
    "--set",
    "model.encoder_hidden=[64]",
    "--set",
    "model.decoder_hidden=[64]",
    "--set",
    "model.warmup_steps=0",
    "--set",
    "training.max_steps=300",
    "--set",
    "training.learning_rate=0.01",
    "--set",
    "training.eval_every=100",
    "--set",
    "training.early_stopping_patience=null",
]


@pytest.fixture(scope="module")
def factors_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("factors") / "factors.npy"
    data = simulate_linear_factors(
        500, 100, 6, noise_std=0.05, seed=0, factor_scales=np.geomspace(4.0, 0.25, 6)
    )
    np.save(path, data.x)
    return path


def test_sweep_beta_active_dimensions_non_increasing(factors_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    arguments = [
        "sweep",
        str(factors_file),
        "--param",
        "model.beta",
        "--values",
        "0.25,2,16,128",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--no-progress",
        *BASE,
    ]
    assert main([*arguments, "--jobs", "1"]) == 0
    summary = pd.read_csv(out / "sweep_summary.csv").sort_values("value")
    assert list(summary["value"]) == [0.25, 2, 16, 128]
    assert (summary["status"] == "finished").all()
    active = summary["active_dims"].to_numpy()
    assert np.all(np.diff(active) <= 0), active  # selective collapse: never re-opens as β grows
    assert active[0] >= 4 and active[-1] == 0
    assert summary["trace_cov"].iloc[0] > 3 * summary["trace_cov"].iloc[-2] > 0
    assert {f"var_z{k}" for k in range(10)} <= set(summary.columns)
    assert (out / "sweep.png").stat().st_size > 0
    assert json.loads((out / "sweep.json").read_text())["param"] == "model.beta"
    # each row is what the point's summary.json records (over its training rows), not recomputed
    for row in summary.itertuples():
        latent = json.loads((out / row.run_dir / "summary.json").read_text())["latent"]
        assert row.active_dims == latent["n_active"]
        assert row.trace_cov == latent["trace_cov_z_mean"]
        assert row.participation_ratio == latent["participation_ratio_active_correlation"]
        assert row.var_z0 == latent["per_dimension"][0]["variance"]
        assert not (out / row.run_dir / "latent_diagnostics.json").exists()
    # a rerun of the finished sweep reads every point back from the executor: nothing runs
    weights = {p: p.stat().st_mtime_ns for p in out.glob("*/model.safetensors")}
    monkeypatch.setattr(sweep, "train_or_resume", lambda *a, **k: pytest.fail("a finished point ran"))
    assert main([*arguments, "--jobs", "1"]) == 0
    monkeypatch.undo()
    rerun = pd.read_csv(out / "sweep_summary.csv").sort_values("value")
    assert rerun["skipped"].all() and {p: p.stat().st_mtime_ns for p in weights} == weights
    assert rerun.drop(columns="skipped").equals(summary.drop(columns="skipped"))
    # a point finished with other settings is refused with one line, before anything runs
    capsys.readouterr()
    assert main([*arguments, "--set", "training.max_steps=200"]) == 2
    err = capsys.readouterr().err.strip()
    assert "made with other inputs" in err and "model.beta=0.25__seed=0" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert pd.read_csv(out / "sweep_summary.csv").sort_values("value").equals(rerun)
    # ... and so is one finished on other data, under the same settings
    other = tmp_path / "other.npy"
    np.save(other, np.load(factors_file)[::-1])
    assert main([arguments[0], str(other), *arguments[2:]]) == 2
    err = capsys.readouterr().err.strip()
    assert "made with other inputs" in err and len(err.splitlines()) == 1
    assert pd.read_csv(out / "sweep_summary.csv").sort_values("value").equals(rerun)
    # a point of an older sweep (no executor result, a summary without tr Cov, the sweep's own
    # diagnostics file) is read back by train_or_resume: those two cells are left empty
    point = out / "model.beta=2__seed=0"
    weights_mtime = (point / "model.safetensors").stat().st_mtime_ns
    (point / ".seqvae-task.json").unlink()
    summary_json = json.loads((point / "summary.json").read_text())
    for key in ("trace_cov_z_mean", "participation_ratio_active_correlation"):
        del summary_json["latent"][key]
    (point / "summary.json").write_text(json.dumps(summary_json))
    (point / "latent_diagnostics.json").write_text("{}")
    assert main([*arguments, "--jobs", "1"]) == 0
    old = pd.read_csv(out / "sweep_summary.csv").set_index("value").loc[2]
    assert np.isnan(old["trace_cov"]) and np.isnan(old["participation_ratio"])
    assert old["active_dims"] == summary_json["latent"]["n_active"] and not old["skipped"]
    assert (point / "model.safetensors").stat().st_mtime_ns == weights_mtime
    check_output_directory(point, RUN_DIRECTORY, overwrite=True)  # train --overwrite may replace it
    # resumable: finished points are read back, a missing one is trained again
    missing = out / "model.beta=16__seed=0"
    for child in sorted(missing.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    missing.rmdir()
    assert main([*arguments, "--jobs", "2"]) == 0  # only the missing point trains
    again = pd.read_csv(out / "sweep_summary.csv").sort_values("value")
    assert (point / "model.safetensors").stat().st_mtime_ns == weights_mtime
    assert list(again["skipped"]) == [True, True, False, True]
    assert again["active_dims"].tolist() == summary["active_dims"].tolist()  # same seed, same result


def test_sweep_points_grid_and_names():
    base = seqvae.preset_config("explore")
    points = sweep_points(base, "model.beta", [0.5, 1.0], "model.latent_dim", [2, 3], seeds=[0, 1])
    assert len(points) == 8
    assert points[0].name == "model.beta=0.5__model.latent_dim=2__seed=0"
    assert points[3].config.model.latent_dim == 3 and points[3].config.seed == 1
    by_seed = sweep_points(base, "seed", [3, 4])
    assert [p.config.seed for p in by_seed] == [3, 4]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"param": "data.theta", "values": [0.1]}, r"^param: cannot sweep 'data.theta'"),
        ({"param": "model.beta", "values": []}, r"^values: nothing to sweep$"),
        (
            {"param": "model.beta", "values": [1], "param2": "model.beta", "values2": [2]},
            r"^param2: must differ",
        ),
        (
            {"param": "model.beta", "values": [1], "param2": "model.latent_dim"},
            r"^values2: needed with param2$",
        ),
        ({"param": "model.beta", "values": [1], "values2": [2]}, r"^values2: given without param2$"),
        ({"param": "model.beta", "values": [1], "seeds": []}, r"^seeds: none given$"),
        ({"param": "model.beta", "values": [1, 1]}, r"^values: two grid points share a directory name"),
    ],
)
def test_sweep_points_errors_name_the_argument_not_a_flag(arguments, message):
    with pytest.raises(InputError, match=message):
        sweep_points(seqvae.preset_config("explore"), **arguments)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "data.theta", "--values", "0.1,0.2"], "cannot sweep"),
        (["--param", "model.beta", "--values", "1", "--values2", "2"], "--param2"),
        (["--param", "model.beta", "--values", "-1"], "model.beta"),
        (["--param", "model.nonsense", "--values", "1"], "unknown key"),
        (["--param", "model.beta", "--values", "1", "--seeds", "a"], "seeds"),
        (
            ["--param", "model.beta", "--values", "1", "--param2", "model.beta", "--values2", "2"],
            "--param2: ",
        ),
        (["--param", "model.beta", "--values", "1", "--jobs", "0"], "--jobs: must be in [1, 4096], got 0"),
        (["--param", "model.beta", "--values", "1", "--threads", "0"], "--threads"),
    ],
)
def test_sweep_bad_options(factors_file, tmp_path, capsys, extra, message):
    out = tmp_path / "bad"
    assert main(["sweep", str(factors_file), *extra, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_sweep_bad_data(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((20, 3), np.nan))
    arguments = ["--param", "model.beta", "--values", "1", "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(["sweep", str(bad), *arguments]) == 2
    assert "NaN" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.npy"), *arguments]) == 2
    assert "not found" in capsys.readouterr().err


def test_plot_sweep_two_parameters_and_categorical_values(tmp_path):
    from seqvae.plots.sweep import plot_sweep

    rows = [
        {"value": beta, "value2": d, "seed": s, "trace_cov": d / beta, "active_dims": int(d / beta)}
        for beta in (0.5, 1, 8)
        for d in (2, 4)
        for s in (0, 1)
    ]
    path = plot_sweep(pd.DataFrame(rows), "model.beta", tmp_path / "grid.png", param2="model.latent_dim")
    assert path.stat().st_size > 0
    categorical = pd.DataFrame(
        [
            {"value": r, "seed": 0, "trace_cov": t, "active_dims": a}
            for r, t, a in (("kl", 2.0, 2), ("mmd", 3.0, 3))
        ]
    )
    assert plot_sweep(categorical, "model.regulariser", tmp_path / "cat.png").stat().st_size > 0
