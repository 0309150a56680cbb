"""Reading count matrices (cells × genes) from ``.h5ad``, ``.npz`` and ``.csv``/``.tsv`` files.

What is read here is the raw matrix with its names; whether it holds counts (non-negative
integers, consistent shapes) is checked in :mod:`seqvae.data.counts`. Sparse matrices stay
sparse.

``.h5ad`` (AnnData; needs the optional extra ``pip install 'seqvae[cells]'``)
    ``layers["counts"]`` when present, else ``X``; ``obs_names`` are the cell ids, ``var_names``
    the gene names, and the ``obs`` columns the cell metadata (labels for ``seqvae latent``).
``.npz``
    A SciPy sparse matrix (``scipy.sparse.save_npz``), or ``numpy.savez`` with a dense array
    named ``counts`` or ``X`` (or the only array), and optionally ``genes`` (or ``var_names``)
    and ``cells`` (or ``obs_names``) string arrays.
``.csv`` / ``.tsv`` (optionally ``.gz``)
    One row per cell, a header row of gene names. The first column holds the cell ids when its
    header is empty or one of ``id``, ``cell``, ``cell_id``, ``barcode``, ``obs_names``, ``index``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from seqvae.errors import InputError
from seqvae.io.tables import read_table

CELLS_EXTRA_HINT = "pip install 'seqvae[cells]' (or pip install anndata)"
COUNT_SUFFIXES = (".h5ad", ".npz", ".csv", ".tsv", ".csv.gz", ".tsv.gz")
ID_HEADERS = ("", "id", "cell", "cell_id", "cells", "barcode", "barcodes", "obs_names", "index")
SPARSE_NPZ_KEYS = {"format", "shape", "data"}
DENSE_NPZ_KEYS = ("counts", "X")
GENE_KEYS = ("genes", "var_names")
CELL_KEYS = ("cells", "obs_names")


@dataclass
class CountTable:
    """A matrix read from a count file, before any check of its values.

    Attributes
    ----------
    matrix
        ``[cells, genes]``: a NumPy array or a SciPy sparse matrix.
    cells, genes
        Row and column names when the file has them.
    obs
        Cell metadata (one row per cell), when the file has it.
    layer
        Where in the file the matrix came from (``X``, ``layers['counts']``, an array name).
    source
        The file.
    """

    matrix: np.ndarray | sparse.spmatrix | sparse.sparray
    cells: list[str] | None
    genes: list[str] | None
    obs: pd.DataFrame | None
    layer: str
    source: str


def is_count_file(path: str | Path) -> bool:
    """Whether ``path`` names a count-matrix file (by its suffix)."""
    name = Path(path).name.lower()
    return any(name.endswith(suffix) for suffix in COUNT_SUFFIXES)


def read_count_file(path: str | Path) -> CountTable:
    """Read a count file (see the module docstring); an unreadable one is an :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("is a folder, expected a count matrix file", path)
    name = path.name.lower()
    if name.endswith(".h5ad"):
        return _read_h5ad(path)
    if name.endswith(".npz"):
        return _read_npz(path)
    if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        return _read_delimited(path)
    raise InputError(f"not a count matrix file: expected one of {', '.join(COUNT_SUFFIXES)}", path)


def _read_h5ad(path: Path) -> CountTable:
    try:
        import anndata  # optional extra: seqvae[cells]
    except ImportError:
        raise InputError(f"reading .h5ad files needs anndata: {CELLS_EXTRA_HINT}", path) from None
    try:
        adata = anndata.read_h5ad(path)
    except Exception as err:  # h5py and anndata raise many kinds for a file that is not an .h5ad
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"not a readable .h5ad file ({detail[:160]})", path) from None
    if "counts" in adata.layers:
        matrix, layer = adata.layers["counts"], "layers['counts']"
    elif adata.X is not None:
        matrix, layer = adata.X, "X"
    else:
        raise InputError("holds no counts: X is empty and there is no layers['counts']", path)
    if not (isinstance(matrix, np.ndarray) or sparse.issparse(matrix)):
        try:
            matrix = np.asarray(matrix)
        except Exception:
            raise InputError(
                f"{layer} is not a dense or sparse matrix ({type(matrix).__name__})", path
            ) from None
    obs = adata.obs.copy() if adata.obs.shape[1] else None
    if obs is not None:
        obs.index = obs.index.astype(str)
    return CountTable(
        matrix=matrix,
        cells=[str(c) for c in adata.obs_names],
        genes=[str(g) for g in adata.var_names],
        obs=obs,
        layer=layer,
        source=str(path),
    )


