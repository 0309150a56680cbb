"""Mutations: parse ``A23V`` / ``A23V:G45D`` strings (or full mutated sequences) and map them onto
a run's focus columns.

Positions are in the reference's own numbering, taken from the saved registry: the reference
header ``NAME/start-end`` gives the number of its first residue, and every residue letter of
the raw reference row (upper *and* lower case) counts. ``M182T`` on ``BLAT_ECOLX/24-286`` is
therefore residue index ``182 - 24`` among the letters of the raw reference row. A mutation on
a lower-case (insert) column, or on a column removed by a gap filter, is not modelled: it gets
no score and a ``reason``; so does one outside the reference's residues.

Trimmed reference rows (Pfam drops residues inside the domain, so counting from ``start`` goes
wrong after a cut): give the full wild type (:class:`WildType`, e.g. from a FASTA with
:func:`read_wild_type`). It is aligned to the reference row's residues (Biopython's
``PairwiseAligner``) and positions are then the wild type's own numbers: a substitution at a
wild-type residue the row does not hold gets a ``reason``.

Real scans come as they come: ``,``, ``;`` or tab between fields (detected from the header
line), ``:`` or ``/`` between the substitutions of one variant (either is accepted unless one is
named).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.data.alignment import RANGE_HEADER, AlignmentRegistry
from seqvae.errors import InputError
from seqvae.io.alignment_formats import read_records
from seqvae.io.tables import read_table, read_table_chunks

_SUBSTITUTION = re.compile(r"^([A-Za-z])(-?\d+)([A-Za-z*])$")
IDENTITY_NAMES = ("", "wt", "_wt", "wildtype", "wild_type", "wild-type")
MAX_REPORTED = 5
MUTATION_SEPARATORS = (":", "/")
FIELD_SEPARATORS = (",", ";", "\t")
# the columns the scored table adds; an input column of the same name is kept and the added one
# is written as OUTPUT_PREFIX + name
OUTPUT_COLUMNS = ("mutant", "n_mutations", "score", "reason")
OUTPUT_PREFIX = "seqvae_"
# a wild type must match at least this fraction of the reference row's residues once aligned
MIN_WILD_TYPE_IDENTITY = 0.8
# The rule on wild-type mismatches, applied by :func:`read_mutation_table` (so by ``score``,
# ``benchmark-dms``, batches and the API alike), see :class:`MismatchTally`:
# more than this fraction of the rows whose wild-type letters are checked (a substitution inside
# the numbered region) mismatching: the scan is refused, even with skip_mismatches
WRONG_PROTEIN_FRACTION = 0.5
# more than this fraction of all rows dropped as mismatches (skip_mismatches): a warning
WARN_MISMATCH_FRACTION = 0.1
# a constant numbering offset is looked for within +-MAX_OFFSET residues; it is named when at
# least OFFSET_MATCH_FRACTION of the substitutions (on at least MIN_OFFSET_POSITIONS positions)
# match the reference once shifted
MAX_OFFSET = 300
OFFSET_MATCH_FRACTION = 0.9
MIN_OFFSET_POSITIONS = 5


@dataclass(frozen=True)
class Substitution:
    """One substitution: wild-type letter, residue number (reference numbering), new letter."""

    wild_type: str
    position: int
    mutant: str

    def __str__(self) -> str:
        return f"{self.wild_type}{self.position}{self.mutant}"


def parse_mutant(
    text: str, source: str | None = None, line: int | None = None, separator: str | None = ":"
) -> list[Substitution]:
    """Parse ``A23V`` or ``A23V:G45D`` (``WT`` or an empty string: no substitution).

    Parameters
    ----------
    separator
        Between the substitutions of one variant: ``:`` (default), ``/``, or ``None`` for either
        (a variant may not mix them).

    Raises
    ------
    InputError
        On anything else (the message quotes the offending text).
    """
    stripped = str(text).strip()
    if stripped.lower() in IDENTITY_NAMES:
        return []
    if separator is None:
        used = [sep for sep in MUTATION_SEPARATORS if sep in stripped]
        if len(used) > 1:
            raise InputError(f"mutant {stripped!r} mixes ':' and '/' between substitutions", source, line)
        separator = used[0] if used else ":"
    out = []
    for part in stripped.split(separator):
        match = _SUBSTITUTION.match(part.strip())
        if match is None:
            raise InputError(
                f"malformed mutant {stripped!r}: expected substitutions like A23V, joined by {separator!r}",
                source,
                line,
            )
        out.append(Substitution(match.group(1).upper(), int(match.group(2)), match.group(3).upper()))
    positions = [s.position for s in out]
    if len(set(positions)) != len(positions):
        raise InputError(f"mutant {stripped!r} changes the same position twice", source, line)
    return out


@dataclass(frozen=True)
class WildType:
    """The full wild-type sequence a scan is numbered on: its letters and the number of its
    first residue."""

    sequence: str
    start: int = 1
    name: str = "wild type"

    @property
    def end(self) -> int:
        return self.start + len(self.sequence) - 1


def read_wild_type(path: str | Path) -> WildType:
    """The first sequence of a FASTA file as a :class:`WildType`.

    Its first residue is numbered by a ``NAME/start-end`` id, else 1. Gaps are removed.
    """

    path = Path(path)
    if not path.is_file():
        raise InputError("reference sequence file not found", path)
    record = read_records(path, "fasta").records[0]
    letters = "".join(c for c in record.text if c.isalpha()).upper()
    if not letters:
        raise InputError("the reference sequence has no residues", path, record.line)
    match = RANGE_HEADER.match(record.id)
    start = int(match.group("start")) if match else 1
    if match and int(match.group("end")) - start + 1 != len(letters):
        raise InputError(
            f"sequence {record.id!r} has {len(letters)} residues, its range says "
            f"{int(match.group('end')) - start + 1}",
            path,
            record.line,
        )
    return WildType(letters, start, record.id)


def align_wild_type(wild_type: str, reference: str) -> tuple[dict[int, int], float]:
    """Align a full wild type to a (possibly trimmed) reference row's residues.

    Global alignment with free end gaps (Biopython ``PairwiseAligner``: match 2, mismatch -1,
    gap open -5, extend -0.5): the row may be a part of the wild type with residues cut out.

    Returns
    -------
    (dict, float)
        Wild-type index -> reference index for every aligned pair, and the fraction of the
        reference's residues aligned to the same letter.
    """
    from Bio.Align import PairwiseAligner

    aligner = PairwiseAligner(mode="global")
    aligner.match_score, aligner.mismatch_score = 2.0, -1.0
    aligner.open_gap_score, aligner.extend_gap_score = -5.0, -0.5
    aligner.end_gap_score = 0.0
    alignment = aligner.align(wild_type, reference)[0]
    pairs: dict[int, int] = {}
    identical = 0
    for (w0, w1), (r0, _r1) in zip(*alignment.aligned):
        for k in range(w1 - w0):
            pairs[w0 + k] = r0 + k
            identical += wild_type[w0 + k] == reference[r0 + k]
    return pairs, identical / max(len(reference), 1)


class MutationMapper:
    """Maps substitutions onto a registry's focus columns and codes mutated sequences.

    Parameters
    ----------
    registry
        The run's :class:`~seqvae.data.alignment.AlignmentRegistry`.
    wild_type
        The full wild type the mutants are numbered on, for a trimmed reference row: it is
        aligned to the row (see :func:`align_wild_type`) and positions are its numbers.
        ``None``: positions count the row's letters from its ``NAME/start-end`` start.
    source
        Where ``wild_type`` came from (for messages).

    Attributes
    ----------
    notes
        Warnings about the numbering (e.g. a header range that disagrees with the row).
    trimmed_without_wild_type
        The reference row is trimmed and no ``wild_type`` numbers it: wild-type mismatches
        then say so in their error.
    """

    def __init__(
        self, registry: AlignmentRegistry, wild_type: WildType | None = None, source: str | None = None
    ):
        self.registry = registry
        self.alphabet = registry.alphabet
        raw = registry.reference_raw
        # residue letters of the raw reference row, upper and lower case, in order
        row_residues = "".join(c for c in raw if c.isalpha()).upper()
        row_start = int(registry.reference_start)
        self.notes: list[str] = []
        # numbers counted from a trimmed row's start are wrong after its cut
        note = registry.range_note()
        self.trimmed_without_wild_type = wild_type is None and note is not None
        if note:
            hint = "" if wild_type else "; give the full wild type (wild_type) to number it"
            self.notes.append(note + hint)
        if wild_type is None:
            self.reference_residues = row_residues
            self.start = row_start
            # scan position -> residue number in the registry's numbering
            self.number_of_position = {row_start + i: row_start + i for i in range(len(row_residues))}
            self.region = f"the reference {registry.reference_id}"
        else:
            pairs, identity = align_wild_type(wild_type.sequence, row_residues)
            if identity < MIN_WILD_TYPE_IDENTITY:
                raise InputError(
                    f"the reference sequence {wild_type.name!r} does not align to the reference row "
                    f"{registry.reference_id}: {identity:.0%} of the row's residues match "
                    f"(at least {MIN_WILD_TYPE_IDENTITY:.0%} needed)",
                    source,
                )
            self.reference_residues = wild_type.sequence
            self.start = wild_type.start
            self.number_of_position = {wild_type.start + w: row_start + r for w, r in pairs.items()}
            self.region = f"the reference sequence {wild_type.name}"
        self.end = self.start + len(self.reference_residues) - 1
        self.position_of_number = {n: p for p, n in self.number_of_position.items()}
        self.column_of_number = {
            int(number): column for column, number in enumerate(registry.numbering) if number >= 0
        }
        self.wild_type_codes = registry.reference_codes()

    @property
    def length(self) -> int:
        return self.registry.length

    def reference_letter(self, position: int) -> str:
        return self.reference_residues[position - self.start]

    def outside_reason(self, sub: Substitution) -> str:
        """Why a substitution lies outside the numbered region ('' when it lies inside)."""
        if not self.start <= sub.position <= self.end:
            return f"position {sub.position} is outside {self.region} (residues {self.start}-{self.end})"
        return ""

    def column_of(self, position: int) -> int | None:
        """The focus column of a residue number of the scan, ``None`` if it has none."""
        number = self.number_of_position.get(position)
        return None if number is None else self.column_of_number.get(number)

    def wild_type_matches(self, sub: Substitution) -> bool:
        return self.reference_letter(sub.position) == sub.wild_type

    def unscorable_reason(self, subs: list[Substitution]) -> str:
        """Why a (position-checked, wild-type-checked) mutant cannot be scored; '' if it can."""
        for sub in subs:
            if sub.position not in self.number_of_position:
                return (
                    f"position {sub.position} ({sub.wild_type}) is not in the alignment's reference row "
                    f"{self.registry.reference_id}"
                )
            if self.column_of(sub.position) is None:
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
            codes[self.column_of(sub.position)] = self.alphabet.residues.index(sub.mutant)
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
                    if number < 0 or number not in self.position_of_number:
                        raise InputError(
                            f"mutated sequence changes focus column {column + 1}, a gap in the reference",
                            source,
                            line,
                        )
                    subs.append(Substitution(wt, self.position_of_number[number], new))
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
        The input rows (all columns kept as read) plus ``mutant`` (normalised),
        ``n_mutations`` and ``reason`` ('' for scorable rows), under the names in ``columns``.
    codes
        ``uint8 [n_scorable, L]`` coded sequences of the scorable rows, in row order.
    scorable
        Boolean mask over ``table`` rows.
    columns
        The name each added column has in ``table`` (see :func:`output_column_names`).
    """

    table: pd.DataFrame
    codes: np.ndarray
    scorable: np.ndarray
    columns: dict[str, str] = field(default_factory=lambda: {c: c for c in OUTPUT_COLUMNS})


