"""The estimator of :mod:`seqvae.analysis.labels` on arrays: the features of a variant, the
ridge with one penalty per block, the inner cross-validation that chooses among the zero-shot
score, the density columns and the augmented model, and the train/test splits.

Features of a variant: the one-hot of its focus columns relative to the wild type (sparse: a
mutated column gets +1 at its new residue and -1 at the wild type's, so every substitution at
a position also shares that position's weight), one column per model's zero-shot score (the
"density" block) and, optionally, a VAE's latent mean z. The density columns are unpenalised
(Hsu et al. 2022 scale them by a large factor; here their penalty is 0 and the intercept's too), the
one-hot and z blocks penalised by α. The learning-curve benchmark calls :func:`fit_label_model`
on saved score tables.

For whole sequences the other learner, :class:`GPLabelModel`, is a Gaussian process on the latent
mean z alone (:class:`~seqvae.analysis.latent_phenotype.LatentPhenotypeModel`), cross-validated
by :func:`fit_gp_model` on the same folds; it predicts an sd beside the mean. Both learners share
one interface: ``kind``, ``predict``, ``predict_with_sd``, ``arrays`` and ``to_dict``, and
:func:`learner_from` rebuilds either from its saved form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse
import scipy.sparse.linalg
from scipy.stats import spearmanr

from seqvae.analysis.latent_phenotype import LatentPhenotypeModel
from seqvae.analysis.mutations import parse_mutant
from seqvae.errors import ConfigError, InputError

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
CV_KINDS = ("random", "positions")
#: ``ridge`` (:class:`LabelModel`, chosen among candidates) or ``gp`` (:class:`GPLabelModel`, whole sequences)
LEARNERS = ("ridge", "gp")
#: the learning curve of a user's own labels: fits on these fractions of them, tested on the rest
LEARNING_FRACTIONS = (0.125, 0.25, 0.5)
#: a draw of the learning curve needs this many test rows
MIN_TEST_ROWS = 10


# -- features ---------------------------------------------------------------------------------------
def onehot_features(codes: np.ndarray, wild_type: np.ndarray, n_states: int) -> scipy.sparse.csr_matrix:
    """The one-hot of coded variants ``uint8 [B, L]`` minus the wild type's, ``csr [B, L * n_states]``:
    +1 at (column, new residue), -1 at (column, wild-type residue) for each mutated column."""
    codes = np.asarray(codes)
    rows, cols = np.nonzero(codes != wild_type[None, :])
    data = np.concatenate([np.ones(len(rows)), -np.ones(len(rows))])
    index = np.concatenate([cols * n_states + codes[rows, cols], cols * n_states + wild_type[cols]])
    matrix = scipy.sparse.csr_matrix(
        (data, (np.concatenate([rows, rows]), index)), shape=(len(codes), len(wild_type) * n_states)
    )
    matrix.sum_duplicates()
    return matrix


def mutated_columns(onehot: scipy.sparse.csr_matrix, n_states: int) -> list[np.ndarray]:
    """The mutated focus columns of each row of :func:`onehot_features`."""
    return [np.unique(onehot.indices[a:b] // n_states) for a, b in zip(onehot.indptr[:-1], onehot.indptr[1:])]


# -- the estimator ----------------------------------------------------------------------------------
@dataclass
class LabelModel:
    """A fitted linear predictor: ``intercept + density @ density_coef + onehot @ onehot_weights
    + standardised z @ latent_weights``.

    ``kind``: ``zero-shot`` (the mean of the density columns, put on the labels' scale),
    ``density`` (the density columns weighted), ``augmented`` (with the one-hot block and,
    optionally, z, at penalty ``alpha``) or ``onehot`` (the one-hot block alone).
    """

    kind: str
    alpha: float | None
    intercept: float
    density_coef: np.ndarray
    onehot_weights: np.ndarray | None = None
    latent_weights: np.ndarray | None = None
    latent_mean: np.ndarray | None = None
    latent_scale: np.ndarray | None = None

    def predict(self, onehot=None, density: np.ndarray | None = None, latent: np.ndarray | None = None):
        """Predictions ``float [B]`` from the features of :func:`onehot_features`, the density
        columns ``[B, k]`` and the latent means ``[B, d]`` (each only where the model uses it)."""
        n = next(x.shape[0] for x in (onehot, density, latent) if x is not None)
        out = np.full(n, self.intercept, dtype=np.float64)
        if self.density_coef.size:
            out += np.asarray(density, dtype=np.float64) @ self.density_coef
        if self.onehot_weights is not None:
            out += onehot @ self.onehot_weights
        if self.latent_weights is not None:
            out += ((np.asarray(latent) - self.latent_mean) / self.latent_scale) @ self.latent_weights
        return out

    def predict_with_sd(self, onehot=None, density=None, latent=None) -> tuple[np.ndarray, None]:
        """:meth:`predict` and no sd (a ridge has none)."""
        return self.predict(onehot, density, latent), None

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``weights.npz`` holds (absent blocks left out)."""
        named = {
            "density_coef": self.density_coef,
            "onehot_weights": self.onehot_weights,
            "latent_weights": self.latent_weights,
            "latent_mean": self.latent_mean,
            "latent_scale": self.latent_scale,
        }
        return {k: np.asarray(v, dtype=np.float64) for k, v in named.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """The kind, α, intercept and each block's penalty (the density block and the intercept
        are unpenalised: 0)."""
        penalties: dict[str, float | None] = {"density": 0.0}
        if self.onehot_weights is not None:
            penalties["onehot"] = self.alpha
        if self.latent_weights is not None:
            penalties["latent"] = self.alpha
        return {"kind": self.kind, "alpha": self.alpha, "intercept": self.intercept, "penalties": penalties}


@dataclass
class GPLabelModel:
    """The learner for whole sequences: a Gaussian process on the latent mean z (an RBF kernel
    with one length scale per dimension, fitted by maximum marginal likelihood; see
    :class:`~seqvae.analysis.latent_phenotype.LatentPhenotypeModel`). It ignores the one-hot and
    the zero-shot scores, and predicts a mean and an sd (of the phenotype's smooth part at z,
    larger far from the labelled sequences).
    """

    gp: LatentPhenotypeModel
    kind: ClassVar[str] = "gp"

    @classmethod
    def fit(cls, y: np.ndarray, latent: np.ndarray, seed: int = 0) -> GPLabelModel:
        """Fit on the labels ``[n]`` at latent means ``[n, d]`` (seeded optimiser restarts)."""
        return cls(LatentPhenotypeModel.fit(latent, y, seed=seed))

    def predict(self, onehot=None, density=None, latent=None) -> np.ndarray:
        """The predicted mean ``float [B]`` at latent means ``[B, d]`` (the other features unused)."""
        return self.predict_with_sd(onehot, density, latent)[0]

    def predict_with_sd(self, onehot=None, density=None, latent=None) -> tuple[np.ndarray, np.ndarray]:
        """The predicted mean and sd, each ``float [B]``, at latent means ``[B, d]``."""
        return self.gp.predict(np.asarray(latent, dtype=np.float64))

    def arrays(self) -> dict[str, np.ndarray]:
        """The conditioning points ``x``, their labels ``y`` and the kernel's hyperparameters."""
        return self.gp.arrays()

    def to_dict(self) -> dict[str, Any]:
        """The kind and the fitted kernel."""
        return {"kind": self.kind, **self.gp.to_dict()}


#: a fitted learner: the ridge or the GP
Learner = LabelModel | GPLabelModel


def learner_from(spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> Learner:
    """The learner a ``to_dict`` (``spec``) and ``arrays`` describe.

    Raises
    ------
    ValueError, KeyError
        An array missing or of the wrong shape.
    """
    if spec["kind"] == GPLabelModel.kind:
        x, y, scales = arrays["x"], arrays["y"], arrays["length_scales"]
        if x.ndim != 2 or y.shape != (len(x),) or scales.shape != (x.shape[1],):
            raise ValueError("GP arrays of the wrong shape")
        return GPLabelModel(LatentPhenotypeModel.from_arrays(arrays))
    return LabelModel(
        spec["kind"],
        spec["alpha"],
        float(spec["intercept"]),
        arrays["density_coef"],
        arrays.get("onehot_weights"),
        arrays.get("latent_weights"),
        arrays.get("latent_mean"),
        arrays.get("latent_scale"),
    )


class _RidgeSystem:
    """The normal equations of a ridge with an unpenalised intercept and density columns and one
    penalty per block, built once and solved for each α.

    Minimises ``|y - b0 - D b - sum X_j w_j|^2 + alpha sum |w_j|^2`` in the primal, over the
    columns the rows use (a one-hot column no row touches keeps weight 0): ``F'F`` is sparse
    (single mutants: one block per position), so a sparse LU solves it in milliseconds where a
    dense n x n dual takes seconds at a few thousand labels.
    """

    def __init__(self, y, density, onehot, latent):
        n = len(y)
        unpenalised = np.column_stack([np.ones(n), density]) if density is not None else np.ones((n, 1))
        parts = [scipy.sparse.csr_matrix(unpenalised)]
        self.k = unpenalised.shape[1] - 1
        self.used = self.width = None
        if onehot is not None:
            onehot = scipy.sparse.csr_matrix(onehot)
            self.width = onehot.shape[1]
            self.used = np.unique(onehot.indices)
            parts.append(onehot[:, self.used])
        self.latent_mean = self.latent_scale = None
        if latent is not None:
            self.latent_mean = latent.mean(axis=0)
            spread = latent.std(axis=0)
            self.latent_scale = np.where(spread > 0, spread, 1.0)
            parts.append(scipy.sparse.csr_matrix((latent - self.latent_mean) / self.latent_scale))
        features = scipy.sparse.hstack(parts).tocsc()
        self.normal = (features.T @ features).tocsc()
        self.rhs = features.T @ np.asarray(y, dtype=np.float64)
        # the unpenalised columns get a vanishing ridge so that collinear scores stay solvable
        scale = np.abs(self.normal.diagonal()[: self.k + 1]).max()
        self.penalty = np.full(self.k + 1, 1e-10 * max(scale, 1.0))

    def solve(self, kind: str, alpha: float | None) -> LabelModel:
        # the unpenalised columns u by their Schur complement: one sparse LU of the penalised
        # block A_pp + alpha I (one small block per position for single mutants)
        u = self.k + 1
        a_uu = self.normal[:u, :u].toarray() + np.diag(self.penalty[:u])
        r_u, r_p = self.rhs[:u], self.rhs[u:]
        if len(r_p) == 0:
            weights = np.linalg.solve(a_uu, r_u)
        else:
            a_pu = self.normal[u:, :u].toarray()
            block = (self.normal[u:, u:] + alpha * scipy.sparse.identity(len(r_p))).tocsc()
            lu = scipy.sparse.linalg.splu(block)
            solved = lu.solve(np.column_stack([a_pu, r_p]))
            b_u = np.linalg.solve(a_uu - a_pu.T @ solved[:, :u], r_u - a_pu.T @ solved[:, u])
            weights = np.concatenate([b_u, solved[:, u] - solved[:, :u] @ b_u])
        onehot = latent = None
        at = self.k + 1
        if self.used is not None:
            onehot = np.zeros(self.width)
            onehot[self.used] = weights[at : at + len(self.used)]
            at += len(self.used)
        if self.latent_mean is not None:
            latent = weights[at:]
        return LabelModel(
            kind,
            alpha,
            float(weights[0]),
            weights[1 : self.k + 1],
            onehot,
            latent,
            self.latent_mean,
            self.latent_scale,
        )


def _zero_shot(y, density) -> LabelModel:
    """The mean of the density columns, on the labels' scale (a positive slope: the ranking is kept)."""
    score = density.mean(axis=1)
    spread = score.std()
    slope = np.cov(score, y)[0, 1] / spread**2 if spread > 0 else 0.0
    slope = max(slope, 1e-9 * (y.std() / spread if spread > 0 else 1.0))
    k = density.shape[1]
    return LabelModel("zero-shot", None, float(y.mean() - slope * score.mean()), np.full(k, slope / k))


def _fit_candidate(kind, alpha, y, onehot, density, latent, systems=None) -> LabelModel:
    """Fit one candidate (``systems``: a cache of the normal equations for the same rows)."""
    if kind == "zero-shot":
        return _zero_shot(y, density)
    systems = {} if systems is None else systems
    if kind not in systems:
        systems[kind] = _RidgeSystem(
            y,
            None if kind == "onehot" else density,
            onehot if kind in ("augmented", "onehot") else None,
            latent if kind == "augmented" else None,
        )
    return systems[kind].solve(kind, alpha)


def inner_folds(n: int, folds: int, kind: str, seed: int, columns: Sequence[np.ndarray] | None = None):
    """``[(train rows, held-out rows)]`` of a K-fold split of ``n`` rows. ``positions``: the
    mutated columns (``columns``, one array per row) are dealt into K folds; a row is held out in
    the fold of its first such column, and a fold trains only on rows touching none of its columns."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        assignment = rng.permutation(n) % folds
        return [(np.flatnonzero(assignment != k), np.flatnonzero(assignment == k)) for k in range(folds)]
    if columns is None:
        raise InputError("positions folds need the mutated columns of each row")
    distinct = np.unique(
        np.concatenate([np.asarray(c, dtype=np.int64) for c in columns] + [np.zeros(0, int)])
    )
    fold_of = dict(zip(distinct.tolist(), (rng.permutation(len(distinct)) % folds).tolist()))
    order = rng.permutation(n)
    first = np.array([fold_of[int(columns[i][0])] if len(columns[i]) else -1 for i in range(n)])
    first[first < 0] = order[first < 0] % folds  # a wild-type row touches no position
    out = []
    for k in range(folds):
        held = np.flatnonzero(first == k)
        clean = np.array([not any(fold_of[int(c)] == k for c in columns[i]) for i in range(n)], dtype=bool)
        clean[held] = False
        out.append((np.flatnonzero(clean), held))
    return [(train, held) for train, held in out if len(held) and len(train) >= 2]


@dataclass
class CrossValidation:
    """The inner cross-validation: ``rho[name]``, the pooled out-of-fold Spearman ρ of each
    candidate (``zero-shot``, ``density``, ``augmented a=10``, ``onehot a=10``, …), and the chosen one."""

    rho: dict[str, float]
    chosen: str
    kind: str
    folds: int
    n: int

    def best(self, prefix: str) -> float:
        """The best ρ among the candidates whose name starts with ``prefix`` (NaN: none)."""
        values = [v for k, v in self.rho.items() if k.startswith(prefix) and np.isfinite(v)]
        return max(values) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "folds": self.folds, "n": self.n, "chosen": self.chosen, "rho": self.rho}


def _candidate_name(kind: str, alpha: float | None) -> str:
    return kind if alpha is None else f"{kind} a={alpha:g}"


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def check_labels(y: np.ndarray, folds: int, source: str | None = None, field: str = "label_column") -> None:
    """Labels fit for K-fold cross-validation: numbers, at least ``folds`` of them, not all equal."""
    if len(y) == 0:
        raise InputError(f"{field}: no labelled variant (every label is missing)", source)
    if len(y) < folds:
        raise InputError(
            f"{field}: {len(y)} labelled variants, fewer than the {folds} cross-validation folds", source
        )
    if np.ptp(y) == 0:
        raise InputError(f"{field}: every label is {y[0]:g}; a constant column cannot be learned", source)


def fit_label_model(
    y: np.ndarray,
    onehot: scipy.sparse.csr_matrix | None,
    density: np.ndarray | None,
    latent: np.ndarray | None = None,
    *,
    cv: str = "random",
    folds: int = 5,
    alphas: Sequence[float] = ALPHAS,
    seed: int = 0,
    columns: Sequence[np.ndarray] | None = None,
) -> tuple[LabelModel, CrossValidation]:
    """Choose by inner cross-validation and fit on every row.

    With ``density`` (``[n, k]`` zero-shot scores) the candidates are the zero-shot score, the
    density columns weighted (``k > 1``) and the augmented model at each α; ``onehot=None``
    leaves the one-hot block out. ``density=None``: the one-hot ridge alone at each α. Ties go
    to the simpler candidate (listed first; larger α first). ``columns``: each row's mutated
    focus columns, for ``cv="positions"``. The held-out rows of the inner folds are never used
    to fit the model they judge; rows outside ``y`` are never seen.
    """
    y = np.asarray(y, dtype=np.float64)
    check_labels(y, folds)
    candidates: list[tuple[str, float | None]] = []
    if density is not None:
        density = np.asarray(density, dtype=np.float64).reshape(len(y), -1)
        candidates.append(("zero-shot", None))
        if density.shape[1] > 1:
            candidates.append(("density", None))
    if onehot is not None:
        kind = "augmented" if density is not None else "onehot"
        candidates += [(kind, a) for a in sorted(alphas, reverse=True)]
    if not candidates:
        raise InputError("no features: give zero-shot scores, the one-hot block or both")
    splits = inner_folds(len(y), folds, cv, seed, columns)
    if not splits:
        raise InputError(f"labels: {cv} folds leave no fold to hold out (too few labelled positions)")
    predictions = {c: np.full(len(y), np.nan) for c in candidates}
    for train, held in splits:
        sub_onehot = onehot[train] if onehot is not None else None
        sub_latent = latent[train] if latent is not None else None
        sub_density = density[train] if density is not None else None
        systems: dict = {}
        for kind, alpha in candidates:
            if kind == "zero-shot":  # nothing learnt: its ranking, not a per-fold calibration of it
                if density is None:  # the zero-shot candidate is listed only with density
                    raise ValueError("zero-shot candidate without density")
                predictions[(kind, alpha)][held] = density[held].mean(axis=1)
                continue
            model = _fit_candidate(kind, alpha, y[train], sub_onehot, sub_density, sub_latent, systems)
            predictions[(kind, alpha)][held] = model.predict(
                onehot[held] if onehot is not None else None,
                density[held] if density is not None else None,
                latent[held] if latent is not None else None,
            )
    rho = {}
    for candidate, predicted in predictions.items():
        done = np.isfinite(predicted)
        rho[_candidate_name(*candidate)] = _rho(predicted[done], y[done])
    scores = [rho[_candidate_name(*c)] for c in candidates]
    best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
    kind, alpha = candidates[best]
    model = _fit_candidate(kind, alpha, y, onehot, density, latent)
    return model, CrossValidation(rho, _candidate_name(kind, alpha), cv, len(splits), len(y))


def fit_gp_model(
    y: np.ndarray,
    latent: np.ndarray,
    *,
    cv: str = "random",
    folds: int = 5,
    seed: int = 0,
    columns: Sequence[np.ndarray] | None = None,
) -> tuple[GPLabelModel, CrossValidation]:
    """Fit :class:`GPLabelModel` on every row and cross-validate it on the folds
    :func:`fit_label_model` uses for the same arguments (its ρ under ``gp``, comparable with the
    ridge's candidates). The GP is the model whatever its ρ: nothing is chosen."""
    y = np.asarray(y, dtype=np.float64)
    latent = np.asarray(latent, dtype=np.float64)
    check_labels(y, folds)
    splits = inner_folds(len(y), folds, cv, seed, columns)
    if not splits:
        raise InputError(f"labels: {cv} folds leave no fold to hold out (too few labelled positions)")
    predicted = np.full(len(y), np.nan)
    for k, (train, held) in enumerate(splits):
        predicted[held] = GPLabelModel.fit(y[train], latent[train], seed + k).predict(latent=latent[held])
    done = np.isfinite(predicted)
    rho = {GPLabelModel.kind: _rho(predicted[done], y[done])}
    return GPLabelModel.fit(y, latent, seed), CrossValidation(rho, GPLabelModel.kind, cv, len(splits), len(y))


def label_splits(
    variants: Sequence[str] | Sequence[Sequence[int]],
    kind: str = "random",
    n_train: int = 96,
    seed: int = 0,
    separator: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test rows: ``n_train`` labelled variants drawn at random, tested on the rest;
    ``positions``: positions are drawn at random until the variants touching only drawn positions
    number ``n_train`` (then ``n_train`` of them are drawn), and the test rows are the variants
    touching a position never drawn, so no test variant shares a position with a training one.

    ``variants``: mutant strings (``A23V:G45D``, ``separator`` as in
    :func:`~seqvae.analysis.mutations.parse_mutant`) or each variant's positions.
    """
    if kind not in CV_KINDS:
        raise ConfigError(f"labels.cv: must be one of {', '.join(CV_KINDS)}, got {kind!r}", field="labels.cv")
    positions = [
        [s.position for s in parse_mutant(v, separator=separator)] if isinstance(v, str) else list(v)
        for v in variants
    ]
    n = len(positions)
    if not 0 < n_train < n:
        raise InputError(f"n_train must be in [1, {n - 1}] for {n} variants, got {n_train}")
    rng = np.random.default_rng(seed)
    if kind == "random":
        order = rng.permutation(n)
        return np.sort(order[:n_train]), np.sort(order[n_train:])
    distinct = sorted({p for row in positions for p in row})
    drawn: set[int] = set()
    inside = np.zeros(n, dtype=bool)
    for position in rng.permutation(distinct):
        drawn.add(int(position))
        inside = np.array([all(p in drawn for p in row) for row in positions])
        if inside.sum() >= n_train:
            break
    train = np.sort(rng.choice(np.flatnonzero(inside), size=min(n_train, int(inside.sum())), replace=False))
    test = np.array([any(p not in drawn for p in row) for row in positions])
    if not test.any():
        raise InputError(
            f"a positions split of {n} variants with {n_train} for training leaves no test variant"
        )
    return train, np.flatnonzero(test)


def learning_curve(
    y: np.ndarray,
    onehot: scipy.sparse.csr_matrix | None,
    density: np.ndarray | None,
    latent: np.ndarray | None = None,
    *,
    cv: str = "random",
    folds: int = 5,
    alphas: Sequence[float] = ALPHAS,
    seed: int = 0,
    columns: Sequence[np.ndarray] | None = None,
    draws: int = 5,
    learner: str = "ridge",
) -> list[dict[str, Any]]:
    """Would more labels help? The user's labels split as the predictor will be used (``cv``:
    ``random``, or ``positions``: the test variants at positions no training label touches): a
    fraction of them (:data:`LEARNING_FRACTIONS`) fitted exactly as :func:`fit_label_model` fits
    all of them, tested on the rest, ``draws`` seeded draws per size. One row per draw:
    ``n_labels``, ``draw``, ``rho`` (the fitted model's test Spearman ρ) and, with zero-shot
    scores, ``zero_shot_rho`` on the same test rows. Sizes too small for the inner folds, or
    leaving under :data:`MIN_TEST_ROWS` test rows, are skipped. ``learner="gp"``: a
    :class:`GPLabelModel` on ``latent`` is fitted instead (no inner folds: it chooses nothing)."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if density is not None:
        density = np.asarray(density, dtype=np.float64).reshape(n, -1)
    positions = [list(c) for c in columns] if columns is not None else [[i] for i in range(n)]
    sizes = sorted({int(n * f) for f in LEARNING_FRACTIONS})
    rows: list[dict[str, Any]] = []
    for size in (m for m in sizes if m >= 2 * folds and n - m >= MIN_TEST_ROWS):
        for draw in range(draws):
            try:
                train, test = label_splits(positions, cv, size, seed + draw)
                if len(test) < MIN_TEST_ROWS:
                    continue
                model: Learner
                if learner == GPLabelModel.kind:
                    model = GPLabelModel.fit(y[train], np.asarray(latent)[train], seed + draw)
                else:
                    model, _ = fit_label_model(
                        y[train],
                        onehot[train] if onehot is not None else None,
                        density[train] if density is not None else None,
                        latent[train] if latent is not None else None,
                        cv=cv,
                        folds=folds,
                        alphas=alphas,
                        seed=seed,
                        columns=[columns[i] for i in train] if columns is not None else None,
                    )
            except InputError:  # too few distinct labels or positions in this draw
                continue
            predicted = model.predict(
                onehot[test] if onehot is not None else None,
                density[test] if density is not None else None,
                latent[test] if latent is not None else None,
            )
            row = {"n_labels": int(size), "draw": draw, "rho": _rho(predicted, y[test])}
            if density is not None:
                row["zero_shot_rho"] = _rho(density[test].mean(axis=1), y[test])
            rows.append(row)
    return rows


def learning_curve_table(rows: Sequence[dict[str, Any]], name: str, split: str) -> pd.DataFrame:
    """The median and interquartile range over draws of :func:`learning_curve`'s rows, per
    number of labels, for the fitted model (``predictor``) and zero-shot: the table
    :func:`seqvae.plots.labels.draw_learning_curves` draws (``protein`` = ``name``)."""
    draws = pd.DataFrame(list(rows))
    out = []
    for model, column in (("predictor", "rho"), ("zero-shot", "zero_shot_rho")):
        if column not in draws.columns:
            continue
        for n, values in draws.groupby("n_labels")[column]:
            q25, median, q75 = np.nanpercentile(values.to_numpy(dtype=float), [25, 50, 75])
            out.append(
                {
                    "protein": name,
                    "split": split,
                    "model": model,
                    "n": int(n),
                    "median": median,
                    "q25": q25,
                    "q75": q75,
                }
            )
    return pd.DataFrame(out, columns=["protein", "split", "model", "n", "median", "q25", "q75"])
