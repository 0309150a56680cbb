"""From one sequence to a family: iterative profile search with HMMER's jackhmmer (pyhmmer).

The recipe is EVcouplings' and EVE's (Hopf et al. 2019; Frazer et al. 2021): jackhmmer for a
few iterations, a bit-score threshold given in bits per query residue and multiplied by the
query length for the sequence and domain reporting and inclusion thresholds (``-T``,
``--domT``, ``--incT``, ``--incdomT``), hits covering at least half of the query, and columns
occupied in fewer than 70 % of the kept sequences written in lower case (not modelled).

This module talks to pyhmmer (an optional dependency, ``pip install 'seqvae[align]'``) and
turns the last iteration's alignment into query-centred A2M rows: one column per query
residue, the query first, its match columns in upper case. Writing files is left to
:mod:`seqvae.workflows.align`.

Each hit's row spans its HMMER *envelope* (``env_from``-``env_to``), not only its aligned region
(``ali_from``-``ali_to``): HMMER's local (optimal-accuracy) alignment often leaves one to three
residues at each end of the envelope unaligned, and jackhmmer's ``-A`` rows (and EVcouplings',
which are cut from them) drop them, so the query's first and last match columns end up
under-occupied. Those residues are placed, without gaps, in the model's match columns next to
the aligned region (at most as many as there are columns before ``hmm_from`` / after
``hmm_to``; any more are left out).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqvae.data.alignment import RANGE_HEADER
from seqvae.errors import InputError
from seqvae.io.alignment_formats import read_records

PYHMMER_HINT = "pip install 'seqvae[align]' (or pip install pyhmmer)"
PROTEIN_LETTERS = "ACDEFGHIKLMNPQRSTVWY"
NONSTANDARD_LETTERS = "BJOUXZ"
NUCLEOTIDE_LETTERS = set("ACGTUN")
_GAPS = "-.~"


def import_pyhmmer() -> Any:
    """Import pyhmmer, or raise a one-line :class:`InputError` with the install hint."""
    try:
        import pyhmmer
        import pyhmmer.easel
        import pyhmmer.errors
        import pyhmmer.hmmer
        import pyhmmer.plan7
    except ImportError:
        raise InputError(
            f"pyhmmer is not installed; install it with: {PYHMMER_HINT}", "seqvae align"
        ) from None
    return pyhmmer


@dataclass(frozen=True)
class Query:
    """The query sequence.

    Attributes
    ----------
    name
        Its id without a ``/start-end`` range.
    start
        Residue number of its first residue (from a ``NAME/start-end`` header; 1 otherwise).
    sequence
        Upper-case residues, gaps removed.
    source
        The file it was read from.
    """

    name: str
    start: int
    sequence: str
    source: str = ""

    @property
    def length(self) -> int:
        return len(self.sequence)

    @property
    def label(self) -> str:
        """``NAME/start-end`` in the query's own numbering."""
        return f"{self.name}/{self.start}-{self.start + self.length - 1}"


def read_query(path: str | Path) -> Query:
    """Read one protein sequence from a FASTA file.

    Gaps (``-``, ``.``) are removed and letters upper-cased, so a row of an alignment works as a
    query. A header ``NAME/start-end`` whose range matches the length gives the numbering.

    Raises
    ------
    InputError
        An empty file, more than one sequence, a nucleotide sequence, or letters that are not
        amino acids.
    """
    records = read_records(path, "fasta").records
    if len(records) != 1:
        raise InputError(
            f"the query file holds {len(records)} sequences; seqvae align takes exactly one",
            path,
            records[1].line,
        )
    record = records[0]
    sequence = re.sub(r"[-.]", "", record.text).upper().rstrip("*")
    if not sequence:
        raise InputError(f"query {record.id!r} has no residues", path, record.line)
    if len(sequence) >= 10 and set(sequence) <= NUCLEOTIDE_LETTERS:
        raise InputError(
            f"query {record.id!r} looks like DNA/RNA (only A, C, G, T/U, N); seqvae align searches "
            "protein databases: translate it first",
            path,
            record.line,
        )
    allowed = set(PROTEIN_LETTERS + NONSTANDARD_LETTERS)
    for position, letter in enumerate(sequence, start=1):
        if letter not in allowed:
            raise InputError(
                f"query {record.id!r} has {letter!r} at residue {position}, not an amino acid letter",
                path,
                record.line,
            )
    name, start = record.id, 1
    match = RANGE_HEADER.match(record.id)
    if match:
        first, last = int(match.group("start")), int(match.group("end"))
        if last - first + 1 != len(sequence):
            raise InputError(
                f"query header {record.id!r} gives {last - first + 1} residues ({first}-{last}) "
                f"but the sequence has {len(sequence)}",
                path,
                record.line,
            )
        name, start = match.group("name"), first
    return Query(name=name, start=start, sequence=sequence, source=str(path))


