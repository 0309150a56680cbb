"""What the multi-run workflows share: the scan schema, train-or-resume, a run's record, the table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builders import write_family
from seqvae.errors import InputError
from seqvae.training.config import preset_config
from seqvae.workflows.multirun import (
    RENAMED_FIELDS,
    markdown_table,
    read_scan_reading,
    run_record,
    train_or_resume,
)

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
