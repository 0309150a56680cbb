"""The notebook API: a run that scores, generates, couples and embeds as methods.

:class:`Run` is the run directory object of :mod:`seqvae.run` with the analyses as methods;
each returns the analysis' own result (``to_frame()``, ``plot(ax=None)``, ``save(folder)``,
``save_figures(folder)``), computed by the same functions the commands call, so a notebook's
numbers are the command's. The analyses sit above ``run/`` in the layer order, so these methods
live here, at the top, and :func:`load`, :func:`train` and :func:`resume` (re-exported as
``seqvae.load`` …) return this :class:`Run`. Results find their figures in
:mod:`seqvae.plots.results` on their first ``plot()``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.couplings import CouplingOptions, CouplingResult, vae_couplings
from seqvae.analysis.generation import generate_designs
from seqvae.analysis.generation_options import GenerationOptions
from seqvae.analysis.latent_report import LatentOptions, LatentReport, analyse_latent
from seqvae.analysis.mutations import detect_separator
from seqvae.analysis.scorers import SCORE_SIGNS, ScoringOptions, run_scorer
from seqvae.analysis.scoring import OUTPUT_FORMATS, SCORES_FILE, ScoringReport, score_file
from seqvae.analysis.sequence_sets import SequenceSet
from seqvae.data.alignment import Alignment
from seqvae.data.counts import CountMatrix
from seqvae.errors import ConfigError, InputError
from seqvae.io.tables import read_table
from seqvae.progress import ProgressLike
from seqvae.run import artifact, fitting
from seqvae.training.config import RunConfig

__all__ = ["Run", "load", "resume", "train"]

#: the name a scan given as a DataFrame goes by in error messages
DATAFRAME = "the DataFrame"


class Run(artifact.Run):
    """A trained run directory (:class:`seqvae.run.Run`) with the analyses as methods.

    ``run.score(scan)``, ``run.generate(n)``, ``run.couplings()`` and ``run.latent()`` return
    :class:`~seqvae.analysis.scoring.ScoringReport`,
    :class:`~seqvae.analysis.sequence_sets.SequenceSet`,
    :class:`~seqvae.analysis.couplings.CouplingResult` and
    :class:`~seqvae.analysis.latent_report.LatentReport`: each has ``to_frame()``, ``plot()``,
    ``save(folder)`` (the data files of its command) and ``save_figures(folder)`` (its PNGs).
    Options are keyword arguments named as the fields of the command's options
    (:class:`~seqvae.analysis.scorers.ScoringOptions`, …), or that options object itself.
    """

    @classmethod
    def of(cls, run: artifact.Run) -> Run:
        """The same run directory object, with the analysis methods."""
        if isinstance(run, cls):
            return run
        upgraded = cls.__new__(cls)
        upgraded.__dict__.update(vars(run))  # every attribute, whatever the constructor takes
        return upgraded

    def score(
        self,
        scan: str | Path | pd.DataFrame,
        *,
        variant_column: str | None = None,
        sequence_column: str | None = None,
        score_column: str | None = None,
        label_column: str | None = None,
        skip_mismatches: bool = False,
        output_format: str = "seqvae",
        mutation_separator: str | None = None,
        options: ScoringOptions | None = None,
        **scoring: Any,
    ) -> ScoringReport:
        """Score a mutation scan: ``seqvae score RUN SCAN`` without writing a file.

        Parameters
        ----------
        scan
            A table (path, or a :class:`pandas.DataFrame`) with a variant column
            (``A23V:G45D``) or full mutated sequences.
        variant_column
            The variants' column (default ``mutant``, else ``mutated_sequence`` as sequences).
        sequence_column
            A column of full mutated sequences instead.
        score_column, label_column
            A measured column to evaluate against (Spearman ρ, its bootstrap interval), and a
            0/1 column for the ROC AUC.
        skip_mismatches
            Drop rows whose wild type does not match the run's reference (most rows mismatching
            still stops: the scan is of another protein).
        output_format
            ``seqvae`` or ``proteingym`` (the columns of :meth:`ScoringReport.to_frame`).
        options, **scoring
            :class:`~seqvae.analysis.scorers.ScoringOptions`, or its fields (``samples``,
            ``seed``, ``fast``, ``iw``, ``antithetic``, ``decoder_precision``, ``sign``: ``eve``
            for EVE's evolutionary index).

        Returns
        -------
        ScoringReport
            ``to_frame()``: the scores table as the command writes it; with ``score_column``:
            ``evaluation``, ``plot()`` (predicted against measured) and ``save(folder)``
            (``scores.csv``, ``scores_summary.json``; ``save_figures``: ``scores_scatter.png``).
        """
        if output_format not in OUTPUT_FORMATS:
            raise ConfigError(
                f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}",
                field="output_format",
            )
        if options is None:
            options = ScoringOptions.from_dict(scoring)
        elif scoring:
            raise ConfigError(f"give options or {', '.join(scoring)}, not both", field=next(iter(scoring)))
        options = options.validate().resolved()
        scorer = run_scorer(
            self,
            int(options.samples),  # type: ignore[arg-type]
            options.seed,
            options.iw,
            options.antithetic,
            str(options.decoder_precision),
        )
        scorer.sign = SCORE_SIGNS[options.sign]
        frame = scan if isinstance(scan, pd.DataFrame) else None
        columns = list(frame.columns) if frame is not None else _header(Path(scan))
        source = DATAFRAME if frame is not None else str(scan)
        _check_columns(columns, source, variant_column, sequence_column, score_column, label_column)
        with tempfile.TemporaryDirectory(prefix="seqvae-score-") as folder:
            table = Path(folder) / "scan.csv"
            if frame is not None:
                frame.to_csv(table, index=False)
            out = Path(folder) / SCORES_FILE
            try:
                report = score_file(
                    scorer,
                    table if frame is not None else scan,
                    out,
                    mutant_column=variant_column,
                    sequence_column=sequence_column,
                    score_column=score_column,
                    label_column=label_column,
                    skip_mismatches=skip_mismatches,
                    output_format=output_format,
                    mutation_separator=mutation_separator,
                )
            except InputError as err:
                if frame is None:
                    raise
                raise InputError(_as_rows(err, table), DATAFRAME) from None
            report.scores_csv = out.read_text(encoding="utf-8")
        report.out = None
        return report

    def generate(
        self, n: int | None = None, *, options: GenerationOptions | None = None, **fields: Any
    ) -> SequenceSet:
        """``n`` designs (default 100), as ``seqvae generate RUN -n N`` draws them.

        ``options`` is a :class:`~seqvae.analysis.generation_options.GenerationOptions`, or give
        its fields (``seed``, ``temperature``, ``argmax``, ``region_ids``, ``region_phenotype``,
        ``phenotypes``, ``interpolate``, ``steps``, …). Returns the
        :class:`~seqvae.analysis.sequence_sets.SequenceSet` (``to_frame()``, ``plot()``: a sequence
        logo or the interpolation, ``save(folder)``: ``designs.fasta``, ``.csv``, ``.json``).
        """
        if options is None:
            options = GenerationOptions.from_dict({**({} if n is None else {"n": n}), **fields})
        elif fields or n is not None:
            raise ConfigError("give options or n and the options' fields, not both", field="options")
        return generate_designs(self, options)

    def couplings(
        self,
        alignment: Alignment | str | Path | None = None,
        *,
        options: CouplingOptions | None = None,
        **fields: Any,
    ) -> CouplingResult:
        """The VAE coupling matrix Δ_ij, as ``seqvae couplings RUN`` computes it, over the
        training sequences or ``alignment``; ``options`` (a
        :class:`~seqvae.analysis.couplings.CouplingOptions`) or its fields. ``to_frame()`` ranks
        the pairs (``i, A_i, j, A_j, score``), ``plot()`` draws the matrix."""
        if options is None:
            options = CouplingOptions.from_dict(fields)
        elif fields:
            raise ConfigError(f"give options or {', '.join(fields)}, not both", field=next(iter(fields)))
        return vae_couplings(self, alignment, None, options)

    def latent(
        self,
        alignment: Alignment | str | Path | None = None,
        *,
        phenotypes: str | Path | pd.DataFrame | None = None,
        id_column: str = "id",
        color_columns: Sequence[str] | None = None,
        group_columns: Sequence[str] = (),
        options: LatentOptions | None = None,
        **fields: Any,
    ) -> LatentReport:
        """The latent space of the training sequences (or ``alignment``), as ``seqvae latent``
        analyses it: diagnostics, the PCA comparison and, with ``phenotypes`` (a table with an
        ``id_column``), each of ``color_columns`` (default: every other column of the table).
        ``to_frame()`` is the coordinates table; ``plot()`` the density, ``plot(column=...)`` a
        phenotype over the latent means."""
        if options is None:
            options = LatentOptions.from_dict(fields)
        elif fields:
            raise ConfigError(f"give options or {', '.join(fields)}, not both", field=next(iter(fields)))
        if color_columns is None:
            color_columns = []
            if phenotypes is not None:
                names = (
                    list(phenotypes.columns) if isinstance(phenotypes, pd.DataFrame) else _header(phenotypes)
                )
                if id_column not in names:
                    raise ConfigError(
                        f"id_column: the phenotype table has no column {id_column!r} (columns: {', '.join(names)})",
                        field="id_column",
                    )
                color_columns = [name for name in names if name != id_column]
        return analyse_latent(self, alignment, phenotypes, id_column, color_columns, group_columns, options)


def _as_rows(error: InputError, table: Path) -> str:
    """An error about the temporary CSV of a DataFrame, told in the DataFrame's rows (line
    ``k`` of the CSV is row ``k - 2``: the header is line 1)."""
    message = re.sub(r"\bline (\d+)", lambda m: f"row {int(m.group(1)) - 2}", error.message)
    message = message.replace(str(table), DATAFRAME)
    return message + (f" (row {error.line - 2})" if error.line else "")


def _header(path: str | Path) -> list[str]:
    """The column names of a table file (its separator detected)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    return list(read_table(path, "cannot read the table", nrows=0, sep=detect_separator(path)).columns)


