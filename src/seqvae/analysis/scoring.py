"""Zero-shot mutation scores of tables, sequences and all single mutants, with the scorers of
:mod:`seqvae.analysis.scorers` (re-exported here): the scores, their evaluation against a
measured column, the structure-aware side and the ProteinGym format.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.burial import PositionBurial
from seqvae.analysis.drawable import Drawable
from seqvae.analysis.evaluation import Evaluation, evaluate_scores
from seqvae.analysis.mutations import (
    OUTPUT_PREFIX,
    MappedChunk,
    MismatchTally,
    MutationMapper,
    Substitution,
    WildType,
    all_single_mutants,
    detect_separator,
    parse_mutant,
    read_mutation_table,
)
from seqvae.analysis.scorers import (  # noqa: F401  (re-exported: scoring's API takes scorers)
    DECODE_ROWS,
    DECODER_PRECISIONS,
    FAST_SAMPLES,
    SCORE_SIGNS,
    EnsembleScorer,
    ModelScorer,
    Scorer,
    ScoringOptions,
    VAEScorer,
    load_scorer,
    load_scorers,
    shared_noise,
    sign_name,
    unique_name,
)
from seqvae.analysis.structure_scores import (
    DEFAULT_STRUCTURE_RULE,
    StructureRule,
    structure_factors,
    variant_burial,
    variant_factors,
)
from seqvae.data.alignment import Alignment, AlignmentRegistry, map_to_registry
from seqvae.errors import InputError
from seqvae.io.alignment_formats import RawAlignment, SequenceRecord, read_records
from seqvae.io.atomic import atomic_open, write_csv, write_json
from seqvae.io.tables import read_table
from seqvae.utils import release_free_memory

SCORES_FILE = "scores.csv"  # `seqvae score`'s default --out, and the scores in a saved folder
SUMMARY_SUFFIX = "_summary.json"
SCATTER_SUFFIX = "_scatter.png"
SINGLES_FIGURE_SUFFIX = ".png"


def scoring_files(out: str | Path) -> dict[str, Path]:
    """The files of a scores CSV ``out``: ``scores``, ``summary`` (JSON), ``scatter`` and, for an
    all-singles table, ``heatmap`` (PNG)."""
    out = Path(out)
    return {
        "scores": out,
        "summary": out.with_name(f"{out.stem}{SUMMARY_SUFFIX}"),
        "scatter": out.with_name(f"{out.stem}{SCATTER_SUFFIX}"),
        "heatmap": out.with_suffix(SINGLES_FIGURE_SUFFIX),
    }


STRUCTURE_SCORE_COLUMN = "score_structure"
BURIAL_COLUMN = "burial"


@dataclass
class StructureScoring:
    """The structure-aware side of a scored table (``score_file(burial=...)``).

    Attributes
    ----------
    burial, rule, measure
        Where the burial came from, the rule, and the measure it used.
    factors
        ``float [L]``: the rule's factor per focus column (NaN: not covered).
    n_uncovered
        Scored variants none of whose mutated positions the structure covers (plain score kept;
        a variant identical to the wild type has no mutated position and is not counted).
    predicted
        The structure-aware scores of the measured rows (beside ``ScoringReport.predicted``).
    evaluation
        Their agreement with the measured column.
    """

    burial: PositionBurial
    rule: StructureRule
    measure: str
    factors: np.ndarray
    n_uncovered: int = 0
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evaluation: Evaluation | None = None

    @classmethod
    def of(cls, burial: PositionBurial, rule: StructureRule | None = None) -> StructureScoring:
        rule = (rule or DEFAULT_STRUCTURE_RULE).check()
        return cls(burial, rule, rule.measure_for(burial), structure_factors(burial, rule))

    def variant_factors(self, codes: np.ndarray, wild_type: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each coded variant's factor and burial (means over its covered mutated positions;
        factor 1 and burial NaN where none is covered, and such variants are counted)."""
        mask = np.asarray(codes) != wild_type[None, :]
        factor, n_covered = variant_factors(mask, self.factors)
        self.n_uncovered += int(((n_covered == 0) & mask.any(1)).sum())
        return factor, variant_burial(mask, self.burial.burial(self.measure))

    def to_dict(self) -> dict[str, Any]:
        """Coverage, identity, the rule, the uncovered variants and, when evaluated, ρ."""
        out = {
            **self.burial.to_dict(),
            "measure": self.measure,
            "rule": self.rule.to_dict(),
            "variants_without_covered_position": self.n_uncovered,
        }
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation.to_dict()
        return out

    def describe(self) -> str:
        return (
            f"structure: {self.burial.describe()}; {self.rule.describe(self.measure)}; "
            f"{self.n_uncovered} scored variants with no covered position keep their plain score"
        )


