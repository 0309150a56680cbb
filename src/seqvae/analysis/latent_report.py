"""Everything ``seqvae latent`` computes for one run, as one Python call.

:func:`analyse_latent` embeds the sequences, computes the dimension diagnostics, the PCA
comparison, and for each phenotype column its predictability (continuous: cross-validated R²;
categorical: k-NN accuracy), within-group predictability (Simpson's paradox check) and
localisation tests. The result's :attr:`LatentReport.metrics` is what ``latent_metrics.json``
holds; :meth:`LatentReport.save` writes it and ``latent_coordinates.csv``, and
:func:`seqvae.plots.latent.write_latent_report` draws the figures: ``seqvae latent``'s folder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from seqvae.analysis.diagnostics import DEFAULT_ACTIVE_THRESHOLD, LatentDiagnostics, latent_diagnostics
from seqvae.analysis.drawable import Drawable
from seqvae.analysis.latent import (
    AlignmentPCA,
    GroupedPredictability,
    LocalisationResult,
    alignment_pca,
    canonical_correlations,
    count_pca,
    cross_validated_accuracy,
    cross_validated_r2,
    grouped_predictability,
    latent_clusters,
    linear_r2,
    localisation_test,
    out_of_fold_predictions,
)
from seqvae.analysis.phenotypes import (
    OTHER_LABEL,
    PhenotypeJoin,
    column_kind,
    join_phenotypes,
    phenotype_table,
    top_categories,
)
from seqvae.data.counts import SparseRows
from seqvae.errors import InputError
from seqvae.io.atomic import write_csv, write_json
from seqvae.options import Boolean, Check, Integer, Interval, OneOf, Options, register

__all__ = ["ColumnAnalysis", "LatentOptions", "LatentReport", "analyse_latent"]

# the data files of a latent folder (its figures: seqvae.plots.latent.write_latent_report)
LATENT_METRICS_FILE = "latent_metrics.json"  # LatentReport.metrics
LATENT_COORDINATES_FILE = "latent_coordinates.csv"  # LatentReport.coordinates_table()


def _top_fraction_problem(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value < 1.0:
        return None
    return f"must be in (0, 1): the top fraction of a phenotype (got {value!r})"


@register
@dataclass
class LatentOptions(Options):
    """Settings of :func:`analyse_latent` (defaults are those of ``seqvae latent``).

    Parameters
    ----------
    threshold
        Variance of z_mean above which a dimension is active.
    n_pcs
        Principal components for the canonical correlations and R² comparison.
    folds, neighbours, seed
        K-fold cross-validation, k of the k-NN models, and the one seed (folds, permutations,
        k-means, ARPACK start vector).
    top_fraction
        The set tested for localisation for a continuous column: its top fraction.
    n_permutations, statistic, null_sampling
        Localisation test settings (see :func:`seqvae.analysis.latent.localisation_test`).
    n_clusters
        k-means clusters of the latent means used as groups when no group column is given (0: none).
    min_group_size, strength_delta, alpha
        Simpson's-paradox rule (see :func:`seqvae.analysis.latent.grouped_predictability`).
    max_categories
        Categories shown (and classified) per categorical column; the rest become "other".
    min_category_size
        Smallest category tested for localisation.
    include_gaps
        Gap as a one-hot state in the alignment PCA.
    """

    threshold: float = DEFAULT_ACTIVE_THRESHOLD
    n_pcs: int = 10
    folds: int = 5
    neighbours: int = 10
    seed: int = 0
    top_fraction: float = 0.1
    n_permutations: int = 999
    statistic: str = "pairwise"
    null_sampling: str = "weighted"
    n_clusters: int = 4
    min_group_size: int = 30
    strength_delta: float = 0.2
    alpha: float = 0.01
    max_categories: int = 8
    min_category_size: int = 5
    include_gaps: bool = True

    section: ClassVar[str] = "latent"
    constraints: ClassVar[dict] = {
        "threshold": Interval(0.0),
        "n_pcs": Integer(1),
        "folds": Integer(2),
        "neighbours": Integer(1),
        "seed": Integer(),
        "top_fraction": Check(_top_fraction_problem, "must be in (0, 1)", (0.0, 1.5, "x")),
        "n_permutations": Integer(1),
        "statistic": OneOf(("pairwise", "knn")),
        "null_sampling": OneOf(("weighted", "uniform")),
        "n_clusters": Integer(0),
        "min_group_size": Integer(3),
        "strength_delta": Interval(),
        "alpha": Interval(),
        "max_categories": Integer(2),
        "min_category_size": Integer(),
        "include_gaps": Boolean(),
    }


def format_number(value: Any, digits: int = 3) -> str:
    """A number for a summary line: ``-`` for none, ``nan``, or ``digits`` decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


