"""Generative capacity: how well a set of generated sequences reproduces a natural set.

Everything here works on coded sequence sets (``uint8 [N, L]``, gap = last code) from any
source — VAE designs, a site-independent model's samples, a Potts model's, a held-out
natural split — and never touches a model, except :func:`evaluate_samples`, which can add
the reconstruction stability of a run when one is given.

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
  energy distributions (:func:`pattern_coverage`, :func:`energy_comparison`).

Weighting: frequencies accept per-sequence weights. The CLI weights the natural (reference)
set with sequence weights (θ = 0.2, computed within that set, as the model was trained on
weighted data) and leaves designs unweighted (they are independent draws from the model);
:func:`evaluate_samples` records which was used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqvae.analysis.reconstruction import predictable_positions, reconstruction_stability
from seqvae.data.onehot import one_hot_numpy
from seqvae.errors import InputError

OverlapFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
EnergyFn = Callable[[np.ndarray], np.ndarray]


# -- helpers ------------------------------------------------------------------------------------
def _check_codes(codes: np.ndarray, name: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise InputError(f"{name} must be a 2-D array of codes [N, L], got shape {codes.shape}")
    if codes.shape[0] == 0:
        raise InputError(f"{name} contains no sequences")
    return np.ascontiguousarray(codes, dtype=np.uint8)


def _normalised_weights(weights: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,) or not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise InputError(f"{name}: weights must be {n} finite non-negative numbers with a positive sum")
    return weights / weights.sum()


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
    codes = _check_codes(codes, "codes")
    w = _normalised_weights(weights, codes.shape[0], "codes")
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
    codes = _check_codes(codes, "codes")
    n_seq, length = codes.shape
    w = _normalised_weights(weights, n_seq, "codes")
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
    target = _check_codes(target, "target")
    samples = _check_codes(samples, "samples")
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
        in ``n_undefined``; ``"zero"`` (seqvae before issue 17) scores it r = 0. A set whose
        target frequencies are all equal, or with a single distinct sub-sequence, is always
        left out.
    position_sets
        Use these position sets (e.g. those of a HOM_r20 database) instead of random ones;
        ``n_values`` and ``n_sets`` then follow from them (sets of equal size form one n).
    ties
        Which sub-sequences enter the top when frequencies tie across its boundary (common
        for n >= 6, where most sub-sequences are seen once): ``"hom_r20"`` (default) picks
        those HOM_r20 picks, so that per position set r equals HOM_r20's; ``"order"``
        (seqvae before issue 17) the smallest sub-sequence codes. The choice moves r20 by
        about 0.01 at n >= 5 on HOM_r20's example MSAs.
    """
    target = _check_codes(target, "target")
    samples = _check_codes(samples, "samples")
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
        for positions in position_sets:
            positions = np.sort(np.asarray(positions, dtype=np.int64))
            if (
                positions.size < 1
                or positions[0] < 0
                or positions[-1] >= length
                or np.unique(positions).size != positions.size
            ):
                raise InputError(
                    f"r20 position set {positions.tolist()} is not a set of distinct columns of 0..{length - 1}"
                )
            given.setdefault(int(positions.size), []).append(positions)
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
    wt = _normalised_weights(target_weights, target.shape[0], "target")
    ws = _normalised_weights(sample_weights, samples.shape[0], "samples")
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
    query = _check_codes(query, "query")
    reference = _check_codes(reference, "reference")
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
    codes = _check_codes(codes, "codes")
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