@dataclass(frozen=True)
class DatabaseInfo:
    """The sequence database: path, size in bytes and sha256 of the file as stored."""

    path: str
    size_bytes: int
    sha256: str
    compressed: bool


def check_database(path: str | Path) -> DatabaseInfo:
    """Check that ``path`` is a (possibly gzipped) FASTA file and fingerprint it.

    The start must be FASTA; a gzip file is decompressed to its end, so that a cut or corrupt
    stream is refused here rather than searched up to the damage. Everything is read in 1 MiB
    chunks: the database is never held in memory.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("database file not found", path)
    if path.is_dir():
        raise InputError("database is a directory, expected a FASTA file", path)
    with open(path, "rb") as handle:
        magic = handle.read(2)
    compressed = magic == b"\x1f\x8b"
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as handle:
            head = handle.read(65536)
            while compressed and handle.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"cannot read the database ({err or type(err).__name__})", path) from None
    stripped = head.lstrip()
    if not stripped:
        raise InputError("the database is empty", path)
    if not stripped.startswith(b">"):
        line = head[: len(head) - len(stripped)].count(b"\n") + 1
        shown = stripped[:1].decode("ascii", "replace")
        raise InputError(f"the database is not FASTA: expected '>' but found {shown!r}", path, line)
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return DatabaseInfo(path=str(path), size_bytes=size, sha256=digest.hexdigest(), compressed=compressed)


@dataclass
class IterationSummary:
    """One jackhmmer iteration: hits reported and included above the thresholds."""

    iteration: int
    reported: int
    included: int
    new: int
    seconds: float


@dataclass
class SearchHit:
    """One reported domain of the last iteration (a sequence hit has one row per domain)."""

    name: str
    sequence_score: float
    sequence_evalue: float
    domain: int
    n_domains: int
    domain_score: float
    domain_evalue: float
    env_from: int
    env_to: int
    ali_from: int
    ali_to: int
    included: bool
    hmm_from: int = 0
    hmm_to: int = 0
    hmm_length: int = 0
    envelope_left: str = ""
    envelope_right: str = ""

    @property
    def alignment_name(self) -> str:
        """The name jackhmmer gives the domain in its alignment: ``name/ali_from-ali_to``."""
        return f"{self.name}/{self.ali_from}-{self.ali_to}"

    @property
    def left_extension(self) -> int:
        """Envelope residues before ``ali_from`` that fit in the match columns before ``hmm_from``."""
        return min(len(self.envelope_left), max(self.hmm_from - 1, 0))

    @property
    def right_extension(self) -> int:
        """Envelope residues after ``ali_to`` that fit in the match columns after ``hmm_to``."""
        return min(len(self.envelope_right), max(self.hmm_length - self.hmm_to, 0))

    @property
    def row_name(self) -> str:
        """The name of the domain's A2M row: ``name/first-last`` of the residues it holds (the
        aligned region extended into the envelope, see the module docstring)."""
        return f"{self.name}/{self.ali_from - self.left_extension}-{self.ali_to + self.right_extension}"


@dataclass
class SearchResult:
    """What :func:`jackhmmer_search` found."""

    query: Query
    bitscore: float
    threshold_bits: float
    max_iterations: int
    iterations: list[IterationSummary]
    converged: bool
    hits: list[SearchHit]
    msa_names: list[str]
    msa_rows: list[str]
    pyhmmer_version: str
    hmmer_version: str
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def thresholds(self) -> dict[str, float]:
        """Every threshold passed to the pipeline, in bits."""
        t = self.threshold_bits
        return {"T": t, "domT": t, "incT": t, "incdomT": t}

    def iteration_table(self) -> list[dict[str, Any]]:
        return [asdict(i) for i in self.iterations]


def _hmmer_version(pyhmmer: Any, hmm: Any) -> str:
    """The HMMER version pyhmmer was built with, from the header of a written HMM."""
    buffer = io.BytesIO()
    hmm.write(buffer)
    first = buffer.getvalue().split(b"\n", 1)[0].decode("ascii", "replace")
    match = re.search(r"\[([^|\]]+)", first)
    return match.group(1).strip() if match else first


def jackhmmer_search(
    query: Query,
    database: str | Path,
    bitscore: float = 0.5,
    iterations: int = 5,
    cpus: int = 0,
    progress: Callable[[IterationSummary], None] | None = None,
) -> SearchResult:
    """Iterative search of ``query`` against a FASTA database streamed from disk.

    Parameters
    ----------
    query
        The query (see :func:`read_query`).
    database
        FASTA file, plain or gzip; pyhmmer reopens and streams it at every iteration.
    bitscore
        Bits per query residue; ``bitscore * L`` is used for ``T``, ``domT``, ``incT`` and
        ``incdomT`` (EVcouplings' rule; default 0.5).
    iterations
        Maximum number of iterations (stops early when no new sequence is included).
    cpus
        Worker threads (0: pyhmmer chooses).
    progress
        Called after each iteration with its :class:`IterationSummary`.
    """
    pyhmmer = import_pyhmmer()
    from pyhmmer import easel

    if not bitscore > 0:
        raise InputError(f"bitscore: bits per residue must be positive, got {bitscore!r}")
    if iterations < 1:
        raise InputError(f"iterations must be at least 1, got {iterations!r}")
    if cpus < 0:
        raise InputError(f"cpus must be 0 (automatic) or more, got {cpus!r}")
    alphabet = easel.Alphabet.amino()
    digital_query = easel.TextSequence(name=query.label.encode(), sequence=query.sequence).digitize(alphabet)
    threshold = float(bitscore) * query.length
    started = time.perf_counter()
    log = _IterationLog(progress, started)
    with _database_errors(pyhmmer, "cannot search the database", database):
        final = _last_iteration(digital_query, database, alphabet, iterations, cpus, threshold, log)
    hits, lengths = _reported_hits(final.hits)
    with _database_errors(pyhmmer, "cannot read the database", database):
        _read_envelope_flanks(database, alphabet, hits, lengths)
    text_msa = final.msa.textize() if final.msa is not None else None
    names = [n if isinstance(n, str) else n.decode() for n in text_msa.names] if text_msa else []
    rows = [str(row) for row in text_msa.alignment] if text_msa else []
    return SearchResult(
        query=query,
        bitscore=float(bitscore),
        threshold_bits=round(threshold, 3),
        max_iterations=iterations,
        iterations=log.summaries,
        converged=bool(final.converged),
        hits=hits,
        msa_names=names,
        msa_rows=rows,
        pyhmmer_version=pyhmmer.__version__,
        hmmer_version=_hmmer_version(pyhmmer, final.hmm),
        seconds=round(time.perf_counter() - started, 3),
    )


@contextmanager
def _database_errors(pyhmmer: Any, doing: str, database: str | Path) -> Iterator[None]:
    """pyhmmer's complaints about the database as one line naming it."""
    try:
        yield
    except (ValueError, EOFError, pyhmmer.errors.EaselError, pyhmmer.errors.AlphabetMismatch) as err:
        raise InputError(f"{doing}: {str(err).splitlines()[0]}", database) from None


@dataclass
class _IterationLog:
    """jackhmmer's ``select_hits`` hook: an :class:`IterationSummary` per iteration, each
    passed on to ``progress``."""

    progress: Callable[[IterationSummary], None] | None
    last: float  # when the previous iteration ended (or the search began)
    summaries: list[IterationSummary] = field(default_factory=list)
    included_before: set[str] = field(default_factory=set)

    def __call__(self, hits: Any) -> None:
        included = {hit.name for hit in hits if hit.included}
        now = time.perf_counter()
        summary = IterationSummary(
            iteration=len(self.summaries) + 1,
            reported=sum(1 for hit in hits if hit.reported),
            included=len(included),
            new=len(included - self.included_before),
            seconds=round(now - self.last, 3),
        )
        self.last = now
        self.included_before.update(included)
        self.summaries.append(summary)
        if self.progress is not None:
            self.progress(summary)


def _last_iteration(
    digital_query: Any,
    database: str | Path,
    alphabet: Any,
    iterations: int,
    cpus: int,
    threshold: float,
    log: _IterationLog,
) -> Any:
    """Run jackhmmer over the database streamed from disk; its last iteration's result."""
    from pyhmmer import easel, hmmer

    with easel.SequenceFile(str(database), digital=True, alphabet=alphabet, format="fasta") as targets:
        search = hmmer.jackhmmer(
            digital_query,
            targets,
            max_iterations=iterations,
            checkpoints=True,
            cpus=cpus,
            select_hits=log,
            T=threshold,
            domT=threshold,
            incT=threshold,
            incdomT=threshold,
        )
        return list(next(iter(search)))[-1]


def _reported_hits(sequence_hits: Any) -> tuple[list[SearchHit], dict[str, int]]:
    """One :class:`SearchHit` per reported domain of the reported sequences, and each
    sequence's length."""
    hits: list[SearchHit] = []
    lengths: dict[str, int] = {}
    for hit in sequence_hits:
        if not hit.reported:
            continue
        name = hit.name if isinstance(hit.name, str) else hit.name.decode()
        lengths[name] = int(hit.length)
        domains = [d for d in hit.domains if d.reported]
        for number, domain in enumerate(domains, start=1):
            hits.append(
                SearchHit(
                    name=name,
                    sequence_score=round(float(hit.score), 2),
                    sequence_evalue=float(f"{hit.evalue:.3g}"),
                    domain=number,
                    n_domains=len(domains),
                    domain_score=round(float(domain.score), 2),
                    domain_evalue=float(f"{domain.i_evalue:.3g}"),
                    env_from=int(domain.env_from),
                    env_to=int(domain.env_to),
                    ali_from=int(domain.alignment.target_from),
                    ali_to=int(domain.alignment.target_to),
                    included=bool(domain.included and hit.included),
                    hmm_from=int(domain.alignment.hmm_from),
                    hmm_to=int(domain.alignment.hmm_to),
                    hmm_length=int(domain.alignment.hmm_length),
                )
            )
    return hits, lengths


def _read_envelope_flanks(
    database: str | Path, alphabet: Any, hits: list[SearchHit], lengths: dict[str, int]
) -> None:
    """Fill in ``envelope_left``/``envelope_right`` of the hits whose envelope is wider than their
    aligned region: one more pass over the database, stopping once every such sequence is read.

    HMMER keeps only the aligned residues of a hit, so the envelope's other residues come from
    the database; a sequence is recognised by its name and length.
    """
    from pyhmmer import easel

    wanted: dict[str, list[SearchHit]] = {}
    for hit in hits:
        if hit.env_from < hit.ali_from or hit.env_to > hit.ali_to:
            wanted.setdefault(hit.name, []).append(hit)
    if not wanted:
        return
    with easel.SequenceFile(str(database), digital=True, alphabet=alphabet, format="fasta") as targets:
        for sequence in targets:
            name = sequence.name if isinstance(sequence.name, str) else sequence.name.decode()
            if name not in wanted or len(sequence) != lengths.get(name):
                continue
            residues = sequence.textize().sequence
            for hit in wanted.pop(name):
                hit.envelope_left = residues[hit.env_from - 1 : hit.ali_from - 1]
                hit.envelope_right = residues[hit.ali_to : hit.env_to]
            if not wanted:
                break


@dataclass
class FamilyRows:
    """Query-centred A2M rows and what the filters did."""

    names: list[str]
    rows: list[str]
    coverage: np.ndarray
    column_occupancy: np.ndarray
    focus: np.ndarray
    report: dict[str, int]


def _locate_query(query: Query, row: str) -> tuple[np.ndarray, int]:
    """Columns of the query's residues in its MSA row and the offset of its first one."""
    residues = [i for i, c in enumerate(row) if c not in _GAPS]
    aligned = "".join(row[i] for i in residues).upper()
    offset = query.sequence.find(aligned)
    if not aligned or offset < 0:
        raise InputError(
            "internal error: the query's row in the search alignment does not match the query", query.source
        )
    return np.asarray(residues, dtype=np.int64), offset


def _extend_to_envelopes(
    result: SearchResult,
    names: list[str],
    match: np.ndarray,
    query_index: int,
    gap_codes: np.ndarray,
    nodes_are_positions: bool,
) -> tuple[list[str], int]:
    """Place each hit's envelope residues outside its aligned region into the match columns
    next to it (in place, in ``match``); return the rows' names (``name/first-last`` of the
    residues they now hold) and how many residues were placed.

    Only when model node k is query position k (jackhmmer's models keep one node per query
    residue) and the columns are empty in that row (they always are: a domain's row has no
    residue before ``hmm_from`` or after ``hmm_to``).
    """
    if not nodes_are_positions:
        return names, 0
    length = match.shape[1]
    by_alignment = {hit.alignment_name: hit for hit in result.hits if hit.included}
    out = list(names)
    added = 0
    for index, name in enumerate(names):
        hit = by_alignment.get(name) if index != query_index else None
        if hit is None or hit.hmm_length != length:
            continue
        left, right = hit.left_extension, hit.right_extension
        # 0-based query positions: the `left` before node hmm_from, the `right` after node hmm_to
        span = np.r_[hit.hmm_from - 1 - left : hit.hmm_from - 1, hit.hmm_to : hit.hmm_to + right]
        letters = hit.envelope_left[len(hit.envelope_left) - left :] + hit.envelope_right[:right]
        if not letters or not np.isin(match[index, span], gap_codes).all():
            continue
        match[index, span] = np.frombuffer(letters.encode("ascii"), dtype=np.uint8)
        out[index] = hit.row_name
        added += len(letters)
    return out, added


def family_rows(
    result: SearchResult,
    min_coverage: float = 0.5,
    min_column_occupancy: float = 0.7,
) -> FamilyRows:
    """Turn the last iteration's alignment into query-centred A2M rows.

    One column per query residue (a residue the search left unaligned is a gap in every hit);
    a hit's residues between two query residues are inserts (lower case, dropped by every
    reader of A2M). A hit's envelope residues outside its aligned region fill the match columns
    next to it (see the module docstring) and its row is named by the residues it holds. Hits
    covering fewer than ``min_coverage`` of the query's residues (envelope residues included) are
    dropped; query columns occupied (not a gap) in fewer than ``min_column_occupancy`` of the
    kept sequences, the query included, become lower case too (``.`` for gaps), so that the
    focus columns are those in upper case.

    Raises
    ------
    InputError
        When no hit survives the coverage filter.
    """
    for name, value in (("min_coverage", min_coverage), ("min_column_occupancy", min_column_occupancy)):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{name} must be between 0 and 1, got {value!r}")
    query = result.query
    if not result.msa_rows or len(result.msa_rows) < 2:
        raise InputError(
            f"no hit above the threshold of {result.bitscore:g} bits per residue "
            f"({result.threshold_bits:g} bits for {query.length} residues); try a lower threshold (bitscore)",
            query.source,
        )
    names = list(result.msa_names)
    rows = [row.upper() for row in result.msa_rows]
    query_index = names.index(query.label) if query.label in names else 0
    columns, offset = _locate_query(query, rows[query_index])
    length = query.length
    n_aligned = columns.size
    # match letters per query position: [n_rows, L] (positions the search did not align: gaps)
    matrix = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8).reshape(len(rows), -1)
    match = np.full((len(rows), length), ord("-"), dtype=np.uint8)
    match[:, offset : offset + n_aligned] = matrix[:, columns]
    match[query_index] = np.frombuffer(query.sequence.encode("ascii"), dtype=np.uint8)
    gap_codes = np.frombuffer(_GAPS.encode(), dtype=np.uint8)
    names, added = _extend_to_envelopes(result, names, match, query_index, gap_codes, n_aligned == length)
    is_gap = np.isin(match, gap_codes)
    match[is_gap] = ord("-")
    coverage = 1.0 - is_gap.mean(axis=1)
    keep = coverage >= min_coverage
    keep[query_index] = True
    report = {
        "search_alignment_sequences": len(rows) - 1,
        "envelope_residues_added": added,
        "below_coverage_removed": int((~keep).sum()),
    }
    kept = np.flatnonzero(keep)
    kept = np.concatenate([[query_index], kept[kept != query_index]])
    if kept.size < 2:
        raise InputError(
            f"no hit covers {min_coverage:.0%} of the query ({len(rows) - 1} hits above "
            f"{result.threshold_bits:g} bits, best coverage {coverage[np.arange(len(rows)) != query_index].max():.0%})",
            query.source,
        )
    occupancy = 1.0 - is_gap[kept].mean(axis=0)
    focus = occupancy >= min_column_occupancy
    # inserts between query positions, per row: the letters in MSA columns between query columns
    insert_after = np.searchsorted(columns, np.arange(matrix.shape[1]), side="right") - 1 + offset
    inside = (np.arange(matrix.shape[1]) > columns[0]) & (np.arange(matrix.shape[1]) < columns[-1])
    query_column = np.zeros(matrix.shape[1], dtype=bool)
    query_column[columns] = True
    insert_columns = np.flatnonzero(inside & ~query_column)
    cells: list[list[tuple[str, str]]] = []
    for number, index in enumerate(kept):
        letters = match[index].tobytes().decode("ascii")
        inserts: list[list[str]] = [[] for _ in range(length)]
        if number > 0:
            for col in insert_columns:
                letter = chr(matrix[index, col])
                if letter not in _GAPS:
                    inserts[insert_after[col]].append(letter.lower())
        row_cells = []
        for position, letter in enumerate(letters):
            if not focus[position]:
                letter = "." if letter == "-" else letter.lower()
            row_cells.append((letter, "".join(inserts[position])))
        cells.append(row_cells)
    # A2M rows line up: each insert block is padded with '.' to its longest length
    widths = [max(len(row_cells[p][1]) for row_cells in cells) for p in range(length)]
    out_rows = [
        "".join(letter + ins + "." * (widths[p] - len(ins)) for p, (letter, ins) in enumerate(row_cells))
        for row_cells in cells
    ]
    out_names = [query.label] + [names[i] for i in kept[1:]]
    report["sequences_kept"] = int(kept.size - 1)
    report["focus_columns"] = int(focus.sum())
    report["lower_case_columns"] = int(length - focus.sum())
    return FamilyRows(
        names=out_names,
        rows=out_rows,
        coverage=coverage[kept],
        column_occupancy=occupancy,
        focus=focus,
        report=report,
    )
