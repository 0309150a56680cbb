"""One declared config value of an experiment: default, kind, limits and its check.

A knob is the experiments' spelling of an option; :attr:`Knob.constraint` is the same rule as
a :mod:`seqvae.options` constraint, from which ``tests/test_options.py`` builds bad values, and
:meth:`Knob.check` checks a value with that constraint (no checking code of its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from seqvae.errors import ConfigError
from seqvae.options import Boolean, Check, Constraint, Integer, Interval, ListOf, OneOf, Optional, Text


@dataclass(frozen=True)
class Knob:
    """One config value: its default, kind and limits.

    ``kind``: ``int``, ``float``, ``bool``, ``str``, ``choice`` (one of ``choices``), ``motifs``
    (a list of ``[start, length]`` pairs, 1-based start), ``floats`` (a non-empty list of
    numbers), ``floats_or_null``, ``ints`` (a non-empty list of integers) or ``strs`` (a
    non-empty list of distinct names, each one of ``choices`` when given).
    """

    default: Any
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    help: str = ""

    def check(self, key: str, value: Any) -> Any:
        """The value, normalised, once :attr:`constraint` accepts it; else a ConfigError naming ``key``.

        Normalised: an integral float is an integer for ``int``/``ints``, an integer a float for
        ``float``/``floats``, lists are new lists, ``motifs`` null is ``[]``.
        """
        candidate = self._numbers(value)
        why = self.constraint.reason(candidate)
        if why is not None:
            raise ConfigError(f"{key}: {why}", field=key)
        if self.kind == "motifs":
            return [] if candidate is None else [[int(start), int(length)] for start, length in candidate]
        return list(candidate) if isinstance(candidate, list | tuple) else candidate

    def _numbers(self, value: Any) -> Any:
        """``value`` with its numbers as the knob reads them (anything else unchanged, for the check)."""
        if self.kind in ("int", "float"):
            return _number(value, self.kind == "int")
        if self.kind in ("ints", "floats", "floats_or_null") and isinstance(value, list | tuple):
            return [_number(v, self.kind == "ints") for v in value]
        return value

    @property
    def constraint(self) -> Constraint:
        """The knob's rule as a :mod:`seqvae.options` constraint (its bad values, its description)."""

        def number(integer: bool) -> Constraint:
            if integer:
                low = None if self.minimum is None else math.ceil(self.minimum)
                high = None if self.maximum is None else math.floor(self.maximum)
                return Integer(low, high)
            return Interval(self.minimum, self.maximum)

        if self.kind in ("int", "float"):
            return number(self.kind == "int")
        if self.kind == "bool":
            return Boolean()
        if self.kind == "str":
            return Text()
        if self.kind == "choice":
            return OneOf(tuple(self.choices))
        if self.kind in ("floats", "ints"):
            return ListOf(number(self.kind == "ints"), min_length=1)
        if self.kind == "floats_or_null":
            return Optional(ListOf(number(False), min_length=1))
        if self.kind == "strs":
            return ListOf(OneOf(tuple(self.choices)) if self.choices else Text(), min_length=1, distinct=True)
        if self.kind == "motifs":
            return Check(
                _motifs_problem,
                "must be null or a list of [start, length] integer pairs (1-based start)",
                ("x", [[0, 4]], [[1]], [[1.5, 2]]),
            )
        raise AssertionError(f"unknown knob kind {self.kind}")  # pragma: no cover


def _number(value: Any, integer: bool) -> Any:
    """An integral float as an integer (``integer``) or an integer as a float; else ``value``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if integer and isinstance(value, float) and value.is_integer():
        return int(value)
    if not integer and isinstance(value, int):
        return float(value)
    return value


def _motifs_problem(value: Any) -> str | None:
    """Why ``value`` is not null or a list of ``[start, length]`` integer pairs, both >= 1."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        return f"must be a list of [start, length] pairs (1-based start) (got {value!r})"
    for item in value:
        if (
            not isinstance(item, list | tuple)
            or len(item) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) for v in item)
        ):
            return f"must be a list of [start, length] integer pairs (1-based start) (got {value!r})"
        if item[0] < 1 or item[1] < 1:
            return f"motif start (1-based) and length must be >= 1 (got {value!r})"
    return None
