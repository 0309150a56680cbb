"""Generative capacity: how well a set of generated sequences reproduces a natural set.

Everything here works on coded sequence sets (``uint8 [N, L]``, gap = last code) from any
source — VAE designs, a site-independent model's samples, a Potts model's, a held-out
natural split — and never touches a model. All of them together, with a run's reconstruction
stability: :func:`seqvae.analysis.sample_evaluation.evaluate_samples`.

Statistics (McGee, Haldane et al. 2021, Nat Commun; see ANCHORS §5):

- single-site frequencies f_i^a, compared by Pearson r over all (i, a);
- connected correlations C_ij^ab = f_ij^ab − f_i^a f_j^b, compared by Pearson r over all
  i < j and all a, b — computed from blocked one-hot products (blocks of positions × blocks
  of sequences), so neither the whole one-hot alignment nor the (LQ)² pair matrix is built;
- r20: for random sets of n = 2…10 positions, the Pearson r between the frequencies of the
  20 most frequent sub-sequences of the target set and their frequencies in the samples,
  averaged over position sets;
- Hamming distances: to the nearest training sequence (blockwise on codes) and between pairs
  within a set (all pairs, or a seeded random sample of pairs when there are many);
- for synthetic families with known patterns or energy: coverage of the patterns and the
  energy distributions, in :mod:`seqvae.analysis.pattern_recovery`.

Weighting: frequencies accept per-sequence weights. The CLI weights the natural (reference)
set with sequence weights (θ = 0.2, computed within that set, as the model was trained on
weighted data) and leaves designs unweighted (they are independent draws from the model);
``evaluate_samples`` records which was used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqvae.data.onehot import one_hot_numpy
from seqvae.data.weights import normalised_weights
from seqvae.errors import InputError


# -- helpers ------------------------------------------------------------------------------------
def check_codes(codes: np.ndarray, name: str) -> np.ndarray:
    """``codes`` as a contiguous ``uint8 [N, L]`` array (an :class:`InputError` naming ``name`` if
    it is not a non-empty 2-D array)."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise InputError(f"{name} must be a 2-D array of codes [N, L], got shape {codes.shape}")
    if codes.shape[0] == 0:
        raise InputError(f"{name} contains no sequences")
    return np.ascontiguousarray(codes, dtype=np.uint8)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; NaN when either vector is constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx = x - x.mean()
    dy = y - y.mean()
    denominator = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    if denominator == 0:
        return float("nan")
    return float((dx * dy).sum() / denominator)


# -- single-site and pairwise statistics ---------------------------------------------------------
def site_frequencies(
    codes: np.ndarray,
    n_codes: int,
    weights: np.ndarray | None = None,
    include_gaps: bool = True,
) -> np.ndarray:
    """Weighted single-site frequencies ``f_i^a``, ``float64 [L, S]``.

    Parameters
    ----------
    codes
        ``uint8 [N, L]``.
    n_codes
        Alphabet size including the gap (21 for protein).
    weights
        Per-sequence weights (normalised here); ``None`` = unweighted.
    include_gaps
        Count the gap as a state (``S = n_codes``) or not (``S = n_codes - 1``; the gap mass
        is then simply missing from each column).
    """
    codes = check_codes(codes, "codes")
    w = normalised_weights(weights, codes.shape[0])
    n_states = n_codes if include_gaps else n_codes - 1
    freqs = np.zeros((codes.shape[1], n_codes), dtype=np.float64)
    for i in range(codes.shape[1]):
        freqs[i] = np.bincount(codes[:, i], weights=w, minlength=n_codes)[:n_codes]
    return freqs[:, :n_states]


