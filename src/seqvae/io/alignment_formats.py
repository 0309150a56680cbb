"""Readers for aligned sequence files: FASTA, A2M, A3M and Stockholm, plain or gzip; a writer
of Stockholm.

Readers only split a file into records (id, header, aligned text, line number); turning the
text into codes, focus columns and filters is the job of :mod:`seqvae.data.alignment`.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from seqvae.errors import InputError

FORMATS = ("fasta", "a2m", "a3m", "stockholm")
_EXTENSIONS = {
    ".fasta": "fasta",
    ".fa": "fasta",
    ".faa": "fasta",
    ".fas": "fasta",
    ".afa": "fasta",
    ".aln": "fasta",
    ".a2m": "a2m",
    ".a3m": "a3m",
    ".sto": "stockholm",
    ".stk": "stockholm",
    ".stockholm": "stockholm",
}


@dataclass(frozen=True)
class SequenceRecord:
    """One aligned sequence as written in the file."""

    id: str
    header: str
    text: str
    line: int


@dataclass(frozen=True)
class RawAlignment:
    """The records of an alignment file, before any interpretation."""

    records: list[SequenceRecord]
    format: str
    source: str


def read_text(path: str | Path) -> str:
    """Read a text file, transparently un-gzipping it; errors name the file.

    A UTF-8 byte-order mark at the start is dropped; corrupt gzip data (a cut file or damaged
    deflate blocks) and bytes that are not UTF-8 are an :class:`InputError`.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("is a directory, expected a file", path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(f"corrupt gzip data ({err})", path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(f"not a text file (byte {err.start} is not UTF-8)", path, line) from None
    return text[1:] if text.startswith("\ufeff") else text


def detect_format(path: str | Path, text: str) -> str:
    """The format: a Stockholm header wins, else the extension (``.gz`` ignored), else the content."""
    head = text.lstrip()[:200]
    if head.startswith("# STOCKHOLM"):
        return "stockholm"
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    if head.startswith(">") or head.startswith("#A3M#"):
        return "fasta"
    raise InputError(
        "not an alignment: expected FASTA/A2M/A3M ('>' headers) or Stockholm ('# STOCKHOLM 1.0')", path
    )


def read_records(path: str | Path, format: str | None = None) -> RawAlignment:
    """Read an alignment file into records.

    Parameters
    ----------
    path
        FASTA, A2M, A3M or Stockholm file, optionally gzip-compressed.
    format
        One of ``fasta``, ``a2m``, ``a3m``, ``stockholm``; detected when ``None``.
    """
    text = read_text(path)
    if not text.strip():
        raise InputError("empty file: no sequences", path)
    fmt = format or detect_format(path, text)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", path)
    if fmt == "stockholm":
        records = _parse_stockholm(text, str(path))
    else:
        records = _parse_fasta(text, str(path))
    if not records:
        raise InputError("no sequences found", path)
    seen: dict[str, int] = {}
    for record in records:
        if record.id in seen:
            raise InputError(
                f"duplicate sequence id {record.id!r} (first seen on line {seen[record.id]})",
                path,
                record.line,
            )
        seen[record.id] = record.line
    return RawAlignment(records=records, format=fmt, source=str(path))


def _parse_fasta(text: str, source: str) -> list[SequenceRecord]:
    records: list[SequenceRecord] = []
    header: str | None = None
    header_line = 0
    chunks: list[str] = []

    def flush() -> None:
        if header is None:
            return
        sequence = "".join(chunks)
        if not sequence:
            raise InputError(f"sequence {header.split()[0]!r} is empty", source, header_line)
        records.append(
            SequenceRecord(_first_word(header, source, header_line), header, sequence, header_line)
        )

    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith(">"):
            flush()
            header = line[1:].strip()
            header_line = number
            chunks = []
        elif header is None:
            if line.startswith("#") or line.startswith(";"):
                continue
            raise InputError("not an alignment: text before the first '>' header", source, number)
        else:
            chunks.append("".join(line.split()))
    flush()
    return records


def _first_word(header: str, source: str, line: int) -> str:
    words = header.split()
    if not words:
        raise InputError("header without an id", source, line)
    return words[0]


def _parse_stockholm(text: str, source: str) -> list[SequenceRecord]:
    """Stockholm: ``<id> <aligned text>`` lines, possibly interleaved in blocks separated by
    blank lines; ``#`` lines are annotation; ``//`` ends the alignment."""
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip()), 0)
    if not lines[first].startswith("# STOCKHOLM"):
        raise InputError("not a Stockholm file: first line must be '# STOCKHOLM 1.0'", source, first + 1)
    chunks: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    in_block: dict[str, int] = {}  # ids seen in the current block, with their line
    terminated = False
    for number, raw_line in enumerate(lines[first + 1 :], start=first + 2):
        line = raw_line.strip()
        if not line:
            in_block = {}
            continue
        if line.startswith("#"):
            continue
        if line == "//":
            terminated = True
            break
        parts = line.split()
        if len(parts) != 2:
            raise InputError(f"expected '<id> <aligned sequence>', found {len(parts)} fields", source, number)
        name, piece = parts
        if name in in_block:
            raise InputError(
                f"duplicate sequence id {name!r} (also on line {in_block[name]} of the same block)",
                source,
                number,
            )
        in_block[name] = number
        chunks.setdefault(name, []).append(piece)
        first_line.setdefault(name, number)
    if not terminated:
        raise InputError(
            "Stockholm alignment has no '//' terminator: the file may be cut short", source, len(lines)
        )
    return [SequenceRecord(name, name, "".join(pieces), first_line[name]) for name, pieces in chunks.items()]