@dataclass
class ColumnAnalysis:
    """What was computed for one phenotype column."""

    column: str
    kind: str
    values: pd.Series
    n_measured: int
    predictability: dict[str, Any] | None = None
    classification: dict[str, Any] | None = None
    grouped: list[GroupedPredictability] = field(default_factory=list)
    grouped_labels: dict[str, np.ndarray] = field(default_factory=dict)
    pooled_prediction: np.ndarray | None = None
    pooled_model: str = "linear"
    localisation: list[LocalisationResult] = field(default_factory=list)

    def describe(self) -> list[str]:
        """Predictability or classification, within-group results and localisation tests, one
        line each."""
        name, lines = self.column, []
        if self.predictability is not None:
            p = self.predictability
            lines.append(
                f"{name} (n={p['n']}): cross-validated R² latent linear {format_number(p['latent_linear'])}, "
                f"kNN {format_number(p['latent_knn'])}; {p['n_features']} PCs linear {format_number(p['pca_linear'])}, "
                f"kNN {format_number(p['pca_knn'])}"
            )
        if self.classification is not None:
            c = self.classification
            lines.append(
                f"{name} (n={c['latent']['n']}, {c['latent']['n_classes']} classes): k-NN accuracy latent "
                f"{format_number(c['latent']['accuracy'])} vs PCs {format_number(c['pca']['accuracy'])} "
                f"(majority class {format_number(c['latent']['chance'])})"
            )
        for grouped in self.grouped:
            flagged = grouped.groups[grouped.groups["flag_strength"] | grouped.groups["flag_sign"]]
            parts = ", ".join(
                f"{g} {format_number(r)}"
                for g, r in zip(grouped.groups["group"], grouped.groups["r2_linear"])
            )
            lines.append(
                f"  within {grouped.grouping}: pooled R² {format_number(grouped.pooled['r2_linear'])}; {parts}"
                + (f"  [Simpson flag: {', '.join(flagged['group'])}]" if len(flagged) else "")
            )
        for result in self.localisation:
            lines.append(
                f"  localisation of {result.name}: observed/null = {result.ratio:.2f}, "
                f"p = {result.p_value:.3g} ({len(result.null)} random sets)"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "n_measured": self.n_measured}
        if self.predictability is not None:
            out["predictability"] = self.predictability
        if self.classification is not None:
            out["classification"] = self.classification
        if self.grouped:
            out["grouped"] = [g.to_dict() for g in self.grouped]
        if self.localisation:
            out["localisation"] = [r.to_dict() for r in self.localisation]
        return out


