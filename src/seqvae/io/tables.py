"""Reading delimited tables (CSV/TSV, plain or gzip) with one-line errors.

Every reader of a user's table goes through :func:`read_table` (whole table) or
:func:`read_table_chunks` (constant memory). A malformed row, a byte that is not UTF-8 in any
row (not only the header), corrupt gzip data or an empty file is an
:class:`~seqvae.errors.InputError` naming the file and, where it can be found, the line.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from seqvae.errors import InputError

_READ_ERRORS = (
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    UnicodeDecodeError,
    zlib.error,
    EOFError,
    gzip.BadGzipFile,
)


def _first_bad_byte(path: Path) -> tuple[int, int] | None:
    """``(line, column)`` (1-based) of the first byte that is not UTF-8, or ``None``."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    return number, err.start + 1
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _input_error(err: BaseException, path: Path, what: str) -> InputError:
    if isinstance(err, UnicodeDecodeError):
        where = _first_bad_byte(path)
        if where is not None:
            return InputError(f"{what}: byte {where[1]} of the line is not UTF-8", path, where[0])
        return InputError(f"{what}: not UTF-8 text", path)
    if isinstance(err, pd.errors.EmptyDataError):
        return InputError(f"{what}: empty file", path)
    if isinstance(err, zlib.error | EOFError | gzip.BadGzipFile):
        return InputError(f"{what}: corrupt gzip data ({err})", path)
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    return InputError(f"{what} ({message})", path)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("is a folder, expected a table file", path)


def read_table(path: str | Path, what: str = "cannot read the table", **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **kwargs)``; any read failure is one :class:`InputError`.

    Parameters
    ----------
    path
        The table (``.gz`` is decompressed).
    what
        The start of the error message (``"cannot read the phenotype table"``).
    **kwargs
        Passed to :func:`pandas.read_csv`.
    """
    path = Path(path)
    _check_file(path)
    try:
        return pd.read_csv(path, **kwargs)
    except _READ_ERRORS as err:
        raise _input_error(err, path, what) from None
    except OSError as err:
        raise InputError(f"{what} ({err.strerror or err})", path) from None


def read_table_chunks(
    path: str | Path, chunk_size: int, what: str = "cannot read the table", **kwargs: Any
) -> Iterator[pd.DataFrame]:
    """Yield the table in blocks of ``chunk_size`` rows; errors in any block are InputErrors.

    Parameters
    ----------
    path
        The table (``.gz`` is decompressed).
    chunk_size
        Rows per block.
    what
        The start of the error message.
    **kwargs
        Passed to :func:`pandas.read_csv`.
    """
    path = Path(path)
    _check_file(path)
    try:
        with pd.read_csv(path, chunksize=chunk_size, **kwargs) as reader:
            yield from reader
    except _READ_ERRORS as err:
        raise _input_error(err, path, what) from None
    except OSError as err:
        raise InputError(f"{what} ({err.strerror or err})", path) from None
