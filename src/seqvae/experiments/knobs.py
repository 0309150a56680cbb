"""One declared config value of an experiment: default, kind, limits and its check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from seqvae.errors import ConfigError


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
            raise ConfigError(f"{key}: {why} (got {value!r})")

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


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