@dataclass(repr=False)
class LatentReport(Drawable):
    """Embedding, diagnostics, PCA comparison and per-column analyses of one run:
    :meth:`to_frame` is the coordinates table, :meth:`plot` the latent density (or
    ``plot(column=...)`` a phenotype on it), :meth:`save` and :meth:`save_figures` write
    ``seqvae latent``'s files."""

    ids: list[str]
    weights: np.ndarray
    z_mean: np.ndarray
    z_logvar: np.ndarray
    diagnostics: LatentDiagnostics
    pca: AlignmentPCA | None
    comparison: dict[str, Any]
    join: PhenotypeJoin | None
    columns: dict[str, ColumnAnalysis]
    options: LatentOptions
    source: dict[str, Any]
    phenotype_source: str | None = None  # the phenotype table: a path, "the cell metadata", …
    unit: str = "sequences"  # what the rows are: "sequences", "cells" (counts) or "rows" (real vectors)

    @property
    def latent_dim(self) -> int:
        return int(self.z_mean.shape[1])

    @property
    def metrics(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_sequences": len(self.ids),
            "n_eff": float(self.weights.sum()),
            "latent_dim": self.latent_dim,
            "options": asdict(self.options),
            "phenotypes": None if self.join is None else self.join.summary(),
            "diagnostics": self.diagnostics.to_dict(),
            "pca_comparison": self.comparison,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``latent_metrics.json`` (:attr:`metrics`) and ``latent_coordinates.csv``
        (:meth:`coordinates_table`) into ``out``.

        Returns
        -------
        dict
            ``metrics`` and ``coordinates``: the paths.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / LATENT_METRICS_FILE, self.metrics)
        write_csv(out / LATENT_COORDINATES_FILE, self.coordinates_table())
        return {"metrics": out / LATENT_METRICS_FILE, "coordinates": out / LATENT_COORDINATES_FILE}

    def describe_join(self) -> str | None:
        """How many sequences matched a row of the phenotype table (``None``: no table)."""
        j = self.join
        if j is None:
            return None
        return (
            f"phenotypes: {j.n_matched} of {j.n_sequences} {self.unit} matched a row of "
            f"{self.phenotype_source} ({j.n_unused_rows} of {j.n_table_rows} table rows unused)"
        )

    def describe(self) -> str:
        """The diagnostics, the PCA comparison and each column's results, one line each (the
        per-dimension table: :attr:`diagnostics`)."""
        diagnostics, comparison = self.diagnostics, self.comparison
        lines = [
            f"active dimensions: {diagnostics.n_active} (Var > {diagnostics.threshold:g}); "
            f"tr Cov(z_mean) = {diagnostics.trace_cov:.3f}; participation ratio of the active "
            f"correlation matrix = {diagnostics.participation_ratio_active:.2f}",
            f"PCA (top {comparison['n_pcs']}): canonical correlations "
            + ", ".join(f"{c:.2f}" for c in comparison["canonical_correlations"])
            + f"; R² latent from PCs = {comparison['r2_latent_from_pcs']['total']:.3f}, "
            f"PCs from latent = {comparison['r2_pcs_from_latent']['total']:.3f}",
        ]
        for column in self.columns.values():
            lines.extend(column.describe())
        return "\n".join(lines)

    def _facts(self) -> dict[str, str]:
        return {
            self.unit: str(len(self.ids)),
            "N_eff": f"{float(self.weights.sum()):.1f}",
            "latent_dim": str(self.latent_dim),
            "active": str(self.diagnostics.n_active),
            "columns": ", ".join(self.columns),
        }

    def to_frame(self) -> pd.DataFrame:
        """The coordinates table (:meth:`coordinates_table`, ``latent_coordinates.csv``)."""
        return self.coordinates_table()

    def coordinates_table(self) -> pd.DataFrame:
        """id, weight, z_mean_*, z_logvar_*, PC_* and the analysed phenotype columns."""
        table: dict[str, Any] = {"id": self.ids, "weight": self.weights}
        for k in range(self.latent_dim):
            table[f"z_mean_{k}"] = self.z_mean[:, k]
        for k in range(self.latent_dim):
            table[f"z_logvar_{k}"] = self.z_logvar[:, k]
        if self.pca is not None:
            for k in range(self.pca.n_components):
                table[f"PC{k + 1}"] = self.pca.scores[:, k]
        frame = pd.DataFrame(table)
        for name, column in self.columns.items():
            if name not in frame.columns:
                frame[name] = column.values.to_numpy()
        return frame


def _unit(run) -> str:
    """What a run's rows are, as the report names them."""
    return {"counts": "cells", "continuous": "rows"}.get(str(getattr(run, "kind", "")), "sequences")


def _embed(
    run, alignment
) -> tuple[list[str], np.ndarray, np.ndarray | SparseRows, int | None, np.ndarray, np.ndarray, str]:
    """ids, weights, codes (float data, or counts), alphabet size, z_mean, z_logvar, description."""
    if alignment is None:
        description = f"training {_unit(run)} of the run"
    elif isinstance(alignment, str | Path):
        description = str(alignment)
    else:
        description = alignment.source or "<alignment>"
    data, ids, weights = run.input_rows(alignment)
    z_mean, z_logvar = run.encode(data)
    n_codes = None if run.registry is None else run.registry.alphabet.size
    return list(map(str, ids)), np.asarray(weights, float), data, n_codes, z_mean, z_logvar, description


def _continuous_pca(data: np.ndarray, weights: np.ndarray, n_components: int) -> AlignmentPCA:
    """Weighted PCA of a float matrix (runs trained on continuous data)."""
    data = np.asarray(data, dtype=np.float64)
    w = weights / weights.sum()
    centred = data - w @ data
    _, s, vt = np.linalg.svd(np.sqrt(w)[:, None] * centred, full_matrices=False)
    k = min(n_components, len(s))
    components = vt[:k].T
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(k)])
    components = components * np.where(signs == 0, 1.0, signs)
    variance = s[:k] ** 2
    total = float((s**2).sum())
    return AlignmentPCA(
        centred @ components, components, variance, variance / total if total else variance, False
    )


