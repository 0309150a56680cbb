"""Count matrices (cells × genes) for the negative-binomial VAE: checks, names, batches.

A :class:`CountMatrix` holds non-negative integer counts as a SciPy CSR matrix (float32, exact
for counts up to 2²⁴), one id per cell, one name per gene and, when the file has it, the cell
metadata. The whole matrix is never made dense: :class:`SparseRows` gives the trainer and the
encoder dense blocks of rows, one batch at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from seqvae.errors import InputError
from seqvae.io.count_files import CountTable, read_count_file

# float32 holds every integer up to 2**24 exactly
MAX_COUNT = 2**24
# what the encoder (and a Gaussian likelihood) sees of the counts, by likelihood
INPUT_TRANSFORMS = {"negative_binomial": None, "gaussian": "log1p"}


@dataclass
class CountMatrix:
    """Checked counts with their names.

    Attributes
    ----------
    counts
        ``float32 [cells, genes]`` CSR matrix of non-negative integers.
    cells
        One id per cell (row).
    genes
        One name per gene (column), unique.
    obs
        Cell metadata, one row per cell in the order of ``cells`` (``None`` when absent).
    source
        The file (or ``"<array>"``).
    layer
        Where in the file the counts came from.
    """

    counts: sparse.csr_matrix
    cells: list[str]
    genes: list[str]
    obs: pd.DataFrame | None = None
    source: str = "<array>"
    layer: str = ""

    @property
    def n_cells(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_genes(self) -> int:
        return int(self.counts.shape[1])

    def library_sizes(self) -> np.ndarray:
        """Total count per cell, ``float64 [cells]``."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.float64).ravel()

    def rows(self, transform: str | None = None) -> SparseRows:
        """The counts as :class:`SparseRows` (``transform="log1p"``: log(1 + x) per batch)."""
        return SparseRows(self.counts, transform=transform)

    def metadata(self) -> pd.DataFrame | None:
        """The cell metadata with the cell ids as its first column, ``id``."""
        if self.obs is None:
            return None
        table = self.obs.reset_index(drop=True).copy()
        if "id" in table.columns:
            table = table.rename(columns={"id": "id_"})
        table.insert(0, "id", self.cells)
        return table

    def conform_to(self, genes: list[str]) -> CountMatrix:
        """The same cells with the columns of ``genes`` in that order (a run's genes).

        Raises
        ------
        InputError
            When a gene of ``genes`` is missing here (or the columns are unnamed and their
            number differs).
        """
        if list(genes) == self.genes:
            return self
        index = {g: j for j, g in enumerate(self.genes)}
        missing = [g for g in genes if g not in index]
        if missing:
            raise InputError(
                f"has {self.n_genes} genes; {len(missing)} of the run's {len(genes)} genes are missing "
                f"(e.g. {', '.join(map(repr, missing[:3]))})",
                self.source,
            )
        columns = np.fromiter((index[g] for g in genes), dtype=np.int64, count=len(genes))
        counts = self.counts[:, columns].tocsr()
        return CountMatrix(counts, self.cells, list(genes), self.obs, self.source, self.layer)


class SparseRows:
    """Rows of a CSR matrix that the trainer and the encoder index like a tensor.

    Boolean selection (``rows[mask]``) keeps the rows sparse; integer indices or a slice give
    a dense ``float32`` tensor of those rows on :attr:`device` (one batch densified at a time).

    Parameters
    ----------
    matrix
        ``[N, G]`` CSR matrix.
    device
        Where dense batches go.
    transform
        ``None`` (the values) or ``"log1p"`` (log(1 + x) of each dense batch).
    """

    def __init__(
        self, matrix: sparse.csr_matrix, device: torch.device | str = "cpu", transform: str | None = None
    ):
        if transform not in (None, "log1p"):
            raise ValueError(f"unknown transform {transform!r}")
        self.matrix = sparse.csr_matrix(matrix, dtype=np.float32)
        self.device = torch.device(device)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.matrix.shape[0]), int(self.matrix.shape[1])

    def to(self, device: torch.device | str) -> SparseRows:
        return SparseRows(self.matrix, device, self.transform)

    @overload
    def __getitem__(self, key: slice) -> torch.Tensor: ...

    @overload
    def __getitem__(self, key: Any) -> SparseRows | torch.Tensor: ...

    def __getitem__(self, key: Any) -> SparseRows | torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        if isinstance(key, slice):
            return self._dense(self.matrix[key])
        key = np.asarray(key)
        if key.dtype == np.bool_:
            return SparseRows(self.matrix[key], self.device, self.transform)
        return self._dense(self.matrix[key.astype(np.int64, copy=False)])

    def _dense(self, block: sparse.csr_matrix) -> torch.Tensor:
        dense = torch.from_numpy(block.toarray())
        if self.transform == "log1p":
            dense = torch.log1p(dense)
        return dense.to(self.device)

    def __repr__(self) -> str:
        return f"SparseRows({self.shape[0]} x {self.shape[1]}, nnz={self.matrix.nnz}, transform={self.transform})"