def output_column_names(input_columns: list[str], variant_column: str | None) -> dict[str, str]:
    """Names of the columns a scored table adds (``mutant``, ``n_mutations``, ``score``,
    ``reason``): an input column is never overwritten, so an added column whose name the input
    already uses is called ``seqvae_<name>`` instead. The one exception is the variant column
    ``mutant`` itself, rewritten in normalised form (``A23V:G45D``)."""
    names = {}
    for name in OUTPUT_COLUMNS:
        taken = name in input_columns and not (name == "mutant" and variant_column == "mutant")
        names[name] = OUTPUT_PREFIX + name if taken else name
    return names


def _mismatch_error(
    offenders: list[tuple[int, str, str]], total: int, source: str | None, trimmed: bool = False
) -> InputError:
    shown = ", ".join(f"{m} (line {line}: reference has {wt})" for line, m, wt in offenders[:MAX_REPORTED])
    more = f" and {total - MAX_REPORTED} more" if total > MAX_REPORTED else ""
    # a trimmed row (its range spans more residues than it holds) is the usual cause
    check = (
        "the reference row is trimmed: number the mutants by the full wild type (wild_type)"
        if trimmed
        else "check the numbering"
    )
    return InputError(
        f"{total} mutant(s) do not match the reference's wild-type residues: {shown}{more} "
        f"({check}, or skip_mismatches to drop them)",
        source,
    )