def analyse_latent(
    run,
    alignment=None,
    phenotypes: str | Path | pd.DataFrame | None = None,
    id_column: str = "id",
    color_columns: Sequence[str] = (),
    group_columns: Sequence[str] = (),
    options: LatentOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> LatentReport:
    """Embed sequences with a trained run and compute every latent-space analysis.

    Parameters
    ----------
    run
        A :class:`seqvae.Run` (``seqvae.load(path)``).
    alignment
        Sequences aligned like the training alignment (an :class:`~seqvae.Alignment` or a path);
        ``None`` for the run's training sequences.
    phenotypes
        A phenotype table (path or DataFrame) with one row per sequence id.
    id_column
        The table's id column (matched to FASTA ids: header up to the first white space).
    color_columns
        Phenotype columns to analyse (continuous or categorical, decided per column).
    group_columns
        Grouping columns for the within-group (Simpson's paradox) analysis of continuous
        phenotypes; when empty, k-means clusters of the latent means (``options.n_clusters``).
    options
        :class:`LatentOptions`.
    progress
        Called with a short message before each step.
    """
    options = (options or LatentOptions()).validate()
    say = progress or (lambda message: None)
    phenotype_source = str(phenotypes) if isinstance(phenotypes, str | Path) else "a phenotype table"
    if phenotypes is None and alignment is None and getattr(run, "kind", None) == "counts":
        phenotypes = run.cell_metadata()  # the training cells' metadata (obs) as labels
        id_column = "id"
        phenotype_source = "the cell metadata"
    if (color_columns or group_columns) and phenotypes is None:
        raise InputError("colour and group columns need a phenotype table")
    say("embedding sequences")
    ids, weights, data, n_codes, z_mean, z_logvar, description = _embed(run, alignment)
    diagnostics = latent_diagnostics(z_mean, z_logvar, weights, options.threshold)
    d = z_mean.shape[1]

    say("PCA of the alignment")
    n_components = max(options.n_pcs, d)
    if isinstance(data, SparseRows):  # counts: PCA of log(1 + normalised counts), kept sparse
        pca = count_pca(data.matrix, weights, n_components, options.seed)
    elif n_codes is not None:
        pca = alignment_pca(data, n_codes, weights, n_components, options.include_gaps, options.seed)
    else:
        pca = _continuous_pca(data, weights, n_components)
    top = pca.scores[:, : options.n_pcs]
    comparison = {
        "n_pcs": int(top.shape[1]),
        "include_gaps": pca.include_gaps,
        "explained_variance_ratio": pca.explained_variance_ratio[: options.n_pcs].tolist(),
        "canonical_correlations": canonical_correlations(z_mean, top, weights).tolist(),
        "r2_latent_from_pcs": linear_r2(top, z_mean, weights),
        "r2_pcs_from_latent": linear_r2(z_mean, top, weights),
        "r2_latent_from_same_number_of_pcs": linear_r2(pca.scores[:, :d], z_mean, weights),
    }

    join = None
    columns: dict[str, ColumnAnalysis] = {}
    if phenotypes is not None:
        source, table = phenotype_table(phenotypes, id_column)
        for name in [*color_columns, *group_columns]:
            if name not in table.columns:
                raise InputError(
                    f"no column {name!r} in the phenotype table (columns: {', '.join(map(str, table.columns[:15]))})",
                    source,
                )
        join = join_phenotypes(ids, table, id_column, source)
        groupings = {g: join.table[g].to_numpy(dtype=object) for g in group_columns}
        if not groupings and options.n_clusters > 0:
            groupings = {
                f"k-means clusters (k={options.n_clusters})": latent_clusters(
                    z_mean, options.n_clusters, weights, options.seed
                )
            }
        same_pcs = pca.scores[:, :d]
        for name in dict.fromkeys(color_columns):
            say(f"analysing {name}")
            values = join.table[name]
            kind = column_kind(values)
            if kind == "continuous":
                columns[name] = _continuous_column(
                    name, values, z_mean, same_pcs, weights, groupings, options
                )
            else:
                columns[name] = _categorical_column(name, values, z_mean, same_pcs, weights, options)
    return LatentReport(
        ids=ids,
        weights=weights,
        z_mean=z_mean,
        z_logvar=z_logvar,
        diagnostics=diagnostics,
        pca=pca,
        comparison=comparison,
        join=join,
        columns=columns,
        options=options,
        source={"run": str(run.path), "sequences": description},
        phenotype_source=phenotype_source,
        unit=_unit(run),
    )


def _continuous_column(
    name: str,
    values: pd.Series,
    z_mean: np.ndarray,
    pcs: np.ndarray,
    weights: np.ndarray,
    groupings: dict[str, np.ndarray],
    options: LatentOptions,
) -> ColumnAnalysis:
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    measured = np.isfinite(numeric)
    n = int(measured.sum())
    analysis = ColumnAnalysis(name, "continuous", values, n)
    if n < max(options.folds, 10):
        return analysis
    y = numeric[measured]
    cv = {"folds": options.folds, "seed": options.seed, "neighbours": options.neighbours}
    analysis.predictability = {
        "n": n,
        "n_features": int(z_mean.shape[1]),
        "latent_linear": cross_validated_r2(z_mean[measured], y, "linear", **cv),
        "latent_knn": cross_validated_r2(z_mean[measured], y, "knn", **cv),
        "pca_linear": cross_validated_r2(pcs[measured], y, "linear", **cv),
        "pca_knn": cross_validated_r2(pcs[measured], y, "knn", **cv),
        "definition": f"out-of-fold R² ({options.folds}-fold, seed {options.seed}); PCA uses as many PCs "
        f"as latent dimensions; kNN k={options.neighbours}",
    }
    # the better pooled model's out-of-fold predictions, for the within-group figure
    analysis.pooled_model = (
        "knn"
        if analysis.predictability["latent_knn"] > analysis.predictability["latent_linear"]
        else "linear"
    )
    analysis.pooled_prediction = np.full(len(numeric), np.nan)
    analysis.pooled_prediction[measured] = out_of_fold_predictions(
        z_mean[measured], y, analysis.pooled_model, **cv
    )
    for grouping, labels in groupings.items():
        grouped = grouped_predictability(
            z_mean,
            numeric,
            labels,
            pcs=pcs,
            grouping=grouping,
            min_group_size=options.min_group_size,
            folds=options.folds,
            seed=options.seed,
            neighbours=options.neighbours,
            strength_delta=options.strength_delta,
            alpha=options.alpha,
        )
        analysis.grouped.append(grouped)
        analysis.grouped_labels[grouping] = labels
    cutoff = np.quantile(y, 1.0 - options.top_fraction)
    members = measured & (numeric >= cutoff)
    if 2 <= members.sum() < n:
        analysis.localisation.append(
            _localise(
                z_mean,
                members,
                weights,
                measured,
                options,
                f"top {options.top_fraction:.0%} of {name} (>= {cutoff:.3g})",
            )
        )
    return analysis


def _categorical_column(
    name: str,
    values: pd.Series,
    z_mean: np.ndarray,
    pcs: np.ndarray,
    weights: np.ndarray,
    options: LatentOptions,
) -> ColumnAnalysis:
    labels, order = top_categories(values, options.max_categories)
    measured = labels.notna().to_numpy()
    n = int(measured.sum())
    analysis = ColumnAnalysis(name, "categorical", values, n)
    if n < max(options.folds, 10):
        return analysis
    label_array = labels.to_numpy(dtype=object)
    cv = {"folds": options.folds, "seed": options.seed, "neighbours": options.neighbours}
    analysis.classification = {
        "classes": order,
        "latent": cross_validated_accuracy(z_mean[measured], label_array[measured], **cv),
        "pca": cross_validated_accuracy(pcs[measured], label_array[measured], **cv),
        "definition": f"out-of-fold k-NN (k={options.neighbours}) accuracy, {options.folds}-fold, seed "
        f"{options.seed}, over the {len(order)} legend classes; PCA uses as many PCs as latent dimensions",
    }
    for category in order:
        if category == OTHER_LABEL:
            continue
        members = measured & (label_array == category)
        if options.min_category_size <= members.sum() < n:
            analysis.localisation.append(
                _localise(z_mean, members, weights, measured, options, f"{name} = {category}")
            )
    return analysis


def _localise(
    z_mean: np.ndarray,
    members: np.ndarray,
    weights: np.ndarray,
    measured: np.ndarray,
    options: LatentOptions,
    name: str,
) -> LocalisationResult:
    """The localisation test of one set of sequences with the options' settings."""
    return localisation_test(
        z_mean,
        members,
        weights,
        pool=measured,
        statistic=options.statistic,
        n_permutations=options.n_permutations,
        seed=options.seed,
        neighbours=options.neighbours,
        null_sampling=options.null_sampling,
        name=name,
    )
