"""What the multi-run workflows share: the scan schema, train-or-resume, a run's record, the table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builders import write_family
from seqvae.errors import InputError
from seqvae.training.config import preset_config
from seqvae.workflows.manifest import RENAMED_FIELDS, read_scan_reading
from seqvae.workflows.multirun import markdown_table, run_record, train_or_resume

TINY = {
    "training.max_steps": 4,
    "training.batch_size": 16,
    "model.encoder_hidden": [8],
    "model.decoder_hidden": [8],
    "model.latent_dim": 2,
}


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_FIELDS.items()))
def test_an_old_field_name_is_one_line_naming_the_new_one(old, new):
    with pytest.raises(InputError, match=f"'{old}' is now '{new}'") as err:
        read_scan_reading({old: "x"}, "panel.yaml", "protein 'BLAT'")
    assert "\n" not in str(err.value) and "panel.yaml" in str(err.value)


def test_scan_reading_normalises_and_checks_by_field():
    reading = read_scan_reading(
        {"score_column": 2500, "sep": "auto", "mutation_separator": "/"}, "m.yaml", "scan"
    )
    assert reading == {"score_column": "2500", "mutation_separator": "/"}
    with pytest.raises(InputError, match=r"scan\.sep: must be one of"):
        read_scan_reading({"sep": "|"}, "m.yaml", "scan")
    with pytest.raises(InputError, match=r"scan\.evaluate: must be true or false"):
        read_scan_reading({"evaluate": "true"}, "m.yaml", "scan")  # YAML has booleans: a string is none


def test_markdown_table_writes_floats_short_and_missing_values_empty():
    frame = pd.DataFrame({"family": ["a|b", "c"], "rho": [0.123456, np.nan], "n": [3, None]})
    assert markdown_table(frame).splitlines() == [
        "| family | rho | n |",
        "|---|---|---|",
        "| a\\|b | 0.1235 | 3 |",
        "| c |  |  |",
    ]


def test_train_or_resume_reads_back_the_same_config_and_retrains_another(tmp_path):
    aln = write_family(tmp_path / "family.fasta")
    config = preset_config("explore").updated(TINY)
    run_dir = tmp_path / "run"
    train_or_resume(str(aln), config, run_dir)
    stamp = (run_dir / "model.safetensors").stat().st_mtime_ns
    again = train_or_resume(None, config, run_dir, read=lambda: pytest.fail("the finished run was retrained"))
    assert (run_dir / "model.safetensors").stat().st_mtime_ns == stamp and again.summary[
        "status"
    ] == "finished"
    other = config.updated({"seed": 1})
    train_or_resume(str(aln), other, run_dir)
    assert json.loads((run_dir / "config.json").read_text())["seed"] == 1
    record = run_record(run_dir)
    latent = json.loads((run_dir / "summary.json").read_text())["latent"]
    assert record["active_dims"] == latent["n_active"] and record["kl"] == latent["total_kl"]
    assert record["trace_cov"] == latent["trace_cov_z_mean"] is not None
    assert record["participation_ratio"] == latent["participation_ratio_active_correlation"] is not None
    assert record["variances"] == [row["variance"] for row in latent["per_dimension"]]
    assert len(record["variances"]) == 2
    assert record["steps"] == 4 and record["status"] == "finished"


def test_run_record_of_a_summary_without_the_latent_fields_leaves_them_none(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"status": "finished", "steps": 7}))
    record = run_record(tmp_path)
    assert record["steps"] == 7 and record["variances"] == []
    assert record["active_dims"] is record["trace_cov"] is record["participation_ratio"] is None


def test_evaluate_scan_gives_the_evaluation_score_file_makes_or_the_counts_without_a_measured_column(
    tmp_path,
):
    from seqvae.analysis.evaluation import evaluate_scores
    from seqvae.analysis.scoring import load_scorer, score_file
    from seqvae.data.alignment import read_alignment
    from seqvae.workflows.multirun import evaluate_scan, fit_model

    family = write_family(tmp_path / "family.fasta")
    config = preset_config("explore")
    fit_model("site-independent", read_alignment(family), config, tmp_path / "si")
    scorer = load_scorer(tmp_path / "si")
    wild_type = family.read_text().split("\n")[1]
    rng = np.random.default_rng(1)
    mutants = [f"{w}{i + 1}{'C' if w != 'C' else 'D'}" for i, w in enumerate(wild_type)]
    scan = tmp_path / "scan.csv"
    pd.DataFrame({"mutant": mutants, "fitness": rng.normal(size=len(mutants))}).to_csv(scan, index=False)
    result = evaluate_scan(scorer, scan, tmp_path / "scores.csv", {"score_column": "fitness"})
    report = score_file(scorer, scan, tmp_path / "again.csv", score_column="fitness")
    by_hand = evaluate_scores(report.predicted, report.measured, n_unscored=report.n_unscored)
    assert {k: result[k] for k in by_hand.to_dict()} == by_hand.to_dict()
    assert result["n_scored"] == len(mutants) and np.isfinite(result["spearman"])
    unmeasured = evaluate_scan(scorer, scan, tmp_path / "unmeasured.csv", {})
    assert (unmeasured["n_scored"], unmeasured["n_skipped"]) == (report.n_scored, 0)
    assert "spearman" not in unmeasured and unmeasured["score_s"] >= 0


def test_score_rows_reuses_a_kept_evaluation_only_for_the_same_models_and_averages_other_rows(tmp_path):
    from seqvae.data.alignment import read_alignment
    from seqvae.workflows.manifest import Scan
    from seqvae.workflows.multirun import fit_model, score_rows

    family = write_family(tmp_path / "family.fasta")
    config = preset_config("explore")
    for kind in ("site-independent", "potts"):
        fit_model(kind, read_alignment(family), config, tmp_path / kind, potts_iterations=3)
    wild_type = family.read_text().split("\n")[1]
    rng = np.random.default_rng(2)
    mutants = [f"{w}{i + 1}{'C' if w != 'C' else 'D'}" for i, w in enumerate(wild_type)]
    file = tmp_path / "scan.csv"
    pd.DataFrame({"mutant": mutants, "fitness": rng.normal(size=len(mutants))}).to_csv(file, index=False)
    scan = Scan("scan", file, {"score_column": "fitness"})
    models = {kind: tmp_path / kind for kind in ("site-independent", "potts")}
    rows = [(kind, [kind]) for kind in models] + [("mean", list(models))]

    def score(fingerprints):
        files = lambda key, scan: (tmp_path / f"{key}.csv", tmp_path / f"{key}.json")  # noqa: E731
        found = score_rows(models, rows, [scan], files, {"samples": 4, "fast": False}, fingerprints)
        return {result["key"]: result["evaluation"]["spearman"] for result in found}

    first = score({"site-independent": "a", "potts": "b"})
    single, potts, mean = (pd.read_csv(tmp_path / f"{key}.csv")["score"] for key in (*models, "mean"))
    assert np.allclose(mean, (single + potts) / 2) and not np.allclose(single, potts)
    kept = json.loads((tmp_path / "mean.json").read_text())
    (tmp_path / "mean.json").write_text(json.dumps({**kept, "spearman": 2.0}))
    assert score({"site-independent": "a", "potts": "b"}) == {**first, "mean": 2.0}  # reused
    assert score({"site-independent": "a", "potts": "other"}) == first  # scored again
