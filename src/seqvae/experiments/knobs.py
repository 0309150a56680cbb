"""One declared config value of an experiment: default, kind, limits and its check.

A knob is the experiments' spelling of an option; :attr:`Knob.constraint` is the same rule as
a :mod:`seqvae.options` constraint, from which ``tests/test_options.py`` builds bad values.
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
        """The value (normalised: ints stay ints, lists become lists) or an InputError naming ``key``."""

        def fail(why: str) -> None:
            raise ConfigError(f"{key}: {why} (got {value!r})", field=key)

        def number(v: Any, integer: bool) -> Any:
            if isinstance(v, bool) or not isinstance(v, int | float):
                fail("must be an integer" if integer else "must be a number")
            if integer and not (isinstance(v, int) or float(v).is_integer()):
                fail("must be an integer")
            if not math.isfinite(float(v)):
                fail("must be finite")
            v = int(v) if integer else float(v)
            if self.minimum is not None and v < self.minimum:
                fail(f"must be >= {_plain(self.minimum)}")
            if self.maximum is not None and v > self.maximum:
                fail(f"must be <= {_plain(self.maximum)}")
            return v

        if self.kind == "int":
            return number(value, True)
        if self.kind == "float":
            return number(value, False)
        if self.kind == "bool":
            if not isinstance(value, bool):
                fail("must be true or false")
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                fail("must be a string")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                fail(f"must be one of {list(self.choices)}")
            return value
        if self.kind in ("floats", "ints", "floats_or_null"):
            if value is None and self.kind == "floats_or_null":
                return None
            if not isinstance(value, list | tuple) or not value:
                fail("must be a non-empty list")
            return [number(v, self.kind == "ints") for v in value]
        if self.kind == "strs":
            if not isinstance(value, list | tuple) or not value or any(not isinstance(v, str) for v in value):
                fail("must be a non-empty list of names")
            for v in value:
                if self.choices and v not in self.choices:
                    fail(f"unknown name {v!r}; choose from {list(self.choices)}")
            if len(set(value)) != len(value):
                fail("repeated name")
            return list(value)
        if self.kind == "motifs":
            if value is None:
                return []
            if not isinstance(value, list | tuple):
                fail("must be a list of [start, length] pairs (1-based start)")
            motifs = []
            for item in value:
                if (
                    not isinstance(item, list | tuple)
                    or len(item) != 2
                    or any(isinstance(v, bool) or not isinstance(v, int) for v in item)
                ):
                    fail("must be a list of [start, length] integer pairs (1-based start)")
                if item[0] < 1 or item[1] < 1:
                    fail("motif start (1-based) and length must be >= 1")
                motifs.append([int(item[0]), int(item[1])])
            return motifs
        raise AssertionError(f"unknown knob kind {self.kind}")  # pragma: no cover

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
            return ListOf(OneOf(tuple(self.choices)) if self.choices else Text(), min_length=1)
        if self.kind == "motifs":
            return Check(
                lambda v: _reason(self, v),
                "a list of [start, length] integer pairs (1-based start)",
                ("x", [[0, 4]], [[1]], [[1.5, 2]]),
            )
        raise AssertionError(f"unknown knob kind {self.kind}")  # pragma: no cover


def _reason(knob: Knob, value: Any) -> str | None:
    try:
        knob.check("value", value)
    except ConfigError as err:
        return err.message.removeprefix("value: ")
    return None


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
