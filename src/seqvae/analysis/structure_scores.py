"""Structure-aware mutation scores: one rule for every model kind and every number of substitutions.

A position with burial ``b`` (:mod:`seqvae.analysis.burial`, 1 = buried) gets the factor
``floor + (1 - floor) * b ** power``; a variant's structure-aware score is its plain score times
the mean factor of its mutated positions that the structure covers. A variant none of whose
positions is covered keeps its plain score (factor 1) and is counted. The rule works on scores
alone, so the VAE, an ensemble, the Potts and site-independent models and the VAE + Potts mean
all go through the same two functions, :func:`structure_factors` and :func:`structure_aware`.

The defaults live in one constant, :data:`DEFAULT_STRUCTURE_RULE`, chosen on the DMS panel as a
whole (one rule for every protein, never per-protein settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from seqvae.analysis.burial import MEASURES, PositionBurial
from seqvae.errors import InputError
from seqvae.options import Interval, OneOf, Options, register


@register
@dataclass
class StructureRule(Options):
    """How burial turns a plain score into a structure-aware one.

    Attributes
    ----------
    measure
        The burial measure: ``rsa``, ``neighbours``, ``hse`` or ``contacts`` (a contact map
        gives ``contacts`` only, and then that is used whatever the rule says).
    power
        ``p`` in ``floor + (1 - floor) * b ** p`` (> 0).
    floor
        ``a``, the factor of a fully exposed position, in [0, 1] (1: structure ignored).

    The fields have no defaults of their own: :data:`DEFAULT_STRUCTURE_RULE` holds them, and
    :meth:`from_dict` fills a missing key from it.
    """

    measure: str
    power: float
    floor: float

    section: ClassVar[str] = "structure"
    constraints: ClassVar[dict] = {
        "measure": OneOf(MEASURES),
        "power": Interval(0, None, closed="neither"),
        "floor": Interval(0, 1),
    }

    @classmethod
    def example(cls) -> StructureRule:
        return DEFAULT_STRUCTURE_RULE

    @classmethod
    def from_dict(cls, values: Any, prefix: str | None = None) -> StructureRule:
        """A rule from a mapping; missing keys take :data:`DEFAULT_STRUCTURE_RULE`'s values."""
        if isinstance(values, dict):
            values = {**DEFAULT_STRUCTURE_RULE.to_dict(), **values}
        return super().from_dict(values, prefix)

    def measure_for(self, burial: PositionBurial) -> str:
        """The measure this rule uses on ``burial``: its own, or ``contacts`` from a contact map."""
        if self.measure in burial.values:
            return self.measure
        if burial.measures == ("contacts",):
            return "contacts"
        burial.burial(self.measure)  # raises, naming what is available
        raise AssertionError  # pragma: no cover

    def describe(self, measure: str | None = None) -> str:
        """The factor as a formula, of ``measure`` (default: the rule's own)."""
        burial = BURIAL_NAMES.get(measure or self.measure, measure or self.measure)
        return f"factor = {self.floor:g} + {1 - self.floor:g} * {burial}^{self.power:g}"


#: how a summary writes each measure's burial (``rsa`` is 1 - RSA: 1 = buried)
BURIAL_NAMES = {"rsa": "(1 - RSA)", "neighbours": "neighbours", "hse": "HSE", "contacts": "contacts"}

#: THE defaults of the structure-aware score, every surface reads them here. Chosen on the DMS
#: panel as a whole by ``benchmarks/structure_study.py`` (benchmarks/RESULTS.md): the largest
#: mean gain over every protein and model kind, ties within 0.002 to the larger floor.
DEFAULT_STRUCTURE_RULE = StructureRule(measure="rsa", power=3.0, floor=0.25)