@dataclass
class MismatchTally:
    """Wild-type mismatches over a whole scan, and the rule on them.

    * More than :data:`WRONG_PROTEIN_FRACTION` (half) of the rows whose wild-type letters are
      checked (a substitution inside the numbered region) mismatching: the scan is for another
      protein or another numbering; :meth:`check` refuses it, even with ``skip_mismatches``,
      naming the run's reference and residues, and a constant numbering offset when one
      explains the letters (:meth:`offset`).
    * More than :data:`WARN_MISMATCH_FRACTION` (10 %) of all rows dropped: :meth:`warning`.

    Attributes
    ----------
    rows
        Rows seen.
    checked
        Rows whose wild-type letters were checked.
    mismatched
        Rows with a wild-type mismatch.
    offenders
        The first mismatches: (line, substitution, the reference's letter).
    letters
        (position, wild-type letter) -> number of substitutions, over every row (for the offset).
    """

    rows: int = 0
    checked: int = 0
    mismatched: int = 0
    offenders: list[tuple[int, str, str]] = field(default_factory=list)
    letters: Counter = field(default_factory=Counter)

    def add(
        self, subs: list[Substitution], checked: bool, bad: list[Substitution], line: int, mapper
    ) -> None:
        """Count one row: its substitutions, whether its letters were checked, the mismatching ones."""
        self.rows += 1
        self.letters.update((s.position, s.wild_type) for s in subs)
        self.checked += bool(checked and subs)
        if bad:
            self.mismatched += 1
            if len(self.offenders) < MAX_REPORTED:
                self.offenders.append((line, str(bad[0]), mapper.reference_letter(bad[0].position)))

    @property
    def fraction(self) -> float:
        """Mismatching rows among the checked ones."""
        return self.mismatched / self.checked if self.checked else 0.0

    @property
    def wrong_protein(self) -> bool:
        return self.fraction > WRONG_PROTEIN_FRACTION

    def offset(self, mapper: MutationMapper) -> tuple[int, float] | None:
        """``(k, fraction)``: the scan's positions minus ``k`` match the reference's letters for
        ``fraction`` (at least :data:`OFFSET_MATCH_FRACTION`) of its substitutions, ``k`` within
        ±:data:`MAX_OFFSET` and not 0; ``None`` when no shift does."""
        if len({p for p, _ in self.letters}) < MIN_OFFSET_POSITIONS:
            return None
        keys = list(self.letters)
        positions = np.array([p for p, _ in keys])
        letters = np.array([ord(w) for _, w in keys])
        counts = np.array([self.letters[k] for k in keys])
        reference = np.frombuffer(mapper.reference_residues.encode("ascii", "replace"), dtype=np.uint8)
        best = None
        for k in range(-MAX_OFFSET, MAX_OFFSET + 1):
            index = positions - k - mapper.start
            inside = (index >= 0) & (index < len(reference))
            match = np.zeros(len(keys), dtype=bool)
            match[inside] = reference[index[inside]] == letters[inside]
            fraction = counts[match].sum() / counts.sum()
            if (
                k != 0
                and fraction >= OFFSET_MATCH_FRACTION
                and len(set(positions[match].tolist())) >= MIN_OFFSET_POSITIONS
                and (best is None or fraction > best[1])
            ):
                best = (k, float(fraction))
        return best

    def wrong_protein_error(self, mapper: MutationMapper, source: str | None) -> InputError:
        """The refusal: the run's reference and numbering, examples, the likely cause."""
        registry = mapper.registry
        numbered = (
            f", numbered by {mapper.region}" if mapper.region.startswith("the reference sequence") else ""
        )
        shown = ", ".join(f"{m} (line {line}: reference has {wt})" for line, m, wt in self.offenders)
        shift = self.offset(mapper)
        if shift is not None:
            k, fraction = shift
            cause = (
                f"the scan looks numbered {abs(k)} {'higher' if k > 0 else 'lower'} than the run: "
                f"with every position {'minus' if k > 0 else 'plus'} {abs(k)}, {fraction:.0%} of its "
                "substitutions match"
            )
        elif mapper.trimmed_without_wild_type:
            cause = "the reference row is trimmed: number the mutants by the full wild type (wild_type)"
        else:
            cause = "the scan looks like another protein or another numbering"
        return InputError(
            f"{self.mismatched} of {self.checked} rows ({self.fraction:.0%}) do not match the wild-type "
            f"residues of the run's reference {registry.reference_id} (residues {mapper.start}-{mapper.end}"
            f"{numbered}), e.g. {shown}; {cause}. More than {WRONG_PROTEIN_FRACTION:.0%} mismatching: "
            "not scored, even with skip_mismatches",
            source,
        )

    def check(self, mapper: MutationMapper, source: str | None) -> None:
        """Refuse a scan of another protein (see the class); call once the whole scan is read."""
        if self.wrong_protein:
            raise self.wrong_protein_error(mapper, source)

    @property
    def dropped_fraction(self) -> float:
        """Mismatching rows among all rows."""
        return self.mismatched / self.rows if self.rows else 0.0

    def warning(self, mapper: MutationMapper) -> str | None:
        """A warning when more than :data:`WARN_MISMATCH_FRACTION` of the rows mismatch."""
        if self.dropped_fraction <= WARN_MISMATCH_FRACTION:
            return None
        return (
            f"{self.mismatched} of {self.rows} rows ({self.dropped_fraction:.0%}, more than "
            f"{WARN_MISMATCH_FRACTION:.0%}) were dropped as wild-type mismatches: check that the scan "
            f"is numbered like the run's reference {mapper.registry.reference_id} (residues "
            f"{mapper.start}-{mapper.end})"
        )