@dataclass
class ScoredVariants:
    """The scored rows of a saved scores table, ready for the combination rule.

    Attributes
    ----------
    table
        The scored rows (no ``reason``), every column as text, in the table's order.
    scores
        ``float [B]``: their plain scores.
    columns
        The mutated focus columns (0-based) of each row (a wild-type row: none).
    n_rows
        Rows of the whole table (scored or not).
    source
        The file.
    """

    table: pd.DataFrame
    scores: np.ndarray
    columns: list[list[int]]
    n_rows: int
    source: str

    def measured(self, column: str) -> np.ndarray:
        """``float [B]``: a measured column of the scored rows (empty, NaN, NA: missing)."""
        if column not in self.table.columns:
            raise InputError(f"column {column!r} not found", self.source)
        return _numeric_column(self.table, column, self.source, 2)


def read_scored_variants(scores: str | Path | pd.DataFrame, mapper: MutationMapper) -> ScoredVariants:
    """The scored rows of a table :func:`score_file` wrote (seqvae format: its ``mutant``,
    ``score`` and ``reason`` columns, ``seqvae_``-prefixed where the input had those names) and
    the focus columns each mutates, through ``mapper`` (the
    :class:`~seqvae.analysis.mutations.MutationMapper` it was scored with: registry and wild
    type). Read once, then try rules with :func:`~seqvae.analysis.structure_scores.structure_factors`
    and :func:`~seqvae.analysis.structure_scores.structure_aware`."""
    table = (
        scores if isinstance(scores, pd.DataFrame) else pd.read_csv(scores, dtype=str, keep_default_na=False)
    )
    source = "scores" if isinstance(scores, pd.DataFrame) else str(scores)

    def column(name: str) -> str:
        for candidate in (OUTPUT_PREFIX + name, name):
            if candidate in table.columns:
                return candidate
        raise InputError(f"no {name!r} column: not a table written by seqvae score", source)

    reason = table[column("reason")].astype(str).str.strip()
    scored = table[(reason == "").to_numpy()].reset_index(drop=True)
    plain = pd.to_numeric(scored[column("score")], errors="coerce").to_numpy(dtype=np.float64)
    columns = [
        [mapper.column_of(sub.position) for sub in parse_mutant(text) if sub.mutant != sub.wild_type]
        for text in scored[column("mutant")]
    ]
    if any(c is None for row in columns for c in row):
        raise InputError(
            "a scored mutant has no focus column: was the table scored with this alignment?", source
        )
    return ScoredVariants(scored, plain, columns, len(table), source)  # type: ignore[arg-type]


def structure_from_scores(
    scores: str | Path | pd.DataFrame | ScoredVariants,
    mapper: MutationMapper | None,
    burial: PositionBurial,
    rule: StructureRule | None = None,
    score_column: str | None = None,
) -> StructureScoring:
    """The structure-aware side of a scores table :func:`score_file` wrote, without scoring
    again (see :func:`read_scored_variants`; ``mapper`` may be ``None`` when ``scores`` is
    already read). The structure-aware scores of the scored rows, in the table's order, are
    ``.predicted``; with ``score_column`` (a measured column of the table) they are evaluated
    against it (``.evaluation``, with its bootstrap interval: seconds on a large scan).
    """
    if not isinstance(scores, ScoredVariants):
        if mapper is None:
            raise InputError("reading a scores table needs the MutationMapper it was scored with")
        scores = read_scored_variants(scores, mapper)
    structure = StructureScoring.of(burial, rule)
    factor, n_covered = variant_factors(scores.columns, structure.factors)
    structure.n_uncovered = int(sum(1 for row, n in zip(scores.columns, n_covered) if row and n == 0))
    structure.predicted = scores.scores * factor
    if score_column is not None:
        structure.evaluation = evaluate_scores(
            structure.predicted, scores.measured(score_column), n_unscored=scores.n_rows - len(scores.scores)
        )
    return structure