def structure_factors(
    burial_per_focus_position: np.ndarray | PositionBurial, rule: StructureRule = DEFAULT_STRUCTURE_RULE
) -> np.ndarray:
    """``float [L]``: ``floor + (1 - floor) * b ** power`` per focus column, NaN where not covered.

    ``burial_per_focus_position`` is one measure's burial per focus column (NaN: not covered),
    or a :class:`PositionBurial`, of which the rule's measure is used (:meth:`StructureRule.measure_for`).
    """
    rule.check()
    if isinstance(burial_per_focus_position, PositionBurial):
        burial = burial_per_focus_position.burial(rule.measure_for(burial_per_focus_position))
    else:
        burial = np.asarray(burial_per_focus_position, dtype=np.float64)
    if burial.ndim != 1:
        raise InputError(f"burial must be one value per focus column, got shape {burial.shape}")
    clipped = np.clip(burial, 0.0, 1.0)
    return rule.floor + (1.0 - rule.floor) * clipped**rule.power


def _mutated_mask(positions_per_variant: np.ndarray | Sequence[Sequence[int]], length: int) -> np.ndarray:
    if isinstance(positions_per_variant, np.ndarray) and positions_per_variant.dtype == bool:
        if positions_per_variant.ndim != 2 or positions_per_variant.shape[1] != length:
            raise InputError(
                f"a mutated-position mask must have shape [variants, {length}], got {positions_per_variant.shape}"
            )
        return positions_per_variant
    mask = np.zeros((len(positions_per_variant), length), dtype=bool)
    for row, columns in enumerate(positions_per_variant):
        columns = np.asarray(columns, dtype=np.int64)
        if columns.size and (columns.min() < 0 or columns.max() >= length):
            raise InputError(f"variant {row}: focus column out of range 0..{length - 1}: {columns.tolist()}")
        mask[row, columns] = True
    return mask


def _covered_mean(
    positions_per_variant: np.ndarray | Sequence[Sequence[int]], values: np.ndarray, empty: float
) -> tuple[np.ndarray, np.ndarray]:
    """The mean of ``values`` over each variant's mutated positions that are not NaN (``empty``
    where none is) and how many those are, ``(float [B], int [B])``."""
    values = np.asarray(values, dtype=np.float64)
    mask = _mutated_mask(positions_per_variant, len(values))
    covered = mask & ~np.isnan(values)[None, :]
    n_covered = covered.sum(1)
    total = np.where(covered, np.nan_to_num(values)[None, :], 0.0).sum(1)
    return np.where(n_covered > 0, total / np.maximum(n_covered, 1), empty), n_covered


def variant_factors(
    positions_per_variant: np.ndarray | Sequence[Sequence[int]], factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each variant's factor (the mean over its covered mutated positions; 1 where none is
    covered) and how many of its mutated positions are covered, ``(float [B], int [B])``."""
    return _covered_mean(positions_per_variant, factors, 1.0)


def structure_aware(
    scores: np.ndarray, positions_per_variant: np.ndarray | Sequence[Sequence[int]], factors: np.ndarray
) -> np.ndarray:
    """``float [B]``: each plain score times the mean factor of its covered mutated positions.

    Parameters
    ----------
    scores
        Plain scores ``[B]`` (any model; NaN stays NaN).
    positions_per_variant
        The mutated focus columns of each variant: a list of 0-based column indices per
        variant, or a ``bool [B, L]`` mask (``codes != wild-type codes``).
    factors
        :func:`structure_factors` (``[L]``, NaN: not covered).

    A variant with no covered position keeps its plain score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    factor, _ = variant_factors(positions_per_variant, factors)
    if factor.shape != scores.shape:
        raise InputError(f"{len(scores)} scores for {len(factor)} variants")
    return scores * factor


def variant_burial(
    positions_per_variant: np.ndarray | Sequence[Sequence[int]], burial: np.ndarray
) -> np.ndarray:
    """``float [B]``: the mean burial of each variant's covered mutated positions (NaN: none covered)."""
    return _covered_mean(positions_per_variant, burial, np.nan)[0]
