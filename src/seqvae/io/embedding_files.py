"""Writing an embedding table (``id``, ``weight``, ``z_mean_*``, ``z_logvar_*``) as CSV or ``.h5ad``.

The ``.h5ad`` file (AnnData; the optional extra ``seqvae[cells]``) is what scanpy and scvi-tools
users open: one observation per sequence or cell, ``obs_names`` the ids, ``obs["weight"]`` the
sequence weight, the latent means in ``obsm["X_seqvae"]`` (scvi-tools' ``X_<model>`` naming, so
``sc.pp.neighbors(adata, use_rep="X_seqvae")`` works) and the log-variances in
``obsm["X_seqvae_logvar"]``. ``X`` is empty (no variables): the embedding is not a data matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.errors import InputError
from seqvae.io.atomic import atomic_path, write_csv
from seqvae.io.count_files import CELLS_EXTRA_HINT

EMBEDDING_FORMATS = ("csv", "h5ad")
LATENT_KEY = "X_seqvae"
LOGVAR_KEY = "X_seqvae_logvar"


def write_embedding(table: pd.DataFrame, path: str | Path, output_format: str = "csv") -> None:
    """Write ``table`` (as :meth:`seqvae.run.Run.embed` returns it) to ``path`` atomically.

    Parameters
    ----------
    table
        ``id``, ``weight``, ``z_mean_0..d-1`` and ``z_logvar_0..d-1`` columns.
    path
        The file to write.
    output_format
        ``csv`` or ``h5ad`` (needs anndata).
    """
    if output_format not in EMBEDDING_FORMATS:
        raise InputError(
            f"embedding format must be one of {', '.join(EMBEDDING_FORMATS)}, got {output_format!r}",
            "format",
        )
    if output_format == "csv":
        write_csv(path, table)
        return
    try:
        import anndata  # optional extra: seqvae[cells]
    except ImportError:
        raise InputError(f"writing .h5ad files needs anndata: {CELLS_EXTRA_HINT}", path) from None
    adata = embedding_anndata(table, anndata)
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)


def embedding_anndata(table: pd.DataFrame, anndata):
    """The AnnData object of an embedding table (see the module docstring for its layout)."""
    mean = table.filter(regex=r"^z_mean_\d+$").to_numpy(np.float32)
    logvar = table.filter(regex=r"^z_logvar_\d+$").to_numpy(np.float32)
    ids = table["id"].astype(str).to_numpy()
    obs = pd.DataFrame({"id": ids, "weight": table["weight"].to_numpy(np.float64)})
    # obs_names must be unique in AnnData; alignments may repeat an id, which obs["id"] keeps
    obs.index = ids if len(set(ids)) == len(ids) else [f"{i}_{n}" for n, i in enumerate(ids)]
    adata = anndata.AnnData(obs=obs)
    adata.obsm[LATENT_KEY] = mean
    adata.obsm[LOGVAR_KEY] = logvar
    return adata
