"""One-hot encoding of coded sequences, in blocks: the one place seqvae builds one-hot rows.

Codes are ``uint8 [N, L]`` with the gap as the last code. ``n_states`` is the number of one-hot
columns per position: the alphabet size when the gap is a state, one less when it is not (a gap
is then an all-zero row, as in DeepSequence's weights and in SCA). Dense blocks are for blocks of
rows or columns only; a whole alignment is only ever encoded sparsely (:func:`one_hot_sparse`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

from seqvae.errors import InputError


def one_hot(
    codes: np.ndarray | torch.Tensor, n_states: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Dense one-hot ``[B, L * n_states]`` of a block of coded rows.

    A code ``>= n_states`` (the gap, when it is not a state) gives an all-zero row.
    """
    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(np.ascontiguousarray(codes))
    n_codes = (
        256 if codes.dtype == torch.uint8 else max(n_states, int(codes.max()) + 1 if codes.numel() else 0)
    )
    table = torch.eye(n_codes, n_states, dtype=dtype)
    # index_select of table rows is several times faster than scatter or advanced indexing here
    return table.index_select(0, codes.reshape(-1).long()).reshape(codes.shape[0], -1)


def one_hot_numpy(codes: np.ndarray, n_codes: int, include_gaps: bool = True) -> np.ndarray:
    """:func:`one_hot` as ``float32`` NumPy, with ``n_states = n_codes`` (or ``n_codes - 1``
    without the gap)."""
    return one_hot(codes, n_codes if include_gaps else n_codes - 1).numpy()


def one_hot_sparse(codes: np.ndarray, n_codes: int, include_gaps: bool = True) -> sparse.csr_matrix:
    """Sparse one-hot ``[N, L * n_states]`` of ``uint8`` codes (gap = last code).

    With ``include_gaps`` the gap is a state like any residue (``n_states = n_codes``); otherwise
    gaps are all-zero rows (``n_states = n_codes - 1``), as in SCA.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise InputError(f"codes must be [N, L], got shape {codes.shape}")
    n, length = codes.shape
    n_states = n_codes if include_gaps else n_codes - 1
    columns = (np.arange(length, dtype=np.int64) * n_states)[None, :] + codes.astype(np.int64)
    keep = np.ones_like(codes, dtype=bool) if include_gaps else codes != n_codes - 1
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)
    data = np.ones(int(keep.sum()), dtype=np.float64)
    return sparse.csr_matrix((data, (rows[keep], columns[keep])), shape=(n, length * n_states))
