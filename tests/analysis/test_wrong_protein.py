"""A scan of another protein (or another numbering) is refused, even with --skip-mismatches, naming
the run's reference; a constant numbering offset is named; many dropped rows are a warning
recorded in the summary (issue 32, item 3). Two tiny unrelated families."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import seqvae
from builders import fails_cleanly, write_family
from seqvae.analysis.mutations import (
    WARN_MISMATCH_FRACTION,
    MismatchTally,
    MutationMapper,
    map_table,
)
from seqvae.analysis.scoring import load_scorer, score_file
from seqvae.cli.main import main
from seqvae.errors import InputError

LETTERS = "ACDEFGHIKLMNPQRSTVWY"


def _reference(alignment) -> tuple[str, int]:
    registry = seqvae.read_alignment(alignment).registry
    return registry.reference_sequence, int(registry.reference_start)


def _singles(reference: str, start: int, shift: int = 0) -> list[str]:
    """Every single substitution of ``reference``, numbered from ``start + shift``."""
    return [f"{wt}{start + i + shift}{new}" for i, wt in enumerate(reference) for new in LETTERS if new != wt]


def _write_scan(path, mutants: list[str], seed: int = 0):
    rng = np.random.default_rng(seed)
    path.write_text("mutant,fitness\n" + "".join(f"{m},{rng.normal():.4f}\n" for m in mutants))
    return path


@pytest.fixture(scope="module")
def other_family(tmp_path_factory):
    """A second family, unrelated to the tiny run's (another seed), of the same length."""
    return write_family(tmp_path_factory.mktemp("other") / "other.fasta", seed=1)


def test_scan_of_another_protein_is_refused_with_and_without_skip(tiny_run, other_family, tmp_path, capsys):
    reference, start = _reference(tiny_run.alignment)
    other, _ = _reference(other_family)
    assert sum(a == b for a, b in zip(reference, other)) <= len(reference) // 4  # unrelated
    # the run's own scan is scored (the rule does not refuse a right scan)
    own = _write_scan(tmp_path / "own.csv", _singles(reference, start))
    assert (
        main(
            [
                str(a)
                for a in ["score", tiny_run.run, own, "--out", tmp_path / "own.out.csv", "--samples", "2"]
            ]
        )
        == 0
    )
    capsys.readouterr()
    scan = _write_scan(tmp_path / "scan.csv", _singles(other, start))
    for extra in ([], ["--skip-mismatches"]):
        out = tmp_path / "out" / "scores.csv"
        out.parent.mkdir(exist_ok=True)
        fails_cleanly(
            capsys,
            ["score", tiny_run.run, scan, "--out", out, "--samples", "2", "--score-col", "fitness", *extra],
            "scan.csv",
            f"the run's reference s0 (residues {start}-{start + len(reference) - 1})",
            "another protein",
            "not scored, even with --skip-mismatches",  # the library names skip_mismatches
            folder=out.parent,
        )
    # the API follows the same rule
    scorer = load_scorer(tiny_run.run, samples=2)
    with pytest.raises(InputError, match="even with skip_mismatches"):
        score_file(scorer, scan, tmp_path / "api.csv", skip_mismatches=True)
    assert not (tmp_path / "api.csv").exists()


def test_benchmark_dms_refuses_another_protein(tiny_run, other_family, tmp_path, capsys):
    _, start = _reference(tiny_run.alignment)
    other, _ = _reference(other_family)
    scan = _write_scan(tmp_path / "scan.csv", _singles(other, start))
    args = ["benchmark-dms", tiny_run.alignment, scan, "--score-col", "fitness", "--out", tmp_path / "bench"]
    code = main([str(a) for a in [*args, "--models", "site-independent"]])
    err = capsys.readouterr().err
    assert code == 2
    assert "the run's reference s0" in err and "even with skip_mismatches" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("shift", [3, -2])
def test_numbering_offset_is_named(tiny_run, tmp_path, capsys, shift):
    reference, start = _reference(tiny_run.alignment)
    scan = _write_scan(tmp_path / "shifted.csv", _singles(reference, start, shift))
    way = "higher" if shift > 0 else "lower"
    fails_cleanly(
        capsys,
        ["score", tiny_run.run, scan, "--out", tmp_path / "out.csv", "--samples", "2", "--skip-mismatches"],
        f"the scan looks numbered {abs(shift)} {way} than the run",
        "100% of its substitutions match",
    )


def test_offset_needs_most_substitutions_to_match(tiny_run, other_family):
    """An unrelated scan names no offset (no shift explains its letters)."""
    registry = seqvae.read_alignment(tiny_run.alignment).registry
    mapper = MutationMapper(registry)
    other, start = _reference(other_family)
    tally = MismatchTally()
    map_table(pd.DataFrame({"mutant": _singles(other, start)}), mapper, skip_mismatches=True, tally=tally)
    assert tally.wrong_protein and tally.offset(mapper) is None
    shifted = MismatchTally()
    map_table(
        pd.DataFrame({"mutant": _singles(registry.reference_sequence, start, 4)}),
        mapper,
        skip_mismatches=True,
        tally=shifted,
    )
    assert shifted.offset(mapper) == (4, 1.0)


@pytest.mark.parametrize("n_bad", [10, 40])
def test_dropped_fraction_warns_and_is_in_the_summary(tiny_run, tmp_path, capsys, n_bad):
    reference, start = _reference(tiny_run.alignment)
    good = _singles(reference, start)
    # wrong wild-type letters at real positions
    rng = np.random.default_rng(n_bad)
    bad = []
    for _ in range(n_bad):
        i = int(rng.integers(len(reference)))
        wrong = next(c for c in LETTERS if c != reference[i])
        bad.append(f"{wrong}{start + i}{'A' if wrong != 'A' else 'C'}")
    scan = _write_scan(tmp_path / "scan.csv", good + bad)
    out = tmp_path / "scores.csv"
    args = ["score", tiny_run.run, scan, "--out", out, "--samples", "2", "--score-col", "fitness"]
    code = main([*map(str, args), "--skip-mismatches"])
    err = capsys.readouterr().err
    assert code == 0, err
    fraction = n_bad / (len(good) + n_bad)
    summary = json.loads((tmp_path / "scores_summary.json").read_text())
    assert summary["n_mismatches_skipped"] == n_bad
    assert summary["n_rows"] == len(good) + n_bad
    assert summary["mismatch_fraction"] == pytest.approx(fraction)
    warned = [w for w in summary["warnings"] if "dropped as wild-type mismatches" in w]
    if fraction > WARN_MISMATCH_FRACTION:
        assert len(warned) == 1 and f"{n_bad} of {len(good) + n_bad} rows" in warned[0]
        assert "warning:" in err and "more than 10%" in err and "s0 (residues" in err
    else:
        assert not warned and "more than 10%" not in err