def _locate(matrix: sparse.csr_matrix, position: int) -> tuple[int, int]:
    """(row, column) of the ``position``-th stored value of a CSR matrix."""
    row = int(np.searchsorted(matrix.indptr, position, side="right") - 1)
    return row, int(matrix.indices[position])


def count_matrix(
    matrix: np.ndarray | sparse.spmatrix | sparse.sparray,
    cells: list[str] | None = None,
    genes: list[str] | None = None,
    obs: pd.DataFrame | None = None,
    source: str | Path = "<array>",
    layer: str = "",
) -> CountMatrix:
    """Check a matrix of counts and its names; return a :class:`CountMatrix`.

    Counts must be a 2-D numeric matrix of at least 2 cells and 2 genes holding finite,
    non-negative integers (raw counts, not normalised or log values), with one unique name
    per gene and one id per cell. Missing names become ``cell0…``/``gene0…``.

    Raises
    ------
    InputError
        Naming ``source`` and what is wrong (the first bad entry's cell and gene).
    """
    source = str(source)
    where = f"{layer}: " if layer in ("X", "layers['counts']") else ""
    if sparse.issparse(matrix):
        if matrix.ndim != 2:
            raise InputError(
                f"{where}counts must be a 2-D matrix (cells x genes), got {matrix.ndim}-D", source
            )
        csr = sparse.csr_matrix(matrix)
        if csr.dtype.kind not in "biuf":
            raise InputError(f"{where}counts are not numeric (dtype {csr.dtype})", source)
        csr.sum_duplicates()
        values = csr.data
    else:
        array = np.asarray(matrix)
        if array.dtype.kind not in "biuf":
            raise InputError(f"{where}counts are not numeric (dtype {array.dtype})", source)
        if array.ndim != 2:
            raise InputError(
                f"{where}counts must be a 2-D matrix (cells x genes), got shape {array.shape}", source
            )
        csr = None
        values = array
    n_cells, n_genes = matrix.shape
    if n_cells < 2 or n_genes < 2:
        raise InputError(
            f"{where}counts must have at least 2 cells (rows) and 2 genes (columns), got {n_cells} x {n_genes}",
            source,
        )
    if cells is not None and len(cells) != n_cells:
        raise InputError(f"{len(cells)} cell ids for {n_cells} rows of counts", source)
    if genes is not None and len(genes) != n_genes:
        raise InputError(f"{len(genes)} gene names for {n_genes} columns of counts", source)
    cells = [str(c) for c in cells] if cells is not None else [f"cell{i}" for i in range(n_cells)]
    genes = [str(g) for g in genes] if genes is not None else [f"gene{j}" for j in range(n_genes)]

    def name(flat: int) -> str:
        if csr is not None:
            row, column = _locate(csr, flat)
        else:
            row, column = divmod(flat, n_genes)
        return f"cell {cells[row]!r}, gene {genes[column]!r}"

    flat_values = values.reshape(-1)
    checks = [("negative values", lambda v: v < 0), (f"counts above {MAX_COUNT}", lambda v: v > MAX_COUNT)]
    if flat_values.dtype.kind == "f":
        checks[:0] = [("NaN or infinite values", lambda v: ~np.isfinite(v))]
        checks.insert(2, ("non-integer values", lambda v: v != np.round(v)))
    for what, test in checks:
        bad = test(flat_values)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            hint = ""
            if what == "non-integer values":
                hint = "; the negative-binomial likelihood needs raw counts, not normalised or log values"
                if layer == "X":
                    hint += " (an .h5ad keeps them in layers['counts'], which this file lacks)"
            raise InputError(
                f"{where}counts hold {what} (first at {name(first)}: {flat_values[first]:g}){hint}", source
            )
    seen: dict[str, int] = {}
    for j, gene in enumerate(genes):
        if gene in seen:
            raise InputError(
                f"gene name {gene!r} appears twice (columns {seen[gene] + 1} and {j + 1})", source
            )
        seen[gene] = j
    if len(set(cells)) != len(cells):
        duplicate = pd.Index(cells)[pd.Index(cells).duplicated()][0]
        raise InputError(f"cell id {duplicate!r} appears more than once", source)
    if obs is not None and len(obs) != n_cells:
        raise InputError(f"cell metadata has {len(obs)} rows for {n_cells} cells", source)
    counts = sparse.csr_matrix(csr if csr is not None else values, dtype=np.float32)
    counts.eliminate_zeros()
    if counts.nnz == 0:
        raise InputError(f"{where}every count is zero: there is nothing to learn from", source)
    return CountMatrix(counts, cells, genes, obs, source, layer)


def from_table(table: CountTable) -> CountMatrix:
    """Check a :class:`~seqvae.io.count_files.CountTable` read from a file."""
    return count_matrix(table.matrix, table.cells, table.genes, table.obs, table.source, table.layer)


def read_counts(path: str | Path) -> CountMatrix:
    """Read and check a count file (``.h5ad``, ``.npz``, ``.csv``/``.tsv``)."""
    return from_table(read_count_file(path))
