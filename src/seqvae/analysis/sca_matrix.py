"""The SCA matrix and its spectrum (Halabi et al. 2009; Rivoire et al. 2016), as pySCA 7 computes them.

Weighted single-site frequencies regularised like pySCA's ``freq``, conservation ``D_i``, position
weights ``φ_i^a``, the matrix ``C̃_ij`` itself (:func:`sca_matrix`), its eigenmodes
(:func:`eigen_decomposition`) and their significance against randomised alignments
(:func:`randomised_eigenvalues`). The steps and their defaults: :mod:`seqvae.analysis.sca`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqvae.data.weights import fast_exact_dtype
from seqvae.errors import InputError
from seqvae.utils import single_threaded_blas

# Background amino-acid frequencies q (order ACDEFGHIKLMNPQRSTVWY), as in pySCA.
BACKGROUND_FREQUENCIES = np.array(
    [0.073, 0.025, 0.050, 0.061, 0.042, 0.072, 0.023, 0.053, 0.064, 0.089,
     0.023, 0.043, 0.052, 0.040, 0.052, 0.073, 0.056, 0.063, 0.013, 0.033]
)  # fmt: skip

PAIR_REGULARISATIONS = ("pysca7", "pre2020")


# -- frequencies and the SCA matrix -----------------------------------------------------------
def background_frequencies(n_residues: int) -> np.ndarray:
    """pySCA's q for the 20 amino acids, uniform for any other alphabet."""
    if n_residues == 20:
        return BACKGROUND_FREQUENCIES.copy()
    return np.full(n_residues, 1.0 / n_residues)


def single_frequencies(codes: np.ndarray, weights: np.ndarray, n_codes: int) -> np.ndarray:
    """Weighted code frequencies ``[L, n_codes]`` (weights normalised to sum 1)."""
    length = codes.shape[1]
    wn = np.asarray(weights, np.float64) / np.sum(weights)
    index = codes.astype(np.int64) + np.arange(length) * n_codes
    counts = np.bincount(index.ravel(), weights=np.repeat(wn, length), minlength=length * n_codes)
    return counts.reshape(length, n_codes)


def regularised_frequencies(f1: np.ndarray, pseudocount: float, toward: np.ndarray) -> np.ndarray:
    """``(1 - λ) f + λ q`` per position."""
    return (1.0 - pseudocount) * f1 + pseudocount * toward[None, :]


