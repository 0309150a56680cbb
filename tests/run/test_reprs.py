"""Short reprs for notebooks (issue 32, item 1): one line of a few facts, never the arrays, also
for BLAT-sized data (a dataclass repr of the codes printed 1.87 MB); small HTML tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import seqvae
from builders import write_family
from seqvae.analysis.evaluation import Evaluation
from seqvae.analysis.scoring import ScoringReport

N, L = 5000, 253  # BLAT-sized


@pytest.fixture(scope="module")
def blat_sized(tmp_path_factory):
    """A synthetic alignment of BLAT's size: a family of length L read from a file, its codes
    replaced by N random rows, weighted."""
    small = seqvae.read_alignment(write_family(tmp_path_factory.mktemp("big") / "f.fasta", n=20, length=L))
    rng = np.random.default_rng(0)
    return dataclasses.replace(
        small,
        ids=[f"s{i}" for i in range(N)],
        headers=[f"s{i} a synthetic sequence" for i in range(N)],
        codes=rng.integers(0, 20, (N, L)).astype(np.uint8),
        sequence_weights=rng.random(N),
        theta=0.2,
    )


def test_alignment_and_registry_reprs_are_one_short_line(blat_sized):
    text = repr(blat_sized)
    assert len(text) < 300 and "\n" not in text, text
    assert text.startswith("Alignment('s0'") and f"{N} x {L}" in text
    assert f"N_eff = {blat_sized.n_eff:.1f}" in text and "theta = 0.2" in text
    registry = repr(blat_sized.registry)
    assert len(registry) < 300 and registry.startswith("AlignmentRegistry('s0'") and f"L={L}" in registry
    html = blat_sized._repr_html_()
    assert len(html) < 1000 and html.startswith("<table>") and f"{N} x {L}" in html


def test_run_repr_and_html(tiny_run):
    run = seqvae.load(tiny_run.run)
    text = repr(run)
    assert len(text) < 300 + len(str(tiny_run.run)) and "\n" not in text, text
    assert "s0" in text and "60 x 12" in text and "latent_dim = " in text and "finished" in text
    html = run._repr_html_()
    assert html.startswith("<table>") and "best validation ELBO" in html and "60 x 12" in html


def test_scoring_report_repr_is_short():
    rng = np.random.default_rng(0)
    report = ScoringReport(
        n_rows=N,
        n_scored=N - 10,
        n_mismatches_skipped=10,
        measured=rng.random(N),
        predicted=rng.random(N),
        labels=rng.random(N),
        evaluation=Evaluation(0.71, 0.68, 0.74, N - 10, 10),
        model="blat",
    )
    text = repr(report)
    assert len(text) < 300 and "\n" not in text, text
    assert text == "ScoringReport('blat', 4990 of 5000 rows scored, 10 mismatches dropped, rho = 0.7100)"


def test_position_burial_repr_is_short():
    from seqvae.analysis.burial import PositionBurial

    rng = np.random.default_rng(0)
    burial = PositionBurial(
        values={"rsa": rng.random(L), "neighbours": rng.random(L)},
        numbering=np.arange(24, 24 + L),
        wild_type="A" * L,
        labels=[str(i) for i in range(L)],
        confidence=None,
        n_focus=L,
        n_covered=L - 3,
        identity=0.996,
        source="structures/1FQG.pdb",
        chain="A",
    )
    text = repr(burial)
    assert len(text) < 300 and "\n" not in text, text
    assert text.startswith("PositionBurial(1FQG.pdb chain A covers 250 of 253") and "rsa, neighbours" in text
