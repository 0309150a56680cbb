"""Sequence weights against a direct O(N^2) computation written plainly here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqvae
from seqvae.data.alignment import alignment_from_sequences
from seqvae.data.weights import compute_sequence_weights, identity_thresholds
from seqvae.errors import ConfigError


def direct_weights(codes: np.ndarray, gap: int, theta: float, block: int = 2048) -> np.ndarray:
    """w_i = 1 / #{j : matches(i, j) / nongap(i) > 1 - theta}, by brute force.

    One-hot rows over the residue states (a gap is all zeros) in float32 blocks: the products
    are exact integer match counts. The division and comparison are in float64, as in EVE.
    """
    n, length = codes.shape
    eye = np.eye(gap + 1, gap, dtype=np.float32)
    nongap = np.maximum((codes != gap).sum(axis=1), 1).astype(np.float64)
    counts = np.zeros(n, dtype=np.int64)
    for i in range(0, n, block):
        a = eye[codes[i : i + block]].reshape(-1, length * gap)
        for j in range(i, n, block):
            b = eye[codes[j : j + block]].reshape(-1, length * gap)
            matches = (a @ b.T).astype(np.float64)
            counts[i : i + block] += (matches / nongap[i : i + block, None] > 1 - theta).sum(axis=1)
            if j != i:  # the same counts seen from the rows of block j
                counts[j : j + block] += (matches.T / nongap[j : j + block, None] > 1 - theta).sum(axis=1)
    return 1.0 / np.maximum(counts, 1)


def test_blat_n_eff_matches_direct_computation(blat_full):
    aln = seqvae.read_alignment(blat_full)
    assert aln.codes.shape == (8355, 253)
    weights = compute_sequence_weights(aln.codes, aln.alphabet.gap_code, theta=0.2)
    expected = direct_weights(aln.codes, aln.alphabet.gap_code, theta=0.2)
    n_eff, expected_n_eff = weights.sum(), expected.sum()
    assert abs(n_eff - expected_n_eff) <= 0.005 * expected_n_eff
    # the counts are exact integers in both, so the weights are identical, not just close
    assert np.array_equal(weights, expected)


def test_small_exact_values():
    sequences = [
        "ACDEF",  # a
        "ACDEF",  # b: identical to a
        "ACDEW",  # c: 4/5 = 0.8 identity with a, b: not > 0.8, so not a neighbour at theta 0.2
        "AC---",  # d: identity to a, b, c over its own 2 residues is 2/2
        "-----",  # e: no residues: counts only itself
        "WWWWW",  # f: alone
    ]
    aln = alignment_from_sequences(sequences)
    gap = aln.alphabet.gap_code
    weights = compute_sequence_weights(aln.codes, gap, theta=0.2)
    # neighbours: a {a, b}, b {a, b}, c {c}, d {a, b, c, d}, e {e}, f {f}
    np.testing.assert_array_equal(weights, [1 / 2, 1 / 2, 1, 1 / 4, 1, 1])
    # at theta 0.25 the 0.8 identity of c counts (0.8 > 0.75): a, b, c are mutual neighbours
    weights = compute_sequence_weights(aln.codes, gap, theta=0.25)
    np.testing.assert_array_equal(weights, [1 / 3, 1 / 3, 1 / 3, 1 / 4, 1, 1])
    assert compute_sequence_weights(aln.codes, gap, theta=None).tolist() == [1.0] * 6


def test_set_weights_puts_weights_on_the_alignment_in_place_and_weighted_on_a_copy():
    aln = alignment_from_sequences(["ACDEF", "ACDEF", "ACDEW", "WWWWW"])
    copy = aln.weighted(0.2)
    assert aln.sequence_weights is None and copy.theta == 0.2
    codes = aln.codes
    weights = aln.set_weights(0.2)
    assert aln.codes is codes  # no copy of the codes
    np.testing.assert_array_equal(weights, [1 / 2, 1 / 2, 1, 1])
    np.testing.assert_array_equal(aln.sequence_weights, copy.sequence_weights)
    assert aln.theta == 0.2 and aln.n_eff == 3.0
    # weights computed before (a family's, saved once) are kept as they are; a wrong length is refused
    saved = np.array([0.25, 0.25, 1.0, 1.0])
    aln.set_weights(0.2, weights=saved)
    np.testing.assert_array_equal(aln.sequence_weights, saved)
    assert aln.theta == 0.2 and aln.n_eff == 2.5
    with pytest.raises(ConfigError, match=r"weights: expected one per sequence \(4\)"):
        aln.set_weights(0.2, weights=saved[:3])
    with pytest.raises(seqvae.ConfigError, match="theta"):
        aln.set_weights(1.5)


def test_identity_thresholds_follow_the_float64_rule():
    lengths = np.arange(1, 3000)
    for theta in (0.01, 0.1, 0.2, 0.3, 0.5, 0.9):
        k = identity_thresholds(lengths, theta)
        assert np.all(k / lengths > 1 - theta)
        assert np.all(~((k - 1) / lengths > 1 - theta))


@pytest.mark.parametrize("length", [7, 300])  # 300 > 256 positions: bfloat16 counts in chunks
def test_blocks_chunks_and_dtypes_agree_with_direct(length):
    rng = np.random.default_rng(length)
    ancestors = rng.integers(0, 21, (12, length))
    codes = ancestors[rng.integers(0, 12, 400)]
    noise = rng.random(codes.shape) < rng.random((400, 1)) * 0.5
    codes = np.where(noise, rng.integers(0, 21, codes.shape), codes).astype(np.uint8)
    cases = [
        (theta, dtype, 2048, 2**30) for theta in (0.05, 0.2, 0.4) for dtype in (torch.bfloat16, torch.float32)
    ]
    cases += [(0.2, dtype, 150, 0) for dtype in (torch.bfloat16, torch.float32)]  # uneven blocks, no cache
    expected = {theta: direct_weights(codes, 20, theta, block=256) for theta in (0.05, 0.2, 0.4)}
    for theta, dtype, block_size, cache in cases:
        weights = compute_sequence_weights(
            codes, 20, theta, block_size=block_size, dtype=dtype, cache_bytes=cache
        )
        assert np.array_equal(weights, expected[theta]), (theta, dtype, block_size)


def test_progress_counts_every_block_product_once():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 21, (1000, 30)).astype(np.uint8)
    calls = []
    weights = compute_sequence_weights(codes, 20, 0.2, block_size=300, progress=lambda *c: calls.append(c))
    assert np.array_equal(weights, compute_sequence_weights(codes, 20, 0.2, block_size=300))
    # 4 row blocks: 4 · 5 / 2 = 10 products on and above the diagonal, counted 1..10
    assert calls == [(done, 10) for done in range(1, 11)]


def test_bad_theta():
    codes = np.zeros((3, 4), dtype=np.uint8)
    with pytest.raises(seqvae.InputError, match=r"\[0, 1\)"):
        compute_sequence_weights(codes, 20, theta=1.0)
    assert compute_sequence_weights(np.zeros((0, 4), np.uint8), 20).shape == (0,)


def test_one_hot_is_one_encoder_for_every_layout():
    """data.onehot: dense (torch, NumPy) and sparse agree; the gap is a state or an all-zero row."""
    from seqvae.data.onehot import one_hot, one_hot_numpy, one_hot_sparse

    rng = np.random.default_rng(3)
    codes = rng.integers(0, 21, (7, 5)).astype(np.uint8)
    with_gap = one_hot(codes, 21).numpy()
    assert with_gap.shape == (7, 105) and np.array_equal(with_gap.sum(axis=1), np.full(7, 5.0))
    np.testing.assert_array_equal(with_gap, one_hot_sparse(codes, 21).toarray())
    np.testing.assert_array_equal(with_gap, one_hot_numpy(codes, 21))
    without_gap = one_hot(codes, 20)
    np.testing.assert_array_equal(without_gap.numpy().sum(axis=1), (codes != 20).sum(axis=1))
    np.testing.assert_array_equal(
        without_gap.numpy(), one_hot_sparse(codes, 21, include_gaps=False).toarray()
    )
    # int64 codes take the same path as uint8
    np.testing.assert_array_equal(one_hot(torch.from_numpy(codes.astype(np.int64)), 20), without_gap)
    assert one_hot(codes, 20, torch.float64).dtype == torch.float64
