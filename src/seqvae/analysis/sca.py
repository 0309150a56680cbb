"""Statistical Coupling Analysis (Halabi et al. 2009; Rivoire et al. 2016) giving pySCA 7's numbers.

Steps (defaults are pySCA 7's, see ``SCAOptions``; checked side by side with pySCA 7 on S1A by
``benchmarks/bench_sca_parity.py`` and pinned by ``tests/test_sca_parity.py``):

1. **Preprocessing.** Drop columns with >= 80 % gaps; then keep sequences with < 20 % gaps
   and an identity to the reference strictly between 15 % and 85 % (the reference is always
   kept); weight them (gaps as a 21st letter, 85 % identity cut-off, as pySCA's filterSeq)
   and drop columns whose *weighted* gap fraction is >= 30 %; weight again on the final
   alignment with an 80 % cut-off. (pySCA's own intermediate weights count matches in uint8,
   which wraps past 255 columns; seqvae counts exactly. On S1A both keep the same 239 columns.)
2. **Frequencies.** Weighted single and pair frequencies over the 20 residues (a gap is an
   all-zero row), regularised like pySCA 7's ``freq``: ``f_i^a <- (1 - λ) f_i^a + λ/21``,
   ``f_ij^ab <- (1 - λ) f_ij^ab + λ/21²`` for i != j and ``f_i^a δ_ab`` (regularised) on the
   diagonal blocks; for conservation and position weights the single-site pseudocount is
   drawn toward the background ``q`` instead (pySCA's ``posWeights``), λ = 0.03. The pair
   pseudocount before pySCA's April 2020 fix is ``pair_regularisation="pre2020"``.
3. **Conservation** ``D_i`` (relative entropy to ``(1 - θ) q`` plus the gap term, θ = mean
   gap frequency) and **position weights** ``φ_i^a = |ln[f(1 - q) / ((1 - f) q)]|``.
4. **SCA matrix** ``C̃_ij = ‖φ_i^a φ_j^b (f_ij^ab - f_i^a f_j^b)‖_F`` over the 20 x 20 block.
   Only residues present at a position enter the matrix products (see :func:`sca_matrix`);
   an unweighted alignment (the randomised ones) is counted exactly in int8/bfloat16/float32.
5. **Spectrum and significance.** Eigenvalues in descending order (vectors signed so their
   mean is >= 0). Each randomised alignment resamples every column independently from its
   (regularised) weighted frequencies, gaps included, with round(N_eff) sequences; modes
   above the mean second eigenvalue of the randomised matrices (plus ``significance_std``
   standard deviations) are significant. The count is repeated over several randomisation
   seeds to show how stable it is.
6. **ICA and sectors.** pySCA's infomax ICA (Bell & Sejnowski's natural-gradient rule,
   relaxation 0.1 / L, stopped once the squared change of the unmixing matrix is <= 1e-15)
   on the top ``k`` eigenvectors; each IC's positions are those above the ``sector_quantile``
   of a Student-t fitted to the IC's entries, read off pySCA's 100-point grid; a position
   selected by several ICs goes to the IC whose positions it is most correlated with (norm of
   its row of ``C̃`` over them). Each IC's positions form one "sector" group here; pySCA
   leaves merging ICs into sectors to the user.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from seqvae.data.alignment import Alignment
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import ConfigError, InputError
from seqvae.options import Integer, Interval, OneOf, Optional, Options, register

# Background amino-acid frequencies q (order ACDEFGHIKLMNPQRSTVWY), as in pySCA.
BACKGROUND_FREQUENCIES = np.array(
    [0.073, 0.025, 0.050, 0.061, 0.042, 0.072, 0.023, 0.053, 0.064, 0.089,
     0.023, 0.043, 0.052, 0.040, 0.052, 0.073, 0.056, 0.063, 0.013, 0.033]
)  # fmt: skip


# the files of an SCA folder (`seqvae report` recognises one by SCA_FILE; the figures' names:
# seqvae.plots.matrices)
SCA_FILE = "sca.npz"
SCA_POSITIONS_FILE = "positions.csv"
SCA_SUMMARY_FILE = "summary.json"
PUBLISHED_OVERLAPS_FILE = "published_sector_overlaps.json"

BOUNDS = ("strict", "inclusive")
PAIR_REGULARISATIONS = ("pysca7", "pre2020")
SECTOR_CUTOFFS = ("pysca", "exact")


@register
@dataclass(frozen=True)
class SCAOptions(Options):
    """SCA settings; the defaults are pySCA 7's.

    Parameters
    ----------
    initial_column_gaps
        Drop columns whose (unweighted) gap fraction is >= this first.
    max_sequence_gaps
        Then keep sequences whose gap fraction is < this (pySCA's strict bound).
    min_identity, max_identity
        Then keep sequences whose identity to the reference (matching letters, gaps
        included, over the columns kept so far) is strictly between min and max; the
        reference stays.
    bounds
        ``"strict"`` (pySCA 7, default) or ``"inclusive"`` (seqvae before issue 17: gap
        fraction <= max, min <= identity <= max).
    filter_weight_identity
        Identity cut-off of the intermediate weights that weight the column gap filter
        (pySCA 7 weights it with its max identity, 0.85; seqvae before issue 17 used 0.8).
    weight_identity
        Sequence weights: 1 / #(sequences with identity > this), gaps as a 21st letter.
    max_column_gaps
        Then drop columns whose weighted gap fraction is >= this.
    pseudocount
        λ, the regularisation of frequencies.
    pair_regularisation
        ``"pysca7"`` (default) or ``"pre2020"``, see :func:`sca_matrix`.
    n_randomisations
        Randomised alignments per significance estimate.
    significance_std
        Cut-off = mean + this many standard deviations of the randomised second eigenvalues
        (pySCA 7: 0; pySCA 6 used 2 or 3).
    n_stability_seeds
        How many independent sets of randomisations to count significant modes over.
    n_components
        Number of ICs (default: the number of significant modes, at least 2, at most
        ``max_components``).
    max_components
        Cap on the default number of ICs (pySCA's ``--kmax-cap``, 10).
    ica_learning_rate, ica_iterations, ica_tolerance
        Infomax: pySCA's relaxation parameter r0 (each step is ``r0 / L``), the most
        iterations, and the convergence test (stop once the squared change of the unmixing
        matrix is <= this), as pySCA's ``rotICA``.
    sector_quantile
        Positions above this quantile of the t-distribution fitted to an IC belong to it.
    sector_cutoff
        ``"pysca"`` (default): the cut-off is read off pySCA's 100-point grid between the IC's
        smallest and largest entry (``icList``); ``"exact"``: the t-distribution's quantile.
    seed
        Seed of the randomisations.
    """

    initial_column_gaps: float = 0.8
    max_sequence_gaps: float = 0.2
    min_identity: float = 0.15
    max_identity: float = 0.85
    bounds: str = "strict"
    filter_weight_identity: float = 0.85
    weight_identity: float = 0.8
    max_column_gaps: float = 0.3
    pseudocount: float = 0.03
    pair_regularisation: str = "pysca7"
    n_randomisations: int = 10
    significance_std: float = 0.0
    n_stability_seeds: int = 3
    n_components: int | None = None
    max_components: int = 10
    ica_learning_rate: float = 0.1
    ica_iterations: int = 100000
    ica_tolerance: float = 1e-15
    sector_quantile: float = 0.95
    sector_cutoff: str = "pysca"
    seed: int = 0

    section: ClassVar[str] = "sca"
    constraints: ClassVar[dict] = {
        "initial_column_gaps": Interval(0.0, 1.0),
        "max_sequence_gaps": Interval(0.0, 1.0),
        "min_identity": Interval(0.0, 1.0),
        "max_identity": Interval(0.0, 1.0),
        "bounds": OneOf(BOUNDS),
        "filter_weight_identity": Interval(0.0, 1.0),
        "weight_identity": Interval(0.0, 1.0),
        "max_column_gaps": Interval(0.0, 1.0),
        "pseudocount": Interval(0.0, 1.0, closed="left"),
        "pair_regularisation": OneOf(PAIR_REGULARISATIONS),
        "n_randomisations": Integer(1),
        "significance_std": Interval(),
        "n_stability_seeds": Integer(1),
        "n_components": Optional(Integer(1), note="the significant modes, at most max_components"),
        "max_components": Integer(1),
        "ica_learning_rate": Interval(0.0, closed="neither"),
        "ica_iterations": Integer(1),
        "ica_tolerance": Interval(0.0),
        "sector_quantile": Interval(0.0, 1.0),
        "sector_cutoff": OneOf(SECTOR_CUTOFFS),
        "seed": Integer(0),
    }

    def extra_checks(self, prefix: str) -> None:
        if self.min_identity > self.max_identity:
            raise ConfigError(
                f"{prefix}.min_identity: must not exceed max_identity ({self.min_identity} > {self.max_identity})",
                field=f"{prefix}.min_identity",
            )

    def validate(self) -> SCAOptions:
        return self.check()


def single_threaded_blas():
    """Context manager limiting BLAS/LAPACK to one thread.

    Small eigen-decompositions and matrix products (L up to a few hundred) are fastest on one
    thread, and on a busy machine OpenBLAS's threads spin against each other: an eigh of a
    239 x 239 matrix took 3.7 s with two threads and 0.07 s with one (measured here).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# -- preprocessing ---------------------------------------------------------------------------
@dataclass
class SCAAlignment:
    """The alignment SCA works on, after pySCA's filters.

    Attributes
    ----------
    codes
        ``uint8 [M, L]``; gap = ``n_residues``.
    weights
        Sequence weights on the final alignment (N_eff = their sum).
    columns
        Index of each kept column among the input alignment's columns.
    numbering
        Reference residue number of each kept column (-1 where the reference has a gap).
    residues
        The reference's letter at each kept column.
    """

    codes: np.ndarray
    weights: np.ndarray
    ids: list[str]
    columns: np.ndarray
    numbering: np.ndarray
    residues: str
    reference_index: int
    n_residues: int
    report: dict[str, float | int]

    @property
    def n_eff(self) -> float:
        return float(self.weights.sum())


def sca_weights(codes: np.ndarray, n_residues: int, identity: float) -> np.ndarray:
    """pySCA's sequence weights: gaps count as a 21st letter, identity over all columns."""
    # With gap_code = n_residues + 1 no code is treated as a gap, so the gap is a state and
    # every sequence's length is L: identity = matches / L, neighbours have identity > cutoff.
    return compute_sequence_weights(codes, gap_code=n_residues + 1, theta=1.0 - identity)


def preprocess_alignment(alignment: Alignment, options: SCAOptions | None = None) -> SCAAlignment:
    """Apply pySCA's column and sequence filters (see the module docstring) and weight."""
    options = (options or SCAOptions()).validate()
    codes = alignment.codes
    gap = alignment.alphabet.gap_code
    n_res = alignment.alphabet.n_residues
    ref = alignment.reference_index
    report: dict[str, float | int] = {"sequences_in": int(codes.shape[0]), "columns_in": int(codes.shape[1])}

    is_gap = codes == gap
    columns = np.flatnonzero(is_gap.mean(axis=0) < options.initial_column_gaps)
    report["columns_after_initial_gap_filter"] = int(columns.size)
    if columns.size < 2:
        raise InputError("fewer than 2 columns left after the initial column gap filter", alignment.source)
    work = codes[:, columns]
    gaps = (work == gap).mean(axis=1)
    identity = (work == work[ref]).mean(axis=1)
    if options.bounds == "strict":  # pySCA 7's filterSeq
        keep = gaps < options.max_sequence_gaps
        report["sequences_after_gap_filter"] = int(keep.sum())
        keep &= (identity > options.min_identity) & (identity < options.max_identity)
    else:
        keep = gaps <= options.max_sequence_gaps
        report["sequences_after_gap_filter"] = int(keep.sum())
        keep &= (identity >= options.min_identity) & (identity <= options.max_identity)
    keep[ref] = True
    report["sequences_after_identity_filter"] = int(keep.sum())
    rows = np.flatnonzero(keep)
    if rows.size < 2:
        raise InputError("fewer than 2 sequences left after SCA's sequence filters", alignment.source)
    work = work[rows]
    weights = sca_weights(work, n_res, options.filter_weight_identity)
    weighted_gaps = weights @ (work == gap) / weights.sum()
    column_keep = weighted_gaps < options.max_column_gaps
    if column_keep.sum() < 2:
        raise InputError("fewer than 2 columns left after the weighted column gap filter", alignment.source)
    columns = columns[column_keep]
    work = np.ascontiguousarray(work[:, column_keep])
    report["columns_after_weighted_gap_filter"] = int(columns.size)
    weights = sca_weights(work, n_res, options.weight_identity)
    report["n_sequences"] = int(work.shape[0])
    report["n_positions"] = int(work.shape[1])
    report["n_eff"] = float(weights.sum())
    reference_row = int(np.searchsorted(rows, ref))
    numbering = alignment.registry.numbering[columns]
    residues = alignment.alphabet.decode(work[reference_row])
    return SCAAlignment(
        codes=work,
        weights=weights,
        ids=[alignment.ids[i] for i in rows],
        columns=columns.astype(np.int64),
        numbering=numbering.astype(np.int64),
        residues=residues,
        reference_index=reference_row,
        n_residues=n_res,
        report=report,
    )


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
    from seqvae.data.weights import fast_exact_dtype

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
        (seqvae before issue 17, pySCA before that fix): no pseudocount on the i != j blocks and
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
    n, length = codes.shape
    q = background_frequencies(n_residues) if background is None else np.asarray(background, np.float64)
    n_codes = n_residues + 1
    lam = float(pseudocount)
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    wn = w / w.sum()
    f1_raw = single_frequencies(codes, w, n_codes)[:, :n_residues]
    uniform = np.full(n_residues, 1.0 / n_codes)
    g = regularised_frequencies(f1_raw, lam, uniform)
    f1_q = regularised_frequencies(f1_raw, lam, q)
    phi = position_weights(f1_q, q)
    d = conservation(f1_q, q)
    c = lam / n_codes**2 if pair_regularisation == "pysca7" else 0.0
    phi2 = phi**2

    # (1 - λ)² Σ_ab φ²φ² F², over the present residues, block by block (j >= i): with P_i the
    # [states, positions] matrix holding φ² of each state at its position, Σ = P_iᵀ (F∘F) P_j
    state_id, offsets = _present_states(codes, n_residues)
    present = state_id[:, :n_residues] >= 0
    phi2_state = phi2[present]  # ordered like the states
    state_position = np.nonzero(present)[0]
    term1 = np.zeros((length, length))
    dtype = torch.float64 if weights is not None else (exact_dtype or exact_count_dtype())
    # exact counts are squared exactly; the sums run in float64, or in float32 if asked
    sum_dtype = torch.float64 if weights is not None else square_sum_dtype
    wt = torch.from_numpy(wn) if weights is not None else None
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
                if weights is not None:
                    f2 = left.T @ (one_hot_j * wt[:, None])
                elif dtype == torch.int8:
                    f2 = torch._int_mm(left, one_hot_j).to(sum_dtype)
                else:
                    f2 = torch.from_numpy(_pair_products(left, one_hot_j, None, dtype)).to(sum_dtype)
                f2.mul_(f2)
                y = (p_i.T @ (f2 @ p_j)).numpy().astype(np.float64)
                if weights is None:
                    y /= float(n) ** 2
                term1[np.ix_(rows_i, rows_j)] = y
                term1[np.ix_(rows_j, rows_i)] = y.T
            hot.pop(bi)
    # 2 (1 - λ) Σ_ab φ²φ² F (c - g g): weighted sums over sequences of per-position scalars
    gap = codes >= n_residues
    safe = np.where(gap, 0, codes).astype(np.int64)
    columns = np.arange(length)[None, :]
    p = np.where(gap, 0.0, phi2[columns, safe])
    pg = np.where(gap, 0.0, (phi2 * g)[columns, safe])
    with single_threaded_blas():
        term2 = 2.0 * (1.0 - lam) * (c * (p.T @ (wn[:, None] * p)) - pg.T @ (wn[:, None] * pg))
    # Σ_ab φ²φ² (c - g g)²: outer products of per-position sums
    a, b, e = phi2.sum(axis=1), (phi2 * g).sum(axis=1), (phi2 * g * g).sum(axis=1)
    term3 = c * c * np.outer(a, a) - 2.0 * c * np.outer(b, b) + np.outer(e, e)
    out = np.sqrt(np.clip((1.0 - lam) ** 2 * term1 + term2 + term3, 0.0, None))
    # diagonal blocks: f_ii^ab is f_i^a δ_ab, regularised as the convention says
    for i in range(length):
        if pair_regularisation == "pysca7":
            block = np.diag(g[i])
        else:
            block = (1.0 - lam) * np.diag(f1_raw[i]) + lam / n_codes**2
        block = phi[i][:, None] * (block - np.outer(g[i], g[i])) * phi[i][None, :]
        out[i, i] = np.sqrt((block**2).sum())
    out = 0.5 * (out + out.T)
    return SCAMatrix(out, f1_q, phi, d)


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


# -- ICA and sectors ----------------------------------------------------------------------------
@dataclass
class ICA:
    """Result of :func:`infomax_ica`."""

    ics: np.ndarray  # [L, k], unit norm, largest entry positive
    unmixing: np.ndarray  # [k, k]
    iterations: int
    converged: bool
    last_change: float


def infomax_ica(
    vectors: np.ndarray, learning_rate: float = 0.1, iterations: int = 100000, tolerance: float = 1e-15
) -> ICA:
    """Infomax ICA (Bell & Sejnowski, natural gradient) of ``k`` vectors over ``L`` positions.

    The update and the stopping rule are pySCA's ``basicICA``: ``W <- W + (r0 / L) (L I +
    (1 - 2 σ(U)) Uᵀ) W`` with ``U = W X``, stopped at the first step whose squared change
    ``‖ΔW‖²`` is <= ``tolerance`` (pySCA: 1e-15), or after ``iterations`` steps.

    Parameters
    ----------
    vectors
        ``[L, k]``: the top eigenvectors (orthonormal columns, i.e. already sphered).
    learning_rate
        r0, pySCA's relaxation parameter (its ``rotICA`` default 0.1); each step is ``r0 / L``.
    iterations
        The most steps (pySCA: 100,000).
    tolerance
        Convergence threshold on ``‖ΔW‖²``.

    Returns
    -------
    ICA
        ``ics [L, k]``: unit-norm independent components, each signed so that its largest
        entry (in absolute value) is positive; the unmixing matrix; the steps taken.
    """
    from scipy.special import expit

    x = np.asarray(vectors, np.float64).T  # [k, L]: L samples of k features
    k, length = x.shape
    w = np.eye(k)
    identity = length * np.eye(k)
    step = learning_rate / length
    change = np.inf
    done = 0
    with single_threaded_blas():
        while done < iterations:
            done += 1
            u = w @ x
            delta = step * (identity + (1.0 - 2.0 * expit(u)) @ u.T) @ w
            w = w + delta
            change = float(np.sum(delta * delta))
            if change <= tolerance:
                break
    ics = (w @ x).T
    for j in range(k):
        peak = np.argmax(np.abs(ics[:, j]))
        norm = np.linalg.norm(ics[:, j])
        ics[:, j] = np.sign(ics[peak, j]) * ics[:, j] / (norm if norm > 0 else 1.0)
    return ICA(ics, w, done, change <= tolerance, change)


@dataclass
class ICGroups:
    """Positions selected on each independent component."""

    groups: list[np.ndarray]  # position indices per IC, strongest first
    cutoffs: np.ndarray
    fits: np.ndarray  # [k, 3] Student-t (df, loc, scale)


def pysca_cutoff(values: np.ndarray, params: tuple[float, float, float], quantile: float) -> float:
    """pySCA's ``icList`` cut-off: the point of a 100-point grid from ``min`` to ``max`` of the IC,
    right of the fitted density's peak, whose t-distribution CDF is closest to ``quantile``.

    (pySCA's branch for ICs whose most negative entry is the largest in size never runs here:
    the ICs are signed so that their largest entry is positive.)
    """
    from scipy.stats import t as student_t

    grid = np.linspace(values.min(), values.max(), 100)
    peak = int(np.argmax(student_t.pdf(grid, *params)))
    tail = student_t.cdf(grid, *params)[peak:]
    return float(grid[peak + int(np.argmin(np.abs(tail - quantile)))])


def ic_positions(
    ics: np.ndarray, matrix: np.ndarray, quantile: float = 0.95, cutoff: str = "pysca"
) -> ICGroups:
    """Positions above the ``quantile`` of a t-distribution fitted to each IC; overlaps resolved
    by the norm of the position's row of ``matrix`` (diagonal removed) over each IC's positions.

    ``cutoff="pysca"`` reads the quantile off pySCA's grid (:func:`pysca_cutoff`), ``"exact"``
    takes the t-distribution's quantile itself.
    """
    from scipy.stats import t as student_t

    if cutoff not in SECTOR_CUTOFFS:
        raise InputError(f"cutoff must be one of {SECTOR_CUTOFFS}, got {cutoff!r}")
    k = ics.shape[1]
    fits = np.zeros((k, 3))
    cutoffs = np.zeros(k)
    initial = []
    for j in range(k):
        params = student_t.fit(ics[:, j])
        fits[j] = params
        if cutoff == "pysca":
            cutoffs[j] = pysca_cutoff(ics[:, j], params, quantile)
        else:
            cutoffs[j] = student_t.ppf(quantile, *params)
        initial.append(np.flatnonzero(ics[:, j] > cutoffs[j]))
    off = matrix.copy()
    np.fill_diagonal(off, 0.0)
    groups = []
    for j in range(k):
        members = []
        for i in initial[j]:
            strength = np.linalg.norm(off[i, initial[j]])
            others = [np.linalg.norm(off[i, initial[m]]) for m in range(k) if m != j and i in initial[m]]
            if all(strength >= s for s in others):
                members.append(i)
        members = np.asarray(members, dtype=np.int64)
        groups.append(members[np.argsort(-ics[members, j], kind="stable")])
    return ICGroups(groups, cutoffs, fits)


# -- the whole analysis -----------------------------------------------------------------------
@dataclass
class SCAResult:
    """Everything ``seqvae sca`` computes (see :func:`run_sca`)."""

    alignment: SCAAlignment
    sca: SCAMatrix
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    random_eigenvalues: np.ndarray  # [n_randomisations, L], the first seed's
    cutoff: float
    n_significant: int
    n_significant_by_seed: list[int]
    cutoff_by_seed: list[float]
    ics: np.ndarray
    ic_groups: ICGroups
    options: SCAOptions
    labels: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    ica_iterations: int = 0
    ica_converged: bool = False

    @property
    def n_components(self) -> int:
        return int(self.ics.shape[1])

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write this result's files into ``out`` (see :func:`write_sca_outputs`)."""
        return write_sca_outputs(self, out)

    def to_dict(self) -> dict:
        """What ``summary.json`` holds (:meth:`summary`)."""
        return self.summary()

    def to_frame(self):
        """One row per retained position (``positions.csv``; :func:`positions_table`)."""
        return positions_table(self)

    def describe(self) -> str:
        """Two lines: the alignment and the top eigenvalues; the significant modes and the ICs."""
        s = self.summary()
        return (
            f"SCA: {s['n_sequences']} sequences x {s['n_positions']} positions, N_eff = {s['n_eff']:.1f}; "
            f"top eigenvalues {', '.join(f'{v:.2f}' for v in s['top_eigenvalues'][:7])}\n"
            f"significant modes: {self.n_significant} (cut-off {self.cutoff:.2f}); over "
            f"{self.options.n_stability_seeds} randomisation seeds: {self.n_significant_by_seed}; IC group "
            f"sizes {s['ic_sizes']} (ICA {'converged after' if self.ica_converged else 'stopped unconverged at'} "
            f"{self.ica_iterations} iterations)"
        )

    def published_overlaps(self, published: dict[str, np.ndarray]) -> list[dict]:
        """:func:`sector_overlaps` of published sectors (in structure numbering) with the IC groups.

        Raises
        ------
        InputError
            The result has no structure labels (run it with labels from a structure).
        """
        if self.labels is None:
            raise InputError("--published needs --pdb (published sectors are given in structure numbering)")
        return sector_overlaps(self.labels, self.ic_groups.groups, published)

    def summary(self) -> dict:
        sizes = [int(g.size) for g in self.ic_groups.groups]
        return {
            **self.alignment.report,
            "top_eigenvalues": [round(float(v), 4) for v in self.eigenvalues[:10]],
            "random_second_eigenvalue_mean": float(self.random_eigenvalues[:, 1].mean()),
            "random_second_eigenvalue_std": float(self.random_eigenvalues[:, 1].std()),
            "random_first_eigenvalue_mean": float(self.random_eigenvalues[:, 0].mean()),
            "significance_cutoff": self.cutoff,
            "n_significant": self.n_significant,
            "n_significant_by_seed": self.n_significant_by_seed,
            "cutoff_by_seed": self.cutoff_by_seed,
            "n_components": self.n_components,
            "ic_sizes": sizes,
            "ica_iterations": self.ica_iterations,
            "ica_converged": self.ica_converged,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "options": asdict(self.options),
        }


def run_sca(
    alignment: Alignment,
    options: SCAOptions | None = None,
    structure_labels: np.ndarray | None = None,
    progress=None,
) -> SCAResult:
    """Run the whole SCA pipeline on an alignment (see the module docstring).

    Parameters
    ----------
    alignment
        The alignment; its reference (``--reference``) anchors the identity filter and numbering.
    options
        :class:`SCAOptions`.
    structure_labels
        Optional label per *input* column (e.g. chymotrypsin numbering from a PDB file), kept
        for the retained positions.
    progress
        Optional callable ``progress(n_done, n_total, what)``.
    """
    options = (options or SCAOptions()).validate()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    processed = preprocess_alignment(alignment, options)
    timings["preprocess"] = time.perf_counter() - started

    started = time.perf_counter()
    sca = sca_matrix(
        processed.codes, processed.weights, processed.n_residues, options.pseudocount,
        pair_regularisation=options.pair_regularisation,
    )  # fmt: skip
    eigenvalues, eigenvectors = eigen_decomposition(sca.matrix)
    timings["sca_matrix"] = time.perf_counter() - started

    started = time.perf_counter()
    total = options.n_randomisations * options.n_stability_seeds
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, "randomised alignments")

    by_seed: list[int] = []
    cutoffs: list[float] = []
    first_random = None
    for s in range(options.n_stability_seeds):
        rng = np.random.default_rng([options.seed, s])
        random_values = randomised_eigenvalues(
            processed.codes, processed.weights, processed.n_residues, options.pseudocount,
            options.n_randomisations, rng, progress=tick, pair_regularisation=options.pair_regularisation,
        )  # fmt: skip
        cut = significance_cutoff(random_values, options.significance_std)
        cutoffs.append(cut)
        by_seed.append(count_significant(eigenvalues, cut))
        if first_random is None:
            first_random = random_values
    timings["randomisations"] = time.perf_counter() - started
    cutoff = cutoffs[0]
    n_significant = by_seed[0]

    started = time.perf_counter()
    k = options.n_components or min(max(2, n_significant), options.max_components)
    k = min(k, processed.codes.shape[1])
    ica = infomax_ica(
        eigenvectors[:, :k], options.ica_learning_rate, options.ica_iterations, options.ica_tolerance
    )
    ics = ica.ics
    groups = ic_positions(ics, sca.matrix, options.sector_quantile, options.sector_cutoff)
    timings["ica"] = time.perf_counter() - started
    labels = None if structure_labels is None else np.asarray(structure_labels, str)[processed.columns]
    return SCAResult(
        alignment=processed,
        sca=sca,
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        random_eigenvalues=first_random,
        cutoff=cutoff,
        n_significant=n_significant,
        n_significant_by_seed=by_seed,
        cutoff_by_seed=cutoffs,
        ics=ics,
        ic_groups=groups,
        options=options,
        labels=labels,
        timings=timings,
        ica_iterations=ica.iterations,
        ica_converged=ica.converged,
    )


def structure_labels_for_columns(alignment: Alignment, structure) -> tuple[np.ndarray, float]:
    """Structure residue label of every column of ``alignment`` through its reference.

    The reference's full (gap-free) sequence is aligned to the structure's chain; a column
    gets the label of the residue its reference residue aligns to (``""`` if none).
    Returns the labels and the identity of the aligned residues.
    """
    from seqvae.data.pairwise import align_sequences

    registry = alignment.registry
    letters = "".join(c for c in registry.reference_raw if c.isalpha()).upper()
    mapping = align_sequences(letters, structure.sequence)
    labels = np.full(alignment.length, "", dtype=object)
    aligned = mapping >= 0
    identity = float(
        np.mean([letters[i] == structure.sequence[mapping[i]] for i in np.flatnonzero(aligned)])
    ) if aligned.any() else 0.0  # fmt: skip
    for column, number in enumerate(registry.numbering):
        if number < 0:
            continue
        k = int(number) - registry.reference_start
        if 0 <= k < mapping.size and mapping[k] >= 0:
            labels[column] = structure.labels[mapping[k]]
    return labels.astype(str), identity


# -- outputs --------------------------------------------------------------------------------------
def positions_table(result: SCAResult):
    """One row per retained position: column, numbering, label, residue, D_i, IC membership."""
    import pandas as pd

    processed = result.alignment
    length = processed.codes.shape[1]
    member = np.full(length, -1)
    value = np.full(length, np.nan)
    for j, group in enumerate(result.ic_groups.groups):
        member[group] = j + 1
        value[group] = result.ics[group, j]
    table = {
        "position": np.arange(length),
        "alignment_column": processed.columns + 1,
        "reference_number": processed.numbering,
        "label": result.labels if result.labels is not None else [""] * length,
        "reference_residue": list(processed.residues),
        "conservation_D": result.sca.conservation,
        "ic": np.where(member > 0, member, 0),
        "ic_value": value,
    }
    for j in range(min(3, length)):
        table[f"eigenvector_{j + 1}"] = result.eigenvectors[:, j]
    return pd.DataFrame(table)


def write_sca_outputs(result: SCAResult, out: str | Path) -> dict[str, Path]:
    """Write ``sca.npz`` (position-matrix convention plus arrays), ``positions.csv``,
    and ``summary.json`` into ``out`` (the figures: :func:`seqvae.plots.matrices.plot_sca`)."""
    from seqvae.io.atomic import atomic_open, write_json
    from seqvae.io.matrix_file import save_matrix_npz

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    processed = result.alignment
    group_index = np.zeros(processed.codes.shape[1], dtype=np.int64)
    for j, group in enumerate(result.ic_groups.groups):
        group_index[group] = j + 1
    paths = {}
    paths["npz"] = save_matrix_npz(
        out / SCA_FILE,
        result.sca.matrix,
        numbering=processed.numbering,
        labels=result.labels,
        residues=processed.residues,
        kind="sca",
        eigenvalues=result.eigenvalues,
        eigenvectors=result.eigenvectors[:, : min(20, result.eigenvectors.shape[1])],
        random_eigenvalues=result.random_eigenvalues,
        significance_cutoff=np.asarray(result.cutoff),
        n_significant=np.asarray(result.n_significant),
        conservation=result.sca.conservation,
        position_weights=result.sca.position_weights,
        ics=result.ics,
        ic_group=group_index,
        ic_cutoffs=result.ic_groups.cutoffs,
        alignment_columns=processed.columns,
        sequence_weights=processed.weights,
    )
    table = positions_table(result)
    with atomic_open(out / SCA_POSITIONS_FILE, "w", newline="", encoding="utf-8") as handle:
        table.to_csv(handle, index=False)
    paths["positions"] = out / SCA_POSITIONS_FILE
    write_json(out / SCA_SUMMARY_FILE, result.summary())
    paths["summary"] = out / SCA_SUMMARY_FILE
    return paths


def read_published_sectors(path: str | Path) -> dict[str, np.ndarray]:
    """Published sectors from an NPZ file: sector name -> residue labels (structure numbering).

    Raises
    ------
    InputError
        A missing or unreadable file, or one without arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            sets = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable NPZ file ({err})", path) from None
    if not sets:
        raise InputError("no sector arrays in the file", path)
    return sets


def write_sector_overlaps(rows: list[dict], out: str | Path) -> Path:
    """Write :meth:`SCAResult.published_overlaps`' rows as ``published_sector_overlaps.json`` in ``out``."""
    from seqvae.io.atomic import write_json

    target = Path(out) / PUBLISHED_OVERLAPS_FILE
    write_json(target, rows)
    return target


def sector_overlaps(
    labels: np.ndarray,
    groups: list[np.ndarray],
    published: dict[str, np.ndarray | list],
    n_random: int = 2000,
    seed: int = 0,
) -> list[dict]:
    """Overlap of each published sector with the best-matching IC group.

    Parameters
    ----------
    labels
        Structure label of each retained position (``""`` where unmapped).
    groups
        Position indices of each IC group.
    published
        Sector name -> residue labels (e.g. chymotrypsin numbers).
    n_random
        Random position sets (same sizes as the IC groups, drawn from the mapped positions)
        for the empirical null of the best overlap.

    Returns
    -------
    list of dict
        Per sector: its size, how many of its residues were retained, the best IC, the
        overlap, the overlap expected by chance, the hypergeometric p-value of that IC's
        overlap, and the fraction of random IC-sized sets whose best overlap is at least as
        large (empirical p-value, corrected for picking the best IC).
    """
    from scipy.stats import hypergeom

    labels = np.asarray(labels, dtype=str)
    mapped = np.flatnonzero(labels != "")
    pool = set(labels[mapped].tolist())
    group_labels = [set(labels[g].tolist()) - {""} for g in groups]
    sizes = [len(g) for g in group_labels]
    rng = np.random.default_rng(seed)
    rows = []
    for name, residues in published.items():
        target = {str(r) for r in np.asarray(residues).tolist()}
        retained = target & pool
        overlaps = [len(g & retained) for g in group_labels]
        best = int(np.argmax(overlaps)) if overlaps else -1
        best_overlap = overlaps[best] if overlaps else 0
        n_pool, n_target = len(pool), len(retained)
        size = sizes[best] if overlaps else 0
        expected = size * n_target / max(n_pool, 1)
        p_hyper = float(hypergeom.sf(best_overlap - 1, n_pool, n_target, size)) if size else 1.0
        pool_list = np.array(sorted(pool))
        is_target = np.isin(pool_list, list(retained))
        random_best = np.zeros(n_random)
        for r in range(n_random):
            best_r = 0
            for s in sizes:
                pick = rng.choice(pool_list.size, size=min(s, pool_list.size), replace=False)
                best_r = max(best_r, int(is_target[pick].sum()))
            random_best[r] = best_r
        rows.append(
            {
                "sector": name,
                "size": len(target),
                "retained": n_target,
                "best_ic": best + 1,
                "ic_size": size,
                "overlap": best_overlap,
                "overlaps_per_ic": overlaps,
                "expected_by_chance": round(expected, 3),
                "hypergeometric_p": p_hyper,
                "random_best_overlap_mean": float(random_best.mean()),
                "random_best_overlap_max": float(random_best.max()),
                "empirical_p": float((1 + (random_best >= best_overlap).sum()) / (1 + n_random)),
            }
        )
    return rows
