"""Small shared helpers."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import math
import random
import re
import types
import typing
from html import escape
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from seqvae.errors import ConfigError


def seed_everything(seed: int) -> None:
    """The one seed entry point: Python, NumPy's legacy global state and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - seeds legacy global users too
    torch.manual_seed(seed)


# more threads than any machine has cores overflows torch's thread count
MAX_THREADS = 4096


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run a block on ``threads`` CPU threads (``None``: leave torch's setting), then restore."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def single_threaded_blas():
    """Context manager limiting BLAS/LAPACK to one thread.

    Small eigen-decompositions and matrix products (L up to a few hundred) are fastest on one
    thread, and on a busy machine OpenBLAS's threads spin against each other: an eigh of a
    239 x 239 matrix took 3.7 s with two threads and 0.07 s with one (measured here).
    """
    return threadpool_limits(limits=1, user_api="blas")


def coerce_fields(instance: Any, section: str) -> None:
    """Check (and normalise in place) every field of a config dataclass against its type hint.

    Integers are accepted for floats, integral floats for integers, numeric strings for both
    (YAML reads ``1e-3`` as a string), and the string ``"null"`` for optional fields (TOML has
    no null). Anything else raises :class:`~seqvae.errors.ConfigError` naming ``section.field``
    (``field`` alone when ``section`` is empty: a config's top level).
    """
    hints = typing.get_type_hints(type(instance))
    for spec in dataclasses.fields(instance):
        if not spec.init:
            continue
        name = f"{section}.{spec.name}" if section else spec.name  # "": a top level
        value = getattr(instance, spec.name)
        object.__setattr__(instance, spec.name, _coerce(value, hints[spec.name], name))  # frozen ones too


def _coerce(value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if optional and (value is None or (isinstance(value, str) and value.lower() == "null")):
            return None
        if len(args) == 1:
            try:
                return _coerce(value, args[0], name)
            except ConfigError as err:
                raise ConfigError(err.message.replace(" (got", " or null (got", 1), field=name) from None
        return value
    if origin is list:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}: must be a list (got {value!r})", field=name)
        return [_coerce(v, inner, name) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: must be true or false (got {value!r})", field=name)
    if hint is int:
        number = _number(value)
        if number is None or not math.isfinite(number) or int(number) != number:
            raise ConfigError(f"{name}: must be an integer (got {value!r})", field=name)
        return int(number)
    if hint is float:
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise ConfigError(f"{name}: must be a finite number (got {value!r})", field=name)
        return float(number)
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: must be a string (got {value!r})", field=name)
    return value


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in ".en") else int(value)
        except ValueError:
            return None
    return None


def format_value(value: Any) -> str:
    """A grid value as it appears in run-directory names (lists joined with '-')."""
    if isinstance(value, list | tuple):
        return "-".join(format_value(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value) if abs(value) < 1e15 else value
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", str(value))


def release_free_memory() -> None:
    """Return freed heap memory to the system between the chunks of a long streaming job.

    A garbage collection, then glibc's ``malloc_trim(0)`` where it exists (a no-op elsewhere).
    Without it the C heap's high-water mark creeps up over many chunks through fragmentation
    (measured: 1.8 GB after 200,000 scored rows, 0.69 GB with it; benchmarks/RESULTS.md).
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def html_table(title: str, rows: dict[str, str]) -> str:
    """A small two-column HTML table (the notebooks' view of an object); empty values left out."""
    body = "".join(
        f"<tr><th style='text-align:left'>{escape(key)}</th><td style='text-align:left'>{escape(str(value))}</td></tr>"
        for key, value in rows.items()
        if value not in ("", None)
    )
    return f"<table><caption style='text-align:left'><b>{escape(title)}</b></caption>{body}</table>"