def iter_connected_correlations(
    codes: np.ndarray,
    n_codes: int,
    weights: np.ndarray | None = None,
    include_gaps: bool = True,
    position_block: int = 32,
    row_block: int = 2048,
) -> Iterator[np.ndarray]:
    """Connected correlations C_ij^ab = f_ij^ab − f_i^a f_j^b for i < j, block by block.

    Yields one ``float64`` vector per block of positions i, in a fixed order (i ascending,
    then j > i, then a, then b), so that two sets iterated with the same ``position_block``
    line up entry by entry. Memory: one ``[block·S, (L − i0)·S]`` matrix and one one-hot
    block of ``row_block`` sequences at a time.
    """
    codes = check_codes(codes, "codes")
    n_seq, length = codes.shape
    w = normalised_weights(weights, n_seq)
    f = site_frequencies(codes, n_codes, w, include_gaps)
    n_states = f.shape[1]
    for p0 in range(0, length - 1, position_block):
        p1 = min(length - 1, p0 + position_block)
        width = length - p0
        pair = np.zeros(((p1 - p0) * n_states, width * n_states), dtype=np.float64)
        for r0 in range(0, n_seq, row_block):
            x = one_hot_numpy(codes[r0 : r0 + row_block, p0:], n_codes, include_gaps)
            wx = x * w[r0 : r0 + row_block, None].astype(np.float32)
            pair += (x[:, : (p1 - p0) * n_states].T @ wx).astype(np.float64)
        pair = pair.reshape(p1 - p0, n_states, width, n_states)
        connected = pair - f[p0:p1, :, None, None] * f[None, None, p0:, :]
        # keep j > i only: local i index li (global p0 + li), local j index lj (global p0 + lj)
        upper = np.arange(width)[None, :] > np.arange(p1 - p0)[:, None]
        yield connected.transpose(0, 2, 1, 3)[upper].reshape(-1)


def connected_correlations(
    codes: np.ndarray,
    n_codes: int,
    weights: np.ndarray | None = None,
    include_gaps: bool = True,
    position_block: int = 32,
) -> np.ndarray:
    """All C_ij^ab for i < j as one vector (order of :func:`iter_connected_correlations`).

    Size L(L−1)/2 · S²: fine for small L; for comparisons use
    :func:`compare_connected_correlations`, which streams.
    """
    parts = list(iter_connected_correlations(codes, n_codes, weights, include_gaps, position_block))
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class PairwiseComparison:
    """Pearson r between two sets' connected correlations, with a sample for plotting."""

    r: float
    n_values: int
    target_sample: np.ndarray
    samples_sample: np.ndarray


def compare_connected_correlations(
    target: np.ndarray,
    samples: np.ndarray,
    n_codes: int,
    target_weights: np.ndarray | None = None,
    sample_weights: np.ndarray | None = None,
    include_gaps: bool = True,
    max_plot_points: int = 20000,
    seed: int = 0,
    position_block: int = 32,
) -> PairwiseComparison:
    """Pearson r over all i < j, a, b of C_ij^ab in ``target`` vs ``samples``, streamed.

    The sums for r are accumulated block by block; a seeded random subset of about
    ``max_plot_points`` (target, samples) pairs is kept for a scatter plot.
    """
    target = check_codes(target, "target")
    samples = check_codes(samples, "samples")
    if target.shape[1] != samples.shape[1]:
        raise InputError(f"target has {target.shape[1]} columns but samples have {samples.shape[1]}")
    length = target.shape[1]
    n_states = n_codes if include_gaps else n_codes - 1
    total = length * (length - 1) // 2 * n_states * n_states
    keep_probability = min(1.0, max_plot_points / max(total, 1))
    rng = np.random.default_rng(seed)
    sums = np.zeros(6)  # n, Σx, Σy, Σxx, Σyy, Σxy
    kept_x: list[np.ndarray] = []
    kept_y: list[np.ndarray] = []
    for cx, cy in zip(
        iter_connected_correlations(target, n_codes, target_weights, include_gaps, position_block),
        iter_connected_correlations(samples, n_codes, sample_weights, include_gaps, position_block),
    ):
        sums += [cx.size, cx.sum(), cy.sum(), (cx * cx).sum(), (cy * cy).sum(), (cx * cy).sum()]
        keep = rng.random(cx.size) < keep_probability
        kept_x.append(cx[keep])
        kept_y.append(cy[keep])
    n, sx, sy, sxx, syy, sxy = sums
    if n < 2:
        r = float("nan")
    else:
        cov = sxy - sx * sy / n
        var_x = sxx - sx * sx / n
        var_y = syy - sy * sy / n
        r = float(cov / np.sqrt(var_x * var_y)) if var_x > 0 and var_y > 0 else float("nan")
    return PairwiseComparison(
        r=r,
        n_values=int(n),
        target_sample=np.concatenate(kept_x) if kept_x else np.zeros(0),
        samples_sample=np.concatenate(kept_y) if kept_y else np.zeros(0),
    )


