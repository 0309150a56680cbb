"""``seqvae align``: build a family alignment from one sequence, as EVcouplings and EVE do.

:func:`align` runs jackhmmer (pyhmmer) from the query against a FASTA database streamed from
disk, keeps hits covering at least half of the query, lower-cases columns occupied in fewer
than 70 % of the kept sequences and returns the :class:`~seqvae.data.alignment.Alignment`
every other command takes. With ``out`` it also writes the A2M, the same rows as Stockholm
(``family.sto``), a provenance JSON beside it (``family.json``) and the table of every hit with its E-value and bit score
(``family_hits.csv``), each written atomically.

:func:`align_sweep` builds one alignment per bit-score threshold and picks one with EVE's rule
(Frazer et al. 2021): the most inclusive alignment with at least 80 % of the query's positions
covered (focus columns) and 10·L ≤ N ≤ 100,000 sequences, relaxed to 70 % and 200,000 when none
qualifies.
"""

from __future__ import annotations

import csv
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqvae.data.alignment import Alignment, AlignmentOptions, alignment_summary, build_alignment
from seqvae.data.search import (
    IterationSummary,
    Query,
    SearchResult,
    check_database,
    family_rows,
    import_pyhmmer,
    jackhmmer_search,
    read_query,
)
from seqvae.data.weights import DEFAULT_THETA
from seqvae.errors import InputError
from seqvae.io.alignment_formats import RawAlignment, SequenceRecord, stockholm_text
from seqvae.io.atomic import atomic_open, write_json
from seqvae.io.output_dirs import check_output_paths
from seqvae.version import __version__

DEFAULT_BITSCORE = 0.5
DEFAULT_ITERATIONS = 5
DEFAULT_MIN_COVERAGE = 0.5
DEFAULT_MIN_COLUMN_OCCUPANCY = 0.7
# EVE's selection rule: (minimum fraction of query positions covered, maximum N), in order
EVE_RULE_TIERS = ((0.8, 100_000), (0.7, 200_000))
EVE_MIN_SEQUENCES_PER_POSITION = 10
HIT_COLUMNS = (
    "name",
    "row_name",
    "sequence_score",
    "sequence_evalue",
    "domain",
    "n_domains",
    "domain_score",
    "domain_evalue",
    "env_from",
    "env_to",
    "ali_from",
    "ali_to",
    "included",
    "coverage",
    "in_alignment",
)


@dataclass
class FamilyAlignment:
    """A built family: the alignment, its provenance and the hit table.

    Attributes
    ----------
    alignment
        The coded alignment (sequence weights computed at ``theta``).
    a2m
        The A2M text.
    stockholm
        The same rows as Stockholm text (written beside the A2M as ``<stem>.sto``).
    provenance
        What the provenance JSON holds (query, database, versions, thresholds, iterations,
        hits per iteration, the ``seqvae info`` summary).
    hits
        One dict per reported domain of the last iteration (see ``HIT_COLUMNS``).
    paths
        The files written (empty when nothing was written).
    """

    alignment: Alignment
    a2m: str
    stockholm: str
    provenance: dict[str, Any]
    hits: list[dict[str, Any]]
    paths: dict[str, Path] = field(default_factory=dict)


def output_paths(out: str | Path) -> dict[str, Path]:
    """``family.a2m`` -> the A2M, ``family.sto`` (Stockholm), ``family.json`` and
    ``family_hits.csv`` beside it."""
    out = Path(out)
    return {
        "a2m": out,
        "stockholm": out.with_name(out.stem + ".sto"),
        "provenance": out.with_name(out.stem + ".json"),
        "hits": out.with_name(out.stem + "_hits.csv"),
    }


def _check_outputs(outputs: dict[str, Path], query: str | Path | Query, database: str | Path, out) -> None:
    source = query.source if isinstance(query, Query) else query
    check_output_paths(outputs, {"query": Path(source), "--database": Path(database)}, out)


def _check_distinct_ids(names: list[str], query: Query, database: str | Path) -> None:
    """Rows of an alignment need distinct ids: two database records with one id (and the same
    hit region) would give an A2M no reader accepts."""
    ids = [name.split()[0] for name in names]
    seen: set[str] = set()
    for row_id in ids:
        if row_id in seen:
            if row_id == ids[0]:
                raise InputError(
                    f"a database record's hit has the query's id {row_id!r}: give the query another name",
                    query.source,
                )
            raise InputError(
                f"two database records are named {row_id.split('/')[0]!r}; the alignment's rows need distinct ids",
                database,
            )
        seen.add(row_id)


