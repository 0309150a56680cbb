"""Generation and generative-capacity statistics on a tiny seeded model of a two-cluster family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import seqvae
from seqvae.analysis import capacity as cap
from seqvae.analysis import generation as gen
from seqvae.analysis import pattern_recovery as pr
from seqvae.analysis import reconstruction as rec
from seqvae.analysis import sample_evaluation as se
from seqvae.cli.main import main
from seqvae.data.alignment import alignment_from_sequences
from seqvae.errors import InputError

LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))
LENGTH = 20


def _two_cluster_codes(n: int, seed: int, mutation_rate: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Two random consensus sequences (one with a gap block) and mutated copies; cluster labels."""
    rng = np.random.default_rng(seed)
    consensus = np.random.default_rng(1234).integers(0, 20, size=(2, LENGTH))
    consensus[1, 15:18] = 20  # a gap block in cluster 1
    labels = np.arange(n) % 2
    codes = consensus[labels].copy()
    mutate = rng.random(codes.shape) < mutation_rate
    codes[mutate] = rng.integers(0, 20, size=int(mutate.sum()))
    return codes.astype(np.uint8), labels


def _write_fasta(path: Path, codes: np.ndarray, prefix: str = "s") -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i, row in enumerate(codes):
            handle.write(f">{prefix}{i}\n{''.join(LETTERS[row])}\n")
    return path


