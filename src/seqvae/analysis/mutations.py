"""Mutations: parse ``A23V`` / ``A23V:G45D`` strings (or full mutated sequences) and map them onto
a run's focus columns.

Positions are in the reference's own numbering, taken from the saved registry: the reference
header ``NAME/start-end`` gives the number of its first residue, and every residue letter of
the raw reference row (upper *and* lower case) counts. ``M182T`` on ``BLAT_ECOLX/24-286`` is
therefore residue index ``182 - 24`` among the letters of the raw reference row. A mutation on
a lower-case (insert) column, or on a column removed by a gap filter, is not modelled: it gets
no score and a ``reason``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.data.alignment import AlignmentRegistry
from seqvae.errors import InputError
from seqvae.io.tables import read_table, read_table_chunks

_SUBSTITUTION = re.compile(r"^([A-Za-z])(-?\d+)([A-Za-z*])$")
IDENTITY_NAMES = ("", "wt", "_wt", "wildtype", "wild_type", "wild-type")
MAX_REPORTED = 5


@dataclass(frozen=True)
class Substitution:
    """One substitution: wild-type letter, residue number (reference numbering), new letter."""

    wild_type: str
    position: int
    mutant: str

    def __str__(self) -> str:
        return f"{self.wild_type}{self.position}{self.mutant}"


def parse_mutant(text: str, source: str | None = None, line: int | None = None) -> list[Substitution]:
    """Parse ``A23V`` or ``A23V:G45D`` (``WT`` or an empty string: no substitution).

    Raises
    ------
    InputError
        On anything else (the message quotes the offending text).
    """
    stripped = str(text).strip()
    if stripped.lower() in IDENTITY_NAMES:
        return []
    out = []
    for part in stripped.split(":"):
        match = _SUBSTITUTION.match(part.strip())
        if match is None:
            raise InputError(
                f"malformed mutant {stripped!r}: expected substitutions like A23V, joined by ':'",
                source,
                line,
            )
        out.append(Substitution(match.group(1).upper(), int(match.group(2)), match.group(3).upper()))
    positions = [s.position for s in out]
    if len(set(positions)) != len(positions):
        raise InputError(f"mutant {stripped!r} changes the same position twice", source, line)
    return out


class MutationMapper:
    """Maps substitutions onto a registry's focus columns and codes mutated sequences.

    Parameters
    ----------
    registry
        The run's :class:`~seqvae.data.alignment.AlignmentRegistry`.
    """

    def __init__(self, registry: AlignmentRegistry):
        self.registry = registry
        self.alphabet = registry.alphabet
        raw = registry.reference_raw
        # residue letters of the raw reference row, upper and lower case, in order
        self.reference_residues = "".join(c for c in raw if c.isalpha()).upper()
        self.start = int(registry.reference_start)
        self.end = self.start + len(self.reference_residues) - 1
        self.column_of_number = {
            int(number): column for column, number in enumerate(registry.numbering) if number >= 0
        }
        self.wild_type_codes = registry.reference_codes()

    @property
    def length(self) -> int:
        return self.registry.length

    def reference_letter(self, position: int) -> str:
        return self.reference_residues[position - self.start]

    def check_position(self, sub: Substitution, source: str | None = None, line: int | None = None) -> None:
        if not self.start <= sub.position <= self.end:
            raise InputError(
                f"mutant {sub}: position {sub.position} is outside the reference "
                f"{self.registry.reference_id} (residues {self.start}-{self.end})",
                source,
                line,
            )

    def wild_type_matches(self, sub: Substitution) -> bool:
        return self.reference_letter(sub.position) == sub.wild_type

    def unscorable_reason(self, subs: list[Substitution]) -> str:
        """Why a (position-checked, wild-type-checked) mutant cannot be scored; '' if it can."""
        for sub in subs:
            if sub.position not in self.column_of_number:
                return f"position {sub.position} is not a focus column of the alignment"
            if sub.mutant == "*":
                return f"{sub}: stop codon"
            if sub.mutant not in self.alphabet.residues:
                return f"{sub}: residue {sub.mutant!r} is not in the model's alphabet"
        return ""

    def apply(self, subs: list[Substitution]) -> np.ndarray:
        """The coded focus sequence of a scorable mutant, ``uint8 [L]``."""
        codes = self.wild_type_codes.copy()
        for sub in subs:
            codes[self.column_of_number[sub.position]] = self.alphabet.residues.index(sub.mutant)
        return codes

    def substitutions_from_sequence(
        self, sequence: str, source: str | None = None, line: int | None = None
    ) -> list[Substitution]:
        """Substitutions that turn the reference into ``sequence``.

        ``sequence`` is either the full reference span (residues ``start..end``, unaligned) or
        the focus columns only (length L, ``-`` allowed where the reference has a gap).
        """
        sequence = str(sequence).strip().upper()
        aligned = len(sequence) == self.length and len(sequence) != len(self.reference_residues)
        # residue letters (and '*' for a stop); a gap only in the aligned (focus-column) form
        bad = next(
            (k for k, c in enumerate(sequence) if not (c.isalpha() or c == "*" or (aligned and c in "-."))),
            None,
        )
        if bad is not None:
            what = "a gap" if sequence[bad] in "-." else "not a residue letter"
            raise InputError(
                f"mutated sequence has {sequence[bad]!r} at position {bad + 1} ({what}); expected "
                + ("residue letters or '-' on the focus columns" if aligned else "residue letters")
                + f" (the reference span has {len(self.reference_residues)} residues, the focus "
                f"columns {self.length})",
                source,
                line,
            )
        if len(sequence) == len(self.reference_residues):
            return [
                Substitution(wt, self.start + i, new)
                for i, (wt, new) in enumerate(zip(self.reference_residues, sequence))
                if wt != new
            ]
        if len(sequence) == self.length:
            subs = []
            ref = self.registry.reference_sequence
            for column, (wt, new) in enumerate(zip(ref, sequence)):
                if wt != new:
                    number = int(self.registry.numbering[column])
                    if number < 0:
                        raise InputError(
                            f"mutated sequence changes focus column {column + 1}, a gap in the reference",
                            source,
                            line,
                        )
                    subs.append(Substitution(wt, number, new))
            return subs
        raise InputError(
            f"mutated sequence has {len(sequence)} residues; expected the reference span "
            f"({len(self.reference_residues)} residues, {self.start}-{self.end}) or the "
            f"{self.length} focus columns",
            source,
            line,
        )


@dataclass
class MappedChunk:
    """A block of input rows after mapping.

    Attributes
    ----------
    table
        The input rows (all columns kept) plus ``mutant`` (normalised), ``n_mutations`` and
        ``reason`` ('' for scorable rows).
    codes
        ``uint8 [n_scorable, L]`` coded sequences of the scorable rows, in row order.
    scorable
        Boolean mask over ``table`` rows.
    """

    table: pd.DataFrame
    codes: np.ndarray
    scorable: np.ndarray


def _mismatch_error(offenders: list[tuple[int, str, str]], total: int, source: str | None) -> InputError:
    shown = ", ".join(f"{m} (line {line}: reference has {wt})" for line, m, wt in offenders[:MAX_REPORTED])
    more = f" and {total - MAX_REPORTED} more" if total > MAX_REPORTED else ""
    return InputError(
        f"{total} mutant(s) do not match the reference's wild-type residues: {shown}{more} "
        "(check the numbering, or pass --skip-mismatches to drop them)",
        source,
    )


def map_table(
    table: pd.DataFrame,
    mapper: MutationMapper,
    mutant_column: str | None = "mutant",
    sequence_column: str | None = None,
    skip_mismatches: bool = False,
    source: str | None = None,
    first_line: int = 2,
) -> tuple[MappedChunk, int]:
    """Map one block of a mutation table.

    Parameters
    ----------
    table
        Rows of the input (file line of row ``k`` is ``first_line + k``).
    mapper
        The :class:`MutationMapper` of the run.
    mutant_column, sequence_column
        Read ``A23V:G45D`` strings from ``mutant_column``, or full sequences from
        ``sequence_column`` (exactly one of them).
    skip_mismatches
        Drop rows whose wild-type letters do not match the reference instead of failing.

    Returns
    -------
    (MappedChunk, int)
        The mapped rows and how many rows were dropped as wild-type mismatches.
    """
    names: list[str] = []
    reasons: list[str] = []
    counts: list[int] = []
    keep = np.ones(len(table), dtype=bool)
    mismatches: list[tuple[int, str, str]] = []
    codes: list[np.ndarray] = []
    values = table[sequence_column if sequence_column else mutant_column].tolist()
    for k, value in enumerate(values):
        line = first_line + k
        if sequence_column:
            if not isinstance(value, str):
                raise InputError(f"column {sequence_column!r} is empty or not text", source, line)
            subs = mapper.substitutions_from_sequence(value, source, line)
        else:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                value = ""
            subs = parse_mutant(value, source, line)
        for sub in subs:
            mapper.check_position(sub, source, line)
        bad = [s for s in subs if not mapper.wild_type_matches(s)]
        name = ":".join(str(s) for s in subs)
        if bad:
            mismatches.append((line, str(bad[0]), mapper.reference_letter(bad[0].position)))
            keep[k] = False
        reason = mapper.unscorable_reason(subs) if not bad else "wild-type mismatch"
        if not reason and not bad:
            codes.append(mapper.apply(subs))
        names.append(name)
        reasons.append(reason)
        counts.append(len(subs))
    if mismatches and not skip_mismatches:
        raise _mismatch_error(mismatches, len(mismatches), source)
    out = table.copy()
    out["mutant"] = names
    out["n_mutations"] = counts
    out["reason"] = reasons
    out = out.loc[keep].reset_index(drop=True)
    scorable = (out["reason"] == "").to_numpy()
    array = np.stack(codes) if codes else np.zeros((0, mapper.length), dtype=np.uint8)
    return MappedChunk(out, array.astype(np.uint8), scorable), len(mismatches)


def read_mutation_table(
    path: str | Path,
    mapper: MutationMapper,
    mutant_column: str | None = None,
    sequence_column: str | None = None,
    required_columns: tuple[str, ...] = (),
    chunk_size: int = 50_000,
    skip_mismatches: bool = False,
) -> Iterator[tuple[MappedChunk, int]]:
    """Read and map a mutation CSV in chunks (constant memory for large tables).

    The column holding the variants is ``mutant_column`` when given, else ``mutant`` when
    present, else ``mutated_sequence``. All chunks are validated as they are read; a caller
    that must not write partial output validates first (see :func:`validate_mutation_table`).
    """
    path = Path(path)
    header = read_table(path, "cannot read CSV", nrows=0)
    columns = list(header.columns)
    if sequence_column is None and mutant_column is None:
        if "mutant" in columns:
            mutant_column = "mutant"
        elif "mutated_sequence" in columns:
            sequence_column = "mutated_sequence"
        else:
            raise InputError(
                f"no 'mutant' or 'mutated_sequence' column (columns: {', '.join(columns)}); "
                "name one with --mutant-col",
                path,
            )
    wanted = sequence_column or mutant_column
    for name in (wanted, *required_columns):
        if name not in columns:
            raise InputError(f"column {name!r} not found (columns: {', '.join(columns)})", path)
    first_line = 2
    for block in read_table_chunks(path, chunk_size, "cannot read CSV", dtype=str, keep_default_na=False):
        yield (
            map_table(
                block,
                mapper,
                None if sequence_column else mutant_column,
                sequence_column,
                skip_mismatches,
                str(path),
                first_line,
            )
        )
        first_line += len(block)


def all_single_mutants(registry: AlignmentRegistry) -> pd.DataFrame:
    """Every single substitution of the reference on the focus columns (L x 19 rows)."""
    residues = registry.alphabet.residues
    rows = []
    for column, number in enumerate(registry.numbering):
        if number < 0:
            continue
        wt = registry.reference_sequence[column]
        for letter in residues:
            if letter != wt:
                rows.append(
                    {
                        "mutant": f"{wt}{int(number)}{letter}",
                        "position": int(number),
                        "wild_type": wt,
                        "residue": letter,
                    }
                )
    return pd.DataFrame(rows)
