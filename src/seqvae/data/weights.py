"""Sequence weights: down-weight near-duplicate sequences (DeepSequence / EVE convention).

w_i = 1 / #{j : identity(i, j) > 1 - theta}, with identity(i, j) = (positions where i and j
carry the same residue, gaps excluded) / (non-gap length of i). N_eff = sum_i w_i.

The identity counts come from a blocked matrix product of one-hot blocks: memory stays
O(block_size x N) and the whole N x N matrix is never formed. One-hot values are exact in
bfloat16 and the products accumulate in float32, so counts are exact integers (L < 2**24).
"""

from __future__ import annotations

import numpy as np
import torch

from seqvae.errors import InputError


def _one_hot_block(codes: torch.Tensor, n_states: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot of a block of rows over the residue states only (gaps become all-zero rows)."""
    block, length = codes.shape
    out = torch.zeros(block, length, n_states + 1, dtype=dtype)
    out.scatter_(2, codes.long().unsqueeze(-1), 1)
    return out[:, :, :n_states].reshape(block, length * n_states)


def compute_sequence_weights(
    codes: np.ndarray,
    gap_code: int,
    theta: float | None = 0.2,
    block_size: int = 2048,
    dtype: torch.dtype = torch.bfloat16,
) -> np.ndarray:
    """Per-sequence weights 1 / (number of neighbours within identity 1 - theta).

    Parameters
    ----------
    codes
        ``uint8 [N, L]`` alignment codes; residue states are ``0 .. gap_code - 1``.
    gap_code
        The gap code (the alphabet's last code).
    theta
        Identity threshold; neighbours have identity > 1 - theta (strict, as EVE). ``None`` gives all ones.
    block_size
        Rows per block; bounds memory to O(block_size x N).

    Returns
    -------
    numpy.ndarray
        ``float64 [N]`` weights.
    """
    n_sequences = codes.shape[0]
    if theta is None:
        return np.ones(n_sequences, dtype=np.float64)
    if not 0.0 <= theta < 1.0:
        raise InputError(f"theta must be in [0, 1), got {theta}")
    codes_t = torch.from_numpy(np.ascontiguousarray(codes))
    n_states = int(gap_code)
    # float64 division reproduces EVE's strict comparison at the boundary exactly
    lengths = (codes_t != gap_code).sum(dim=1).to(torch.float64).clamp(min=1.0)
    min_identity = 1.0 - theta
    neighbours = torch.zeros(n_sequences, dtype=torch.float64)
    with torch.no_grad():
        blocks = [
            _one_hot_block(codes_t[start : start + block_size], n_states, dtype)
            for start in range(0, n_sequences, block_size)
        ]
        for i, start_i in enumerate(range(0, n_sequences, block_size)):
            stop_i = start_i + blocks[i].shape[0]
            for block_j in blocks:
                matches = (blocks[i] @ block_j.T).to(torch.float64)
                # identity of row i relative to its own non-gap length
                close = matches / lengths[start_i:stop_i, None] > min_identity
                neighbours[start_i:stop_i] += close.sum(dim=1).to(torch.float64)
    # a sequence made only of gaps has no neighbours by this rule; it counts itself once
    neighbours = torch.clamp(neighbours, min=1.0)
    return (1.0 / neighbours).numpy()
