"""Sequence weights: down-weight near-duplicate sequences (DeepSequence / EVE convention).

w_i = 1 / #{j : identity(i, j) > 1 - theta}, with identity(i, j) = (positions where i and j
carry the same residue, gaps excluded) / (non-gap length of i). N_eff = sum_i w_i.

How it is computed:

- The match counts M_ij come from matrix products of one-hot blocks (residue states only, so a
  gap matches nothing). One-hot values are exact in bfloat16 and the products accumulate in
  float32, so every count is an exact integer (L * q < 2**24).
- M is symmetric, so only the blocks on and above the diagonal are multiplied; each product
  serves row block i and, transposed, row block j.
- The test ``M_ij / len_i > 1 - theta`` (float64, as EVE) is turned once into an integer
  threshold per row, ``M_ij >= k_i``, so each block needs one comparison and a sum.
- Memory is O(block_size x N): the one-hot blocks are kept between products only while they fit
  in ``cache_bytes``, otherwise they are rebuilt; the N x N matrix is never formed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from seqvae.data.onehot import one_hot
from seqvae.errors import InputError

# DeepSequence/EVE: neighbours are sequences with identity > 1 - θ
DEFAULT_THETA = 0.2


def normalised_weights(weights: np.ndarray | None, n: int, name: str = "weights") -> np.ndarray:
    """Weights scaled to sum 1 (uniform when ``None``); ``InputError`` naming ``name`` unless
    they are ``n`` finite, non-negative numbers with a positive sum."""
    if weights is None:
        return np.full(n, 1.0 / n)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,):
        raise InputError(f"{name} must have shape ({n},), got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError(f"{name} must be finite, non-negative and not all zero")
    return weights / weights.sum()


def fast_exact_dtype() -> torch.dtype:
    """bfloat16 where oneDNN has a bfloat16 matmul for this CPU (AVX512 / AMX), else float32.

    Both give exact counts; bfloat16 products run ~5x faster on CPUs with AMX or AVX512-BF16,
    while CPUs without them (most laptops, ARM) are better served by float32.
    """
    try:
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # builds without oneDNN
        supported = False
    return torch.bfloat16 if supported else torch.float32


def identity_thresholds(non_gap_lengths: np.ndarray, theta: float) -> np.ndarray:
    """Smallest integer match count k_i with ``k_i / len_i > 1 - theta`` evaluated in float64.

    Reproduces the float64 division-and-compare of the definition exactly (also at the
    boundary, e.g. 0.8 * 5 = 4 matches out of 5 is *not* a neighbour), for integer counts.
    """
    lengths = np.maximum(np.asarray(non_gap_lengths, dtype=np.int64), 1)
    min_identity = 1.0 - theta
    k = np.floor(min_identity * lengths).astype(np.int64)
    # nudge k to the exact boundary of the float64 test (at most a step or two either way)
    for _ in range(3):
        too_high = (k > 0) & ((k - 1) / lengths > min_identity)
        k = np.where(too_high, k - 1, k)
    for _ in range(3):
        too_low = ~(k / lengths > min_identity)
        k = np.where(too_low, k + 1, k)
    return k


def compute_sequence_weights(
    codes: np.ndarray,
    gap_code: int,
    theta: float | None = DEFAULT_THETA,
    block_size: int = 2048,
    dtype: torch.dtype | None = None,
    cache_bytes: int = 512 * 2**20,
    progress: Callable[[int, int], None] | None = None,
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
        Rows per block; the working memory is O(block_size x (N + L * q)).
    dtype
        Matmul dtype (``torch.bfloat16`` or ``torch.float32``; both exact). ``None`` picks the
        faster one on this CPU.
    cache_bytes
        Keep all one-hot blocks between products while they fit in this many bytes.
    progress
        Called as ``progress(done, total)`` after each product of two row blocks (the work
        grows as N², so a deep alignment takes minutes: callers show a bar).

    Returns
    -------
    numpy.ndarray
        ``float64 [N]`` weights. A sequence without residues (all gaps) counts only itself.
    """
    codes = np.asarray(codes)
    n_sequences = codes.shape[0]
    if theta is None:
        return np.ones(n_sequences, dtype=np.float64)
    if not 0.0 <= theta < 1.0:
        raise InputError(f"must be in [0, 1) (got {theta!r})", "theta")
    if n_sequences == 0:
        return np.zeros(0, dtype=np.float64)
    dtype = dtype or fast_exact_dtype()
    n_states = int(gap_code)
    length = codes.shape[1]
    codes_t = torch.from_numpy(np.ascontiguousarray(codes))
    thresholds = identity_thresholds((codes != gap_code).sum(axis=1), theta)
    # Each position adds at most 1 to a count. bfloat16 holds integers exactly up to 256, so
    # with bfloat16 the positions are split into chunks of <= 256 whose counts are summed in
    # float32; with a single chunk the counts are compared in bfloat16 directly.
    exact_limit = 256 if dtype == torch.bfloat16 else 2**24
    n_chunks = -(-length // exact_limit)
    chunk_columns = -(-length // n_chunks) * n_states
    compare_dtype = dtype if n_chunks == 1 else torch.float32
    # a threshold above the largest possible count can never be met; inf keeps it exact
    k = torch.from_numpy(np.where(thresholds > length, np.inf, thresholds)).to(compare_dtype)

    starts = list(range(0, n_sequences, block_size))
    row_bytes = length * n_states * torch.empty((), dtype=dtype).element_size()
    cache: dict[int, torch.Tensor] | None = {} if n_sequences * row_bytes <= cache_bytes else None

    def block(start: int) -> torch.Tensor:
        if cache is not None and start in cache:
            return cache[start]
        one_hot_rows = one_hot(codes_t[start : start + block_size], n_states, dtype)
        if cache is not None:
            cache[start] = one_hot_rows
        return one_hot_rows

    def match_counts(rows_i: torch.Tensor, rows_j: torch.Tensor) -> torch.Tensor:
        if n_chunks == 1:
            return rows_i @ rows_j.T
        total = torch.zeros(rows_i.shape[0], rows_j.shape[0], dtype=torch.float32)
        for c in range(0, rows_i.shape[1], chunk_columns):
            total += (rows_i[:, c : c + chunk_columns] @ rows_j[:, c : c + chunk_columns].T).float()
        return total

    neighbours = np.zeros(n_sequences, dtype=np.int64)
    total_products, done_products = len(starts) * (len(starts) + 1) // 2, 0
    with torch.no_grad():
        for i, start_i in enumerate(starts):
            rows_i = block(start_i)
            stop_i = start_i + rows_i.shape[0]
            k_i = k[start_i:stop_i, None]
            for start_j in starts[i:]:
                rows_j = rows_i if start_j == start_i else block(start_j)
                stop_j = start_j + rows_j.shape[0]
                matches = match_counts(rows_i, rows_j)
                # numpy's count_nonzero is several times faster than torch's bool sum
                neighbours[start_i:stop_i] += np.count_nonzero((matches >= k_i).numpy(), axis=1)
                if start_j != start_i:  # the same block, transposed, counts for rows j
                    k_j = k[None, start_j:stop_j]
                    neighbours[start_j:stop_j] += np.count_nonzero((matches >= k_j).numpy(), axis=0)
                done_products += 1
                if progress is not None:
                    progress(done_products, total_products)
            if cache is not None:
                cache.pop(start_i, None)  # never needed again
    # an all-gap sequence has no neighbours by this rule (EVE gives it weight 0); it counts itself
    return 1.0 / np.maximum(neighbours, 1).astype(np.float64)


def reference_identity(codes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Fraction of columns where each row holds the reference's code (a gap where the
    reference has a residue counts as a difference), ``float64 [N]``.

    Parameters
    ----------
    codes
        ``uint8 [N, L]`` coded rows.
    reference
        ``uint8 [L]`` the reference row.
    """
    codes = np.asarray(codes)
    reference = np.asarray(reference)
    if codes.ndim != 2 or reference.shape != (codes.shape[1],):
        raise ValueError(f"reference of shape {reference.shape} does not fit rows of shape {codes.shape}")
    matches = np.zeros(len(codes), dtype=np.int64)
    for start in range(0, len(codes), 65536):  # bounded memory for very deep alignments
        matches[start : start + 65536] = (codes[start : start + 65536] == reference).sum(axis=1)
    return matches / max(codes.shape[1], 1)
