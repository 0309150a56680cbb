"""Selecting sequences by a phenotype threshold such as ``RE_norm >= q90``.

A selector is ``COLUMN OP VALUE``: a column of a phenotype table (:mod:`seqvae.analysis.phenotypes`),
a comparison, and a number, a quantile ``qNN`` over the measured sequences or, with ``==``, a label.
``seqvae generate --region-phenotype`` fits a latent region to the training sequences it selects
(:func:`seqvae.analysis.latent_regions.region_from_phenotype`); errors name the option the selector
came from (``generation.region_phenotype`` unless told otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.analysis.phenotypes import join_phenotypes, phenotype_table
from seqvae.errors import ConfigError, InputError

_EXPRESSION = re.compile(r"^\s*(?P<column>.+?)\s*(?P<operator>>=|<=|==|>|<)\s*(?P<value>.*?)\s*$")
_QUANTILE = re.compile(r"^[qQ](?P<percent>\d+(?:\.\d*)?)$")


@dataclass(frozen=True)
class PhenotypeThreshold:
    """A parsed phenotype selector such as ``RE_norm >= q90``.

    Attributes
    ----------
    column
        The phenotype column.
    operator
        One of ``>=``, ``>``, ``<=``, ``<``, ``==``.
    value
        A number, a label (``==`` on a non-numeric column) or ``None`` for a quantile.
    quantile
        The quantile in [0, 1] (``q90`` → 0.9), resolved over the measured training sequences.
    expression
        The text it was parsed from.
    """

    column: str
    operator: str
    value: float | str | None
    quantile: float | None
    expression: str

    @property
    def is_numeric(self) -> bool:
        return self.quantile is not None or isinstance(self.value, float)


def parse_phenotype_threshold(
    expression: str, field: str = "generation.region_phenotype"
) -> PhenotypeThreshold:
    """Parse ``COLUMN OP VALUE`` with OP in ``>= > <= < ==`` and VALUE a number, a quantile
    ``qNN`` (``q90`` = the 90th percentile, ``q2.5`` allowed) or, with ``==``, a label
    (quotes optional).

    Raises
    ------
    ConfigError
        When the expression does not have that form; ``field`` names the option it came from.
    """
    match = _EXPRESSION.match(str(expression))
    usage = "expected COLUMN OP VALUE with OP one of >=, >, <=, <, == and VALUE a number or qNN, e.g. 'RE_norm >= q90'"
    if match is None or not match["column"] or not match["value"]:
        raise ConfigError(f"cannot parse phenotype selector {expression!r}: {usage}", field=field)
    column, operator, text = match["column"].strip("'\" "), match["operator"], match["value"]
    # "score => 3" would otherwise read as column "score =": no comparison characters in names
    if any(ch in text or ch in column for ch in "<>=") or not column:
        raise ConfigError(f"cannot parse phenotype selector {expression!r}: {usage}", field=field)
    quantile = _QUANTILE.match(text)
    if quantile is not None:
        percent = float(quantile["percent"])
        if not 0.0 <= percent <= 100.0:
            raise ConfigError(
                f"quantile {text!r} in {expression!r} must lie between q0 and q100", field=field
            )
        return PhenotypeThreshold(column, operator, None, percent / 100.0, expression)
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and np.isfinite(number):
        return PhenotypeThreshold(column, operator, number, None, expression)
    if operator != "==" or number is not None:
        raise ConfigError(
            f"cannot parse phenotype selector {expression!r}: {text!r} is not a number or a quantile "
            "qNN (labels can only be compared with ==)",
            field=field,
        )
    return PhenotypeThreshold(column, operator, text.strip("'\""), None, expression)


@dataclass
class PhenotypeSelection:
    """Which training sequences a phenotype selector picked.

    Attributes
    ----------
    mask
        ``bool [N]`` over the run's training sequences.
    threshold
        The parsed selector.
    cutoff
        The number compared against (a quantile resolved to its value), or the label.
    n_measured
        Training sequences with a value in the column.
    """

    mask: np.ndarray
    threshold: PhenotypeThreshold
    cutoff: float | str
    n_measured: int

    @property
    def n_selected(self) -> int:
        return int(self.mask.sum())

    def describe(self) -> str:
        t = self.threshold
        shown = f"q{t.quantile * 100:g} = {self.cutoff:.4g}" if t.quantile is not None else f"{self.cutoff}"
        return (
            f"{t.column} {t.operator} {shown}: {self.n_selected} of {self.n_measured} measured "
            "training sequences"
        )


def select_by_phenotype(
    ids: list[str],
    phenotypes: str | Path | pd.DataFrame,
    expression: str | PhenotypeThreshold,
    id_column: str = "id",
    field: str = "generation.region_phenotype",
) -> PhenotypeSelection:
    """The sequences among ``ids`` whose phenotype passes a threshold such as ``RE_norm >= q90``.

    Parameters
    ----------
    ids
        Sequence ids (a run's training ids).
    phenotypes
        A phenotype table (path or DataFrame), joined to ``ids`` with
        :func:`seqvae.analysis.phenotypes.join_phenotypes`.
    expression
        ``COLUMN OP VALUE`` (:func:`parse_phenotype_threshold`). A quantile ``qNN`` is taken
        over the measured values among ``ids`` (unweighted); sequences without a value are
        never selected.
    field
        The option the expression came from, which errors about it name.

    Raises
    ------
    ConfigError
        Unparsable expression, or no sequence selected (naming ``field``).
    InputError
        Unknown column, or a numeric comparison on a non-numeric column (naming the table).
    """
    threshold = (
        expression
        if isinstance(expression, PhenotypeThreshold)
        else parse_phenotype_threshold(expression, field)
    )
    table_source, table = phenotype_table(phenotypes, id_column)
    if threshold.column not in table.columns or threshold.column == id_column:
        columns = [str(c) for c in table.columns if c != id_column]
        raise InputError(
            f"no phenotype column {threshold.column!r} (columns: {', '.join(columns[:12])})", table_source
        )
    joined = join_phenotypes(ids, table, id_column=id_column, source=table_source)
    values = joined.table[threshold.column]
    measured = values.notna().to_numpy()
    n_measured = int(measured.sum())
    if threshold.is_numeric:
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise InputError(
                f"column {threshold.column!r} is not numeric: {threshold.operator} "
                f"{threshold.value if threshold.quantile is None else f'q{threshold.quantile * 100:g}'} "
                "needs numbers (compare labels with ==)",
                table_source,
            )
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if n_measured == 0:
            raise ConfigError(
                f"{threshold.expression!r} matches no training sequence: column {threshold.column!r} "
                "has no value for any of them",
                field=field,
            )
        if threshold.quantile is not None:
            cutoff: float | str = float(np.quantile(numbers[measured], threshold.quantile))
        else:
            cutoff = float(threshold.value)  # type: ignore[arg-type]
        compare = {
            ">=": np.greater_equal,
            ">": np.greater,
            "<=": np.less_equal,
            "<": np.less,
            "==": np.equal,
        }[threshold.operator]
        with np.errstate(invalid="ignore"):
            mask = measured & compare(numbers, cutoff)
        shown_range = (
            f"measured values of {n_measured} training sequences span "
            f"{np.nanmin(numbers):.4g} to {np.nanmax(numbers):.4g}"
        )
    else:
        cutoff = str(threshold.value)
        labels = values.astype(str).str.strip()
        mask = measured & (labels == cutoff).to_numpy()
        present = sorted(set(labels[measured]))
        shown_range = f"labels among training sequences: {', '.join(present[:8])}" + (
            f" and {len(present) - 8} more" if len(present) > 8 else ""
        )
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        shown_cutoff = f" (= {cutoff:.4g})" if threshold.quantile is not None else ""
        raise ConfigError(
            f"{threshold.expression!r}{shown_cutoff} matches no training sequence ({shown_range})",
            field=field,
        )
    return PhenotypeSelection(mask=mask, threshold=threshold, cutoff=cutoff, n_measured=n_measured)