# -- higher-order marginals: r20 -----------------------------------------------------------------
R20_FLAT = ("drop", "zero")
R20_TIES = ("hom_r20", "order")


@dataclass
class R20Result:
    """r20 per number of positions n.

    Attributes
    ----------
    n_values
        The numbers of positions n.
    r20
        Mean Pearson r over the position sets with a defined r, per n.
    r20_std
        Standard deviation over those position sets.
    per_set
        ``[len(n_values), n_sets]`` r of each position set (NaN where undefined, see
        :func:`higher_order_r20`).
    n_undefined
        Position sets skipped per n because r was undefined.
    flat
        How position sets with flat sample frequencies were treated (``"drop"`` or ``"zero"``).
    """

    n_values: list[int]
    r20: np.ndarray
    r20_std: np.ndarray
    per_set: np.ndarray
    n_undefined: list[int]
    top: int = 20
    flat: str = "drop"

    def mean(self) -> float:
        """r20 averaged over n (the single number quoted in tables)."""
        return float(np.nanmean(self.r20))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n_values,
            "r20": [float(v) for v in self.r20],
            "r20_std": [float(v) for v in self.r20_std],
            "undefined_sets": self.n_undefined,
            "top": self.top,
            "flat": self.flat,
            "mean": self.mean(),
        }


def _subsequence_keys(codes: np.ndarray, positions: np.ndarray, n_codes: int) -> np.ndarray:
    """Sub-sequences on ``positions`` as integers (radix ``n_codes``; exact for n ≤ 13 at Q = 21)."""
    keys = np.zeros(codes.shape[0], dtype=np.int64)
    for p in positions:
        keys = keys * n_codes + codes[:, p].astype(np.int64)
    return keys


def _key_frequencies(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse.reshape(-1), weights=weights, minlength=unique.size)