def _a2m_text(names: list[str], rows: list[str], width: int = 80) -> str:
    chunks = []
    for name, row in zip(names, rows):
        chunks.append(f">{name}\n")
        chunks.extend(row[i : i + width] + "\n" for i in range(0, len(row), width))
    return "".join(chunks)


def build_family(
    query: str | Path | Query,
    database: str | Path,
    out: str | Path | None = None,
    *,
    bitscore: float = DEFAULT_BITSCORE,
    iterations: int = DEFAULT_ITERATIONS,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_column_occupancy: float = DEFAULT_MIN_COLUMN_OCCUPANCY,
    cpus: int = 0,
    theta: float = DEFAULT_THETA,
    progress: Callable[[IterationSummary], None] | None = None,
) -> FamilyAlignment:
    """Search, filter, write (when ``out`` is given) and read back a family alignment.

    See :func:`align` for the parameters. Nothing is written unless every step succeeded.
    """
    import_pyhmmer()
    started = time.perf_counter()
    paths = output_paths(out) if out is not None else {}
    if out is not None:
        _check_outputs({f"the {k} file": p for k, p in paths.items()}, query, database, out)
    q = query if isinstance(query, Query) else read_query(query)
    db = check_database(database)
    result = jackhmmer_search(
        q, database, bitscore=bitscore, iterations=iterations, cpus=cpus, progress=progress
    )
    rows = family_rows(result, min_coverage=min_coverage, min_column_occupancy=min_column_occupancy)
    _check_distinct_ids(rows.names, q, database)
    text = _a2m_text(rows.names, rows.rows)
    stockholm = stockholm_text(rows.names, rows.rows)
    source = str(paths.get("a2m", "<seqvae align>"))
    records = [SequenceRecord(n.split()[0], n, r, 0) for n, r in zip(rows.names, rows.rows)]
    aln = build_alignment(RawAlignment(records, "a2m", source), AlignmentOptions())
    aln.set_weights(theta)
    coverage = dict(zip(rows.names[1:], rows.coverage[1:]))
    hits = [_hit_row(hit, coverage) for hit in result.hits]
    provenance = _provenance(q, db, result, rows.report, min_coverage, min_column_occupancy, aln, theta)
    provenance["seconds"] = round(time.perf_counter() - started, 3)
    family = FamilyAlignment(
        alignment=aln, a2m=text, stockholm=stockholm, provenance=provenance, hits=hits, paths=paths
    )
    if out is not None:
        _write_family(family, paths, provenance)
    return family


def _write_family(family: FamilyAlignment, paths: dict[str, Path], provenance: dict[str, Any]) -> None:
    """A family's files at ``paths`` (:func:`output_paths`), the provenance last and naming them."""
    provenance["files"] = {k: p.name for k, p in paths.items()}
    _write_rows(paths["hits"], family.hits, HIT_COLUMNS)
    with atomic_open(paths["stockholm"], "w", encoding="utf-8") as handle:
        handle.write(family.stockholm)
    with atomic_open(paths["a2m"], "w", encoding="utf-8") as handle:
        handle.write(family.a2m)
    write_json(paths["provenance"], provenance)