def _train(codes: np.ndarray, out: Path, model_gaps: bool) -> seqvae.Run:
    aln = alignment_from_sequences(["".join(LETTERS[row]) for row in codes])
    config = seqvae.preset_config("explore").updated(
        {
            "model.encoder_hidden": [48],
            "model.decoder_hidden": [48],
            "model.warmup_steps": 50,
            "model.model_gaps": model_gaps,
            "training.max_steps": 400,
            "training.max_time_s": None,
            "training.batch_size": 32,
            "training.eval_every": 100,
            "training.early_stopping_patience": None,
            "training.device": "cpu",
            "seed": 3,
        }
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains faster on one thread
    try:
        return seqvae.train(aln, config, out=out, progress=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generation")
    codes, labels = _two_cluster_codes(160, seed=0)
    run = _train(codes, folder / "run", model_gaps=True)
    return {"folder": folder, "codes": codes, "labels": labels, "run": run}


@pytest.fixture(scope="module")
def gapless_run(tmp_path_factory, family):
    folder = tmp_path_factory.mktemp("generation_gapless")
    return _train(family["codes"], folder / "run", model_gaps=False)


# -- generation ---------------------------------------------------------------------------------
def test_generate_is_deterministic_for_a_seed(family):
    run = family["run"]
    first = gen.generate(run, 40, seed=5, elbo_samples=2)
    again = gen.generate(run, 40, seed=5, elbo_samples=2)
    other = gen.generate(run, 40, seed=6, elbo_samples=2)
    assert np.array_equal(first.codes, again.codes)
    assert np.array_equal(first.z, again.z)
    assert np.allclose(first.elbo, again.elbo)
    assert not np.array_equal(first.codes, other.codes)
    # the number of ELBO samples never changes the designs
    assert np.array_equal(gen.generate(run, 40, seed=5, elbo_samples=1).codes, first.codes)


def test_shapes_and_csv_columns_via_cli(family, tmp_path):
    out = tmp_path / "designs.fasta"
    assert main(["generate", str(family["run"].path), "-n", "25", "--out", str(out), "--seed", "1"]) == 0
    table = pd.read_csv(tmp_path / "designs.csv")
    assert list(table.columns) == [
        "id",
        "sequence",
        "z_0",
        "z_1",
        "elbo",
        "nearest_natural_id",
        "nearest_natural_hamming",
    ]
    assert len(table) == 25
    assert table["elbo"].lt(0).all()
    designs = seqvae.read_alignment(out)
    assert designs.codes.shape == (25, LENGTH)
    # the CSV's nearest natural and Hamming agree with a brute-force search
    train_codes, _, train_ids, _ = family["run"].training_data()
    brute = (designs.codes[:, None, :] != train_codes[None, :, :]).sum(axis=2)
    assert np.array_equal(table["nearest_natural_hamming"].to_numpy(), brute.min(axis=1))
    picked = [train_ids.index(name) for name in table["nearest_natural_id"]]
    assert np.array_equal(brute[np.arange(25), picked], brute.min(axis=1))
    settings = json.loads((tmp_path / "designs.json").read_text())
    assert settings["seed"] == 1 and settings["decoding"] == "sample"


def test_low_temperature_sampling_equals_argmax(family):
    run = family["run"]
    z = gen.prior_region(2).sample(30, torch.Generator().manual_seed(0))
    argmax = gen.decode_latents(run.model, z, "argmax")
    cold = gen.decode_latents(run.model, z, "sample", 1e-4, torch.Generator().manual_seed(1))
    hot = gen.decode_latents(run.model, z, "sample", 5.0, torch.Generator().manual_seed(1))
    assert np.array_equal(argmax, cold)
    assert (hot != argmax).mean() > 0.2


def test_region_from_ids_stays_near_the_selected_cluster(family):
    run = family["run"]
    ids = run.training_alignment().ids
    cluster0 = [name for name, label in zip(ids, family["labels"]) if label == 0]
    region = gen.region_from_sequences(run, cluster0)
    chosen = family["labels"] == 0
    means, _ = run.encode(family["codes"][chosen])
    weights = run.training_data()[1][chosen]
    assert np.allclose(region.center, weights @ means / weights.sum(), atol=1e-4)
    designs = gen.generate(run, 60, seed=2, decoding="argmax", region=region, elbo_samples=0)
    nearest_cluster = family["labels"][[ids.index(name) for name in designs.nearest_id]]
    assert (nearest_cluster == 0).mean() > 0.9
    # the same selection as a boolean mask gives the same region
    mask_region = gen.region_from_sequences(run, family["labels"] == 0)
    assert np.allclose(mask_region.covariance, region.covariance)


def _phenotype_table(family, path: Path) -> Path:
    """score: high in cluster 1, a few missing; group: cluster name; ids match the run's."""
    ids = family["run"].training_alignment().ids
    labels = family["labels"]
    rng = np.random.default_rng(7)
    score = labels * 10.0 + rng.normal(0.0, 1.0, labels.size)
    score[::17] = np.nan  # not measured
    table = pd.DataFrame({"name": ids, "score": score, "group": np.where(labels == 1, "B", "A")})
    table.to_csv(path, index=False)
    return path


def test_phenotype_threshold_region_selects_the_top_quantile(family, tmp_path):
    run = family["run"]
    table_path = _phenotype_table(family, tmp_path / "phenotypes.csv")
    table = pd.read_csv(table_path)
    region, selection = gen.region_from_phenotype(run, table_path, "score >= q90", id_column="name")
    score = table["score"].to_numpy()
    measured = np.isfinite(score)
    cutoff = np.quantile(score[measured], 0.9)
    assert selection.cutoff == pytest.approx(cutoff)
    assert selection.n_measured == int(measured.sum())
    assert np.array_equal(selection.mask, measured & (score >= cutoff))
    # the same region as picking those ids by hand
    ids = run.training_alignment().ids
    by_ids = gen.region_from_sequences(run, [ids[i] for i in np.flatnonzero(selection.mask)])
    assert np.allclose(region.center, by_ids.center) and np.allclose(region.covariance, by_ids.covariance)
    # the top decile is cluster 1: designs from its region stay near cluster 1
    designs = gen.generate(run, 40, seed=0, decoding="argmax", region=region, elbo_samples=0)
    nearest_cluster = family["labels"][[ids.index(name) for name in designs.nearest_id]]
    assert (nearest_cluster == 1).mean() > 0.9
    # the other operators and a label comparison
    for expression, expected in (
        ("score < 5", measured & (score < 5)),
        ("score <= q10", measured & (score <= np.quantile(score[measured], 0.1))),
        ("score > 5.5", measured & (score > 5.5)),
        ("group == B", family["labels"] == 1),
        ("group == 'A'", family["labels"] == 0),
    ):
        chosen = gen.select_by_phenotype(ids, table, expression, id_column="name")
        assert np.array_equal(chosen.mask, expected), expression


def test_phenotype_region_via_cli(family, tmp_path):
    table_path = _phenotype_table(family, tmp_path / "phenotypes.csv")
    out = tmp_path / "top.fasta"
    args = ["generate", str(family["run"].path), "-n", "12", "--out", str(out), "--elbo-samples", "0"]
    extra = ["--region-phenotype", "score >= q90", "--phenotypes", str(table_path), "--id-column", "name"]
    assert main([*args, *extra]) == 0
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["region"]["kind"] == "gaussian"
    assert "score >= q90" in settings["region"]["description"]
    assert len(seqvae.read_alignment(out).ids) == 12


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("score => 3", "cannot parse"),
        ("score 3", "cannot parse"),
        (">= 3", "cannot parse"),
        ("score >=", "cannot parse"),
        ("score >= high", "not a number"),
        ("score >= q150", "between q0 and q100"),
        ("height >= 3", "no phenotype column 'height'"),
        ("group >= 1", "not numeric"),
        ("group >= q50", "not numeric"),
        ("score > 1000", "matches no training sequence"),
        ("group == C", "matches no training sequence"),
    ],
)
def test_bad_phenotype_selectors(family, tmp_path, expression, message):
    run = family["run"]
    table_path = _phenotype_table(family, tmp_path / "phenotypes.csv")
    with pytest.raises(InputError, match=message):
        gen.region_from_phenotype(run, table_path, expression, id_column="name")
    out = tmp_path / "x.fasta"
    args = ["generate", str(run.path), "-n", "5", "--out", str(out), "--id-column", "name"]
    assert main([*args, "--region-phenotype", expression, "--phenotypes", str(table_path)]) == 2
    assert not out.exists()