# -- synthetic families: patterns and energy ------------------------------------------------------
def identity_overlap(codes: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Default overlap of designs with patterns, ``float64 [N, P]`` in [0, 1].

    ``patterns`` as codes ``[P, L]``: the fraction of identical positions. As a
    ``[P, L, Q]`` array (one-hot or any per-position letter scores ξ): the mean over positions
    of ξ[p, l, x_l], which is the identity fraction for one-hot patterns.
    """
    codes = np.asarray(codes)
    patterns = np.asarray(patterns)
    length = codes.shape[1]
    if patterns.ndim == 2:
        if patterns.shape[1] != length:
            raise InputError(f"patterns have {patterns.shape[1]} positions, sequences {length}")
        return (codes[:, None, :] == patterns[None, :, :]).mean(axis=2)
    if patterns.ndim == 3:
        if patterns.shape[1] != length:
            raise InputError(f"patterns have {patterns.shape[1]} positions, sequences {length}")
        n_codes = patterns.shape[2]
        if codes.max(initial=0) >= n_codes:
            raise InputError(f"sequence codes exceed the patterns' {n_codes} letter states")
        gathered = patterns[:, np.arange(length)[None, :], codes.astype(np.intp)]  # [P, N, L]
        return gathered.mean(axis=2).T.astype(np.float64)
    raise InputError(f"patterns must be codes [P, L] or letter scores [P, L, Q], got shape {patterns.shape}")


@dataclass
class PatternCoverage:
    """Which known patterns (attractors) a design set reaches.

    Attributes
    ----------
    threshold
        A pattern is reached when some design's overlap with it is ≥ threshold.
    best_overlap
        ``[P]`` the largest overlap any design has with each pattern.
    reached
        ``[P]`` boolean.
    designs_per_pattern
        ``[P]`` number of designs whose best pattern is p and whose overlap with it is ≥ threshold.
    design_best_pattern, design_best_overlap
        ``[N]`` each design's closest pattern and the overlap with it.
    """

    threshold: float
    best_overlap: np.ndarray
    reached: np.ndarray
    designs_per_pattern: np.ndarray
    design_best_pattern: np.ndarray
    design_best_overlap: np.ndarray

    @property
    def fraction(self) -> float:
        """Fraction of patterns reached (the coverage)."""
        return float(self.reached.mean()) if self.reached.size else float("nan")

    @property
    def missed(self) -> np.ndarray:
        """Indices of the patterns no design reaches."""
        return np.flatnonzero(~self.reached)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "coverage": self.fraction,
            "n_patterns": int(self.reached.size),
            "missed": [int(i) for i in self.missed],
            "best_overlap": [float(v) for v in self.best_overlap],
            "designs_per_pattern": [int(v) for v in self.designs_per_pattern],
        }


def pattern_coverage(
    codes: np.ndarray,
    patterns: np.ndarray,
    overlap_fn: OverlapFn | None = None,
    threshold: float = 0.8,
    block: int = 4096,
) -> PatternCoverage:
    """Coverage of known patterns by a set of designs.

    Parameters
    ----------
    codes
        ``uint8 [N, L]`` designs.
    patterns
        Anything ``overlap_fn`` understands; by default codes ``[P, L]`` or letter scores
        ``[P, L, Q]`` (see :func:`identity_overlap`).
    overlap_fn
        ``overlap_fn(codes_block, patterns) -> [b, P]`` overlaps (larger = closer); called on
        blocks of ``block`` designs. Default :func:`identity_overlap`.
    threshold
        Overlap at which a design counts as reaching a pattern.
    """
    codes = _check_codes(codes, "designs")
    overlap_fn = overlap_fn or identity_overlap
    best_pattern = []
    best_value = []
    pattern_best: np.ndarray | None = None
    for start in range(0, codes.shape[0], block):
        overlaps = np.asarray(overlap_fn(codes[start : start + block], patterns), dtype=np.float64)
        if overlaps.ndim != 2 or overlaps.shape[0] != min(block, codes.shape[0] - start):
            raise InputError(f"overlap_fn must return [designs, patterns], got shape {overlaps.shape}")
        column_max = overlaps.max(axis=0)
        pattern_best = column_max if pattern_best is None else np.maximum(pattern_best, column_max)
        best_pattern.append(overlaps.argmax(axis=1))
        best_value.append(overlaps.max(axis=1))
    assert pattern_best is not None
    design_best_pattern = np.concatenate(best_pattern)
    design_best_overlap = np.concatenate(best_value)
    counted = design_best_overlap >= threshold
    per_pattern = np.bincount(design_best_pattern[counted], minlength=pattern_best.size)
    return PatternCoverage(
        threshold=float(threshold),
        best_overlap=pattern_best,
        reached=pattern_best >= threshold,
        designs_per_pattern=per_pattern,
        design_best_pattern=design_best_pattern,
        design_best_overlap=design_best_overlap,
    )


def energy_comparison(energy_fn: EnergyFn, designs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Energies of designs vs true samples of a family with a known energy function.

    Returns both energy vectors and a summary (mean, std, median per set; two-sample
    Kolmogorov–Smirnov statistic and p-value). The sign convention is the energy function's.
    """
    from scipy.stats import ks_2samp

    e_designs = np.asarray(energy_fn(_check_codes(designs, "designs")), dtype=np.float64).reshape(-1)
    e_reference = np.asarray(energy_fn(_check_codes(reference, "reference")), dtype=np.float64).reshape(-1)
    if e_designs.size != len(designs) or e_reference.size != len(reference):
        raise InputError("energy_fn must return one energy per sequence")
    ks = ks_2samp(e_designs, e_reference)

    def describe(values: np.ndarray) -> dict[str, float]:
        return {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "median": float(np.median(values)),
        }

    return {
        "designs": describe(e_designs),
        "reference": describe(e_reference),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "design_energies": e_designs,
        "reference_energies": e_reference,
    }


# -- everything together --------------------------------------------------------------------------
@dataclass
class SampleEvaluation:
    """The statistics of :func:`evaluate_samples`; ``summary`` is JSON-ready, the rest feeds figures."""

    summary: dict[str, Any]
    n_codes: int
    design_frequencies: np.ndarray
    reference_frequencies: np.ndarray
    pairwise: PairwiseComparison
    r20: R20Result
    design_to_training: np.ndarray | None = None
    reference_to_training: np.ndarray | None = None
    design_nearest_index: np.ndarray | None = None
    design_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    reference_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    design_stable: np.ndarray | None = None
    design_redecoded_hamming: np.ndarray | None = None
    design_redecoded_identity: np.ndarray | None = None
    reference_stable: np.ndarray | None = None
    reference_redecoded_identity: np.ndarray | None = None
    coverage: PatternCoverage | None = None
    energies: dict[str, Any] | None = None

    def table(self) -> list[tuple[str, str]]:
        """(statistic, value) rows for printing."""
        s = self.summary
        rows = [
            ("designs / reference sequences", f"{s['n_designs']} / {s['n_reference']}"),
            ("single-site frequency r", f"{s['single_site_r']:.4f}"),
            ("pairwise connected-correlation r", f"{s['pairwise_r']:.4f}"),
            ("r20 (mean over n)", f"{s['r20_mean']:.4f}"),
        ]
        for key, label in (
            ("design_hamming_to_training_median", "designs: median Hamming to nearest training"),
            ("reference_hamming_to_training_median", "reference: median Hamming to nearest training"),
            ("design_pairwise_hamming_median", "designs: median pairwise Hamming"),
            ("reference_pairwise_hamming_median", "reference: median pairwise Hamming"),
            ("design_reconstruction_stability", "designs: re-encode/decode to themselves"),
            ("reference_reconstruction_stability", "reference: re-encode/decode to themselves"),
            ("design_redecode_identity_mean", "designs: identity to own re-decoding"),
            ("reference_redecode_identity_mean", "reference: identity to own re-decoding"),
            ("pattern_coverage", "patterns reached"),
        ):
            if s.get(key) is not None:
                value = s[key]
                digits = 1 if "hamming" in key else 4
                rows.append((label, f"{value:.{digits}f}" if isinstance(value, float) else str(value)))
        if s.get("patterns") and s["patterns"].get("missed"):
            rows.append(("patterns missed", " ".join(str(i + 1) for i in s["patterns"]["missed"])))
        if s.get("energy"):
            energy = s["energy"]
            rows.append(
                (
                    "energy: designs / reference (mean ± sd)",
                    f"{energy['designs']['mean']:.2f} ± {energy['designs']['std']:.2f} / "
                    f"{energy['reference']['mean']:.2f} ± {energy['reference']['std']:.2f}",
                )
            )
            rows.append(
                ("energy: KS statistic (p)", f"{energy['ks_statistic']:.3f} ({energy['ks_pvalue']:.2g})")
            )
        return rows


def _codes_of(data: Any, name: str) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """Codes, weights (if an Alignment carries them) and alphabet size of an input."""
    from seqvae.data.alignment import Alignment

    if isinstance(data, Alignment):
        return _check_codes(data.codes, name), data.sequence_weights, data.alphabet.size
    return _check_codes(data, name), None, None


def _median(values: np.ndarray | None) -> float | None:
    return None if values is None or values.size == 0 else float(np.median(values))


def evaluate_samples(
    designs: Any,
    reference: Any,
    *,
    n_codes: int | None = None,
    training: Any = None,
    run: Any = None,
    design_weights: np.ndarray | None = None,
    reference_weights: np.ndarray | None = None,
    weighting_note: str | None = None,
    include_gaps: bool = True,
    r20_n_values: Sequence[int] = tuple(range(2, 11)),
    r20_sets: int = 200,
    r20_flat: str = "drop",
    max_pairs: int = 100_000,
    seed: int = 0,
    energy_fn: EnergyFn | None = None,
    patterns: Any = None,
    overlap_fn: OverlapFn | None = None,
    overlap_threshold: float = 0.8,
) -> SampleEvaluation:
    """Judge a set of generated sequences against a natural (target) set.

    Parameters
    ----------
    designs, reference
        Coded sets ``uint8 [N, L]`` or :class:`~seqvae.Alignment` objects, aligned to the same
        columns and coded with the same alphabet. ``reference`` is the target (held-out natural
        sequences); ``designs`` are the model's samples.
    n_codes
        Alphabet size including the gap; taken from an Alignment when not given.
    training
        The training sequences, for the Hamming distance of each set to its nearest training
        sequence (optional; codes or Alignment).
    run
        A :class:`~seqvae.Run`: adds reconstruction stability (the fraction of sequences that,
        encoded to their latent mean and decoded by argmax, give themselves back).
    design_weights, reference_weights
        Per-sequence weights for the frequency statistics and r20; ``None`` = unweighted.
        Weights carried by an Alignment are *not* used implicitly: pass them here.
    weighting_note
        Free text recorded in the summary (e.g. how the weights were made).
    include_gaps
        Count the gap as a state in frequencies and correlations (turn off to compare a model
        trained with ``model_gaps=False``, whose samples never contain gaps).
    r20_n_values, r20_sets, seed
        r20 position-set sizes, sets per size and the seed for position sets and pair sampling.
    r20_flat
        r20's treatment of position sets with flat sample frequencies (``"drop"``, HOM_r20's,
        or ``"zero"``; see :func:`higher_order_r20`).
    max_pairs
        Pairs of sequences for the within-set Hamming distributions (all pairs when fewer).
    energy_fn
        For synthetic families: energies of sequences (codes → [N]); the design and reference
        energy distributions are compared.
    patterns, overlap_fn, overlap_threshold
        For synthetic families: known patterns and how to measure overlap with them
        (:func:`pattern_coverage`).
    """
    design_codes, _, design_q = _codes_of(designs, "designs")
    reference_codes, _, reference_q = _codes_of(reference, "reference")
    if design_codes.shape[1] != reference_codes.shape[1]:
        raise InputError(
            f"designs have {design_codes.shape[1]} columns but the reference has "
            f"{reference_codes.shape[1]}: both must be aligned to the same columns"
        )
    known = {q for q in (design_q, reference_q) if q is not None}
    if len(known) > 1:
        raise InputError("designs and reference are coded with different alphabets")
    if n_codes is None:
        n_codes = known.pop() if known else 21
    top_code = int(max(design_codes.max(), reference_codes.max()))
    if top_code >= n_codes:
        raise InputError(f"codes go up to {top_code} but the alphabet has only {n_codes} codes")
    training_codes = None
    if training is not None:
        training_codes, _, training_q = _codes_of(training, "training")
        if training_q is not None and training_q != n_codes:
            raise InputError("the training set is coded with a different alphabet")
        if training_codes.shape[1] != design_codes.shape[1]:
            raise InputError(
                f"training sequences have {training_codes.shape[1]} columns but designs have "
                f"{design_codes.shape[1]}: all sets must be aligned to the same columns"
            )

    f_design = site_frequencies(design_codes, n_codes, design_weights, include_gaps)
    f_reference = site_frequencies(reference_codes, n_codes, reference_weights, include_gaps)
    pairwise = compare_connected_correlations(
        reference_codes,
        design_codes,
        n_codes,
        reference_weights,
        design_weights,
        include_gaps=include_gaps,
        seed=seed,
    )
    r20 = higher_order_r20(
        reference_codes,
        design_codes,
        n_codes,
        n_values=r20_n_values,
        n_sets=r20_sets,
        target_weights=reference_weights,
        sample_weights=design_weights,
        seed=seed,
        flat=r20_flat,
    )
    evaluation = SampleEvaluation(
        summary={},
        n_codes=n_codes,
        design_frequencies=f_design,
        reference_frequencies=f_reference,
        pairwise=pairwise,
        r20=r20,
        design_pairs=pairwise_hamming(design_codes, max_pairs, seed),
        reference_pairs=pairwise_hamming(reference_codes, max_pairs, seed + 1),
    )
    if training_codes is not None:
        index, distance = nearest_sequences(design_codes, training_codes, n_codes)
        evaluation.design_nearest_index = index
        evaluation.design_to_training = distance
        evaluation.reference_to_training = nearest_sequences(reference_codes, training_codes, n_codes)[1]
    if run is not None:
        if run.model.config.length != design_codes.shape[1]:
            raise InputError(
                f"sequences have {design_codes.shape[1]} columns but the run expects {run.model.config.length}"
            )

        def identity(codes: np.ndarray, distance: np.ndarray) -> np.ndarray:
            counted = predictable_positions(run.model, codes).sum(axis=1)
            return 1.0 - distance / np.maximum(counted, 1)

        stable, redecoded = reconstruction_stability(run.model, design_codes)
        evaluation.design_stable = stable
        evaluation.design_redecoded_hamming = redecoded
        evaluation.design_redecoded_identity = identity(design_codes, redecoded)
        reference_stable, reference_redecoded = reconstruction_stability(run.model, reference_codes)
        evaluation.reference_stable = reference_stable
        evaluation.reference_redecoded_identity = identity(reference_codes, reference_redecoded)
    if patterns is not None:
        evaluation.coverage = pattern_coverage(design_codes, patterns, overlap_fn, overlap_threshold)
    if energy_fn is not None:
        evaluation.energies = energy_comparison(energy_fn, design_codes, reference_codes)

    length = design_codes.shape[1]
    summary: dict[str, Any] = {
        "n_designs": int(design_codes.shape[0]),
        "n_reference": int(reference_codes.shape[0]),
        "n_training": None if training_codes is None else int(training_codes.shape[0]),
        "length": int(length),
        "n_codes": int(n_codes),
        "gap_is_state": bool(include_gaps),
        "weighting": weighting_note
        or (
            f"designs {'weighted' if design_weights is not None else 'unweighted'}, "
            f"reference {'weighted' if reference_weights is not None else 'unweighted'}"
        ),
        "single_site_r": pearson(f_reference.reshape(-1), f_design.reshape(-1)),
        "pairwise_r": pairwise.r,
        "pairwise_values": pairwise.n_values,
        "r20_mean": r20.mean(),
        "r20": r20.to_dict(),
        "r20_sets_per_n": int(r20_sets),
        "seed": int(seed),
        "design_hamming_to_training_median": _median(evaluation.design_to_training),
        "design_hamming_to_training_mean": None
        if evaluation.design_to_training is None
        else float(evaluation.design_to_training.mean()),
        "design_hamming_to_training_min": None
        if evaluation.design_to_training is None
        else int(evaluation.design_to_training.min()),
        "design_exact_copies_of_training": None
        if evaluation.design_to_training is None
        else int((evaluation.design_to_training == 0).sum()),
        "reference_hamming_to_training_median": _median(evaluation.reference_to_training),
        "reference_hamming_to_training_mean": None
        if evaluation.reference_to_training is None
        else float(evaluation.reference_to_training.mean()),
        "design_pairwise_hamming_median": _median(evaluation.design_pairs),
        "reference_pairwise_hamming_median": _median(evaluation.reference_pairs),
        "design_unique_fraction": float(np.unique(design_codes, axis=0).shape[0] / design_codes.shape[0]),
        "design_reconstruction_stability": None
        if evaluation.design_stable is None
        else float(evaluation.design_stable.mean()),
        "reference_reconstruction_stability": None
        if evaluation.reference_stable is None
        else float(evaluation.reference_stable.mean()),
        "design_redecode_identity_mean": None
        if evaluation.design_redecoded_identity is None
        else float(evaluation.design_redecoded_identity.mean()),
        "reference_redecode_identity_mean": None
        if evaluation.reference_redecoded_identity is None
        else float(evaluation.reference_redecoded_identity.mean()),
        "pattern_coverage": None if evaluation.coverage is None else evaluation.coverage.fraction,
        "patterns": None if evaluation.coverage is None else evaluation.coverage.to_dict(),
        "energy": None
        if evaluation.energies is None
        else {k: v for k, v in evaluation.energies.items() if not k.endswith("energies")},
    }
    evaluation.summary = summary
    return evaluation
