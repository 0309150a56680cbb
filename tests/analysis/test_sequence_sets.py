"""SequenceSet, built without a model: its score under each name, its settings and its files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from seqvae.analysis.sequence_sets import SequenceSet, numbered_ids
from seqvae.data.alphabet import PROTEIN


def _samples() -> SequenceSet:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 20, (4, 7)).astype(np.uint8)
    return SequenceSet(
        ids=numbered_ids("sample", 4),
        codes=codes,
        score=np.array([-10.5, -9.25, -12.0, -8.75]),
        alphabet=PROTEIN,
        score_name="log_likelihood",
        metadata={"model": "site-independent", "seed": 3},
    )


def test_baseline_samples_carry_their_log_likelihood_and_settings():
    samples = _samples()
    assert not samples.is_design
    np.testing.assert_array_equal(samples.log_likelihood, [-10.5, -9.25, -12.0, -8.75])
    assert samples.to_dict() == {"model": "site-independent", "seed": 3}
    assert samples.to_dict() is not samples.metadata  # a copy: editing it leaves the set alone
    assert list(samples.to_frame().columns) == ["id", "sequence", "log_likelihood"]


def test_write_gives_the_three_files_save_writes(tmp_path):
    samples = _samples()
    fasta, table, settings = samples.write(tmp_path / "samples.fasta")
    assert (fasta, table, settings) == (
        tmp_path / "samples.fasta",
        tmp_path / "samples.csv",
        tmp_path / "samples.json",
    )
    assert fasta.read_text().splitlines()[:2] == [
        ">sample_00001 log_likelihood=-10.500",
        samples.sequences()[0],
    ]
    assert json.loads(settings.read_text()) == samples.to_dict()
    pd.testing.assert_frame_equal(pd.read_csv(table), samples.to_frame(), check_dtype=False)