def position_weights(f1: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``φ_i^a = |ln[f (1 - q) / ((1 - f) q)]|``; zero where f is 0 or 1."""
    q = np.broadcast_to(background, f1.shape)
    ok = (f1 > 0) & (f1 < 1)
    phi = np.zeros_like(f1)
    phi[ok] = np.abs(np.log(f1[ok] * (1 - q[ok]) / ((1 - f1[ok]) * q[ok])))
    return phi


def conservation(f1: np.ndarray, background: np.ndarray, tolerance: float = 1e-12) -> np.ndarray:
    """``D_i = Σ_a f ln[f / ((1 - θ) q)] + f_0 ln(f_0 / θ)`` with θ the mean gap frequency."""
    theta = 1.0 - f1.sum() / f1.shape[0]
    if theta < tolerance:
        theta = 0.0
    q_gapped = (1.0 - theta) * background
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(f1 > 0, f1 * np.log(f1 / q_gapped[None, :]), 0.0)
        d = terms.sum(axis=1)
        f0 = 1.0 - f1.sum(axis=1)
        gap_term = np.where(f0 > tolerance, f0 * np.log(f0 / max(theta, tolerance)), 0.0)
    return d + gap_term


@dataclass
class SCAMatrix:
    """The SCA positional matrix and the first-order quantities it is built from."""

    matrix: np.ndarray  # [L, L]
    frequencies: np.ndarray  # [L, n_residues], regularised toward q
    position_weights: np.ndarray  # [L, n_residues]
    conservation: np.ndarray  # [L]


def _present_states(codes: np.ndarray, n_residues: int) -> tuple[np.ndarray, np.ndarray]:
    """``state_id [L, n_residues + 1]`` (index of each residue present at a position, -1 where absent
    or for the gap) and ``offsets [L + 1]`` (first state of each position; states run by position)."""
    length = codes.shape[1]
    n_codes = n_residues + 1
    index = codes.astype(np.int64) + np.arange(length) * n_codes
    counts = np.bincount(index.ravel(), minlength=length * n_codes).reshape(length, n_codes)
    present = counts[:, :n_residues] > 0
    state_id = np.full((length, n_codes), -1, dtype=np.int64)
    state_id[:, :n_residues][present] = np.arange(int(present.sum()))
    offsets = np.r_[0, np.cumsum(present.sum(axis=1))]
    return state_id, offsets


def _state_one_hot(
    codes: np.ndarray, state_id: np.ndarray, positions: np.ndarray, first: int, size: int, dtype
):
    """``[M, size]`` one-hot of the present states of ``positions`` (state ``first`` is column 0)."""
    ids = state_id[positions[None, :], codes[:, positions].astype(np.int64)]
    ids = torch.from_numpy(np.where(ids >= 0, ids - first, size))
    out = torch.zeros(codes.shape[0], size + 1, dtype=dtype)
    out.scatter_(1, ids, torch.ones(ids.shape, dtype=dtype))
    return out[:, :size].contiguous()


_INT8_MATMUL: list[bool] = []


def exact_count_dtype() -> torch.dtype:
    """The fastest exact matmul dtype for one-hot counts on this CPU.

    ``torch.int8`` where ``torch._int_mm`` runs on the CPU and agrees with float32 on a probe
    (int32 accumulation: exact, 2-4x faster than float32 here with AMX/VNNI), otherwise the
    choice of :func:`seqvae.data.weights.fast_exact_dtype` (bfloat16 or float32).
    """
    if not _INT8_MATMUL:
        try:
            probe = (torch.arange(48 * 40).reshape(48, 40) % 3 == 0).to(torch.int8)
            ok = torch.equal(
                torch._int_mm(probe.T.contiguous(), probe).float(), probe.float().T @ probe.float()
            )
        except (AttributeError, RuntimeError, NotImplementedError):
            ok = False
        _INT8_MATMUL.append(bool(ok))
    return torch.int8 if _INT8_MATMUL[0] else fast_exact_dtype()


def _pair_products(
    left: torch.Tensor, right: torch.Tensor, weights: torch.Tensor | None, dtype
) -> np.ndarray:
    """``Σ_s w_s left_s ⊗ right_s`` in float64: weighted in float64, unweighted as exact counts.

    Unweighted one-hot products are integer counts: exact in int8 x int8 -> int32, in float32
    and, summed over chunks of at most 256 sequences, in bfloat16 (oneDNN accumulates in
    float32; integers <= 256 are exact in bfloat16).
    """
    if weights is not None:
        return (left.T @ (right * weights[:, None])).numpy()
    if dtype == torch.int8:  # ``left`` comes transposed (and contiguous) for _int_mm
        return torch._int_mm(left, right).numpy().astype(np.float64)
    if dtype == torch.bfloat16:
        total = torch.zeros(left.shape[1], right.shape[1], dtype=torch.float32)
        for start in range(0, left.shape[0], 256):
            total += (left[start : start + 256].T @ right[start : start + 256]).float()
        return total.numpy().astype(np.float64)
    return (left.T @ right).numpy().astype(np.float64)


def sca_matrix(
    codes: np.ndarray,
    weights: np.ndarray | None,
    n_residues: int = 20,
    pseudocount: float = 0.03,
    background: np.ndarray | None = None,
    block_size: int = 24,
    pair_regularisation: str = "pysca7",
    exact_dtype: torch.dtype | None = None,
    square_sum_dtype: torch.dtype = torch.float64,
) -> SCAMatrix:
    """The SCA matrix ``C̃_ij`` (Frobenius norm of the weighted 20 x 20 covariance blocks).

    Parameters
    ----------
    codes
        ``uint8 [M, L]``, gap = ``n_residues``.
    weights
        Sequence weights (``None``: uniform; pair counts are then exact integers).
    n_residues
        Residue states (gap excluded).
    pseudocount
        λ (see the module docstring for how it enters).
    background
        q; pySCA's amino-acid background by default.
    block_size
        Positions per one-hot block (memory O(M x states of a block + states of two blocks²)).
    pair_regularisation
        ``"pysca7"`` (default, pySCA since its April 2020 fix): ``f_ij^ab <- (1 - λ) f_ij^ab + λ/21²``
        for i != j and ``(1 - λ) f_i^a δ_ab + (λ/21) δ_ab`` on the diagonal blocks. ``"pre2020"``
        (pySCA before that fix): no pseudocount on the i != j blocks and
        ``λ/21²`` on every entry of the diagonal blocks.
    exact_dtype
        Matmul dtype for the exact integer counts of an unweighted alignment: ``torch.int8``,
        ``torch.bfloat16`` or ``torch.float32`` (all exact; ``None``: the fastest here, see
        :func:`exact_count_dtype`).
    square_sum_dtype
        Unweighted only: the dtype of the sums of squared counts (float64 by default;
        float32 is faster and good to ~1e-5 relative, which the randomised alignments of
        the significance test use).

    Notes
    -----
    Only residues present at a position enter the matrix products: with ``F`` the raw pair
    frequencies, ``g`` the frequencies regularised toward ``1/21``, ``c`` the pair pseudocount
    and ``φ`` the position weights, the squared norm of an i != j block is
    ``(1-λ)² Σ φ²φ² F² + 2(1-λ) Σ φ²φ² F (c - g g) + Σ φ²φ² (c - g g)²``; the last two sums are
    weighted sums over sequences and outer products of per-position vectors, so absent
    residues cost nothing.
    """
    if pair_regularisation not in PAIR_REGULARISATIONS:
        raise InputError(
            f"pair_regularisation must be one of {PAIR_REGULARISATIONS}, got {pair_regularisation!r}"
        )
    codes = np.ascontiguousarray(codes)
    q = background_frequencies(n_residues) if background is None else np.asarray(background, np.float64)
    n_codes = n_residues + 1
    lam = float(pseudocount)
    w = np.ones(codes.shape[0]) if weights is None else np.asarray(weights, np.float64)
    wn = w / w.sum()
    f1_raw = single_frequencies(codes, w, n_codes)[:, :n_residues]
    g = regularised_frequencies(f1_raw, lam, np.full(n_residues, 1.0 / n_codes))
    f1_q = regularised_frequencies(f1_raw, lam, q)
    phi = position_weights(f1_q, q)
    c = lam / n_codes**2 if pair_regularisation == "pysca7" else 0.0
    phi2 = phi**2
    dtype = torch.float64 if weights is not None else (exact_dtype or exact_count_dtype())
    # exact counts are squared exactly; the sums run in float64, or in float32 if asked
    sum_dtype = torch.float64 if weights is not None else square_sum_dtype
    wt = torch.from_numpy(wn) if weights is not None else None
    term1 = _squared_pair_sums(codes, phi2, n_residues, block_size, wt, dtype, sum_dtype)
    term2 = _cross_sums(codes, phi2, g, wn, n_residues, lam, c)
    term3 = _pseudocount_sums(phi2, g, c)
    out = np.sqrt(np.clip((1.0 - lam) ** 2 * term1 + term2 + term3, 0.0, None))
    diagonal = np.arange(codes.shape[1])
    out[diagonal, diagonal] = _diagonal_norms(phi, g, f1_raw, lam, pair_regularisation)
    out = 0.5 * (out + out.T)
    return SCAMatrix(out, f1_q, phi, conservation(f1_q, q))


def _squared_pair_sums(
    codes: np.ndarray,
    phi2: np.ndarray,
    n_residues: int,
    block_size: int,
    wt: torch.Tensor | None,
    dtype: torch.dtype,
    sum_dtype: torch.dtype,
) -> np.ndarray:
    """``Σ_ab φ²φ² F²`` for every pair of positions, over the present residues only, block by
    block (j >= i): with P_i the [states, positions] matrix holding φ² of each state at its
    position, Σ = P_iᵀ (F∘F) P_j. ``wt``: the normalised sequence weights (``None``: exact
    integer counts, multiplied in ``dtype``); ``sum_dtype``: that of the sums of squares."""
    n, length = codes.shape
    state_id, offsets = _present_states(codes, n_residues)
    present = state_id[:, :n_residues] >= 0
    phi2_state = phi2[present]  # ordered like the states
    state_position = np.nonzero(present)[0]
    term1 = np.zeros((length, length))
    blocks = [np.arange(s, min(s + block_size, length)) for s in range(0, length, block_size)]
    hot: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def block_data(bk: int) -> tuple[torch.Tensor, torch.Tensor]:
        if bk not in hot:
            rows = blocks[bk]
            first, stop = offsets[rows[0]], offsets[rows[-1] + 1]
            one_hot = _state_one_hot(codes, state_id, rows, first, stop - first, dtype)
            weights_of_states = torch.zeros(stop - first, rows.size, dtype=sum_dtype)
            local = torch.from_numpy(state_position[first:stop] - rows[0])
            weights_of_states[torch.arange(stop - first), local] = torch.from_numpy(
                phi2_state[first:stop]
            ).to(sum_dtype)
            hot[bk] = (one_hot, weights_of_states)
        return hot[bk]

    with torch.no_grad():
        for bi, rows_i in enumerate(blocks):
            one_hot_i, p_i = block_data(bi)
            left = one_hot_i.T.contiguous() if dtype == torch.int8 else one_hot_i
            for bj in range(bi, len(blocks)):
                rows_j = blocks[bj]
                one_hot_j, p_j = block_data(bj)
                if wt is not None:
                    f2 = left.T @ (one_hot_j * wt[:, None])
                elif dtype == torch.int8:
                    f2 = torch._int_mm(left, one_hot_j).to(sum_dtype)
                else:
                    f2 = torch.from_numpy(_pair_products(left, one_hot_j, None, dtype)).to(sum_dtype)
                f2.mul_(f2)
                y = (p_i.T @ (f2 @ p_j)).numpy().astype(np.float64)
                if wt is None:
                    y /= float(n) ** 2
                term1[np.ix_(rows_i, rows_j)] = y
                term1[np.ix_(rows_j, rows_i)] = y.T
            hot.pop(bi)
    return term1


def _cross_sums(
    codes: np.ndarray, phi2: np.ndarray, g: np.ndarray, wn: np.ndarray, n_residues: int, lam: float, c: float
) -> np.ndarray:
    """``2 (1 - λ) Σ_ab φ²φ² F (c - g g)``: weighted sums over sequences of per-position scalars."""
    gap = codes >= n_residues
    safe = np.where(gap, 0, codes).astype(np.int64)
    columns = np.arange(codes.shape[1])[None, :]
    p = np.where(gap, 0.0, phi2[columns, safe])
    pg = np.where(gap, 0.0, (phi2 * g)[columns, safe])
    with single_threaded_blas():
        return 2.0 * (1.0 - lam) * (c * (p.T @ (wn[:, None] * p)) - pg.T @ (wn[:, None] * pg))


def _pseudocount_sums(phi2: np.ndarray, g: np.ndarray, c: float) -> np.ndarray:
    """``Σ_ab φ²φ² (c - g g)²``: outer products of per-position sums."""
    a, b, e = phi2.sum(axis=1), (phi2 * g).sum(axis=1), (phi2 * g * g).sum(axis=1)
    return c * c * np.outer(a, a) - 2.0 * c * np.outer(b, b) + np.outer(e, e)


def _diagonal_norms(
    phi: np.ndarray, g: np.ndarray, f1_raw: np.ndarray, lam: float, pair_regularisation: str
) -> np.ndarray:
    """The diagonal blocks' norms: f_ii^ab is f_i^a δ_ab, regularised as the convention says."""
    n_codes = phi.shape[1] + 1
    norms = np.zeros(phi.shape[0])
    for i in range(phi.shape[0]):
        if pair_regularisation == "pysca7":
            block = np.diag(g[i])
        else:
            block = (1.0 - lam) * np.diag(f1_raw[i]) + lam / n_codes**2
        block = phi[i][:, None] * (block - np.outer(g[i], g[i])) * phi[i][None, :]
        norms[i] = np.sqrt((block**2).sum())
    return norms


def eigen_decomposition(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns, each signed so its mean is >= 0)."""
    with single_threaded_blas():
        values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    order = np.argsort(-values, kind="stable")
    values, vectors = values[order], vectors[:, order]
    signs = np.where(vectors.mean(axis=0) < 0, -1.0, 1.0)
    return values, vectors * signs[None, :]


# -- significance by randomised alignments ----------------------------------------------------
def randomised_alignment(
    column_frequencies: np.ndarray, n_sequences: int, rng: np.random.Generator
) -> np.ndarray:
    """Each column drawn independently from its code frequencies ``[L, Q]`` (gap = last code)."""
    cdf = np.cumsum(column_frequencies, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random((n_sequences, column_frequencies.shape[0]))
    codes = (u[:, :, None] > cdf[None, :, :]).sum(axis=2)
    return np.minimum(codes, column_frequencies.shape[1] - 1).astype(np.uint8)


def randomised_eigenvalues(
    codes: np.ndarray,
    weights: np.ndarray,
    n_residues: int,
    pseudocount: float,
    n_trials: int,
    rng: np.random.Generator,
    progress=None,
    pair_regularisation: str = "pysca7",
) -> np.ndarray:
    """Eigenvalues ``[n_trials, L]`` of SCA matrices of randomised alignments (pySCA's null)."""
    n_codes = n_residues + 1
    f1 = single_frequencies(codes, weights, n_codes)[:, :n_residues]
    f1 = regularised_frequencies(f1, pseudocount, np.full(n_residues, 1.0 / n_codes))
    gap = np.clip(1.0 - f1.sum(axis=1, keepdims=True), 0.0, None)
    column_frequencies = np.concatenate([f1, gap], axis=1)
    n_sequences = max(2, round(float(np.sum(weights))))
    out = np.zeros((n_trials, codes.shape[1]))
    for t in range(n_trials):
        random_codes = randomised_alignment(column_frequencies, n_sequences, rng)
        c = sca_matrix(
            random_codes, None, n_residues, pseudocount, pair_regularisation=pair_regularisation,
            square_sum_dtype=torch.float32,
        ).matrix  # fmt: skip
        with single_threaded_blas():
            out[t] = np.sort(np.linalg.eigvalsh(c))[::-1]
        if progress is not None:
            progress()
    return out


def significance_cutoff(random_eigenvalues: np.ndarray, n_std: float = 0.0) -> float:
    """Mean (+ ``n_std`` standard deviations) of the randomised second eigenvalue."""
    second = random_eigenvalues[:, 1]
    return float(second.mean() + n_std * second.std())


def count_significant(eigenvalues: np.ndarray, cutoff: float) -> int:
    return int((eigenvalues > cutoff).sum())
