"""Sectors from the SCA matrix's top eigenmodes: pySCA's infomax ICA, the positions of each
independent component, and their overlap with published sectors (see :mod:`seqvae.analysis.sca`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqvae.errors import InputError
from seqvae.utils import single_threaded_blas

SECTOR_CUTOFFS = ("pysca", "exact")


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
    from scipy.special import expit  # scipy.special and scipy.stats take ~1 s to import: only when used

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
    from scipy.stats import t as student_t  # ~1 s to import: only when used

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
    from scipy.stats import t as student_t  # ~1 s to import: only when used

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
        kept = []
        for i in initial[j]:
            strength = np.linalg.norm(off[i, initial[j]])
            others = [np.linalg.norm(off[i, initial[m]]) for m in range(k) if m != j and i in initial[m]]
            if all(strength >= s for s in others):
                kept.append(i)
        members = np.asarray(kept, dtype=np.int64)
        groups.append(members[np.argsort(-ics[members, j], kind="stable")])
    return ICGroups(groups, cutoffs, fits)


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


def sector_overlaps(
    labels: np.ndarray,
    groups: list[np.ndarray],
    published: Mapping[str, np.ndarray | list],
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
    from scipy.stats import hypergeom  # ~1 s to import: only when used

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