def test_phenotype_selector_needs_its_table(family, tmp_path):
    table_path = _phenotype_table(family, tmp_path / "phenotypes.csv")
    out = tmp_path / "x.fasta"
    args = ["generate", str(family["run"].path), "-n", "5", "--out", str(out)]
    assert main([*args, "--region-phenotype", "score >= q90"]) == 2  # no --phenotypes
    assert main([*args, "--phenotypes", str(table_path)]) == 2  # no --region-phenotype
    assert (
        main([*args, "--region-phenotype", "score >= q90", "--phenotypes", str(table_path)]) == 2
    )  # id column
    with pytest.raises(InputError, match="no id column"):
        gen.region_from_phenotype(family["run"], table_path, "score >= q90")
    assert not out.exists()


def test_ball_and_coordinate_regions(family):
    run = family["run"]
    ids = run.training_alignment().ids
    generator = torch.Generator().manual_seed(0)
    ball = gen.region_ball(run, ids[0], 0.5)
    z = ball.sample(200, generator).numpy()
    assert np.linalg.norm(z - ball.center, axis=1).max() <= 0.5 + 1e-5
    point = gen.region_coordinates([0.1, -0.3], 2)
    assert np.allclose(point.sample(5, generator).numpy(), [[0.1, -0.3]] * 5, atol=1e-6)
    with pytest.raises(InputError, match="3 coordinates"):
        gen.region_coordinates([0.1, 0.2, 0.3], 2)


def test_interpolation_endpoints_decode_near_the_endpoints(family, tmp_path):
    run = family["run"]
    ids = run.training_alignment().ids
    a, b = ids[0], ids[1]  # one sequence from each cluster
    path = gen.interpolate(run, a, b, steps=7, elbo_samples=2)
    codes = family["codes"]
    assert np.array_equal(path.codes[0], rec.redecode(run.model, codes[:1])[0])
    assert np.array_equal(path.codes[-1], rec.redecode(run.model, codes[1:2])[0])
    assert path.extra["hamming_to_a"][0] < path.extra["hamming_to_b"][0]
    assert path.extra["hamming_to_b"][-1] < path.extra["hamming_to_a"][-1]
    assert path.extra["hamming_to_a"][0] <= 4 and path.extra["hamming_to_b"][-1] <= 4
    out = tmp_path / "path.fasta"
    assert main(["generate", str(run.path), "--interpolate", a, b, "--steps", "5", "--out", str(out)]) == 0
    assert (tmp_path / "path.png").stat().st_size > 0
    assert list(pd.read_csv(tmp_path / "path.csv").columns[-3:]) == ["t", "hamming_to_a", "hamming_to_b"]


def test_model_without_gap_state_generates_no_gaps(gapless_run):
    designs = gen.generate(gapless_run, 50, seed=0, elbo_samples=1)
    assert not (designs.codes == 20).any()
    accuracy = gen.reconstruction_accuracy(gapless_run)
    assert accuracy.gap_accuracy is None and not accuracy.gaps_counted
    record = json.loads(json.dumps(accuracy.to_dict(), allow_nan=False))
    assert record["gap_accuracy"] is None and record["gaps_counted"] is False
    assert [v is None for v in record["per_position"]] == np.isnan(accuracy.per_position).tolist()
    # gap columns of cluster 1 are excluded, not counted as errors
    stable, distance = rec.reconstruction_stability(gapless_run.model, gapless_run.training_data()[0])
    assert stable.dtype == bool and distance.max() <= LENGTH


