"""From aligned text to a coded alignment: focus columns, numbering, filters.

An :class:`Alignment` holds ``codes`` as ``uint8 [N, L]`` over an :class:`Alphabet` (gap =
last code) — never a dense one-hot matrix. The parts a trained model needs to map new
sequences the same way (alphabet, focus columns, reference and numbering, filter settings)
form an :class:`AlignmentRegistry`, which a run directory saves as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seqvae.data.alphabet import INVALID_CODE, PROTEIN, Alphabet, get_alphabet
from seqvae.data.weights import DEFAULT_THETA, compute_sequence_weights
from seqvae.errors import ConfigError, InputError
from seqvae.io.alignment_formats import FORMATS, RawAlignment, SequenceRecord, read_records
from seqvae.utils import html_table

# a header NAME/start-end numbers the row's residues from start
RANGE_HEADER = re.compile(r"^(?P<name>.+)/(?P<start>-?\d+)-(?P<end>-?\d+)$")
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
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0
            ):
                raise InputError(f"{name} must be between 0 and 1, got {value!r}")
        if self.format is not None and self.format not in FORMATS:
            raise InputError(f"format must be one of {FORMATS} or unset, got {self.format!r}")
        if not isinstance(self.alphabet, str):
            raise InputError(f"alphabet must be a name or a string of letters, got {self.alphabet!r}")
        get_alphabet(self.alphabet)  # raises on an invalid custom alphabet
        if self.reference is not None and not isinstance(self.reference, str):
            raise InputError(f"reference must be a sequence id, got {self.reference!r}")

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

    def __repr__(self) -> str:
        """One line (the arrays are not printed): reference, its residues, L of the raw columns."""
        residues = sum(c.isalpha() for c in self.reference_raw)
        return (
            f"AlignmentRegistry({self.reference_id!r}, residues {self.reference_start}-"
            f"{self.reference_start + residues - 1}, L={self.length} of {self.raw_length} columns, "
            f"{self.alphabet.name})"
        )

    def range_note(self) -> str | None:
        """A warning when the reference's ``NAME/start-end`` range spans another number of
        residues than its row holds (a trimmed Pfam row: ``DLG4_RAT/313-391`` holds 75, not
        79), so numbers counted from its start are wrong after the cut; ``None`` otherwise."""
        match = RANGE_HEADER.match(self.reference_id)
        if not match:
            return None
        residues = sum(c.isalpha() for c in self.reference_raw)
        span = int(match.group("end")) - int(match.group("start")) + 1
        if span == residues:
            return None
        return (
            f"the reference row {self.reference_id} holds {residues} residues, its range says {span}: "
            "the row is trimmed, so numbers counted from its start are wrong after a cut"
        )

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
        """Rebuild a registry from :meth:`to_dict`'s output, checking every field.

        Raises
        ------
        InputError
            Naming the first field (``registry.numbering``) that is missing, of the wrong type or
            inconsistent with the others; the caller adds the file.
        """
        return cls(**_validated_registry_fields(data))

    def reference_codes(self) -> np.ndarray:
        return self.alphabet.encode(self.reference_sequence)


A2M_MODES = ("columns", "strip", "plain")


def _registry_field(data: dict, name: str, kind: type | tuple[type, ...]):
    if name not in data:
        raise InputError(f"registry.{name}: missing")
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InputError(f"registry.{name}: must be {expected}, got {type(value).__name__} {value!r:.40}")
    return value


def _int_list(data: dict, name: str) -> np.ndarray:
    values = _registry_field(data, name, list)
    for k, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"registry.{name}[{k}]: must be an integer, got {value!r:.40}")
    return np.asarray(values, dtype=np.int64)


def _validated_registry_fields(data: object) -> dict:
    """The keyword arguments of :class:`AlignmentRegistry` from its saved dict, all checked."""
    if not isinstance(data, dict):
        raise InputError(f"registry: must be a mapping, got {type(data).__name__}")
    alphabet_data = _registry_field(data, "alphabet", dict)
    residues = alphabet_data.get("residues")
    if not isinstance(residues, str) or not residues:
        raise InputError("registry.alphabet.residues: must be a non-empty string of letters")
    for key in ("gap", "nonstandard", "name"):
        if key in alphabet_data and not isinstance(alphabet_data[key], str):
            raise InputError(f"registry.alphabet.{key}: must be a string")
    try:
        alphabet = Alphabet.from_dict(alphabet_data)
    except (InputError, ValueError, TypeError) as err:
        raise InputError(f"registry.alphabet: {getattr(err, 'message', err)}") from None
    raw_length = _registry_field(data, "raw_length", int)
    if raw_length < 1:
        raise InputError(f"registry.raw_length: must be >= 1, got {raw_length}")
    focus = _int_list(data, "focus_columns")
    if focus.size == 0:
        raise InputError("registry.focus_columns: empty")
    if focus.min() < 0 or focus.max() >= raw_length or np.any(np.diff(focus) <= 0):
        raise InputError(
            f"registry.focus_columns: must be increasing column indices in 0..{raw_length - 1} (raw_length)"
        )
    reference_id = _registry_field(data, "reference_id", str)
    reference_sequence = _registry_field(data, "reference_sequence", str)
    if len(reference_sequence) != focus.size:
        raise InputError(
            f"registry.reference_sequence: has {len(reference_sequence)} letters, "
            f"focus_columns has {focus.size} columns"
        )
    unknown = sorted(set(reference_sequence) - set(alphabet.symbols))
    if unknown:
        raise InputError(
            f"registry.reference_sequence: letter {unknown[0]!r} is not in the alphabet {alphabet.symbols!r}"
        )
    reference_start = _registry_field(data, "reference_start", int)
    numbering = _int_list(data, "numbering")
    if numbering.size != focus.size:
        raise InputError(
            f"registry.numbering: has {numbering.size} entries, focus_columns has {focus.size} columns"
        )
    reference_raw = _registry_field(data, "reference_raw", str)
    a2m_mode = data.get("a2m_mode", "columns")
    if a2m_mode not in A2M_MODES:
        raise InputError(f"registry.a2m_mode: must be one of {', '.join(A2M_MODES)}, got {a2m_mode!r:.40}")
    raw_columns = len(re.sub(r"[a-z.]", "", reference_raw)) if a2m_mode == "strip" else len(reference_raw)
    if raw_columns != raw_length:
        raise InputError(f"registry.reference_raw: has {raw_columns} columns, raw_length says {raw_length}")
    options = _registry_field(data, "options", dict)
    try:
        options = AlignmentOptions(**options)
    except TypeError as err:
        raise InputError(f"registry.options: {err}") from None
    except InputError as err:
        raise InputError(f"registry.options: {err.message}") from None
    return {
        "alphabet": alphabet,
        "raw_length": raw_length,
        "focus_columns": focus,
        "reference_id": reference_id,
        "reference_sequence": reference_sequence,
        "reference_start": reference_start,
        "numbering": numbering,
        "reference_raw": reference_raw,
        "options": options,
        "a2m_mode": a2m_mode,
    }


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

    def _summary(self) -> dict[str, str]:
        """The few facts the reprs show: source, reference, N x L, N_eff, theta."""
        weighted = self.sequence_weights is not None
        return {
            "source": Path(self.source).name if self.source else "",
            "reference": self.registry.reference_id,
            "N x L": f"{self.n_sequences} x {self.length}",
            "N_eff": f"{self.n_eff:.1f}" if weighted else f"{self.n_sequences} (unweighted)",
            "theta": "" if self.theta is None else f"{self.theta:g}",
        }

    def __repr__(self) -> str:
        """One line (the codes are not printed): reference, N x L, N_eff, theta, source."""
        facts = self._summary()
        text = f"Alignment({facts['reference']!r}, N x L = {facts['N x L']}, N_eff = {facts['N_eff']}"
        if facts["theta"]:
            text += f", theta = {facts['theta']}"
        if facts["source"]:
            text += f", from {facts['source']!r}"
        return text + ")"

    def _repr_html_(self) -> str:
        """A small table for notebooks."""

        return html_table("Alignment", self._summary())

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

    def weighted(self, theta: float | None = DEFAULT_THETA) -> Alignment:
        """A copy with sequence weights at identity threshold ``theta`` (neighbours share weight
        when their identity exceeds ``1 - theta``; ``None``: all ones), read back as
        :attr:`weights` and :attr:`n_eff`
        (:func:`~seqvae.data.weights.compute_sequence_weights`)."""
        copy = self.subset(np.arange(self.n_sequences))
        copy.set_weights(theta)
        return copy

    def set_weights(
        self,
        theta: float | None = DEFAULT_THETA,
        progress: Callable[[int, int], None] | None = None,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """Compute this alignment's sequence weights at identity threshold ``theta`` and keep them
        (:attr:`sequence_weights`, :attr:`theta`), in place: the one way weights are put on an
        alignment (:meth:`weighted` does it on a copy). ``progress(done, total)`` is called as
        :func:`~seqvae.data.weights.compute_sequence_weights` goes. ``weights``: the weights at
        ``theta`` computed before (a family's, saved once for all its runs), kept as they are.
        Returns the weights."""
        if theta is not None and not (isinstance(theta, int | float) and 0.0 <= theta <= 1.0):
            raise ConfigError(f"theta must be a number in [0, 1] or None, got {theta!r}", field="theta")
        if weights is None:
            weights = compute_sequence_weights(self.codes, self.alphabet.gap_code, theta, progress=progress)
        elif np.shape(weights) != (self.n_sequences,):
            raise ConfigError(
                f"weights: expected one per sequence ({self.n_sequences}), got shape {np.shape(weights)}",
                field="weights",
            )
        self.sequence_weights = np.asarray(weights, np.float64)
        self.theta = theta
        return self.sequence_weights

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


def _row_matrix(records: list[SequenceRecord], source: str, what: str = "columns") -> np.ndarray:
    """Rows as a ``uint8 [N, raw_length]`` byte matrix; ragged rows are an error."""
    expected = len(records[0].text)
    for record in records:
        if len(record.text) != expected:
            raise InputError(
                f"ragged alignment: sequence {record.id!r} has {len(record.text)} {what}, "
                f"the first sequence ({records[0].id!r}) has {expected}",
                source,
                record.line,
            )
    joined = "".join(r.text for r in records)
    if not joined.isascii():
        record = next(r for r in records if not r.text.isascii())
        column = next(i for i, c in enumerate(record.text) if not c.isascii())
        raise InputError(
            f"unknown character {record.text[column]!r} (U+{ord(record.text[column]):04X}) in sequence "
            f"{record.id!r} at column {column + 1}: alignments hold ASCII letters, '-' and '.'",
            source,
            record.line,
        )
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(len(records), expected)


def _check_match_states(rows: np.ndarray, records: list[SequenceRecord], expected: int, source: str) -> None:
    """A2M rows of one alignment share their match states: each row has as many upper-case
    letters and '-' as the reference (else its letters would be read shifted).

    ``rows`` is the ``uint8 [N, raw_length]`` byte matrix of ``records``.
    """
    is_match = ((rows >= ord("A")) & (rows <= ord("Z"))) | (rows == ord("-"))
    counts = is_match.sum(axis=1)
    wrong = np.flatnonzero(counts != expected)
    if wrong.size:
        record = records[int(wrong[0])]
        raise InputError(
            f"sequence {record.id!r} has {int(counts[wrong[0]])} match columns (upper case or '-'), the "
            f"reference has {expected}: its inserts are not those of an A2M row of this alignment",
            source,
            record.line,
        )


def _match_count(reference_raw: str) -> int:
    return sum(1 for c in reference_raw if c.isupper() or c == "-")


def _strip_inserts(records: list[SequenceRecord]) -> list[SequenceRecord]:
    """A3M rows: drop lower-case insert letters and '.' from every row."""
    return [SequenceRecord(r.id, r.header, re.sub(r"[a-z.]", "", r.text), r.line) for r in records]


def _insert_mode(fmt: str, records: list[SequenceRecord], reference_text: str) -> str:
    """How lower-case letters are read.

    ``columns``: A2M, rows of equal length; focus columns are where the reference is upper
    case or '-' (lower case and '.' columns are inserts). ``strip``: A3M, each row carries its
    own lower-case inserts, removed before the rows line up. ``plain``: no insert convention;
    case is ignored and '.' is a gap.

    FASTA and Stockholm files follow the A2M convention when they contain lower case or '.'
    and the reference has upper-case letters; a reference without upper case (e.g. an
    all-lower-case DNA alignment) means plain text.
    """
    equal = len({len(r.text) for r in records}) == 1
    if fmt == "a3m":
        return "strip"
    if fmt == "a2m":
        return "columns" if equal else "strip"
    if not any(c.isupper() for c in reference_text):
        return "plain"
    if not any(ch.islower() or ch == "." for r in records for ch in r.text):
        return "plain"
    return "columns" if equal else "strip"


def _match_columns(mode: str, reference_raw: str, raw_length: int) -> np.ndarray:
    """Columns of the (insert-stripped) rows that are match states: what focus is chosen from."""
    if mode == "columns":
        return np.array([i for i, c in enumerate(reference_raw) if c.isupper() or c == "-"], dtype=np.int64)
    return np.arange(raw_length, dtype=np.int64)


def _reference_numbering(
    reference_id: str, reference_raw: str, mode: str, raw_length: int
) -> tuple[int, np.ndarray]:
    """Residue number (from ``NAME/start-end``, else 1) of every raw column; -1 on gaps.

    Every letter of the reference row counts as a residue, insert (lower-case) letters too,
    so number ``n`` sits at index ``n - start`` of the reference's letters.
    """
    match = RANGE_HEADER.match(reference_id)
    start = int(match.group("start")) if match else 1
    is_residue = np.array([c not in "-." for c in reference_raw], dtype=bool)
    residue_number = np.where(is_residue, np.cumsum(is_residue) - 1 + start, -1)
    if mode == "strip":  # raw columns are the reference row's non-insert characters
        positions = [i for i, c in enumerate(reference_raw) if not (c.islower() or c == ".")]
        residue_number = residue_number[np.asarray(positions, dtype=np.int64)]
    if residue_number.size != raw_length:  # pragma: no cover - guarded by the row checks
        raise InputError("internal error: numbering length mismatch")
    return start, residue_number.astype(np.int64)


def _upper(letters: np.ndarray) -> np.ndarray:
    return np.where((letters >= ord("a")) & (letters <= ord("z")), letters - 32, letters).astype(np.uint8)


def _code_letters(
    letters: np.ndarray,
    alphabet: Alphabet,
    records: list[SequenceRecord],
    source: str,
    columns: np.ndarray | None,
    what: str = "column",
) -> tuple[np.ndarray, np.ndarray]:
    """Letters to codes and a mask of non-standard residues; unknown letters are an error.

    ``columns`` maps each column of ``letters`` to the column number reported in errors.
    """
    upper = _upper(letters)
    codes = alphabet.encode_bytes(upper)
    nonstandard = alphabet.is_nonstandard(upper)
    unknown = (codes == INVALID_CODE) & ~nonstandard
    if unknown.any():
        row, col = np.argwhere(unknown)[0]
        record = records[row]
        letter = chr(letters[row, col])
        where = int(col if columns is None else columns[col]) + 1
        allowed = alphabet.residues + alphabet.nonstandard
        raise InputError(
            f"unknown character {letter!r} in sequence {record.id!r} at {what} {where} "
            f"(the {alphabet.name} alphabet has {allowed}, gaps '-' and '.')",
            source,
            record.line,
        )
    return codes, nonstandard


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
            raise InputError(
                f"reference id {options.reference!r} is not in the alignment "
                f"({len(ids)} sequences, the first is {ids[0]!r})",
                source,
            )
        reference_index = ids.index(options.reference)

    reference_raw = records[reference_index].text
    mode = _insert_mode(raw.format, records, reference_raw)
    what = "columns"
    if mode == "strip":
        records = _strip_inserts(records)
        what = "match columns (upper case and '-', inserts removed)"
    rows = _row_matrix(records, source, what)
    if mode == "columns" and raw.format == "a2m":  # FASTA rows may use lower case on match columns
        _check_match_states(rows, records, _match_count(reference_raw), source)
    raw_length = rows.shape[1]
    focus = _match_columns(mode, reference_raw, raw_length)
    if focus.size == 0:
        raise InputError(
            f"the reference sequence {records[reference_index].id!r} has no match (upper-case or '-') columns",
            source,
            records[reference_index].line,
        )
    start, column_numbers = _reference_numbering(records[reference_index].id, reference_raw, mode, raw_length)
    numbering = column_numbers[focus]

    codes, nonstandard = _code_letters(
        rows[:, focus], alphabet, records, source, focus, "match column" if mode == "strip" else "column"
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
    if kept_rows.size <= 1 and len(records) > 1:
        removed = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.items() if k.endswith("removed"))
        raise InputError(
            f"all {len(records) - 1} sequences besides the reference were removed by the filters "
            f"({removed}); relax them (e.g. nonstandard letters as gaps)",
            source,
        )
    codes = codes[kept_rows]
    column_keep = np.ones(focus.size, dtype=bool)
    if options.max_column_gap_fraction is not None:
        column_gaps = (codes == alphabet.gap_code).mean(axis=0)
        column_keep = column_gaps <= options.max_column_gap_fraction
        report["columns_over_gap_fraction_removed"] = int((~column_keep).sum())
        if not column_keep.any():
            raise InputError(
                f"all {focus.size} columns have more than {options.max_column_gap_fraction:g} gaps "
                "and were removed by the column gap filter",
                source,
            )
    focus = focus[column_keep]
    numbering = numbering[column_keep]
    codes = np.ascontiguousarray(codes[:, column_keep])
    if not (codes != alphabet.gap_code).any():
        raise InputError(
            f"the alignment holds no residues: all {codes.shape[0]} sequences are gaps on every "
            f"one of the {codes.shape[1]} columns, so there is nothing to learn",
            source,
        )
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
        a2m_mode=mode,
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
    """Code new sequences with a saved registry (same columns as the training alignment).

    Accepted rows, in this order: the full raw rows of the training file
    (``registry.raw_length`` columns, inserts as in the training file); for A2M/A3M-style
    registries, rows whose lower-case inserts and '.' are removed (A3M) and that then have one
    column per match column; or rows already restricted to the focus columns
    (``registry.length`` columns). Anything else is rejected. Non-standard residues are mapped
    to gaps (a model can still embed such sequences).
    """
    alphabet = registry.alphabet
    records = raw.records
    match_columns = _match_columns(registry.a2m_mode, registry.reference_raw, registry.raw_length)
    lengths = {len(r.text) for r in records}
    expected = {
        registry.raw_length: "full rows of the training alignment",
        registry.length: "focus columns only",
    }
    if registry.a2m_mode != "plain":
        expected.setdefault(match_columns.size, "match columns with inserts removed")
    columns: np.ndarray | None = None
    if registry.a2m_mode != "strip" and lengths == {registry.raw_length}:
        columns = registry.focus_columns
    elif registry.a2m_mode != "plain":
        records = _strip_inserts(records)
        lengths = {len(r.text) for r in records}
        if lengths == {match_columns.size}:
            columns = np.searchsorted(match_columns, registry.focus_columns)
    if columns is None and lengths == {registry.length}:
        columns = np.arange(registry.length)
    if columns is None:
        if len(lengths) > 1:
            _row_matrix(records, raw.source)  # raises the ragged-rows error
        (length,) = lengths
        accepted = " or ".join(f"{n} ({why})" for n, why in sorted(expected.items()))
        raise InputError(
            f"sequences have {length} columns but the run's alignment needs {accepted}: "
            "align them to the training alignment first",
            raw.source,
            records[0].line,
        )
    rows = _row_matrix(records, raw.source)
    if registry.a2m_mode == "columns" and raw.format == "a2m" and rows.shape[1] == registry.raw_length:
        _check_match_states(rows, records, _match_count(registry.reference_raw), raw.source)
    rows = rows[:, columns]
    codes, nonstandard = _code_letters(rows, alphabet, records, raw.source, columns)
    codes = np.where(nonstandard, alphabet.gap_code, codes).astype(np.uint8)
    return Alignment(
        ids=[r.id for r in records],
        headers=[r.header for r in records],
        codes=np.ascontiguousarray(codes),
        registry=registry,
        filter_report={
            "sequences_read": len(records),
            "nonstandard_residues_mapped_to_gap": int(nonstandard.sum()),
            "sequences_kept": len(records),
        },
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


def alignment_summary(aln: Alignment, file: str | Path | None = None, theta: float | None = None) -> dict:
    """The summary ``seqvae info`` prints: size, N_eff, gaps, reference numbering, filters.

    Parameters
    ----------
    aln
        The alignment; N_eff is reported when ``theta`` is given (weights already computed).
    file
        The file it came from (default: ``aln.source``).
    theta
        The identity threshold its sequence weights were computed with, or ``None``.
    """
    seq_gaps = aln.gap_fraction_per_sequence()
    col_gaps = aln.gap_fraction_per_column()
    numbering = aln.registry.numbering
    numbered = numbering[numbering >= 0]
    return {
        "file": str(aln.source if file is None else file),
        "alphabet": aln.alphabet.name,
        "n_sequences": aln.n_sequences,
        "length": aln.length,
        "n_eff": None if theta is None else round(aln.n_eff, 3),
        "theta": theta,
        "reference_id": aln.registry.reference_id,
        "reference_numbering": (f"{int(numbered.min())}-{int(numbered.max())}" if numbered.size else None),
        "reference_focus_sequence": aln.registry.reference_sequence,
        "gap_fraction_mean": round(float(seq_gaps.mean()), 4),
        "sequence_gap_fraction_max": round(float(seq_gaps.max()), 4),
        "column_gap_fraction_max": round(float(col_gaps.max()), 4),
        "filters": aln.filter_report,
        "notes": [note] if (note := aln.registry.range_note()) else [],
    }
