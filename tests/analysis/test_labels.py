"""Predictors learnt from labelled variants (seqvae.analysis.labels; fit-labels, predict)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from builders import fails_cleanly, snapshot, write_family
from seqvae.analysis.labels import (
    GPLabelModel,
    LabelOptions,
    fit_label_model,
    fit_labels,
    inner_folds,
    label_splits,
    load_predictor,
    mutated_columns,
    onehot_features,
)
from seqvae.analysis.mutations import all_single_mutants
from seqvae.cli.main import main as cli_main
from seqvae.errors import ConfigError, InputError
from seqvae.run import load


@pytest.fixture(scope="module")
def singles(tiny_run) -> pd.DataFrame:
    """Every single mutant of the tiny run with a label: its zero-shot score, a per-position
    effect and noise (so both blocks carry signal)."""
    registry = load(tiny_run.run).registry
    table = all_single_mutants(registry)
    predictor = fit_labels([tiny_run.run], table.assign(y=np.arange(len(table), dtype=float)), "y")
    _, _, columns = predictor.predict_codes(
        np.stack([predictor.mapper().apply(_subs(m)) for m in table["mutant"]])
    )
    rng = np.random.default_rng(0)
    score = columns["run"]
    effect = rng.normal(0, 1, 200)[table["position"].to_numpy()]
    table["score"] = score
    table["y"] = score / score.std() + 0.5 * effect + 0.3 * rng.normal(size=len(table))
    return table


def main(args) -> int:
    return cli_main([str(a) for a in args])


def _subs(mutant: str):
    from seqvae.analysis.mutations import parse_mutant

    return parse_mutant(mutant)


def _features(predictor, table):
    codes = np.stack([predictor.mapper().apply(_subs(m)) for m in table["mutant"]])
    onehot, density, _, _ = predictor.features(codes)
    return onehot, density, mutated_columns(onehot, predictor.reference["n_states"])


def test_onehot_features_are_sparse_differences_from_the_wild_type():
    wild = np.array([0, 1, 2], dtype=np.uint8)
    codes = np.array([[0, 1, 2], [3, 1, 2], [3, 1, 0]], dtype=np.uint8)
    x = onehot_features(codes, wild, 4)
    assert x.shape == (3, 12) and x[0].nnz == 0
    assert x[1, 3] == 1 and x[1, 0] == -1 and x[1].nnz == 2
    assert x[2].nnz == 4 and x[2, 8] == 1 and x[2, 10] == -1
    assert [list(c) for c in mutated_columns(x, 4)] == [[], [0], [0, 2]]


def test_positions_split_holds_out_whole_positions(singles):
    for seed in range(3):
        train, test = label_splits(singles["mutant"], "positions", n_train=40, seed=seed)
        train_positions = set(singles["position"].iloc[train])
        test_positions = set(singles["position"].iloc[test])
        assert len(train) == 40 and not train_positions & test_positions
        assert len(test) == int((~singles["position"].isin(train_positions)).sum())
    # multi-mutants: a test variant touches a held-out position, a training one touches none
    variants = ["A1C:D2E", "A1F", "D2G", "G3H", "G3K:H4L", "H4M", "H4N:A1P"]
    train, test = label_splits(variants, "positions", n_train=2, seed=1)
    held = {p for v in np.array(variants)[test] for p in [int(s[1:-1]) for s in v.split(":")]}
    seen = {p for v in np.array(variants)[train] for p in [int(s[1:-1]) for s in v.split(":")]}
    assert seen and held - seen
    for v in np.array(variants)[test]:
        assert {int(s[1:-1]) for s in v.split(":")} - seen
    train, test = label_splits(singles["mutant"], "random", n_train=50, seed=0)
    assert len(train) == 50 and len(test) == len(singles) - 50 and not set(train) & set(test)


def test_inner_position_folds_never_train_on_a_held_out_position(singles, tiny_run):
    predictor = load_predictor_from(tiny_run, singles)
    _, _, columns = _features(predictor, singles)
    for train, held in inner_folds(len(singles), 5, "positions", 0, columns):
        held_columns = {int(c) for i in held for c in columns[i]}
        assert not any(int(c) in held_columns for i in train for c in columns[i])
        assert not set(train) & set(held)


def load_predictor_from(tiny_run, singles):
    return fit_labels([tiny_run.run], singles[["mutant", "y"]], "y")


def test_alpha_is_chosen_without_the_test_rows(singles, tiny_run):
    """The predictor never sees the test rows: their labels, changed or missing, change nothing."""
    train, test = label_splits(singles["mutant"], "random", n_train=60, seed=0)
    labelled = singles[["mutant", "y"]].copy()
    only_train = fit_labels([tiny_run.run], labelled.iloc[train], "y")
    labelled.loc[labelled.index[test], "y"] = np.nan  # rows without a label are left out
    missing = fit_labels([tiny_run.run], labelled, "y")
    predictor = fit_labels([tiny_run.run], singles[["mutant", "y"]], "y")
    onehot, density, _ = _features(predictor, singles)
    y = singles["y"].to_numpy()
    model, cv = fit_label_model(y[train], onehot[train], density[train])
    shuffled = y.copy()
    shuffled[test] = np.random.default_rng(1).permutation(shuffled[test])
    again, cv_again = fit_label_model(shuffled[train], onehot[train], density[train])
    assert cv.chosen == cv_again.chosen == only_train.cv.chosen == missing.cv.chosen
    # one line: the chosen candidate, the models and its inner-CV rho over the labels it had
    rho = predictor.cv.rho[predictor.cv.chosen]
    assert repr(predictor) == (
        f"LabelPredictor({predictor.cv.chosen}, models={predictor.names}, cv rho {rho:.3f} over {len(singles)} labels)"
    )
    assert cv.rho == cv_again.rho and only_train.cv.rho == missing.cv.rho
    assert cv.rho == {k: v for k, v in only_train.cv.rho.items() if k in cv.rho}
    assert np.array_equal(model.onehot_weights, again.onehot_weights)
    assert np.allclose(model.predict(onehot, density), only_train.model.predict(onehot, density), rtol=1e-9)


def test_augmented_beats_onehot_when_labels_are_few(singles, tiny_run):
    """Quality: with 40 labels the zero-shot column carries what one-hot cannot learn yet."""
    predictor = load_predictor_from(tiny_run, singles)
    onehot, density, columns = _features(predictor, singles)
    y = singles["y"].to_numpy()
    gains, zero_shot = [], []
    for seed in range(5):
        for kind in ("random", "positions"):
            train, test = label_splits(singles["mutant"], kind, n_train=40, seed=seed)
            cols = [columns[i] for i in train]
            aug, _ = fit_label_model(
                y[train], onehot[train], density[train], cv=kind, seed=seed, columns=cols
            )
            alone, _ = fit_label_model(y[train], onehot[train], None, cv=kind, seed=seed, columns=cols)
            rho = spearmanr(aug.predict(onehot[test], density[test]), y[test]).statistic
            alone_predicted = alone.predict(onehot[test], None)
            # at held-out positions the one-hot ridge predicts a constant: no ranking, rho 0
            rho_alone = spearmanr(alone_predicted, y[test]).statistic if np.ptp(alone_predicted) else 0.0
            rho_zero = spearmanr(density[test, 0], y[test]).statistic
            gains.append(rho - rho_alone)
            zero_shot.append(rho - rho_zero)
    assert np.median(gains) > 0.2, gains
    assert min(zero_shot) > -0.05, zero_shot


def test_round_trip_through_files_and_cli_equals_api(singles, tiny_run, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    singles[["mutant", "y"]].to_csv(labels, index=False)
    api = fit_labels([tiny_run.run], labels, "y", options=LabelOptions(cv="positions"))
    api.save(tmp_path / "api")
    loaded = load_predictor(tmp_path / "api")
    first = api.predict(labels)
    assert np.array_equal(loaded.predict(labels)["prediction"], first["prediction"])
    assert (
        main(
            [
                "fit-labels",
                tiny_run.run,
                labels,
                "--label-col",
                "y",
                "--cv",
                "positions",
                "--out",
                tmp_path / "cli",
            ]
        )
        == 0
    )
    assert "zero-shot" in capsys.readouterr().out
    for name in ("predictor.json", "weights.npz"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    assert main(["predict", tmp_path / "cli", labels, "--out", tmp_path / "p.csv"]) == 0
    written = pd.read_csv(tmp_path / "p.csv")
    assert np.allclose(written["prediction"], first["prediction"], rtol=1e-7)
    assert api.predict_file(labels, tmp_path / "api.csv") == len(singles)
    assert (tmp_path / "api.csv").read_bytes() == (tmp_path / "p.csv").read_bytes()
    assert (
        main(["predict", tmp_path / "cli", labels, "--format", "proteingym", "--out", tmp_path / "g.csv"])
        == 0
    )
    assert list(pd.read_csv(tmp_path / "g.csv").columns) == [
        "mutant",
        "mutated_sequence",
        "run",
        "prediction",
    ]


def test_whole_sequences_with_latent(singles, tiny_run, tmp_path):
    predictor = load_predictor_from(tiny_run, singles)
    mapper = predictor.mapper()
    alphabet = mapper.registry.alphabet
    rows = [alphabet.decode(mapper.apply(_subs(m))) for m in singles["mutant"]]
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text("".join(f">v{i}\n{s}\n" for i, s in enumerate(rows)))
    labels = pd.DataFrame({"id": [f"v{i}" for i in range(len(rows))], "y": singles["y"]})
    fitted = fit_labels([tiny_run.run], labels, "y", sequences=fasta, options=LabelOptions(latent=True))
    assert fitted.settings["input"] == "sequences" and fitted.cv.n == len(rows)
    out = fitted.predict(fasta, sequences=True)
    assert list(out["id"][:2]) == ["v0", "v1"] and np.isfinite(out["prediction"]).all()
    assert "sd" not in out.columns  # a ridge has no predictive sd
    fitted.save(tmp_path / "p")
    assert np.array_equal(
        load_predictor(tmp_path / "p").predict(fasta, sequences=True)["prediction"], out["prediction"]
    )


def test_api_errors_name_the_field(tiny_run, singles):
    with pytest.raises(ValueError, match="mutant_column"):
        fit_labels([tiny_run.run], singles[["y"]].assign(variant=singles["mutant"]), "y")
    with pytest.raises(ValueError, match="label_column"):
        fit_labels([tiny_run.run], singles[["mutant"]], "y")
    shifted = singles[["y"]].assign(mutant=[f"A{200 + i}C" for i in range(len(singles))])
    with pytest.raises(InputError, match=r"\(wild_type numbers a trimmed reference row\)"):
        fit_labels([tiny_run.run], shifted, "y")
    with pytest.raises(InputError, match=r"labels\.cv"):
        fit_labels([tiny_run.run], singles[["mutant", "y"]], "y", options=LabelOptions(cv="blocks"))


@pytest.fixture
def labelled(tiny_run, singles, tmp_path) -> Path:
    path = tmp_path / "in" / "labels.csv"
    path.parent.mkdir()
    singles[["mutant", "y"]].to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (
            lambda t: t.assign(mutant=[f"A{200 + i}C" for i in range(len(t))]),
            ("none of the", "variants maps", "(--reference-sequence numbers a trimmed"),
        ),
        (lambda t: t.assign(y=1.0), ("every label is 1",)),
        (lambda t: t.assign(y=np.nan), ("no label",)),
        (lambda t: t.iloc[:3], ("3 labelled variants, fewer than the 5",)),
    ],
    ids=["no-variant-maps", "constant", "all-nan", "fewer-than-folds"],
)
def test_bad_labels_fail_cleanly(edit, fragments, tiny_run, singles, tmp_path, capsys, labelled):
    edit(singles[["mutant", "y"]]).to_csv(labelled, index=False)
    fails_cleanly(
        capsys,
        ["fit-labels", tiny_run.run, labelled, "--label-col", "y", "--out", tmp_path / "in" / "p"],
        *fragments,
        folder=tmp_path,
    )


def test_changed_model_and_damaged_predictor_fail_cleanly(tiny_run, labelled, tmp_path, capsys):
    run = tiny_run.copy(tmp_path, "run_copy")
    fit = ["fit-labels", run, labelled, "--label-col", "y", "--out", tmp_path / "p"]
    assert main(fit) == 0
    capsys.readouterr()
    fails_cleanly(capsys, fit, "--overwrite", folder=tmp_path)  # a predictor folder is never replaced unasked
    assert main([*fit, "--overwrite"]) == 0
    capsys.readouterr()
    fails_cleanly(capsys, [*fit[:-1], labelled], "replace an input", folder=tmp_path)
    capsys.readouterr()
    out = tmp_path / "preds.csv"
    capsys.readouterr()
    fails_cleanly(capsys, ["predict", tmp_path / "p", labelled, "--format", "csv", "--out", out], "--format")
    config = run / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()), indent=1))
    fails_cleanly(
        capsys,
        ["predict", tmp_path / "p", labelled, "--out", out],
        "changed since",
        "config.json",
        folder=tmp_path,
    )
    assert not out.exists()
    for name, damage in (("weights.npz", b"PK\x03\x04 broken"), ("predictor.json", b'{"models": [')):
        copy = tmp_path / f"damaged_{name}"
        copy.mkdir()
        for item in (tmp_path / "p").iterdir():
            (copy / item.name).write_bytes(item.read_bytes())
        (copy / name).write_bytes(damage)
        before = snapshot(tmp_path)
        fails_cleanly(capsys, ["predict", copy, labelled, "--out", out], "damaged predictor")
        assert snapshot(tmp_path) == before


def test_two_models_give_two_density_columns(tiny_run, singles, tmp_path):
    baseline = tmp_path / "si"
    assert (
        main(["baseline", "fit", tiny_run.alignment, "--model", "site-independent", "--out", baseline]) == 0
    )
    predictor = fit_labels([tiny_run.run, baseline], singles[["mutant", "y"]], "y")
    assert predictor.names == ["run", "si"] and predictor.model.density_coef.shape == (2,)
    assert {"zero-shot", "density"} <= set(predictor.cv.rho)
    out = predictor.predict(singles[["mutant"]])
    assert {"run", "si", "prediction"} <= set(out.columns)
    # the zero-shot candidate ranks by the models' mean, as an ensemble's score does; labels that
    # are that mean leave nothing to learn, and the tie goes to the simpler candidate
    density = out[["run", "si"]].to_numpy()
    zero, cv = fit_label_model(density.sum(1), None, density)
    assert cv.rho["zero-shot"] == pytest.approx(1.0) == cv.rho["density"]
    assert zero.kind == "zero-shot" and np.allclose(zero.density_coef[0], zero.density_coef[1])


def test_a_predictor_records_the_learning_curve_of_its_labels_and_the_report_draws_it(
    singles, tiny_run, tmp_path
):
    """Would more labels help? The predictor refits on fractions of its labels, tests on the rest
    (never more labels than it has), and the report of its run shows the curve and the CV table."""
    from seqvae.analysis.label_models import LEARNING_FRACTIONS, learning_curve_table
    from seqvae.report.builder import build_report

    predictor = load_predictor_from(tiny_run, singles)
    curve = predictor.learning_curve
    n = len(singles)
    assert {row["n_labels"] for row in curve} == {int(n * f) for f in LEARNING_FRACTIONS if int(n * f) >= 10}
    assert all(np.isfinite(row["rho"]) and np.isfinite(row["zero_shot_rho"]) for row in curve)
    table = learning_curve_table(curve, "y", "random")
    assert set(table["model"]) == {"predictor", "zero-shot"}
    assert (table["q25"] <= table["median"]).all() and (table["median"] <= table["q75"]).all()
    predictor.save(tmp_path / "predictor")
    assert load_predictor(tmp_path / "predictor").learning_curve == curve  # kept in predictor.json
    page = build_report(tiny_run.run, tmp_path / "report.html", include=[tmp_path / "predictor"])
    text = page.read_text(encoding="utf-8")
    assert "Learning from labels" in text and "learning curve" in text and "(chosen)" in text


# -- the GP on z, for whole sequences --------------------------------------------------------------
@pytest.fixture(scope="module")
def smooth_in_z(tiny_run, tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    """120 sequences of the tiny run's family, labelled by a smooth, non-monotone function of
    their latent mean z plus noise: the FASTA, the label CSV and z."""
    from seqvae.analysis.labels import latent_means
    from seqvae.analysis.scorers import ScoringOptions, load_scorers
    from seqvae.analysis.scoring import read_aligned_sequences

    folder = tmp_path_factory.mktemp("smooth_in_z")
    fasta = write_family(folder / "seqs.fasta", n=120, seed=0)
    scorer = load_scorers([tiny_run.run], ScoringOptions())
    alignment = read_aligned_sequences(fasta, scorer.registry, None, None)
    z = latent_means([scorer], alignment.codes)
    u = (z - z.mean(0)) / z.std(0)
    noise = np.random.default_rng(0).normal(size=len(z))
    y = np.sin(2 * u[:, 0]) + np.cos(1.5 * u[:, -1]) + 0.1 * noise
    labels = folder / "labels.csv"
    pd.DataFrame({"id": alignment.ids, "y": y}).to_csv(labels, index=False)
    return fasta, labels, z


@pytest.fixture(scope="module")
def gp_predictor(tiny_run, smooth_in_z):
    fasta, labels, _ = smooth_in_z
    return fit_labels([tiny_run.run], labels, "y", sequences=fasta, options=LabelOptions(learner="gp"))


def test_a_gp_on_z_learns_a_smooth_function_of_z_the_one_hot_ridge_cannot(gp_predictor):
    """Quality: cross-validated on the ridge's folds, the GP ranks held-out sequences well, and
    far better than the one-hot ridge (the phenotype is no sum of per-residue effects)."""
    cv = gp_predictor.cv
    assert cv.chosen == "gp" and cv.n == 120 and cv.folds == 5
    assert cv.rho["gp"] > 0.85, cv.rho
    assert cv.rho["gp"] > cv.best("onehot") + 0.3, cv.rho
    assert "zero-shot" in cv.rho  # the reference the CLI prints
    curve = gp_predictor.learning_curve
    assert curve and all(np.isfinite(row["rho"]) for row in curve)
    assert np.median([row["rho"] for row in curve if row["n_labels"] == 60]) > 0.7


def test_the_gp_sd_grows_away_from_the_labelled_sequences(gp_predictor, smooth_in_z):
    fasta, _, z = smooth_in_z
    model = gp_predictor.model
    assert isinstance(model, GPLabelModel)
    _, at_data = model.predict_with_sd(latent=z[:5])
    _, far = model.predict_with_sd(latent=z[:5] + 10 * z.std(0))
    assert (at_data > 0).all() and (far > 3 * at_data).all(), (at_data, far)
    out = gp_predictor.predict(fasta, sequences=True)
    assert list(out.columns) == ["id", "n_differences", "run", "prediction", "sd"]
    assert (out["sd"] > 0).all() and np.isfinite(out["prediction"]).all()


def test_a_gp_predictor_round_trips_and_the_cli_equals_the_api(gp_predictor, smooth_in_z, tiny_run, tmp_path):
    fasta, labels, _ = smooth_in_z
    gp_predictor.save(tmp_path / "api")
    saved = json.loads((tmp_path / "api" / "predictor.json").read_text())
    assert saved["model"]["kind"] == "gp" and len(saved["model"]["length_scales"]) == 2
    assert saved["settings"]["options"]["learner"] == "gp" and saved["cv"]["chosen"] == "gp"
    with np.load(tmp_path / "api" / "weights.npz") as arrays:
        assert arrays["x"].shape == (120, 2) and arrays["y"].shape == (120,)
    loaded = load_predictor(tmp_path / "api")
    first, again = gp_predictor.predict(fasta, sequences=True), loaded.predict(fasta, sequences=True)
    assert np.array_equal(first["prediction"], again["prediction"]) and np.array_equal(
        first["sd"], again["sd"]
    )
    fit = ["fit-labels", tiny_run.run, labels, "--sequences", fasta, "--label-col", "y", "--learner", "gp"]
    assert main([*fit, "--out", tmp_path / "cli"]) == 0
    for name in ("predictor.json", "weights.npz"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    assert main(["predict", tmp_path / "cli", "--sequences", fasta, "--out", tmp_path / "cli.csv"]) == 0
    assert loaded.predict_file(fasta, tmp_path / "api.csv", sequences=True) == 120
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "api.csv").read_bytes()
    assert np.allclose(pd.read_csv(tmp_path / "cli.csv")["sd"], first["sd"], rtol=1e-7)
    with np.load(tmp_path / "api" / "weights.npz") as arrays:
        parts = dict(arrays)
    for name, value in (("length_scales", np.ones(3)), ("y", np.ones(5)), ("x", np.ones(120))):
        np.savez(tmp_path / "api" / "weights.npz", **{**parts, name: value})
        with pytest.raises(InputError, match="damaged predictor"):
            load_predictor(tmp_path / "api")


def test_the_gp_learner_is_refused_for_variants(
    tiny_run, singles, labelled, tmp_path, capsys, gp_predictor, smooth_in_z
):
    fails_cleanly(
        capsys,
        [
            "fit-labels",
            tiny_run.run,
            labelled,
            "--label-col",
            "y",
            "--learner",
            "gp",
            "--out",
            tmp_path / "p",
        ],
        "--learner",
        "whole aligned sequences",
        folder=tmp_path,
    )
    with pytest.raises(ConfigError, match=r"^labels\.learner: gp is for whole aligned sequences"):
        fit_labels([tiny_run.run], singles[["mutant", "y"]], "y", options=LabelOptions(learner="gp"))
    with pytest.raises(ConfigError, match=r"labels\.learner: must be one of"):
        fit_labels([tiny_run.run], singles[["mutant", "y"]], "y", options=LabelOptions(learner="forest"))
    with pytest.raises(ConfigError, match=r"^labels\.latent: the z block is the ridge's"):
        fit_labels(
            [tiny_run.run], labelled, "y", sequences=labelled, options=LabelOptions(learner="gp", latent=True)
        )
    with pytest.raises(InputError, match="predicts whole aligned sequences"):
        gp_predictor.predict(singles[["mutant"]])
    gp_predictor.save(tmp_path / "gp")
    out = tmp_path / "preds.csv"
    fails_cleanly(capsys, ["predict", tmp_path / "gp", labelled, "--out", out], "(--sequences), not variants")
    assert not out.exists()
    baseline = tmp_path / "si"  # z needs a VAE among the models
    assert (
        main(["baseline", "fit", tiny_run.alignment, "--model", "site-independent", "--out", baseline]) == 0
    )
    fasta, labels, _ = smooth_in_z
    with pytest.raises(ConfigError, match=r"^labels\.learner: needs a VAE run"):
        fit_labels([baseline], labels, "y", sequences=fasta, options=LabelOptions(learner="gp"))