def _check_columns(
    columns: list[str],
    source: str,
    variant_column: str | None,
    sequence_column: str | None,
    score_column: str | None,
    label_column: str | None,
) -> None:
    """Each named column is in the scan, and it has a variant column (one-line errors naming the
    parameter)."""
    listed = ", ".join(map(str, columns))
    if variant_column is not None and sequence_column is not None:
        raise ConfigError("give variant_column or sequence_column, not both", field="variant_column")
    named = {
        "variant_column": variant_column,
        "sequence_column": sequence_column,
        "score_column": score_column,
        "label_column": label_column,
    }
    for field, name in named.items():
        if name is not None and name not in columns:
            raise ConfigError(f"{source}: {field}: no column {name!r} (columns: {listed})", field=field)
    if (
        variant_column is None
        and sequence_column is None
        and not {"mutant", "mutated_sequence"} & set(columns)
    ):
        raise ConfigError(
            f"{source}: no 'mutant' or 'mutated_sequence' column (columns: {listed}); name the variants' "
            "column with variant_column",
            field="variant_column",
        )


def load(path: str | Path) -> Run:
    """Load a run directory (:func:`seqvae.run.load`: config, registry, safetensors weights) as a
    :class:`Run` with the analyses as methods."""
    return Run.of(artifact.load(path))


def train(
    data: Alignment | CountMatrix | np.ndarray | str | Path,
    config: RunConfig | None = None,
    out: str | Path = "runs/run",
    overwrite: bool = False,
    progress: ProgressLike = None,
    *,
    show_progress: bool | None = None,
) -> Run:
    """Train a VAE into the run directory ``out`` (:func:`seqvae.run.train`, whose parameters
    these are) and return it as a :class:`Run`."""
    return Run.of(fitting.train(data, config, out, overwrite, progress, show_progress=show_progress))


def resume(path: str | Path, progress: ProgressLike = None, *, show_progress: bool | None = None) -> Run:
    """Continue an interrupted run from its last checkpoint (:func:`seqvae.run.resume`) and
    return it as a :class:`Run`."""
    return Run.of(fitting.resume(path, progress, show_progress=show_progress))
