"""From aligned text to a coded alignment: focus columns, numbering, filters.

An :class:`Alignment` holds ``codes`` as ``uint8 [N, L]`` over an :class:`Alphabet` (gap =
last code) — never a dense one-hot matrix. The parts a trained model needs to map new
sequences the same way (alphabet, focus columns, reference and numbering, filter settings)
form an :class:`AlignmentRegistry`, which a run directory saves as JSON.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seqvae.data.alphabet import INVALID_CODE, PROTEIN, Alphabet, get_alphabet
from seqvae.errors import InputError
from seqvae.io.alignment_formats import RawAlignment, SequenceRecord, read_records

_RANGE_HEADER = re.compile(r"^(?P<name>.+)/(?P<start>-?\d+)-(?P<end>-?\d+)$")
NONSTANDARD_MODES = ("drop", "gap")


@dataclass(frozen=True)
class AlignmentOptions:
    """How to read an alignment. Validated on construction.

    Parameters
    ----------
    alphabet
        ``protein``, ``dna``, ``rna`` or a string of residue letters.
    reference
        Id of the reference sequence; the first sequence when ``None``.
    nonstandard
        ``drop`` sequences containing non-standard residues (B, J, O, U, X, Z for protein;
        DeepSequence's rule) or map those residues to ``gap``.
    max_sequence_gap_fraction
        Drop sequences with a larger fraction of gaps over the focus columns (EVE: 0.5).
    max_column_gap_fraction
        Drop focus columns with a larger (unweighted) fraction of gaps (EVE: 0.3).
    format
        Force a file format instead of detecting it.
    """

    alphabet: str = "protein"
    reference: str | None = None
    nonstandard: str = "drop"
    max_sequence_gap_fraction: float | None = None
    max_column_gap_fraction: float | None = None
    format: str | None = None

    def __post_init__(self) -> None:
        if self.nonstandard not in NONSTANDARD_MODES:
            raise InputError(f"nonstandard must be one of {NONSTANDARD_MODES}, got {self.nonstandard!r}")
        for name in ("max_sequence_gap_fraction", "max_column_gap_fraction"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be between 0 and 1, got {value}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AlignmentRegistry:
    """Everything needed to code new sequences exactly like the training alignment.

    Attributes
    ----------
    alphabet
        The alphabet (gap = last code).
    raw_length
        Number of columns in the file's rows (after A3M insert removal).
    focus_columns
        Indices of the modelled columns among the raw columns.
    reference_id, reference_sequence
        The reference (wild type) and its letters on the focus columns.
    reference_start
        Residue number of the reference's first residue (from ``NAME/start-end``; 1 otherwise).
    numbering
        Residue number of each focus column in the reference's numbering; -1 where the
        reference has a gap.
    reference_raw
        The reference's full raw row (lower case insert letters kept), for mapping mutations.
    options
        The :class:`AlignmentOptions` used.
    """

    alphabet: Alphabet
    raw_length: int
    focus_columns: np.ndarray
    reference_id: str
    reference_sequence: str
    reference_start: int
    numbering: np.ndarray
    reference_raw: str
    options: AlignmentOptions
    a2m_mode: str = "columns"

    @property
    def length(self) -> int:
        return len(self.focus_columns)

    def to_dict(self) -> dict:
        return {
            "alphabet": self.alphabet.to_dict(),
            "raw_length": self.raw_length,
            "focus_columns": [int(c) for c in self.focus_columns],
            "reference_id": self.reference_id,
            "reference_sequence": self.reference_sequence,
            "reference_start": self.reference_start,
            "numbering": [int(n) for n in self.numbering],
            "reference_raw": self.reference_raw,
            "options": self.options.to_dict(),
            "a2m_mode": self.a2m_mode,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AlignmentRegistry:
        return cls(
            alphabet=Alphabet.from_dict(data["alphabet"]),
            raw_length=int(data["raw_length"]),
            focus_columns=np.asarray(data["focus_columns"], dtype=np.int64),
            reference_id=data["reference_id"],
            reference_sequence=data["reference_sequence"],
            reference_start=int(data["reference_start"]),
            numbering=np.asarray(data["numbering"], dtype=np.int64),
            reference_raw=data["reference_raw"],
            options=AlignmentOptions(**data["options"]),
            a2m_mode=data.get("a2m_mode", "columns"),
        )

    def reference_codes(self) -> np.ndarray:
        return self.alphabet.encode(self.reference_sequence)


@dataclass
class Alignment:
    """A coded multiple sequence alignment.

    Attributes
    ----------
    ids
        Sequence ids (header up to the first white space).
    headers
        Full header lines.
    codes
        ``uint8 [N, L]`` codes over ``registry.alphabet``; gap = ``alphabet.gap_code``.
    registry
        Focus columns, reference, numbering and options (see :class:`AlignmentRegistry`).
    filter_report
        How many sequences/columns each filter removed, in order.
    source
        The file the alignment was read from.
    sequence_weights
        Optional per-sequence weights (set by :func:`seqvae.data.weights.compute_sequence_weights`).
    theta
        The identity threshold the weights were computed with (``None``: unweighted).
    """

    ids: list[str]
    headers: list[str]
    codes: np.ndarray
    registry: AlignmentRegistry
    filter_report: dict[str, int] = field(default_factory=dict)
    source: str = ""
    sequence_weights: np.ndarray | None = None
    theta: float | None = None

    @property
    def alphabet(self) -> Alphabet:
        return self.registry.alphabet

    @property
    def n_sequences(self) -> int:
        return int(self.codes.shape[0])

    @property
    def length(self) -> int:
        return int(self.codes.shape[1])

    @property
    def weights(self) -> np.ndarray:
        """Sequence weights, or ones when none were computed."""
        if self.sequence_weights is None:
            return np.ones(self.n_sequences, dtype=np.float64)
        return self.sequence_weights

    @property
    def n_eff(self) -> float:
        return float(self.weights.sum())

    @property
    def reference_index(self) -> int:
        return self.ids.index(self.registry.reference_id)

    def sequences(self) -> list[str]:
        """The coded rows as strings (focus columns only)."""
        table = np.frombuffer(self.alphabet.symbols.encode("ascii"), np.uint8)
        return [table[row].tobytes().decode("ascii") for row in self.codes]

    def gap_fraction_per_sequence(self) -> np.ndarray:
        return (self.codes == self.alphabet.gap_code).mean(axis=1)

    def gap_fraction_per_column(self) -> np.ndarray:
        return (self.codes == self.alphabet.gap_code).mean(axis=0)

    def subset(self, rows: np.ndarray | list[int]) -> Alignment:
        """A new alignment with the given rows (weights are carried over, not recomputed)."""
        rows = np.asarray(rows, dtype=np.int64)
        return Alignment(
            ids=[self.ids[i] for i in rows],
            headers=[self.headers[i] for i in rows],
            codes=self.codes[rows],
            registry=self.registry,
            filter_report=dict(self.filter_report),
            source=self.source,
            sequence_weights=None if self.sequence_weights is None else self.sequence_weights[rows],
            theta=self.theta,
        )


def _row_matrix(records: list[SequenceRecord], source: str) -> np.ndarray:
    """Rows as a ``uint8 [N, raw_length]`` byte matrix; ragged rows are an error."""
    expected = len(records[0].text)
    for record in records:
        if len(record.text) != expected:
            raise InputError(
                f"ragged alignment: sequence {record.id!r} has {len(record.text)} columns, "
                f"the first sequence has {expected}",
                source,
                record.line,
            )
    joined = "".join(r.text for r in records).encode("ascii", "replace")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(records), expected)


def _strip_inserts(records: list[SequenceRecord]) -> list[SequenceRecord]:
    """A3M (and dot-less A2M) rows: drop lower-case insert letters and '.' from every row."""
    return [SequenceRecord(r.id, r.header, re.sub(r"[a-z.]", "", r.text), r.line) for r in records]


def _reference_numbering(header_id: str, raw_reference: str, focus: np.ndarray) -> tuple[int, np.ndarray]:
    """Residue numbers of the focus columns from a ``NAME/start-end`` reference header."""
    match = _RANGE_HEADER.match(header_id)
    start = int(match.group("start")) if match else 1
    is_residue = np.array([c.isalpha() for c in raw_reference], dtype=bool)
    residue_number = np.cumsum(is_residue) - 1 + start
    numbering = np.where(is_residue[focus], residue_number[focus], -1)
    return start, numbering.astype(np.int64)


def _describe_bad_letter(raw: RawAlignment, row: int, col: int, text_lookup: list[str]) -> InputError:
    record = raw.records[row]
    letter = text_lookup[row][col]
    return InputError(
        f"unknown character {letter!r} in sequence {record.id!r} (column {col + 1})",
        raw.source,
        record.line,
    )


def build_alignment(raw: RawAlignment, options: AlignmentOptions | None = None) -> Alignment:
    """Interpret raw records: focus columns, coding, filters. See :func:`read_alignment`."""
    options = options or AlignmentOptions()
    alphabet = get_alphabet(options.alphabet)
    records = raw.records
    source = raw.source

    if options.reference is None:
        reference_index = 0
    else:
        ids = [r.id for r in records]
        if options.reference not in ids:
            raise InputError(f"reference id {options.reference!r} is not in the alignment", source)
        reference_index = ids.index(options.reference)

    has_inserts = any(ch.islower() or ch == "." for r in records for ch in r.text)
    raw_rows_equal = len({len(r.text) for r in records}) == 1
    if raw.format == "a3m" or (has_inserts and not raw_rows_equal):
        # A3M: insert letters are per row, so the match columns are what is left after removal.
        a2m_mode = "strip"
        reference_raw = records[reference_index].text
        records = _strip_inserts(records)
    else:
        a2m_mode = "columns"
        reference_raw = records[reference_index].text
    rows = _row_matrix(records, source)
    raw_length = rows.shape[1]

    reference_row = rows[reference_index]
    if a2m_mode == "columns" and has_inserts:
        # A2M with '.' padding: focus columns are where the reference is upper case or '-'.
        upper_or_gap = (reference_row == ord("-")) | (
            (reference_row >= ord("A")) & (reference_row <= ord("Z"))
        )
        focus = np.flatnonzero(upper_or_gap)
    else:
        focus = np.arange(raw_length)
    if focus.size == 0:
        raise InputError("the reference sequence has no focus (upper-case) columns", source)

    if a2m_mode == "strip":
        # numbering counts every residue letter of the original reference row; map match columns
        stripped_positions = [i for i, c in enumerate(reference_raw) if not (c.islower() or c == ".")]
        is_residue = np.array([c.isalpha() for c in reference_raw], dtype=bool)
        match = _RANGE_HEADER.match(records[reference_index].id)
        start = int(match.group("start")) if match else 1
        residue_number = np.cumsum(is_residue) - 1 + start
        pos = np.asarray(stripped_positions, dtype=np.int64)[focus]
        numbering = np.where(is_residue[pos], residue_number[pos], -1).astype(np.int64)
    else:
        start, numbering = _reference_numbering(records[reference_index].id, reference_raw, focus)

    letters = rows[:, focus]
    upper = np.where((letters >= ord("a")) & (letters <= ord("z")), letters - 32, letters)
    codes = alphabet.encode_bytes(upper)
    nonstandard = alphabet.is_nonstandard(upper)
    unknown = (codes == INVALID_CODE) & ~nonstandard
    if unknown.any():
        row, col = np.argwhere(unknown)[0]
        rec = records[row]
        letter = chr(letters[row, col])
        raise InputError(
            f"unknown character {letter!r} in sequence {rec.id!r} at focus column {col + 1}",
            source,
            rec.line,
        )

    keep = np.ones(len(records), dtype=bool)
    report: dict[str, int] = {"sequences_read": len(records), "columns_read": raw_length}
    report["insert_columns_removed"] = int(raw_length - focus.size)
    has_nonstandard = nonstandard.any(axis=1)
    if options.nonstandard == "drop":
        drop = has_nonstandard.copy()
        drop[reference_index] = False  # the reference is always kept; its odd letters become gaps
        keep &= ~drop
        report["sequences_with_nonstandard_removed"] = int(drop.sum())
    else:
        report["nonstandard_residues_mapped_to_gap"] = int(nonstandard.sum())
    codes = np.where(nonstandard, alphabet.gap_code, codes).astype(np.uint8)

    if options.max_sequence_gap_fraction is not None:
        gap_fraction = (codes == alphabet.gap_code).mean(axis=1)
        drop = keep & (gap_fraction > options.max_sequence_gap_fraction)
        drop[reference_index] = False
        keep &= ~drop
        report["sequences_over_gap_fraction_removed"] = int(drop.sum())

    kept_rows = np.flatnonzero(keep)
    codes = codes[kept_rows]
    column_keep = np.ones(focus.size, dtype=bool)
    if options.max_column_gap_fraction is not None and kept_rows.size:
        column_gaps = (codes == alphabet.gap_code).mean(axis=0)
        column_keep = column_gaps <= options.max_column_gap_fraction
        report["columns_over_gap_fraction_removed"] = int((~column_keep).sum())
    if kept_rows.size <= 1 and len(records) > 1:
        raise InputError(
            "all sequences but the reference were removed by the filters "
            f"({', '.join(f'{k}={v}' for k, v in report.items() if k.endswith('removed'))})",
            source,
        )
    if not column_keep.any():
        raise InputError("all columns were removed by the column gap filter", source)
    focus = focus[column_keep]
    numbering = numbering[column_keep]
    codes = np.ascontiguousarray(codes[:, column_keep])
    report["sequences_kept"] = int(kept_rows.size)
    report["columns_kept"] = int(focus.size)

    new_reference_index = int(np.searchsorted(kept_rows, reference_index))
    reference_sequence = alphabet.decode(codes[new_reference_index])
    registry = AlignmentRegistry(
        alphabet=alphabet,
        raw_length=raw_length,
        focus_columns=focus.astype(np.int64),
        reference_id=records[reference_index].id,
        reference_sequence=reference_sequence,
        reference_start=start,
        numbering=numbering,
        reference_raw=reference_raw,
        options=options,
        a2m_mode=a2m_mode,
    )
    return Alignment(
        ids=[records[i].id for i in kept_rows],
        headers=[records[i].header for i in kept_rows],
        codes=codes,
        registry=registry,
        filter_report=report,
        source=source,
    )


def read_alignment(
    path: str | Path,
    options: AlignmentOptions | None = None,
    **option_values,
) -> Alignment:
    """Read and code an alignment file.

    Parameters
    ----------
    path
        FASTA, A2M, A3M or Stockholm (optionally gzip). In A2M, focus columns are those where
        the reference is upper case or ``-``; lower-case and ``.`` insert columns are dropped.
    options
        An :class:`AlignmentOptions`; alternatively pass its fields as keyword arguments.

    Returns
    -------
    Alignment
        Codes ``uint8 [N, L]``, the registry and a report of what each filter removed.
        Sequence weights are not computed here (see :func:`seqvae.compute_sequence_weights`).
    """
    if options is None:
        options = AlignmentOptions(**option_values)
    elif option_values:
        raise TypeError("pass either options or keyword options, not both")
    raw = read_records(path, options.format)
    return build_alignment(raw, options)


def map_to_registry(raw: RawAlignment, registry: AlignmentRegistry) -> Alignment:
    """Code a new alignment with a saved registry (same raw columns, same focus columns).

    Sequences must be aligned to the same columns the model was trained on: either the full
    raw rows (``registry.raw_length`` columns, inserts as in the training file) or rows already
    restricted to the focus columns (``registry.length`` columns). Anything else is rejected.
    Non-standard residues are mapped to gaps (a model can still embed such sequences).
    """
    alphabet = registry.alphabet
    records = raw.records
    if registry.a2m_mode == "strip" or raw.format == "a3m":
        records = _strip_inserts(records)
    lengths = {len(r.text) for r in records}
    if len(lengths) != 1:
        _row_matrix(records, raw.source)  # raises the ragged-row error
    (length,) = lengths
    rows = _row_matrix(records, raw.source)
    if length == registry.raw_length:
        rows = rows[:, registry.focus_columns]
    elif length != registry.length:
        raise InputError(
            f"sequences have {length} columns but the run was trained on an alignment with "
            f"{registry.raw_length} columns ({registry.length} focus columns): "
            "align them to the training alignment first",
            raw.source,
            records[0].line,
        )
    upper = np.where((rows >= ord("a")) & (rows <= ord("z")), rows - 32, rows)
    codes = alphabet.encode_bytes(upper)
    nonstandard = alphabet.is_nonstandard(upper)
    unknown = (codes == INVALID_CODE) & ~nonstandard
    if unknown.any():
        row, col = np.argwhere(unknown)[0]
        raise InputError(
            f"unknown character {chr(rows[row, col])!r} in sequence {records[row].id!r}",
            raw.source,
            records[row].line,
        )
    codes = np.where(nonstandard, alphabet.gap_code, codes).astype(np.uint8)
    return Alignment(
        ids=[r.id for r in records],
        headers=[r.header for r in records],
        codes=np.ascontiguousarray(codes),
        registry=registry,
        filter_report={"sequences_read": len(records), "sequences_kept": len(records)},
        source=raw.source,
    )


def alignment_from_sequences(
    sequences: list[str],
    ids: list[str] | None = None,
    alphabet: Alphabet = PROTEIN,
    source: str = "<memory>",
) -> Alignment:
    """Build an alignment from equal-length strings (synthetic families, tests)."""
    if ids is None:
        ids = [f"seq{i}" for i in range(len(sequences))]
    records = [SequenceRecord(i, i, s, n + 1) for n, (i, s) in enumerate(zip(ids, sequences))]
    options = AlignmentOptions(alphabet=alphabet.name if alphabet.name != "custom" else alphabet.residues)
    return build_alignment(RawAlignment(records, "fasta", source), options)