@dataclass
class ScoringReport(Drawable):
    """What :func:`score_file` did: counts, the scores of the measured rows and, with a
    measured column, their evaluation (:meth:`save` writes it as ``OUT_summary.json``).

    The scores table is :meth:`to_frame`; with a measured column, :meth:`plot` draws predicted
    against measured scores and :meth:`save_figures` writes ``scores_scatter.png``.
    """

    n_rows: int = 0
    n_scored: int = 0
    n_unscored: int = 0
    n_mismatches_skipped: int = 0
    seconds: float = 0.0
    measured: np.ndarray = field(default_factory=lambda: np.zeros(0))
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evaluation: Evaluation | None = None
    notes: list[str] = field(default_factory=list)
    model: str = ""
    score_column: str | None = None
    out: Path | None = None
    structure: StructureScoring | None = None
    #: the scores' sign (:data:`~seqvae.analysis.scorers.SCORE_SIGNS`): ``fitness`` or ``eve``
    sign: str = "fitness"
    #: the scores table as CSV text, kept by :meth:`seqvae.Run.score`, which writes no file
    scores_csv: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        """One line (the arrays are not printed): model, rows, scored, dropped, rho, output."""
        rho = f", rho = {self.evaluation.spearman:.4f}" if self.evaluation is not None else ""
        out = f", out = {self.out.name!r}" if self.out is not None else ""
        return (
            f"ScoringReport({self.model!r}, {self.n_scored} of {self.n_rows} rows scored, "
            f"{self.n_mismatches_skipped} mismatches dropped{rho}{out})"
        )

    def _facts(self) -> dict[str, str]:
        evaluation = self.evaluation
        return {
            "model": self.model,
            "rows": str(self.n_rows),
            "scored": str(self.n_scored),
            "mismatches dropped": str(self.n_mismatches_skipped),
            "measured": self.score_column or "",
            "Spearman rho": "" if evaluation is None else f"{evaluation.spearman:.4f}",
            "scores file": "" if self.out is None else str(self.out),
        }

    def describe(self) -> str:
        """One line: rows scored, rows without a score, mismatches dropped, and the output (and,
        with a structure, a second line: its coverage and the variants it does not cover)."""
        dropped = (
            f"; {self.n_mismatches_skipped} wild-type mismatches dropped" if self.n_mismatches_skipped else ""
        )
        text = (
            f"scored {self.n_scored} of {self.n_rows} rows in {self.seconds:.1f} s "
            f"({self.n_unscored} without a score, see 'reason'{dropped})"
            + ("" if self.out is None else f": {self.out}")
        )
        if self.structure is not None:
            text += "\n" + self.structure.describe()
        return text

    @property
    def mismatch_fraction(self) -> float:
        """The fraction of the rows dropped as wild-type mismatches."""
        return self.n_mismatches_skipped / self.n_rows if self.n_rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The evaluation summary: model, measured column, scores file, seconds, the rows read and
        dropped as wild-type mismatches (and their fraction), the warnings, and the agreement."""
        if self.evaluation is None:
            raise InputError("no evaluation: score the table with a measured column (score_column)")
        summary = {
            "model": self.model,
            "column": self.score_column,
            "sign": self.sign,
            "scores_file": None if self.out is None else self.out.name,
            "seconds": self.seconds,
            "n_rows": self.n_rows,
            "n_mismatches_skipped": self.n_mismatches_skipped,
            "mismatch_fraction": self.mismatch_fraction,
            "warnings": list(self.notes),
            **self.evaluation.to_dict(),
        }
        if self.structure is not None:
            summary["structure"] = self.structure.to_dict()
        return summary

    def to_frame(self) -> pd.DataFrame:
        """The scores table (input columns, ``n_mutations``, ``score``, ``reason``; or the
        ProteinGym columns) as ``pandas.read_csv`` reads the file ``seqvae score`` writes."""
        if self.scores_csv is not None:
            return pd.read_csv(io.StringIO(self.scores_csv))
        if self.out is None or not self.out.exists():
            raise InputError("the scores table was not kept: score with seqvae.Run.score or score_file")
        return pd.read_csv(self.out)

    def save(self, path: str | Path | None = None) -> dict[str, Path]:
        """Write the evaluation summary to ``path`` (default: ``OUT_summary.json`` beside the
        scores, :func:`scoring_files`), atomically; the scatter: :meth:`save_figures`.

        A ``path`` without a suffix (or an existing directory) is a folder: the files ``seqvae
        score -o FOLDER/scores.csv`` writes go into it (``scores.csv``, and with an evaluation
        ``scores_summary.json``; the scatter ``scores_scatter.png``: :meth:`save_figures`).
        """
        if path is not None and (Path(path).is_dir() or not Path(path).suffix):
            return self._save_folder(Path(path))
        target = Path(path) if path is not None else scoring_files(self.out or SCORES_FILE)["summary"]
        write_json(target, self.to_dict())
        return {"summary": target}

    def _save_folder(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        files = scoring_files(folder / SCORES_FILE)
        text = self.scores_csv
        if text is None:
            if self.out is None or not self.out.exists():
                raise InputError("the scores table was not kept: score with seqvae.Run.score or score_file")
            text = self.out.read_text(encoding="utf-8")
        with atomic_open(files["scores"], "w", newline="", encoding="utf-8") as handle:
            handle.write(text)
        paths = {"scores": files["scores"]}
        if self.evaluation is not None:
            write_json(files["summary"], {**self.to_dict(), "scores_file": SCORES_FILE})
            paths["summary"] = files["summary"]
        return paths


# Cells of a measured column read as missing values, like an empty cell (pandas' defaults)
MISSING_VALUES = frozenset(
    {"", "nan", "-nan", "na", "n/a", "#n/a", "#na", "<na>", "null", "none", "#n/a n/a", "-1.#ind", "1.#ind"}
    | {"-1.#qnan", "1.#qnan"}
)


def _numeric_column(block: pd.DataFrame, column: str, source: str, first_line: int) -> np.ndarray:
    """A measured column as floats; empty cells and ``NaN``/``NA``-style markers are missing."""
    cells = block[column].astype(str).str.strip()
    cells = cells.where(~cells.str.lower().isin(MISSING_VALUES), "")
    values = pd.to_numeric(cells.replace("", np.nan), errors="coerce")
    text = values.isna() & (cells != "")
    if text.any():
        k = int(np.flatnonzero(text.to_numpy())[0])
        raise InputError(
            f"column {column!r} must be numeric (or empty, NaN, NA for missing); found {block[column].iloc[k]!r}",
            source,
            first_line + k,
        )
    return values.to_numpy(dtype=np.float64)


def score_file(
    scorer: Scorer,
    mutations: str | Path,
    out: str | Path,
    mutant_column: str | None = None,
    sequence_column: str | None = None,
    score_column: str | None = None,
    label_column: str | None = None,
    skip_mismatches: bool = False,
    chunk_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
    evaluate: bool = True,
    output_format: str = "seqvae",
    sep: str | None = None,
    mutation_separator: str | None = None,
    wild_type: WildType | None = None,
    burial: PositionBurial | None = None,
    rule: StructureRule | None = None,
) -> ScoringReport:
    """Score a mutation CSV chunk by chunk and stream the result to ``out`` (written atomically).

    The output (comma-separated, whatever the input's ``sep``) keeps the input columns as read
    and adds ``n_mutations``, ``score`` (empty when not scorable) and ``reason``; an added
    column whose name the input already uses is written as ``seqvae_<name>`` (see
    :func:`~seqvae.analysis.mutations.output_column_names`). ``sep`` (``None``: detected),
    ``mutation_separator`` (``None``: ``:`` or ``/``) and ``wild_type`` (numbering of a trimmed
    reference row) are passed to the reader and mapper. A bad row anywhere aborts the whole
    file: nothing is written.
    With ``score_column`` (and ``evaluate``) the scores are evaluated against it
    (:func:`~seqvae.analysis.evaluation.evaluate_scores`, in ``report.evaluation``) before the
    output is committed, so a column that cannot be evaluated (no measured value, a constant
    column) leaves no output behind either.

    ``output_format="proteingym"`` writes the columns of ProteinGym's score tables instead:
    ``mutant`` (``A23V:G45D``), ``mutated_sequence`` (the reference span with the substitutions),
    the measured column as ``DMS_score`` and the label column as ``DMS_score_bin`` when given,
    and one score column per model, named by its directory (an ensemble: each member and
    ``ensemble``, their mean; a name already taken gets ``_2``, ``_3``, …).

    With ``burial`` (:func:`~seqvae.analysis.burial.position_burial` of the scorer's registry)
    the scores are also made structure-aware by ``rule`` (default
    :data:`~seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`): the output adds
    ``score_structure`` and ``burial`` (the mean burial of the variant's covered positions,
    empty when none is) after ``score``; the ProteinGym format adds ``<model>_structure`` after
    each model's column. ``report.structure`` holds the coverage, the variants with no covered
    position and, with a measured column, the structure-aware ρ.
    """
    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}")
    mapper = MutationMapper(scorer.registry, wild_type)
    report = ScoringReport(
        notes=list(mapper.notes),
        model=scorer.name,
        score_column=score_column,
        out=Path(out),
        sign=sign_name(scorer.sign),
    )
    report.structure = structure = _structure_scoring(scorer.registry, burial, rule)
    gathered = _MeasuredRows()
    tally = MismatchTally()
    started = time.perf_counter()
    source = str(mutations)
    with atomic_open(out, "w", newline="", encoding="utf-8") as handle:
        chunks = read_mutation_table(
            mutations,
            mapper,
            mutant_column=mutant_column,
            sequence_column=sequence_column,
            required_columns=tuple(c for c in (score_column, label_column) if c),
            chunk_size=chunk_size,
            skip_mismatches=skip_mismatches,
            sep=sep,
            mutation_separator=mutation_separator,
            tally=tally,
        )
        for k, (chunk, n_skipped) in enumerate(chunks):
            first_line = 2 + report.n_rows  # of the chunk in the file (rows dropped included)
            measured_values, label_values = (
                _numeric_column(chunk.table, column, source, first_line) if column else None
                for column in (score_column, label_column)
            )
            table, scores, aware = _scored_table(
                chunk, scorer, mapper, structure, output_format, score_column, label_column
            )
            table.to_csv(handle, index=False, header=k == 0)
            report.n_rows += len(table) + n_skipped
            report.n_scored += int(chunk.scorable.sum())
            report.n_unscored += int((~chunk.scorable).sum())
            report.n_mismatches_skipped += n_skipped
            if measured_values is not None:
                gathered.add(chunk.scorable, measured_values, label_values, scores, aware)
            release_free_memory()  # keeps the peak flat over millions of rows
            if progress is not None:
                progress(report.n_rows)
        warning = tally.warning(mapper)
        if warning:
            report.notes.append(warning)
        gathered.into(report)
        if score_column and evaluate:
            _evaluate(report, bool(label_column), source)
    report.seconds = time.perf_counter() - started
    return report


def _structure_scoring(
    registry: AlignmentRegistry, burial: PositionBurial | None, rule: StructureRule | None
) -> StructureScoring | None:
    """The structure-aware side of a scoring, refused for a burial of other focus columns."""
    if burial is None:
        return None
    if burial.length != registry.length or list(burial.numbering) != list(registry.numbering):
        raise InputError("the burial was computed for another alignment's focus columns")
    return StructureScoring.of(burial, rule)


def _scored_table(
    chunk: MappedChunk,
    scorer: Scorer,
    mapper: MutationMapper,
    structure: StructureScoring | None,
    output_format: str,
    score_column: str | None,
    label_column: str | None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A chunk scored, as the rows to write in ``output_format``, the scores that are evaluated
    and their structure-aware ones (NaN without a structure)."""
    factor, buried = None, np.full(len(chunk.table), np.nan)
    if structure is not None:
        wild_type = scorer.registry.reference_codes()
        factor, buried[chunk.scorable] = structure.variant_factors(chunk.codes, wild_type)
    if output_format == "seqvae":
        return _seqvae_table(scorer, chunk, factor, buried)
    columns = _model_columns(scorer, chunk, factor)
    table = _proteingym_table(chunk.table, columns, mapper, score_column, label_column)
    # the scores evaluated: the last model's (an ensemble's mean) and its structure-aware column
    last = list(columns)[-2 if factor is not None else -1]
    aware = columns[f"{last}_structure"] if factor is not None else np.full(len(chunk.table), np.nan)
    return table, columns[last], aware


def _spread(values: np.ndarray, scorable: np.ndarray) -> np.ndarray:
    """Values of the scorable rows laid out over all rows (NaN where a row is not scorable)."""
    out = np.full(len(scorable), np.nan)
    out[scorable] = values
    return out


def _seqvae_table(
    scorer: Scorer, chunk: MappedChunk, factor: np.ndarray | None, buried: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A chunk in the seqvae format (the input columns as read, then the added ones), with its
    scores and, given the structure's ``factor``, the structure-aware scores."""
    table, names = chunk.table, chunk.columns
    scores = _spread(scorer.score_codes(chunk.codes), chunk.scorable)
    aware = np.full(len(table), np.nan)
    # the input columns are written back as read; scores keep 8 significant digits
    table[names["score"]] = _formatted(scores)
    added = [names["n_mutations"], names["score"], names["reason"]]
    if factor is not None:
        aware[chunk.scorable] = scores[chunk.scorable] * factor
        extra = _added_names(table, (STRUCTURE_SCORE_COLUMN, BURIAL_COLUMN))
        table[extra[0]] = _formatted(aware)
        table[extra[1]] = _formatted(buried)
        added = [names["n_mutations"], names["score"], *extra, names["reason"]]
    return table[[*(c for c in table.columns if c not in added), *added]], scores, aware


def _model_columns(scorer: Scorer, chunk: MappedChunk, factor: np.ndarray | None) -> dict[str, np.ndarray]:
    """One score column per model (and ``<model>_structure`` after each, given ``factor``)."""
    columns = {}
    for name, values in scorer.score_columns(chunk.codes).items():
        columns[name] = _spread(values, chunk.scorable)
        if factor is not None:
            columns[f"{name}_structure"] = _spread(values * factor, chunk.scorable)
    return columns


@dataclass
class _MeasuredRows:
    """The scorable rows with a measured column, gathered chunk by chunk for the evaluation."""

    measured: list[np.ndarray] = field(default_factory=list)
    predicted: list[np.ndarray] = field(default_factory=list)
    structure: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)

    def add(
        self,
        scorable: np.ndarray,
        measured: np.ndarray,
        labels: np.ndarray | None,
        scores: np.ndarray,
        aware: np.ndarray,
    ) -> None:
        self.measured.append(measured[scorable])
        self.predicted.append(scores[scorable])
        self.structure.append(aware[scorable])
        if labels is not None:
            self.labels.append(labels[scorable])

    def into(self, report: ScoringReport) -> None:
        """Hand the gathered rows to the report (nothing when no row was measured)."""
        if not self.measured:
            return
        report.measured = np.concatenate(self.measured)
        report.predicted = np.concatenate(self.predicted)
        if report.structure is not None:
            report.structure.predicted = np.concatenate(self.structure)
        if self.labels:
            report.labels = np.concatenate(self.labels)


def _evaluate(report: ScoringReport, with_labels: bool, source: str) -> None:
    """Evaluate the plain (and structure-aware) scores against the measured column; a column
    that cannot be evaluated is an error naming it."""
    labels = report.labels if with_labels else None
    n_unscored = report.n_unscored + report.n_mismatches_skipped
    try:
        report.evaluation = evaluate_scores(report.predicted, report.measured, labels, n_unscored=n_unscored)
        if report.structure is not None:
            report.structure.evaluation = evaluate_scores(
                report.structure.predicted, report.measured, labels, n_unscored=n_unscored
            )
    except InputError as err:
        raise InputError(f"score_column {report.score_column!r}: {err.message}", source) from None


OUTPUT_FORMATS = ("seqvae", "proteingym")


def _added_names(table: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Added column names that never overwrite an input column (``seqvae_<name>`` when taken)."""
    return [OUTPUT_PREFIX + name if name in table.columns else name for name in names]


def _formatted(values: np.ndarray) -> list[str]:
    """Scores as text with 8 significant digits; empty where there is no score."""
    return [f"{v:.8g}" if np.isfinite(v) else "" for v in values]


def _mutated_sequence(mapper: MutationMapper, mutant: str) -> str:
    """The reference span with a mutant's substitutions applied ('' when one falls outside)."""
    residues = list(mapper.reference_residues)
    for part in filter(None, str(mutant).split(":")):
        sub = parse_mutant(part)[0]
        if not mapper.start <= sub.position <= mapper.end:
            return ""
        residues[sub.position - mapper.start] = sub.mutant
    return "".join(residues)


# ProteinGym's names of the measured column and of its binary label
PROTEINGYM_SCORE = "DMS_score"
PROTEINGYM_LABEL = "DMS_score_bin"


def _proteingym_table(
    table: pd.DataFrame,
    columns: dict[str, np.ndarray],
    mapper: MutationMapper,
    score_column: str | None,
    label_column: str | None = None,
) -> pd.DataFrame:
    """``mutant``, ``mutated_sequence``, ``DMS_score`` (the measured column), ``DMS_score_bin``
    (the label column) and one column per model, named by its directory."""
    if "mutated_sequence" in table.columns:
        sequences = table["mutated_sequence"].astype(str).str.strip().str.upper()
    else:
        sequences = [_mutated_sequence(mapper, m) for m in table["mutant"]]
    out = pd.DataFrame({"mutant": table["mutant"].to_numpy(), "mutated_sequence": list(sequences)})
    if score_column:
        out[PROTEINGYM_SCORE] = table[score_column].to_numpy()
    if label_column:
        out[PROTEINGYM_LABEL] = table[label_column].to_numpy()
    for name, values in columns.items():
        out[unique_name(name, out.columns)] = _formatted(values)
    return out


TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
SEQUENCE_COLUMNS = ("aligned_sequence", "sequence", "mutated_sequence")


def read_aligned_sequences(
    path: str | Path,
    registry: AlignmentRegistry,
    sequence_column: str | None = None,
    id_column: str | None = None,
) -> Alignment:
    """Sequences aligned like a run's training alignment, coded with its registry.

    ``path`` is an alignment file (FASTA, A2M, A3M, Stockholm; full rows of the training
    alignment, rows with inserts removed, or the focus columns only), or a table (``.csv``,
    ``.tsv``, ``.txt``; separator detected) whose ``sequence_column`` (default: the first of
    ``aligned_sequence``, ``sequence``, ``mutated_sequence``) holds such rows, with ids in
    ``id_column`` (default ``id`` when present, else ``row1``, ``row2``, ...). Unlike mutant
    tables, a sequence may differ from the reference anywhere, including columns where the
    reference has a gap.
    """

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return map_to_registry(read_records(path), registry)
    # the separator from the header's , ; or tab: a sniffer splits a one-column header on a letter
    table = read_table(
        path, "cannot read table", sep=detect_separator(path), dtype=str, keep_default_na=False
    )
    columns = list(table.columns)
    if sequence_column is None:
        sequence_column = next((c for c in SEQUENCE_COLUMNS if c in columns), None)
        if sequence_column is None:
            raise InputError(
                f"no {' or '.join(repr(c) for c in SEQUENCE_COLUMNS)} column (columns: {', '.join(columns)}); "
                "name one with sequence_column",
                path,
            )
    for name in (sequence_column, id_column):
        if name is not None and name not in columns:
            raise InputError(f"column {name!r} not found (columns: {', '.join(columns)})", path)
    if id_column is None and "id" in columns:
        id_column = "id"
    if table.empty:
        raise InputError("the table has no rows", path)
    records = []
    for k, text in enumerate(table[sequence_column]):
        name = str(table[id_column].iloc[k]) if id_column else f"row{k + 1}"
        if not str(text).strip():
            raise InputError(f"column {sequence_column!r} is empty", path, k + 2)
        records.append(SequenceRecord(id=name, header=name, text=str(text).strip(), line=k + 2))
    return map_to_registry(RawAlignment(records, "fasta", str(path)), registry)


@dataclass
class SequenceScoringReport:
    """What :func:`score_sequences` did."""

    n_sequences: int = 0
    reference_value: float = 0.0
    n_nonstandard_as_gap: int = 0
    seconds: float = 0.0
    reference_id: str = ""
    out: Path | None = None

    def describe(self) -> str:
        """One line: sequences scored, the reference's log value, and the output."""
        nonstandard = (
            f"; {self.n_nonstandard_as_gap} non-standard residues read as gaps"
            if self.n_nonstandard_as_gap
            else ""
        )
        return (
            f"scored {self.n_sequences} aligned sequences in {self.seconds:.1f} s (reference "
            f"{self.reference_id}: log value {self.reference_value:.4f}{nonstandard}): {self.out}"
        )


def score_sequences(
    scorer: Scorer,
    path: str | Path,
    out: str | Path,
    sequence_column: str | None = None,
    id_column: str | None = None,
    chunk_size: int = 20_000,
) -> SequenceScoringReport:
    """Score whole aligned sequences (designs, natural variants) and write a CSV atomically.

    Each row gets ``id``, ``sequence`` (the focus columns as coded), ``n_differences`` (focus
    columns that differ from the reference), ``n_gaps``, ``log_value`` (the model's ELBO for
    a VAE, or the importance-weighted log p(x) with ``iw``; log p(x) for a site-independent
    model; -H for a Potts model; the members' mean for an ensemble) and ``score`` (``log_value``
    minus the reference's; higher = fitter, or its negative with the scorer's ``sign`` -1).
    Gaps are part of the sequence for models that
    model gaps; models trained with gaps masked (the fitness preset) leave gapped positions
    out of the sum, so compare sequences with the same gaps there.
    """
    started = time.perf_counter()
    alignment = read_aligned_sequences(path, scorer.registry, sequence_column, id_column)
    registry = scorer.registry
    codes = alignment.codes
    wt = registry.reference_codes()
    report = SequenceScoringReport(
        n_sequences=len(codes),
        reference_value=scorer.wild_type_value(),
        n_nonstandard_as_gap=int(alignment.filter_report.get("nonstandard_residues_mapped_to_gap", 0)),
        reference_id=registry.reference_id,
        out=Path(out),
    )
    gap = registry.alphabet.gap_code
    with atomic_open(out, "w", newline="", encoding="utf-8") as handle:
        for start in range(0, len(codes), chunk_size):
            block = codes[start : start + chunk_size]
            scores = scorer.score_codes(block)
            pd.DataFrame(
                {
                    "id": alignment.ids[start : start + chunk_size],
                    "sequence": [registry.alphabet.decode(row) for row in block],
                    "n_differences": (block != wt).sum(axis=1),
                    "n_gaps": (block == gap).sum(axis=1),
                    "log_value": _formatted(scorer.sign * scores + report.reference_value),
                    "score": _formatted(scores),
                }
            ).to_csv(handle, index=False, header=start == 0)
            release_free_memory()
    report.seconds = time.perf_counter() - started
    return report


def score_all_singles(scorer: Scorer) -> pd.DataFrame:
    """Every single substitution of the reference on the focus columns with its score."""
    table = all_single_mutants(scorer.registry)
    mapper = MutationMapper(scorer.registry)
    codes = np.stack(
        [
            mapper.apply([_sub(w, p, r)])
            for w, p, r in zip(table["wild_type"], table["position"], table["residue"])
        ]
    )
    table["score"] = scorer.score_codes(codes)
    return table


@dataclass
class SingleMutantScores:
    """Every single substitution of the reference scored by one model (``seqvae score
    --all-singles``).

    Attributes
    ----------
    table
        One row per substitution: ``mutant``, ``wild_type``, ``position``, ``residue``, ``score``
        and, with a structure, ``score_structure`` and ``burial`` (empty where not covered).
    registry
        The model's registry (numbering and wild type, for the heatmap).
    model
        The scorer's name.
    seconds
        Time spent scoring.
    structure
        The structure-aware side (``None``: no structure given).
    sign
        The scores' sign: ``fitness`` (higher = fitter) or ``eve`` (higher = more damaging).
    """

    table: pd.DataFrame
    registry: AlignmentRegistry
    model: str
    seconds: float = 0.0
    structure: StructureScoring | None = None
    sign: str = "fitness"

    def __len__(self) -> int:
        return len(self.table)

    def to_frame(self) -> pd.DataFrame:
        """The table :meth:`save` writes."""
        return self.table

    def save(self, path: str | Path) -> dict[str, Path]:
        """Write the table as CSV to ``path``, atomically (the heatmap beside it:
        ``plots.mutations.plot_single_mutant_scores``)."""
        return {"scores": write_csv(path, self.table, "%.6g")}


def single_mutant_scores(
    scorer: Scorer, burial: PositionBurial | None = None, rule: StructureRule | None = None
) -> SingleMutantScores:
    """:func:`score_all_singles` as a result that saves itself; with ``burial`` (of the scorer's
    registry) also ``score_structure`` and ``burial`` by ``rule`` (see :func:`score_file`)."""
    started = time.perf_counter()
    table = score_all_singles(scorer)
    structure = None
    if burial is not None:
        structure = StructureScoring.of(burial, rule)
        column_of = {int(n): c for c, n in enumerate(scorer.registry.numbering) if n >= 0}
        columns = np.array([column_of[int(p)] for p in table["position"]], dtype=np.int64)
        factors = structure.factors[columns]
        structure.n_uncovered = int(np.isnan(factors).sum())
        table[STRUCTURE_SCORE_COLUMN] = table["score"] * np.where(np.isnan(factors), 1.0, factors)
        table[BURIAL_COLUMN] = burial.burial(structure.measure)[columns]
    return SingleMutantScores(
        table, scorer.registry, scorer.name, time.perf_counter() - started, structure, sign_name(scorer.sign)
    )


def _sub(wild_type: str, position: int, residue: str):
    return Substitution(wild_type, int(position), residue)


def singles_matrix(table: pd.DataFrame, registry: AlignmentRegistry) -> tuple[np.ndarray, list[int]]:
    """Pivot an all-singles table into ``[n_positions, n_residues]`` (wild type = 0)."""
    residues = registry.alphabet.residues
    positions = [int(n) for n in registry.numbering if n >= 0]
    index = {p: i for i, p in enumerate(positions)}
    matrix = np.zeros((len(positions), len(residues)))
    for position, residue, score in zip(table["position"], table["residue"], table["score"]):
        matrix[index[int(position)], residues.index(residue)] = score
    return matrix, positions