def test_reconstruction_accuracy_matches_a_direct_count(family):
    run = family["run"]
    accuracy = gen.reconstruction_accuracy(run)
    codes = family["codes"]
    decoded = rec.redecode(run.model, codes)
    assert accuracy.per_position.shape == (LENGTH,)
    assert accuracy.overall == pytest.approx((decoded == codes).mean())
    assert np.allclose(accuracy.per_position, (decoded == codes).mean(axis=0))
    assert accuracy.gap_accuracy is not None
    assert accuracy.overall > 0.7  # two clusters: the consensus letters are recovered
    record = json.loads(json.dumps(accuracy.to_dict(), allow_nan=False))  # NaN is written as null
    assert record["overall"] == accuracy.overall and record["n_sequences"] == len(codes)
    np.testing.assert_allclose(record["per_position"], accuracy.per_position)


# -- statistics ---------------------------------------------------------------------------------
def test_nearest_sequences_match_brute_force():
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 5, size=(101, 15)).astype(np.uint8)
    query = np.concatenate([rng.integers(0, 5, size=(30, 15)), reference[[3, 3, 50, 99]]]).astype(np.uint8)
    reference[60] = reference[3]  # a tie: the lower index must win
    index, distance = cap.nearest_sequences(query, reference, 5, query_block=8, reference_block=16)
    brute = (query[:, None, :] != reference[None, :, :]).sum(axis=2)
    assert np.array_equal(distance, brute.min(axis=1))
    assert np.array_equal(index, brute.argmin(axis=1))
    assert distance[-4:-2].tolist() == [0, 0] and index[-4] == 3


def test_connected_correlations_match_a_dense_computation():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(50, 7)).astype(np.uint8)
    weights = rng.random(50)
    blocked = cap.connected_correlations(codes, 4, weights, include_gaps=True, position_block=3)
    w = weights / weights.sum()
    x = np.eye(4)[codes]  # [N, L, Q]
    f = np.einsum("n,nia->ia", w, x)
    fij = np.einsum("n,nia,njb->ijab", w, x, x)
    c = fij - f[:, None, :, None] * f[None, :, None, :]
    dense = np.concatenate([c[i, j].reshape(-1) for i in range(7) for j in range(i + 1, 7)])
    assert np.allclose(blocked, dense, atol=1e-6)
    without_gap = cap.connected_correlations(codes, 4, weights, include_gaps=False, position_block=2)
    assert without_gap.size == 21 * 9


def test_r20_identical_sets_and_column_shuffles(family):
    codes = family["codes"]
    rng = np.random.default_rng(0)
    shuffled = np.stack([rng.permutation(codes[:, i]) for i in range(LENGTH)], axis=1)
    same = se.evaluate_samples(codes, codes, n_codes=21, r20_sets=60)
    mixed = se.evaluate_samples(shuffled, codes, n_codes=21, r20_sets=60)
    assert same.summary["single_site_r"] == pytest.approx(1.0)
    assert same.summary["pairwise_r"] == pytest.approx(1.0)
    assert same.r20.mean() == pytest.approx(1.0)
    # shuffling each column keeps the single-site frequencies but breaks the pairs
    assert mixed.summary["single_site_r"] == pytest.approx(1.0)
    assert mixed.summary["pairwise_r"] < 0.5
    assert mixed.r20.mean() < same.r20.mean() - 0.2
    # seeded: the same seed gives the same r20
    again = cap.higher_order_r20(codes, shuffled, 21, n_sets=60, seed=0)
    assert np.allclose(again.r20, mixed.r20.r20, equal_nan=True)


def test_pattern_coverage_with_toy_patterns():
    rng = np.random.default_rng(3)
    patterns = rng.integers(0, 20, size=(3, 30)).astype(np.uint8)
    designs = np.repeat(patterns[:2], 10, axis=0)
    flip = rng.random(designs.shape) < 0.1
    designs[flip] = (designs[flip] + 1) % 20
    coverage = pr.pattern_coverage(designs, patterns, threshold=0.7)
    assert coverage.fraction == pytest.approx(2 / 3)
    assert coverage.missed.tolist() == [2]
    assert coverage.designs_per_pattern.tolist() == [10, 10, 0]
    one_hot = np.eye(21)[patterns]
    assert np.allclose(
        pr.pattern_coverage(designs, one_hot, threshold=0.7).best_overlap, coverage.best_overlap
    )

    def custom_overlap(block, pats):
        return -(block[:, None, :] != pats[None, :, :]).sum(axis=2)  # minus Hamming distance

    custom = pr.pattern_coverage(designs, patterns, overlap_fn=custom_overlap, threshold=-9)
    assert custom.reached.tolist() == [True, True, False]
    evaluation = se.evaluate_samples(
        designs,
        designs,
        n_codes=21,
        r20_sets=5,
        patterns=patterns,
        overlap_threshold=0.7,
        energy_fn=lambda c: (c == 0).sum(axis=1),
    )
    assert evaluation.summary["pattern_coverage"] == pytest.approx(2 / 3)
    assert evaluation.summary["energy"]["ks_statistic"] == pytest.approx(0.0)