def _names(array: np.ndarray, key: str, path: Path) -> list[str]:
    if array.ndim != 1 or array.dtype.kind not in "USO":
        raise InputError(
            f"'{key}' must be a 1-D array of names (shape {array.shape}, dtype {array.dtype})", path
        )
    return [str(v) for v in array]


def _read_npz(path: Path) -> CountTable:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"not a readable NPZ file ({str(err).splitlines()[0][:160]})", path) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError("is a single .npy array, not an NPZ archive (save it with numpy.savez)", path)
    with archive:
        keys = set(archive.files)
        try:
            arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise InputError(f"NPZ file is damaged ({str(err).splitlines()[0][:160]})", path) from None
    if SPARSE_NPZ_KEYS <= keys:
        try:
            matrix = sparse.load_npz(path)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
            raise InputError(
                f"not a readable SciPy sparse matrix ({str(err).splitlines()[0][:160]})", path
            ) from None
        return CountTable(matrix, None, None, None, f"sparse {arrays['format']}", str(path))
    name = next((k for k in DENSE_NPZ_KEYS if k in keys), None)
    if name is None:
        matrices = [k for k in arrays if k not in (*GENE_KEYS, *CELL_KEYS)]
        if len(matrices) != 1:
            raise InputError(
                f"holds no count matrix: expected an array named 'counts' or 'X', or a SciPy sparse "
                f"matrix (keys: {', '.join(sorted(keys)) or 'none'})",
                path,
            )
        name = matrices[0]
    genes = next((_names(arrays[k], k, path) for k in GENE_KEYS if k in arrays), None)
    cells = next((_names(arrays[k], k, path) for k in CELL_KEYS if k in arrays), None)
    return CountTable(arrays[name], cells, genes, None, f"array '{name}'", str(path))


def _read_delimited(path: Path) -> CountTable:
    name = path.name.lower()
    separator = "\t" if name.endswith((".tsv", ".tsv.gz")) else ","
    # the header is read as it is: pandas would rename a second "G4" to "G4.1"
    table = read_table(
        path, "cannot read the count table", sep=separator, dtype=str, keep_default_na=False, header=None
    )
    if table.shape[1] == 0 or table.shape[0] == 0:
        raise InputError("the count table has no columns", path)
    header = [str(c) for c in table.iloc[0]]
    table = table.iloc[1:].reset_index(drop=True)
    table.columns = header
    cells = None
    if header[0].strip().lower() in ID_HEADERS or header[0].strip() == "":
        cells = table.iloc[:, 0].astype(str).tolist()
        table = table.iloc[:, 1:]
        header = header[1:]
    genes = header
    values = np.empty(table.shape, dtype=np.float64)
    for j, column in enumerate(genes):
        text = table.iloc[:, j].str.strip()
        parsed = pd.to_numeric(text, errors="coerce")
        bad = parsed.isna().to_numpy() & ~text.str.lower().isin(["nan"]).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            shown = table.iloc[row, j]
            what = "is empty" if shown.strip() == "" else f"{shown!r:.30} is not a number"
            raise InputError(
                f"column {column!r}: {what} (a count table holds numbers, one row per cell, "
                "with a header row of gene names)",
                path,
                row + 2,
            )
        values[:, j] = parsed.to_numpy(dtype=np.float64)
    return CountTable(values, cells, genes, None, "table", str(path))
