"""Synthetic families whose patterns (attractors) or energy function are known: which patterns a
design set reaches (:func:`pattern_coverage`) and how its energies compare with true samples'
(:func:`energy_comparison`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqvae.analysis.capacity import check_codes
from seqvae.errors import InputError

OverlapFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
EnergyFn = Callable[[np.ndarray], np.ndarray]


def identity_overlap(codes: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Default overlap of designs with patterns, ``float64 [N, P]`` in [0, 1].

    ``patterns`` as codes ``[P, L]``: the fraction of identical positions. As a
    ``[P, L, Q]`` array (one-hot or any per-position letter scores ξ): the mean over positions
    of ξ[p, l, x_l], which is the identity fraction for one-hot patterns.
    """
    codes = np.asarray(codes)
    patterns = np.asarray(patterns)
    length = codes.shape[1]
    if patterns.ndim == 2:
        if patterns.shape[1] != length:
            raise InputError(f"patterns have {patterns.shape[1]} positions, sequences {length}")
        return (codes[:, None, :] == patterns[None, :, :]).mean(axis=2)
    if patterns.ndim == 3:
        if patterns.shape[1] != length:
            raise InputError(f"patterns have {patterns.shape[1]} positions, sequences {length}")
        n_codes = patterns.shape[2]
        if codes.max(initial=0) >= n_codes:
            raise InputError(f"sequence codes exceed the patterns' {n_codes} letter states")
        gathered = patterns[:, np.arange(length)[None, :], codes.astype(np.intp)]  # [P, N, L]
        return gathered.mean(axis=2).T.astype(np.float64)
    raise InputError(f"patterns must be codes [P, L] or letter scores [P, L, Q], got shape {patterns.shape}")


@dataclass
class PatternCoverage:
    """Which known patterns (attractors) a design set reaches.

    Attributes
    ----------
    threshold
        A pattern is reached when some design's overlap with it is ≥ threshold.
    best_overlap
        ``[P]`` the largest overlap any design has with each pattern.
    reached
        ``[P]`` boolean.
    designs_per_pattern
        ``[P]`` number of designs whose best pattern is p and whose overlap with it is ≥ threshold.
    design_best_pattern, design_best_overlap
        ``[N]`` each design's closest pattern and the overlap with it.
    """

    threshold: float
    best_overlap: np.ndarray
    reached: np.ndarray
    designs_per_pattern: np.ndarray
    design_best_pattern: np.ndarray
    design_best_overlap: np.ndarray

    @property
    def fraction(self) -> float:
        """Fraction of patterns reached (the coverage)."""
        return float(self.reached.mean()) if self.reached.size else float("nan")

    @property
    def missed(self) -> np.ndarray:
        """Indices of the patterns no design reaches."""
        return np.flatnonzero(~self.reached)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "coverage": self.fraction,
            "n_patterns": int(self.reached.size),
            "missed": [int(i) for i in self.missed],
            "best_overlap": [float(v) for v in self.best_overlap],
            "designs_per_pattern": [int(v) for v in self.designs_per_pattern],
        }


def pattern_coverage(
    codes: np.ndarray,
    patterns: np.ndarray,
    overlap_fn: OverlapFn | None = None,
    threshold: float = 0.8,
    block: int = 4096,
) -> PatternCoverage:
    """Coverage of known patterns by a set of designs.

    Parameters
    ----------
    codes
        ``uint8 [N, L]`` designs.
    patterns
        Anything ``overlap_fn`` understands; by default codes ``[P, L]`` or letter scores
        ``[P, L, Q]`` (see :func:`identity_overlap`).
    overlap_fn
        ``overlap_fn(codes_block, patterns) -> [b, P]`` overlaps (larger = closer); called on
        blocks of ``block`` designs. Default :func:`identity_overlap`.
    threshold
        Overlap at which a design counts as reaching a pattern.
    """
    codes = check_codes(codes, "designs")
    overlap_fn = overlap_fn or identity_overlap
    best_pattern = []
    best_value = []
    pattern_best: np.ndarray | None = None
    for start in range(0, codes.shape[0], block):
        overlaps = np.asarray(overlap_fn(codes[start : start + block], patterns), dtype=np.float64)
        if overlaps.ndim != 2 or overlaps.shape[0] != min(block, codes.shape[0] - start):
            raise InputError(f"overlap_fn must return [designs, patterns], got shape {overlaps.shape}")
        column_max = overlaps.max(axis=0)
        pattern_best = column_max if pattern_best is None else np.maximum(pattern_best, column_max)
        best_pattern.append(overlaps.argmax(axis=1))
        best_value.append(overlaps.max(axis=1))
    assert pattern_best is not None
    design_best_pattern = np.concatenate(best_pattern)
    design_best_overlap = np.concatenate(best_value)
    counted = design_best_overlap >= threshold
    per_pattern = np.bincount(design_best_pattern[counted], minlength=pattern_best.size)
    return PatternCoverage(
        threshold=float(threshold),
        best_overlap=pattern_best,
        reached=pattern_best >= threshold,
        designs_per_pattern=per_pattern,
        design_best_pattern=design_best_pattern,
        design_best_overlap=design_best_overlap,
    )


def energy_comparison(energy_fn: EnergyFn, designs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Energies of designs vs true samples of a family with a known energy function.

    Returns both energy vectors and a summary (mean, std, median per set; two-sample
    Kolmogorov–Smirnov statistic and p-value). The sign convention is the energy function's.
    """
    from scipy.stats import ks_2samp

    e_designs = np.asarray(energy_fn(check_codes(designs, "designs")), dtype=np.float64).reshape(-1)
    e_reference = np.asarray(energy_fn(check_codes(reference, "reference")), dtype=np.float64).reshape(-1)
    if e_designs.size != len(designs) or e_reference.size != len(reference):
        raise InputError("energy_fn must return one energy per sequence")
    ks = ks_2samp(e_designs, e_reference)

    def describe(values: np.ndarray) -> dict[str, float]:
        return {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "median": float(np.median(values)),
        }

    return {
        "designs": describe(e_designs),
        "reference": describe(e_reference),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "design_energies": e_designs,
        "reference_energies": e_reference,
    }