def _top_subsequences(
    keys: np.ndarray, weights: np.ndarray, top: int, ties: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys (sorted), their weighted frequencies, and the indices of the ``top`` most
    frequent (all of them when there are fewer).

    ``ties="hom_r20"`` picks among equal frequencies as HOM_r20 does: sub-sequences in order
    of first appearance in the target, then numpy's ``argpartition``; ``"order"`` takes the
    smallest keys (a stable sort).
    """
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    freq = np.bincount(inverse.reshape(-1), weights=weights, minlength=unique.size)
    kth = min(top, unique.size)
    if ties == "hom_r20":
        appearance = np.argsort(first, kind="stable")
        order = appearance[np.argpartition(freq[appearance], -kth)[-kth:]]
    else:
        order = np.argsort(-freq, kind="stable")[:kth]
    return unique, freq, order


def higher_order_r20(
    target: np.ndarray,
    samples: np.ndarray,
    n_codes: int,
    n_values: Sequence[int] = tuple(range(2, 11)),
    n_sets: int = 200,
    top: int = 20,
    target_weights: np.ndarray | None = None,
    sample_weights: np.ndarray | None = None,
    seed: int = 0,
    flat: str = "drop",
    position_sets: Sequence[Sequence[int]] | None = None,
    ties: str = "hom_r20",
) -> R20Result:
    """Higher-order marginal statistic r20 (McGee et al. 2021), with HOM_r20's conventions.

    For each n, draw ``n_sets`` random sets of n distinct positions (seeded); on each, find the
    ``top`` most frequent sub-sequences of the target set (all of them when the set has fewer
    than ``top`` distinct sub-sequences, at least 2), and take the Pearson r between their
    frequencies in the target and in the samples.

    Parameters
    ----------
    flat
        A set where the samples give all its top sub-sequences the same frequency (usually
        none of them appears) has no Pearson r. ``"drop"`` (default, as HOM_r20, whose r is
        NaN there and is averaged with ``nanmean``) leaves it out of the mean and counts it
        in ``n_undefined``; ``"zero"`` scores it r = 0. A set whose
        target frequencies are all equal, or with a single distinct sub-sequence, is always
        left out.
    position_sets
        Use these position sets (e.g. those of a HOM_r20 database) instead of random ones;
        ``n_values`` and ``n_sets`` then follow from them (sets of equal size form one n).
    ties
        Which sub-sequences enter the top when frequencies tie across its boundary (common
        for n >= 6, where most sub-sequences are seen once): ``"hom_r20"`` (default) picks
        those HOM_r20 picks, so that per position set r equals HOM_r20's; ``"order"``
        the smallest sub-sequence codes. The choice moves r20 by
        about 0.01 at n >= 5 on HOM_r20's example MSAs.
    """
    target = check_codes(target, "target")
    samples = check_codes(samples, "samples")
    length = target.shape[1]
    if samples.shape[1] != length:
        raise InputError(f"target has {length} columns but samples have {samples.shape[1]}")
    if flat not in R20_FLAT:
        raise InputError(f"r20 flat must be one of {', '.join(R20_FLAT)}, got {flat!r}")
    if ties not in R20_TIES:
        raise InputError(f"r20 ties must be one of {', '.join(R20_TIES)}, got {ties!r}")
    given: dict[int, list[np.ndarray]] | None = None
    if position_sets is not None:
        given = {}
        for position_set in position_sets:
            chosen = np.sort(np.asarray(position_set, dtype=np.int64))
            if (
                chosen.size < 1
                or chosen[0] < 0
                or chosen[-1] >= length
                or np.unique(chosen).size != chosen.size
            ):
                raise InputError(
                    f"r20 position set {chosen.tolist()} is not a set of distinct columns of 0..{length - 1}"
                )
            given.setdefault(int(chosen.size), []).append(chosen)
        if not given:
            raise InputError("r20 needs at least one position set")
        n_values = sorted(given)
        n_sets = max(len(v) for v in given.values())
    n_values = [int(n) for n in n_values]
    if not n_values or min(n_values) < 1 or max(n_values) > length:
        raise InputError(f"r20 position-set sizes must be between 1 and L = {length}, got {n_values}")
    if max(n_values) * np.log(n_codes) >= 62 * np.log(2):
        raise InputError(f"r20 position sets of {max(n_values)} positions are too large to index")
    if n_sets < 1 or top < 2:
        raise InputError("r20 needs n_sets >= 1 and top >= 2")
    wt = normalised_weights(target_weights, target.shape[0], "target_weights")
    ws = normalised_weights(sample_weights, samples.shape[0], "sample_weights")
    rng = np.random.default_rng(seed)
    per_set = np.full((len(n_values), n_sets), np.nan)
    n_sets_of = [n_sets if given is None else len(given[n]) for n in n_values]
    for row, n in enumerate(n_values):
        for k in range(n_sets_of[row]):
            if given is None:
                positions = np.sort(rng.choice(length, size=n, replace=False))
            else:
                positions = given[n][k]
            t_keys, t_freq, order = _top_subsequences(
                _subsequence_keys(target, positions, n_codes), wt, top, ties
            )
            if order.size < 2:
                continue
            top_keys = t_keys[order]
            top_target = t_freq[order]
            s_keys, s_freq = _key_frequencies(_subsequence_keys(samples, positions, n_codes), ws)
            where = np.searchsorted(s_keys, top_keys)
            where = np.clip(where, 0, max(s_keys.size - 1, 0))
            found = s_keys[where] == top_keys
            top_samples = np.where(found, s_freq[where], 0.0)
            if np.ptp(top_target) == 0:
                continue
            if np.ptp(top_samples) == 0:
                if flat == "zero":
                    per_set[row, k] = 0.0
                continue
            per_set[row, k] = pearson(top_target, top_samples)
    with np.errstate(invalid="ignore"):
        defined = ~np.isnan(per_set)
        counts = defined.sum(axis=1)
        means = np.where(counts > 0, np.nansum(per_set, axis=1) / np.maximum(counts, 1), np.nan)
        stds = np.array([np.nanstd(per_set[i]) if counts[i] > 0 else np.nan for i in range(len(n_values))])
    return R20Result(
        n_values=n_values,
        r20=means,
        r20_std=stds,
        per_set=per_set,
        n_undefined=[int(total - c) for total, c in zip(n_sets_of, counts)],
        top=top,
        flat=flat,
    )


# -- Hamming distances ----------------------------------------------------------------------------
def nearest_sequences(
    query: np.ndarray,
    reference: np.ndarray,
    n_codes: int | None = None,
    query_block: int = 1024,
    reference_block: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest reference sequence of each query sequence by Hamming distance.

    Computed as L − (matches) from one-hot products of a query block against a reference block
    (float32, exact for L < 2**24); the largest float matrix is ``query_block × reference_block``.
    A gap counts as a letter: gap against gap matches, gap against a residue differs. Ties go
    to the lowest reference index.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``int64 [Nq]`` index of the nearest reference row and ``int32 [Nq]`` its Hamming distance.
    """
    query = check_codes(query, "query")
    reference = check_codes(reference, "reference")
    if query.shape[1] != reference.shape[1]:
        raise InputError(
            f"query sequences have {query.shape[1]} columns but reference sequences have {reference.shape[1]}"
        )
    length = query.shape[1]
    if n_codes is None:
        n_codes = int(max(query.max(), reference.max())) + 1
    best_index = np.zeros(query.shape[0], dtype=np.int64)
    best_distance = np.full(query.shape[0], np.iinfo(np.int32).max, dtype=np.int32)
    for q0 in range(0, query.shape[0], query_block):
        xq = one_hot_numpy(query[q0 : q0 + query_block], n_codes)
        rows = slice(q0, q0 + xq.shape[0])
        for r0 in range(0, reference.shape[0], reference_block):
            # re-made per query block: costs 1/query_block of the product, never holds all of it
            xr = one_hot_numpy(reference[r0 : r0 + reference_block], n_codes)
            distance = length - np.rint(xq @ xr.T).astype(np.int32)
            local = distance.argmin(axis=1)  # first minimum: lowest index among ties
            local_best = distance[np.arange(distance.shape[0]), local]
            better = local_best < best_distance[rows]
            best_distance[rows] = np.where(better, local_best, best_distance[rows])
            best_index[rows] = np.where(better, local + r0, best_index[rows])
    return best_index, best_distance


def pairwise_hamming(codes: np.ndarray, max_pairs: int = 100_000, seed: int = 0) -> np.ndarray:
    """Hamming distances between pairs of sequences of one set.

    All pairs i < j when there are at most ``max_pairs`` of them; otherwise ``max_pairs``
    seeded random pairs (i ≠ j, drawn with replacement). ``int32`` vector.
    """
    codes = check_codes(codes, "codes")
    n = codes.shape[0]
    if n < 2:
        return np.zeros(0, dtype=np.int32)
    if n * (n - 1) // 2 <= max_pairs:
        first, second = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        first = rng.integers(0, n, size=max_pairs)
        second = (first + rng.integers(1, n, size=max_pairs)) % n
    out = np.empty(first.size, dtype=np.int32)
    chunk = max(1, 4_000_000 // codes.shape[1])
    for start in range(0, first.size, chunk):
        a = codes[first[start : start + chunk]]
        b = codes[second[start : start + chunk]]
        out[start : start + chunk] = (a != b).sum(axis=1)
    return out