def _write_rows(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _hit_row(hit: Any, coverage: dict[str, float]) -> dict[str, Any]:
    row = {name: getattr(hit, name) for name in HIT_COLUMNS if hasattr(hit, name)}
    row["row_name"] = hit.row_name
    in_alignment = hit.row_name in coverage
    row["coverage"] = round(float(coverage[hit.row_name]), 4) if in_alignment else ""
    row["in_alignment"] = in_alignment
    return row


def _provenance(
    query: Query,
    db: Any,
    result: SearchResult,
    filters: dict[str, int],
    min_coverage: float,
    min_column_occupancy: float,
    aln: Alignment,
    theta: float,
) -> dict[str, Any]:

    summary = alignment_summary(aln, theta=theta)
    summary["query_positions"] = query.length
    summary["query_positions_covered"] = round(aln.length / query.length, 4)
    per_iteration = result.iteration_table()
    return {
        "query": {
            "file": query.source,
            "id": query.label,
            "length": query.length,
            "sequence": query.sequence,
        },
        "database": {
            "path": db.path,
            "size_bytes": db.size_bytes,
            "sha256": db.sha256,
            "gzip": db.compressed,
        },
        "software": {
            "seqvae": __version__,
            "pyhmmer": result.pyhmmer_version,
            "hmmer": result.hmmer_version,
            "program": "jackhmmer",
        },
        "thresholds": {
            "bitscore_per_residue": result.bitscore,
            **result.thresholds(),
            "min_coverage": min_coverage,
            "min_column_occupancy": min_column_occupancy,
            "theta": theta,
        },
        "iterations": {
            "max": result.max_iterations,
            "run": len(per_iteration),
            "converged": result.converged,
            "hits_per_iteration": per_iteration,
        },
        "hits": {
            "reported_domains": len(result.hits),
            "included_domains": sum(1 for h in result.hits if h.included),
            "sequences_in_alignment": aln.n_sequences - 1,
        },
        "filters": filters,
        "summary": summary,
        "search_seconds": result.seconds,
    }


def align(
    query: str | Path,
    database: str | Path,
    out: str | Path | None = None,
    *,
    bitscore: float = DEFAULT_BITSCORE,
    iterations: int = DEFAULT_ITERATIONS,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_column_occupancy: float = DEFAULT_MIN_COLUMN_OCCUPANCY,
    cpus: int = 0,
    theta: float = DEFAULT_THETA,
    progress: Callable[[IterationSummary], None] | None = None,
) -> Alignment:
    """Build a family alignment from one sequence (jackhmmer, EVcouplings/EVE defaults).

    Parameters
    ----------
    query
        FASTA file with exactly one protein sequence; a header ``NAME/start-end`` sets its
        numbering (otherwise ``NAME/1-L``).
    database
        FASTA file of sequences to search, plain or gzip; streamed from disk at every iteration.
    out
        Write the A2M here, with ``<stem>.sto`` (the same rows as Stockholm), ``<stem>.json``
        (provenance) and ``<stem>_hits.csv`` beside it.
    bitscore
        Bits per query residue for the reporting and inclusion thresholds (EVcouplings: 0.5;
        lower is more inclusive).
    iterations
        jackhmmer iterations at most (5).
    min_coverage
        Keep hits with residues on at least this fraction of the query's positions (0.5).
    min_column_occupancy
        Query positions occupied in fewer than this fraction of the kept sequences are written
        in lower case and not modelled (0.7).
    cpus
        Search threads (0: automatic).
    theta
        Identity threshold of the sequence weights (N_eff in the summary).
    progress
        Called after every iteration with an :class:`~seqvae.data.search.IterationSummary`.

    Returns
    -------
    Alignment
        The alignment as :func:`seqvae.read_alignment` reads the written A2M, with sequence
        weights; the query is its reference.
    """
    return build_family(
        query,
        database,
        out,
        bitscore=bitscore,
        iterations=iterations,
        min_coverage=min_coverage,
        min_column_occupancy=min_column_occupancy,
        cpus=cpus,
        theta=theta,
        progress=progress,
    ).alignment


def select_candidate(
    candidates: list[dict[str, Any]], length: int
) -> tuple[dict[str, Any] | None, int | None]:
    """EVE's rule: the most inclusive (lowest bit score) candidate that qualifies.

    A candidate qualifies in tier 1 with ``focus_columns >= 0.8 * length`` and
    ``10 * length <= n_sequences <= 100,000``; when none does, tier 2 allows 0.7 and 200,000.

    Parameters
    ----------
    candidates
        Dicts with ``bitscore``, ``focus_columns`` and ``n_sequences`` (``None``: no alignment).
    length
        The query length L.

    Returns
    -------
    tuple
        The chosen candidate and its tier (1 or 2), or ``(None, None)``.
    """
    for tier, (min_covered, max_n) in enumerate(EVE_RULE_TIERS, start=1):
        qualifying = [
            c
            for c in candidates
            if c.get("n_sequences") is not None
            and c["focus_columns"] >= min_covered * length
            and EVE_MIN_SEQUENCES_PER_POSITION * length <= c["n_sequences"] <= max_n
        ]
        if qualifying:
            return min(qualifying, key=lambda c: c["bitscore"]), tier
    return None, None


@dataclass
class SweepResult:
    """One candidate alignment per bit score, and the selected one."""

    candidates: list[dict[str, Any]]
    selected: dict[str, Any] | None
    tier: int | None
    families: dict[float, FamilyAlignment]
    paths: dict[str, Path]

    @property
    def alignment(self) -> Alignment | None:
        if self.selected is None:
            return None
        return self.families[self.selected["bitscore"]].alignment


CANDIDATE_COLUMNS = (
    "bitscore",
    "n_sequences",
    "n_eff",
    "focus_columns",
    "query_positions_covered",
    "iterations_run",
    "tier",
    "selected",
    "file",
    "note",
)


def candidate_path(out: str | Path, bitscore: float) -> Path:
    """``family.a2m`` -> ``family_b0.3.a2m``: the bit score as short as it reads back exactly."""
    out = Path(out)
    text = f"{bitscore:g}"
    if float(text) != bitscore:
        text = repr(float(bitscore))
    return out.with_name(f"{out.stem}_b{text}{out.suffix or '.a2m'}")


def align_sweep(
    query: str | Path,
    database: str | Path,
    out: str | Path,
    bitscores: list[float],
    *,
    select: bool = True,
    progress: Callable[[float, IterationSummary], None] | None = None,
    **search: Any,
) -> SweepResult:
    """One alignment per bit score (``<stem>_b0.3.a2m``, ...), a table of the candidates
    (``<stem>_candidates.csv``) and, with ``select``, EVE's choice written as ``out`` itself.

    A threshold with no hit is a candidate without an alignment (its note says why). ``search``:
    the other keyword arguments of :func:`build_family` (``iterations``, ``min_coverage``,
    ``min_column_occupancy``, ``cpus``, ``theta``), the same for every bit score.

    Raises
    ------
    InputError
        ``select`` and no candidate satisfies the rule (the candidate files and table are kept).
    """
    import_pyhmmer()
    if not bitscores:
        raise InputError("give at least one bit score (bitscores)")
    out = Path(out)
    # the selected files are checked without --select too: --out names them either way
    outputs = {"the candidate table": out.with_name(out.stem + "_candidates.csv")}
    outputs.update({f"the selected {k} file": p for k, p in output_paths(out).items()})
    for bitscore in sorted(set(bitscores)):
        for kind, path in output_paths(candidate_path(out, bitscore)).items():
            outputs[f"the {kind} file of bit score {bitscore!r}"] = path
    _check_outputs(outputs, query, database, out)
    q = read_query(query)
    check_database(database)
    candidates: list[dict[str, Any]] = []
    families: dict[float, FamilyAlignment] = {}
    for bitscore in sorted(set(bitscores)):
        path = candidate_path(out, bitscore)
        row: dict[str, Any] = {"bitscore": bitscore, "file": path.name, "note": ""}
        try:
            shown = None if progress is None else functools.partial(progress, bitscore)
            family = build_family(q, database, path, bitscore=bitscore, progress=shown, **search)
        except InputError as err:
            if "no hit" not in err.message:
                raise
            row.update(n_sequences=None, n_eff=None, focus_columns=0, query_positions_covered=0.0)
            row.update(iterations_run=None, file="", note=err.message)
        else:
            families[bitscore] = family
            summary = family.provenance["summary"]
            row.update(
                n_sequences=summary["n_sequences"],
                n_eff=summary["n_eff"],
                focus_columns=summary["length"],
                query_positions_covered=summary["query_positions_covered"],
                iterations_run=family.provenance["iterations"]["run"],
            )
        candidates.append(row)
    selected, tier = select_candidate(candidates, q.length) if select else (None, None)
    for row in candidates:
        row["tier"] = tier if row is selected else ""
        row["selected"] = row is selected
    paths = {"candidates": outputs["the candidate table"]}
    _write_rows(paths["candidates"], candidates, CANDIDATE_COLUMNS)
    if select and selected is None:
        raise InputError(
            f"no candidate satisfies EVE's rule (>= 70 % of {q.length} positions covered and "
            f"{EVE_MIN_SEQUENCES_PER_POSITION * q.length} <= N <= 200,000); see {paths['candidates'].name}",
            out,
        )
    if selected is not None:
        family = families[selected["bitscore"]]
        chosen = output_paths(out)
        provenance = dict(family.provenance)
        provenance["selection"] = {
            "rule": "EVE: the lowest bit score with >= 0.8 L positions covered and 10 L <= N <= 100,000; "
            "else >= 0.7 L and 10 L <= N <= 200,000",
            "tier": tier,
            "bitscore": selected["bitscore"],
            "candidates": candidates,
            "candidate_file": selected["file"],
        }
        _write_family(family, chosen, provenance)
        paths.update(chosen)
    return SweepResult(candidates=candidates, selected=selected, tier=tier, families=families, paths=paths)