def stockholm_text(names: list[str], rows: list[str], width: int = 200) -> str:
    """Aligned rows as Stockholm 1.0 text, which :func:`read_records` reads back row for row.

    ``names`` are FASTA-style headers: the first word is the row's id, the rest its description
    (a ``#=GS <id> DE`` line). The rows are written as given (A2M's lower case and ``.`` for
    insert columns included, which the readers treat alike in both formats); a ``#=GC RF`` line
    marks the match (``x``) and insert (``.``) columns of the first row when it has inserts, as
    HMMER does. Rows longer than ``width`` are wrapped into interleaved blocks.

    Raises
    ------
    InputError
        Rows of different lengths, a missing or repeated id, or a row with white space.
    """
    if not rows or len(names) != len(rows):
        raise InputError(
            f"a Stockholm file needs one name per row (got {len(names)} names, {len(rows)} rows)"
        )
    ids = []
    for name, row in zip(names, rows):
        words = name.split()
        if not words:
            raise InputError("a row without an id cannot be written as Stockholm")
        if words[0] in ids:
            raise InputError(f"duplicate sequence id {words[0]!r}: Stockholm rows need distinct ids")
        if len(row) != len(rows[0]) or any(ch.isspace() for ch in row):
            raise InputError(
                f"row {words[0]!r} has {len(row)} columns, the first row {len(rows[0])}: "
                "Stockholm rows must line up (and hold no white space)"
            )
        ids.append(words[0])
    lines = ["# STOCKHOLM 1.0"]
    lines += [f"#=GS {i} DE {' '.join(n.split()[1:])}" for i, n in zip(ids, names) if len(n.split()) > 1]
    reference = rows[0]
    marks = "".join("." if (c.islower() or c == ".") else "x" for c in reference)
    pad = max(len(i) for i in ids + (["#=GC RF"] if "." in marks else []))
    for start in range(0, len(reference), width):
        lines.append("")
        lines += [f"{i:<{pad}} {row[start : start + width]}" for i, row in zip(ids, rows)]
        if "." in marks:
            lines.append(f"{'#=GC RF':<{pad}} {marks[start : start + width]}")
    lines.append("//")
    return "\n".join(lines) + "\n"
