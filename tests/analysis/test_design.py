"""Design from a phenotype: the Gaussian process on z, the climb and its rules, the folder, the
command and its bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import TINY, fails_cleanly, write_family
from seqvae.analysis.latent_design import DesignOptions, PhenotypeDesign, design_files, design_from_phenotype
from seqvae.analysis.latent_phenotype import (
    LabelledLatent,
    LatentPhenotypeModel,
    PhenotypeMap,
    cross_validate,
    labelled_latent,
    phenotype_map,
)
from seqvae.analysis.reconstruction import sequence_elbo
from seqvae.cli.main import main
from seqvae.errors import ConfigError, InputError
from seqvae.run import load

# small settings for a run on 120 sequences of 12 columns
SMALL = {
    "n": 8,
    "folds": 3,
    "starts": 8,
    "steps": 25,
    "target_quantile": 0.5,
    "resolution": 20,
    "elbo_samples": 4,
}
SMALL_FLAGS = ["-n", "8", "--folds", "3", "--starts", "8", "--steps", "25", "--target-quantile", "0.5"]


def smooth(z: np.ndarray) -> np.ndarray:
    return np.sin(1.5 * z[:, 0]) + 0.5 * z[:, 1] ** 2


def test_the_gp_predicts_a_smooth_phenotype_of_z_held_out():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 2))
    y = smooth(z) + 0.1 * rng.normal(size=300)
    cv = cross_validate(z, y, folds=5, seed=0)
    assert cv.rho > 0.9 and cv.r2 > 0.85, cv.to_dict()
    assert len(cv.fold_rhos) == 5 and min(cv.fold_rhos) > 0.8
    model = LatentPhenotypeModel.fit(z, y)
    mean, sd_near = model.predict(z[:20])
    assert np.corrcoef(mean, smooth(z[:20]))[0, 1] > 0.95
    # far from every labelled point the prediction is uncertain
    _, sd_far = model.predict(z[:20] + 20.0)
    assert np.all(sd_far > 3 * sd_near)
    # it round-trips through plain arrays
    again = LatentPhenotypeModel.from_arrays(model.arrays())
    assert np.array_equal(np.column_stack(again.predict(z)), np.column_stack(model.predict(z)))


def test_a_larger_latent_space_is_mapped_on_its_first_two_principal_axes():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(200, 4)) * [3.0, 2.0, 0.3, 0.1]
    y = smooth(z[:, :2] / [3.0, 2.0])
    data = LabelledLatent(ids=[f"s{i}" for i in range(200)], z=z, labels=y, label="y")
    plane = phenotype_map(LatentPhenotypeModel.fit(z, y), data, resolution=15)
    assert plane.axis_names == ("PC 1", "PC 2") and plane.mean.shape == (15, 15)
    assert np.allclose(plane.axes.T @ plane.axes, np.eye(2))
    assert np.allclose(np.abs(plane.axes[:2]), np.eye(2), atol=0.05)  # the two wide dimensions
    assert np.allclose(plane.project(z), plane.points)
    # the map agrees with the phenotype where the naturals are
    inside = (np.abs(plane.u) < 3)[None, :] & (np.abs(plane.v) < 2)[:, None]
    uu, vv = np.meshgrid(plane.u, plane.v)
    truth = smooth(np.column_stack([uu.ravel() / 3.0, vv.ravel() / 2.0])).reshape(uu.shape)
    assert np.corrcoef(plane.mean[inside], truth[inside])[0, 1] > 0.9


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A small run trained long enough that its decoder means something (a few seconds)."""
    folder = tmp_path_factory.mktemp("design_run")
    family = write_family(folder / "family.fasta", n=120, length=12)
    args = ["train", family, "--out", folder / "run", *TINY, "--max-steps", "400", "--no-progress"]
    assert main([str(a) for a in args]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def labels(trained, tmp_path_factory):
    """A phenotype that is a smooth function of the tiny run's latent means (a few rows
    unmeasured), a constant column and an empty one."""
    run = load(trained)
    codes, _, ids, _ = run.training_data()
    z = run.encode(codes)[0].astype(np.float64)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    y = smooth(z)
    y[::10] = np.nan
    table = pd.DataFrame({"id": ids, "y": y, "constant": 1.0, "empty": np.nan, "two": np.nan})
    table.loc[:1, "two"] = [1.0, 2.0]
    path = tmp_path_factory.mktemp("labels") / "labels.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def designed(trained, labels) -> PhenotypeDesign:
    return design_from_phenotype(load(trained), labels, label_col="y", **SMALL)


def test_designs_keep_the_trust_region_rules_and_are_distinct(trained, designed):
    run = load(trained)
    designs, summary = designed.designs, designed.summary
    assert len(designs) == SMALL["n"]
    natural_elbo = sequence_elbo(run.model, run.training_data()[0], SMALL["elbo_samples"], 0)
    assert summary["elbo_threshold"] == pytest.approx(np.quantile(natural_elbo, 0.05))
    assert np.all(designs.elbo >= summary["elbo_threshold"])
    assert np.all(designs.extra["predicted"] >= summary["target"])
    assert len({row.tobytes() for row in designs.codes}) == len(designs)
    assert np.all(designs.nearest_hamming > 0)  # no design is a training sequence
    # the prediction is the model's at each design's own latent mean
    z_mean = run.encode(designs.codes)[0]
    assert np.allclose(designed.model.predict(z_mean)[0], designs.extra["predicted"])
    counts = summary["counts"]
    assert counts["candidates"] >= counts["new"] >= counts["trusted"] >= counts["passing"] >= len(designs)


def test_designs_are_predicted_above_their_starting_points(trained, labels, designed):
    data = labelled_latent(load(trained), labels, "y")
    measured = data.labelled
    starts = np.argsort(-data.labels[measured], kind="stable")[: SMALL["starts"]]
    start_prediction = designed.model.predict(data.z[measured][starts])[0]
    # as many designs as starts: the designs are predicted higher, the best above every start
    predicted = designed.designs.extra["predicted"]
    assert len(predicted) == len(start_prediction)
    assert np.median(predicted) > np.median(start_prediction) and predicted.max() > start_prediction.max()
    assert designed.cross_validation.rho > 0.5


def test_the_folder_is_complete_or_absent(designed, tmp_path, monkeypatch):
    paths = designed.save(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in paths.values()
    )
    plane = PhenotypeMap.load(paths["map"])
    assert np.array_equal(plane.mean, designed.map.mean) and plane.label == "y"
    table = pd.read_csv(paths["table"])
    assert {"predicted", "predicted_sd", "elbo", "nearest_natural_hamming", "z_mean_0"} <= set(table.columns)

    def broken(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(PhenotypeMap, "save", broken)
    with pytest.raises(OSError):
        designed.save(tmp_path / "broken")
    assert not (tmp_path / "broken").exists()


def test_the_command_writes_what_the_api_writes(trained, labels, tmp_path):
    out = tmp_path / "designs"
    args = ["design", trained, "--labels", labels, "--label-col", "y", *SMALL_FLAGS, "--out", out]
    assert main([str(a) for a in args]) == 0
    assert design_files(out)["figure"].stat().st_size > 0
    options = DesignOptions(
        label_col="y", **{k: v for k, v in SMALL.items() if k not in ("resolution", "elbo_samples")}
    )
    api = design_from_phenotype(load(trained), labels, options).save(tmp_path / "api")
    assert api["table"].read_bytes() == design_files(out)["table"].read_bytes()
    assert api["fasta"].read_bytes() == design_files(out)["fasta"].read_bytes()


@pytest.mark.parametrize(
    ("column", "flags", "fragments", "field"),
    [
        ("nope", [], ["--label-col", "no column 'nope'"], "design.label_col"),
        ("constant", [], ["--label-col", "constant"], "design.label_col"),
        ("empty", [], ["--label-col", "no value"], "design.label_col"),
        ("two", ["--folds", "3"], ["--folds", "2 labelled sequences"], "design.folds"),
    ],
)
def test_bad_labels_fail_in_one_line_naming_the_field(
    trained, labels, tmp_path, capsys, column, flags, fragments, field
):
    args = [
        "design",
        trained,
        "--labels",
        labels,
        "--label-col",
        column,
        *flags,
        "--out",
        tmp_path / "d",
    ]
    fails_cleanly(capsys, args, *fragments, folder=tmp_path)
    with pytest.raises(ConfigError) as err:
        design_from_phenotype(load(trained), labels, label_col=column, folds=3)
    assert err.value.field == field


def test_labels_matching_no_sequence_fail_in_one_line(trained, tmp_path, capsys):
    table = tmp_path / "other.csv"
    table.write_text("id,y\nx1,1.0\nx2,2.0\nx3,0.5\n")
    fails_cleanly(
        capsys,
        ["design", trained, "--labels", table, "--label-col", "y", "--out", tmp_path / "d"],
        "no sequence id matches",
        folder=tmp_path,
    )
    with pytest.raises(InputError, match="no sequence id matches"):
        design_from_phenotype(load(trained), table, label_col="y")


def test_a_missing_label_column_option_names_its_flag(trained, labels, tmp_path, capsys):
    fails_cleanly(capsys, ["design", trained, "--labels", labels, "--out", tmp_path / "d"], "--label-col")


def test_the_report_shows_the_phenotype_map_of_a_design_folder(trained, designed, tmp_path):
    from seqvae.report.builder import build_report

    folder = tmp_path / "designs"
    designed.save(folder)
    page = build_report(trained, tmp_path / "report.html", include=[folder]).read_text(encoding="utf-8")
    assert "Design from a phenotype" in page and "phenotype map" in page
    assert "cross-validated Spearman" in page