def map_table(
    table: pd.DataFrame,
    mapper: MutationMapper,
    mutant_column: str | None = "mutant",
    sequence_column: str | None = None,
    skip_mismatches: bool = False,
    source: str | None = None,
    first_line: int = 2,
    mutation_separator: str | None = None,
    tally: MismatchTally | None = None,
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
    mutation_separator
        ``:`` or ``/`` between substitutions; ``None`` accepts either.
    tally
        The :class:`MismatchTally` of the whole scan this block belongs to (``None``: the block
        is the whole scan, and it is checked here). Mismatches without ``skip_mismatches`` fail
        at once, as a refused scan when the rows so far are mostly mismatches.

    Substitutions outside the numbered region (see :meth:`MutationMapper.outside_reason`) keep
    their row, without a score and with a ``reason``.

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
    whole = tally is None
    tally = MismatchTally() if tally is None else tally
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
            subs = parse_mutant(value, source, line, mutation_separator)
        name = ":".join(str(s) for s in subs)
        outside = next((r for r in map(mapper.outside_reason, subs) if r), "")
        bad = [] if outside else [s for s in subs if not mapper.wild_type_matches(s)]
        if bad:
            mismatches.append((line, str(bad[0]), mapper.reference_letter(bad[0].position)))
            keep[k] = False
        tally.add(subs, not outside, bad, line, mapper)
        reason = outside or (mapper.unscorable_reason(subs) if not bad else "wild-type mismatch")
        if not reason and not bad:
            codes.append(mapper.apply(subs))
        names.append(name)
        reasons.append(reason)
        counts.append(len(subs))
    if mismatches and not skip_mismatches:
        if tally.wrong_protein:
            raise tally.wrong_protein_error(mapper, source)
        raise _mismatch_error(mismatches, len(mismatches), source, mapper.trimmed_without_wild_type)
    if whole:
        tally.check(mapper, source)
    columns = output_column_names(list(table.columns), None if sequence_column else mutant_column)
    out = table.copy()
    out[columns["mutant"]] = names
    out[columns["n_mutations"]] = counts
    out[columns["reason"]] = reasons
    out = out.loc[keep].reset_index(drop=True)
    scorable = (out[columns["reason"]] == "").to_numpy()
    array = np.stack(codes) if codes else np.zeros((0, mapper.length), dtype=np.uint8)
    return MappedChunk(out, array.astype(np.uint8), scorable, columns), len(mismatches)


def detect_separator(path: str | Path) -> str:
    """The field separator of a table: whichever of ``,``, ``;`` and tab its header line
    holds most (``,`` when none)."""
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror or err})", path) from None
    counts = {sep: header.count(sep) for sep in FIELD_SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def variant_columns(
    columns: Sequence[str],
    mutant_column: str | None = None,
    sequence_column: str | None = None,
    required_columns: Sequence[str] = (),
    source: str | Path | None = None,
) -> tuple[str | None, str | None]:
    """The columns of a scan's variants, ``(mutant_column, sequence_column)``: the one named, else
    ``mutant``, else ``mutated_sequence`` (full sequences); that column and ``required_columns``
    must be among ``columns`` (one line naming ``source`` otherwise)."""
    listed = ", ".join(map(str, columns))
    if sequence_column is None and mutant_column is None:
        if "mutant" in columns:
            mutant_column = "mutant"
        elif "mutated_sequence" in columns:
            sequence_column = "mutated_sequence"
        else:
            raise InputError(
                f"no 'mutant' or 'mutated_sequence' column (columns: {listed}); "
                "name one as mutant_column or sequence_column",
                source,
            )
    for name in (sequence_column or mutant_column, *required_columns):
        if name not in columns:
            raise InputError(f"column {name!r} not found (columns: {listed})", source)
    return mutant_column, sequence_column


def read_mutation_table(
    path: str | Path,
    mapper: MutationMapper,
    mutant_column: str | None = None,
    sequence_column: str | None = None,
    required_columns: tuple[str, ...] = (),
    chunk_size: int = 50_000,
    skip_mismatches: bool = False,
    sep: str | None = None,
    mutation_separator: str | None = None,
    tally: MismatchTally | None = None,
) -> Iterator[tuple[MappedChunk, int]]:
    """Read and map a mutation CSV in chunks (constant memory for large tables).

    The column holding the variants is ``mutant_column`` when given, else ``mutant`` when
    present, else ``mutated_sequence``. ``sep`` is the field separator (``None``: detected,
    see :func:`detect_separator`); ``mutation_separator`` the one between substitutions
    (``None``: ``:`` or ``/``). All chunks are validated as they are read; a caller
    that must not write partial output validates first (see :func:`validate_mutation_table`).

    The mismatch rule (:class:`MismatchTally`) runs over the whole scan: after the last chunk,
    a scan whose rows mostly mismatch the reference raises, even with ``skip_mismatches``; pass
    a ``tally`` to read its :meth:`~MismatchTally.warning` afterwards.
    """
    tally = MismatchTally() if tally is None else tally
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if mutation_separator is not None and mutation_separator not in MUTATION_SEPARATORS:
        raise InputError(
            f"mutation_separator must be one of {', '.join(MUTATION_SEPARATORS)}, got {mutation_separator!r}"
        )
    sep = sep or detect_separator(path)
    header = read_table(path, "cannot read CSV", nrows=0, sep=sep)
    mutant_column, sequence_column = variant_columns(
        list(header.columns), mutant_column, sequence_column, required_columns, path
    )
    first_line = 2
    for block in read_table_chunks(
        path, chunk_size, "cannot read CSV", dtype=str, keep_default_na=False, sep=sep
    ):
        yield (
            map_table(
                block,
                mapper,
                None if sequence_column else mutant_column,
                sequence_column,
                skip_mismatches,
                str(path),
                first_line,
                mutation_separator,
                tally,
            )
        )
        first_line += len(block)
    tally.check(mapper, str(path))


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