def test_evaluate_samples_cli_writes_everything(family, tmp_path):
    run = family["run"]
    natural, _ = _two_cluster_codes(60, seed=11)
    reference = _write_fasta(tmp_path / "natural.fasta", natural, "n")
    designs = tmp_path / "designs.fasta"
    assert main(["generate", str(run.path), "-n", "80", "--out", str(designs), "--elbo-samples", "1"]) == 0
    out = tmp_path / "evaluation"
    code = main(
        [
            *("evaluate-samples", str(designs), "--reference", str(reference)),
            *("--run", str(run.path), "--out", str(out), "--r20-sets", "20"),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("single_site_r", "pairwise_r", "r20_mean", "design_reconstruction_stability"):
        assert summary[key] is not None
    assert summary["design_hamming_to_training_median"] is not None
    assert "reference weighted" in summary["weighting"]
    assert len(pd.read_csv(out / "per_design.csv")) == 80
    assert pd.read_csv(out / "r20.csv")["n"].tolist() == list(range(2, 11))
    assert (out / "statistics.png").stat().st_size > 0 and (out / "logos.png").stat().st_size > 0


# -- bad input ----------------------------------------------------------------------------------
def test_region_selection_matching_nothing_is_an_error(family, tmp_path):
    run = family["run"]
    with pytest.raises(InputError, match="matches no training sequence"):
        gen.region_from_sequences(run, ["no_such_id"])
    with pytest.raises(InputError, match="matches no training sequence"):
        gen.region_from_sequences(run, np.zeros(160, dtype=bool))
    with pytest.raises(InputError, match="at least two"):
        gen.region_from_sequences(run, ["seq0"])
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("nothing_here\nnor_here\n")
    out = tmp_path / "x.fasta"
    args = ["generate", str(run.path), "-n", "5", "--out", str(out)]
    assert main([*args, "--region-ids", str(ids_file)]) == 2
    assert main([*args, "--region-ids", "seq0,missing"]) == 2
    assert main([*args, "--region-ball", "missing", "--radius", "1"]) == 2
    assert main([*args, "--region-ball", "seq0"]) == 2  # no radius
    assert main([*args, "--region-coords", "0.1"]) == 2  # wrong dimension
    assert main(["generate", str(run.path), "--interpolate", "seq0", "nope", "--out", str(out)]) == 2
    assert not out.exists()


def test_bad_counts_and_options_exit_2(family, tmp_path):
    run = str(family["run"].path)
    out = tmp_path / "x.fasta"
    assert main(["generate", run, "-n", "0", "--out", str(out)]) == 2
    assert main(["generate", run, "-n", "-3", "--out", str(out)]) == 2
    assert main(["generate", run, "--out", str(out)]) == 2  # no -n
    assert main(["generate", run, "-n", "3", "--argmax", "--temperature", "0.5", "--out", str(out)]) == 2
    assert main(["generate", run, "-n", "3", "--temperature", "0", "--out", str(out)]) == 2
    assert main(["generate", run, "--interpolate", "seq0", "seq1", "--steps", "1", "--out", str(out)]) == 2
    assert not out.exists() and not out.with_suffix(".csv").exists()
    with pytest.raises(InputError):
        gen.generate(family["run"], 0)


def test_fasta_of_the_wrong_length_is_an_error(family, tmp_path):
    run = family["run"]
    codes, _ = _two_cluster_codes(10, seed=4)
    right = _write_fasta(tmp_path / "right.fasta", codes)
    wrong = _write_fasta(tmp_path / "wrong.fasta", np.concatenate([codes, codes[:, :3]], axis=1))
    out = tmp_path / "evaluation"
    assert (
        main(
            [
                "evaluate-samples",
                str(wrong),
                "--reference",
                str(right),
                "--run",
                str(run.path),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert main(["evaluate-samples", str(wrong), "--reference", str(right), "--out", str(out)]) == 2
    assert (
        main(
            [
                "evaluate-samples",
                str(right),
                "--reference",
                str(right),
                "--training",
                str(wrong),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert not out.exists()
    with pytest.raises(InputError, match="same columns"):
        se.evaluate_samples(codes, np.concatenate([codes, codes], axis=1), n_codes=21)
