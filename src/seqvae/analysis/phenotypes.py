"""Phenotype tables: read them, join them to sequences by id, and decide how to show each column.

A phenotype table is a CSV (or TSV) with one row per sequence and an id column that matches the
FASTA id of the alignment (the header up to the first white space). Ids are compared as strings,
so numeric ids such as GenBank gi numbers join without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.errors import InputError
from seqvae.io.tables import read_table

__all__ = [
    "PhenotypeJoin",
    "column_kind",
    "join_phenotypes",
    "phenotype_table",
    "read_phenotype_table",
    "top_categories",
]

OTHER_LABEL = "other"


def read_phenotype_table(path: str | Path, id_column: str = "id") -> pd.DataFrame:
    """Read a phenotype table with every id as a string.

    Parameters
    ----------
    path
        CSV file (``.tsv``/``.tab`` are read tab-separated).
    id_column
        The column holding the sequence ids.

    Returns
    -------
    pandas.DataFrame
        The table, ``id_column`` as ``str``; other columns keep pandas' inferred types.

    Raises
    ------
    InputError
        When the file is missing or unreadable, the id column is absent, or ids repeat.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("phenotype table not found", path)
    separator = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    table = read_table(
        path, "cannot read the phenotype table", sep=separator, dtype={id_column: str}, keep_default_na=True
    )
    if id_column not in table.columns:
        raise InputError(
            f"no id column {id_column!r} in the phenotype table (columns: {', '.join(map(str, table.columns[:12]))}); "
            "name it as id_column",
            path,
        )
    table[id_column] = table[id_column].astype(str).str.strip()
    duplicated = table[id_column].duplicated()
    if duplicated.any():
        first = table.loc[duplicated, id_column].iloc[0]
        raise InputError(
            f"id {first!r} appears more than once in column {id_column!r} ({int(duplicated.sum())} repeats)",
            path,
            int(np.flatnonzero(duplicated.to_numpy())[0]) + 2,  # +1 header, +1 one-based
        )
    return table


def phenotype_table(
    phenotypes: str | Path | pd.DataFrame, id_column: str = "id"
) -> tuple[str | Path, pd.DataFrame]:
    """What messages call a phenotype table given as a file or a DataFrame, and the table (a file
    read by :func:`read_phenotype_table`)."""
    if isinstance(phenotypes, pd.DataFrame):
        return "phenotype table", phenotypes
    return phenotypes, read_phenotype_table(phenotypes, id_column=id_column)


@dataclass
class PhenotypeJoin:
    """A phenotype table re-indexed to a list of sequence ids.

    Attributes
    ----------
    table
        One row per sequence id, in the order of the ids; rows of unmatched ids are all missing.
    n_sequences
        Number of sequence ids.
    n_matched
        Sequence ids found in the table.
    n_table_rows
        Rows in the phenotype table.
    n_unused_rows
        Table rows whose id matches no sequence.
    """

    table: pd.DataFrame
    n_sequences: int
    n_matched: int
    n_table_rows: int
    n_unused_rows: int

    def summary(self) -> dict:
        return {
            "n_sequences": self.n_sequences,
            "n_matched": self.n_matched,
            "n_table_rows": self.n_table_rows,
            "n_unused_rows": self.n_unused_rows,
        }


def join_phenotypes(
    ids: list[str],
    table: pd.DataFrame,
    id_column: str = "id",
    source: str | Path | None = None,
) -> PhenotypeJoin:
    """Align a phenotype table to sequence ids (FASTA ids: header up to the first white space).

    Raises
    ------
    InputError
        When no id matches (showing an example of each side, which usually reveals the mismatch).
    """
    if id_column not in table.columns:
        raise InputError(f"no id column {id_column!r} in the phenotype table", source)
    keyed = table.set_index(table[id_column].astype(str))
    ids = [str(i) for i in ids]
    present = pd.Index(ids).isin(keyed.index)
    n_matched = int(present.sum())
    if n_matched == 0:
        example_table = str(keyed.index[0]) if len(keyed) else "(empty table)"
        example_ids = ids[0] if ids else "(no sequences)"
        raise InputError(
            f"no sequence id matches column {id_column!r} of the phenotype table "
            f"(e.g. sequence id {example_ids!r} vs table id {example_table!r})",
            source,
        )
    joined = keyed.reindex(ids).reset_index(drop=True)
    joined[id_column] = ids
    return PhenotypeJoin(
        table=joined,
        n_sequences=len(ids),
        n_matched=n_matched,
        n_table_rows=len(table),
        n_unused_rows=int((~keyed.index.isin(ids)).sum()),
    )


def column_kind(values: pd.Series, max_numeric_levels: int = 10) -> str:
    """``"continuous"`` for numeric columns with more than ``max_numeric_levels`` distinct values,
    ``"categorical"`` otherwise (strings, booleans, small integer codes)."""
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values) and values.dropna().nunique() > max_numeric_levels:
        return "continuous"
    return "categorical"


def top_categories(values: pd.Series, max_categories: int = 8) -> tuple[pd.Series, list[str]]:
    """Keep the ``max_categories - 1`` most frequent labels (all of them if they fit) and call the
    rest ``"other"``.

    Returns
    -------
    labels
        String labels, ``None`` where missing (object dtype).
    order
        Labels by decreasing count, ``"other"`` last when used.
    """
    present = values.notna()
    # object dtype with None for missing, so that ``labels == "x"`` is a plain boolean mask
    labels = pd.Series(np.where(present, values.astype(str), None), index=values.index, dtype=object)
    counts = labels[present].value_counts()
    if len(counts) <= max_categories:
        return labels, [str(c) for c in counts.index]
    keep = [str(c) for c in counts.index[: max_categories - 1]]
    folded = labels.where(labels.isin(keep) | ~present, OTHER_LABEL)
    return folded, [*keep, OTHER_LABEL]
