"""Fitness predictors that learn from a few measured variants: Hsu et al. (2022)'s augmented model.

Features of a variant: the one-hot of its focus columns relative to the wild type (sparse: a
mutated column gets +1 at its new residue and -1 at the wild type's, so every substitution at
a position also shares that position's weight), one column per model's zero-shot score (the
"density" block) and, optionally, a VAE's latent mean z. A ridge regression with one penalty per
block: the density columns unpenalised (Hsu et al. scale them by a large factor; here exactly,
by generalised least squares), the one-hot and z blocks by α. Inner K-fold cross-validation
picks, by the Spearman ρ of the pooled out-of-fold predictions, among the zero-shot score
itself, the density columns alone (when there are several) and the augmented model at each α:
labels can then only replace the zero-shot ranking where held-out rows say they improve it.
The folds follow the intended use: ``random`` (new variants at measured positions) or
``positions`` (whole positions held out: new positions).

:func:`fit_labels` does it for run or baseline directories and a scan (or aligned sequences);
:class:`LabelPredictor` predicts, saves (``predictor.json`` + ``weights.npz``, never pickle) and
:func:`load_predictor` refuses a model directory changed since fitting. :func:`fit_label_model`
is the estimator on arrays (the learning-curve benchmark uses it on saved score tables);
:func:`label_splits` draws the train/test splits.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse
from scipy.stats import spearmanr

from seqvae.analysis.mutations import MutationMapper, WildType, map_table, parse_mutant, read_mutation_table
from seqvae.analysis.scorers import EnsembleScorer, Scorer, ScoringOptions, load_scorers, unique_name
from seqvae.analysis.scoring import (
    OUTPUT_FORMATS,
    _formatted,
    _numeric_column,
    _proteingym_table,
    read_aligned_sequences,
)
from seqvae.errors import ConfigError, InputError
from seqvae.io.atomic import atomic_open, atomic_path, write_json
from seqvae.io.output_dirs import DirectoryKind, claim_directory
from seqvae.options import Boolean, Integer, Interval, ListOf, OneOf, Options, register

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
CV_KINDS = ("random", "positions")
PREDICTOR_FILE = "predictor.json"
WEIGHTS_FILE = "weights.npz"
PREDICTOR_DIRECTORY = DirectoryKind(
    "seqvae predictor folder", markers=(PREDICTOR_FILE,), entries=(PREDICTOR_FILE, WEIGHTS_FILE)
)
# the files of a run or baseline directory whose content the predictor's weights depend on
MODEL_FILES = ("config.json", "registry.json", "baseline.json", "model.safetensors")
PREDICTION_COLUMN = "prediction"
CHUNK_ROWS = 50_000
FORMAT_VERSION = 1


@register
@dataclass
class LabelOptions(Options):
    """How :func:`fit_labels` fits (``seqvae fit-labels``' options).

    Attributes
    ----------
    cv
        The inner folds: ``random`` or ``positions`` (whole positions held out; pick it when the
        predictor must rank variants at positions no label touches).
    folds
        K of the inner K-fold cross-validation.
    alphas
        The penalties of the one-hot (and z) block tried.
    seed
        Seeds the folds.
    latent
        Add the first VAE's latent mean z as a block.
    """

    cv: str = "random"
    folds: int = 5
    alphas: list[float] = field(default_factory=lambda: list(ALPHAS))
    seed: int = 0
    latent: bool = False

    section: ClassVar[str] = "labels"
    constraints: ClassVar[dict] = {
        "cv": OneOf(CV_KINDS),
        "folds": Integer(2, 50),
        "alphas": ListOf(Interval(0, None, closed="neither"), min_length=1, distinct=True),
        "seed": Integer(),
        "latent": Boolean(),
    }


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


def _gram(matrix) -> np.ndarray:
    product = matrix @ matrix.T
    return product.toarray() if scipy.sparse.issparse(product) else np.asarray(product)


def _ridge(y, density, grams, blocks, penalties):
    """Ridge with an unpenalised intercept and density columns and one penalty per block.

    Minimises ``|y - D b - sum X_j w_j|^2 + sum penalty_j |w_j|^2`` in the dual: with
    ``A = (I + sum K_j / penalty_j)^-1`` the unpenalised part is the generalised least squares
    ``b = (D'AD)^-1 D'Ay`` and ``w_j = X_j' A (y - D b) / penalty_j``.
    """
    n = len(y)
    design = np.column_stack([np.ones(n), density]) if density is not None else np.ones((n, 1))
    system = np.eye(n)
    for gram, penalty in zip(grams, penalties):
        system += gram / penalty
    factor = scipy.linalg.cho_factor(system, check_finite=False)
    a_design = scipy.linalg.cho_solve(factor, design, check_finite=False)
    a_y = scipy.linalg.cho_solve(factor, y, check_finite=False)
    beta = np.linalg.lstsq(design.T @ a_design, design.T @ a_y, rcond=None)[0]
    dual = a_y - a_design @ beta
    weights = [np.asarray(block.T @ dual).ravel() / penalty for block, penalty in zip(blocks, penalties)]
    return float(beta[0]), beta[1:], weights


def _zero_shot(y, density) -> LabelModel:
    """The mean of the density columns, on the labels' scale (a positive slope: the ranking is kept)."""
    score = density.mean(axis=1)
    spread = score.std()
    slope = np.cov(score, y)[0, 1] / spread**2 if spread > 0 else 0.0
    slope = max(slope, 1e-9 * (y.std() / spread if spread > 0 else 1.0))
    k = density.shape[1]
    return LabelModel("zero-shot", None, float(y.mean() - slope * score.mean()), np.full(k, slope / k))


def _fit_candidate(kind, alpha, y, onehot, density, latent, grams=None) -> LabelModel:
    if kind == "zero-shot":
        return _zero_shot(y, density)
    blocks, penalties = [], []
    if kind in ("augmented", "onehot"):
        blocks.append(onehot)
        penalties.append(alpha)
    latent_mean = latent_scale = None
    if kind == "augmented" and latent is not None:
        latent_mean = latent.mean(axis=0)
        latent_scale = np.where(latent.std(axis=0) > 0, latent.std(axis=0), 1.0)
        blocks.append((latent - latent_mean) / latent_scale)
        penalties.append(alpha)
    if grams is None:
        grams = [_gram(b) for b in blocks]
    intercept, coef, weights = _ridge(y, None if kind == "onehot" else density, grams, blocks, penalties)
    return LabelModel(
        kind,
        alpha,
        intercept,
        coef,
        weights[0] if kind in ("augmented", "onehot") else None,
        weights[1] if latent_mean is not None else None,
        latent_mean,
        latent_scale,
    )


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
        gram = _gram(sub_onehot) if sub_onehot is not None else None
        for kind, alpha in candidates:
            grams = None
            if kind in ("augmented", "onehot") and latent is None:
                grams = [gram]
            model = _fit_candidate(kind, alpha, y[train], sub_onehot, sub_density, sub_latent, grams)
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


# -- the predictor on model directories -------------------------------------------------------------
def model_checksums(path: str | Path) -> dict[str, str]:
    """The content digest of each of a run or baseline directory's :data:`MODEL_FILES`."""
    from seqvae.executor import file_digest

    path = Path(path)
    return {name: file_digest(path / name) for name in MODEL_FILES if (path / name).is_file()}


@dataclass
class LabelPredictor:
    """A fitted predictor and the model directories it needs (see :func:`fit_labels`).

    Attributes
    ----------
    models
        The run or baseline directories (absolute), one density column each, named by ``names``.
    checksums
        Per directory, the digests of its :data:`MODEL_FILES` when fitted.
    model
        The fitted :class:`LabelModel`.
    cv
        The inner cross-validation that chose it.
    settings
        The label column, the kind of input (``variants`` or ``sequences``), the options, the
        scoring options, the mutation separator and the wild type that numbers the variants.
    reference
        The reference's id, focus sequence and numbering, and the one-hot's states.
    """

    models: list[str]
    checksums: dict[str, dict[str, str]]
    names: list[str]
    model: LabelModel
    cv: CrossValidation
    settings: dict[str, Any]
    reference: dict[str, Any]
    _scorers: list[Scorer] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"LabelPredictor({self.model.kind}, alpha={self.model.alpha}, models={self.names}, "
            f"cv rho {self.cv.rho[self.cv.chosen]:.3f} over {self.cv.n} labels)"
        )

    @property
    def scorers(self) -> list[Scorer]:
        if self._scorers is None:
            options = ScoringOptions.from_dict(self.settings["scoring"])
            self._scorers = [load_scorers([path], options) for path in self.models]
            _check_same_registry(self._scorers)
        return self._scorers

    @property
    def options(self) -> LabelOptions:
        return LabelOptions.from_dict(self.settings["options"])

    def mapper(self) -> MutationMapper:
        wild_type = self.settings.get("wild_type")
        return MutationMapper(self.scorers[0].registry, WildType(**wild_type) if wild_type else None)

    def features(self, codes: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """The one-hot, density and latent features of coded variants, and the score columns."""
        registry = self.scorers[0].registry
        onehot = onehot_features(codes, registry.reference_codes(), self.reference["n_states"])
        columns: dict[str, np.ndarray] = {}
        for name, scorer in zip(self.names, self.scorers):
            columns[name] = scorer.score_codes(codes)
        density = np.column_stack(list(columns.values())) if columns else np.zeros((len(codes), 0))
        latent = latent_means(self.scorers, codes) if self.options.latent else None
        return onehot, density, latent, columns

    def predict_codes(self, codes: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Predictions ``float [B]`` of coded focus sequences and the zero-shot score columns."""
        onehot, density, latent, columns = self.features(np.asarray(codes, dtype=np.uint8))
        return self.model.predict(onehot, density, latent), columns

    def _chunks(
        self,
        data,
        *,
        sequences: bool,
        mutant_column,
        sequence_column,
        id_column,
        sep,
        skip_mismatches,
        chunk_size,
    ) -> Iterator[tuple[pd.DataFrame, dict[str, np.ndarray]]]:
        if sequences:
            alignment = read_aligned_sequences(data, self.scorers[0].registry, sequence_column, id_column)
            wild = self.scorers[0].registry.reference_codes()
            for start in range(0, len(alignment.codes), chunk_size):
                codes = alignment.codes[start : start + chunk_size]
                predicted, columns = self.predict_codes(codes)
                table = pd.DataFrame(
                    {"id": alignment.ids[start : start + chunk_size], "n_differences": (codes != wild).sum(1)}
                )
                yield table, {**columns, PREDICTION_COLUMN: predicted}
            return
        mapper = self.mapper()
        separator = self.settings.get("mutation_separator")
        if isinstance(data, pd.DataFrame):
            chunks = [_map_frame(data, mapper, mutant_column, sequence_column, skip_mismatches, separator)]
        else:
            chunks = (
                chunk
                for chunk, _ in read_mutation_table(
                    data,
                    mapper,
                    mutant_column,
                    sequence_column,
                    chunk_size=chunk_size,
                    skip_mismatches=skip_mismatches,
                    sep=sep,
                    mutation_separator=separator,
                )
            )
        for chunk in chunks:
            predicted, columns = self.predict_codes(chunk.codes)
            out = {}
            for name, values in {**columns, PREDICTION_COLUMN: predicted}.items():
                out[name] = np.full(len(chunk.table), np.nan)
                out[name][chunk.scorable] = values
            yield chunk.table, out

    def predict(
        self,
        data: str | Path | pd.DataFrame,
        *,
        sequences: bool = False,
        mutant_column: str | None = None,
        sequence_column: str | None = None,
        id_column: str | None = None,
        sep: str | None = None,
        skip_mismatches: bool = False,
    ) -> pd.DataFrame:
        """Predict a scan (a file or a DataFrame, read like :func:`fit_labels`' labels) or, with
        ``sequences``, an alignment or table of aligned sequences. The rows as read, each model's
        zero-shot score (a column named by its directory) and ``prediction`` (empty, with a
        ``reason``, where a variant cannot be scored)."""
        parts = []
        for table, columns in self._chunks(
            data,
            sequences=sequences,
            mutant_column=mutant_column,
            sequence_column=sequence_column,
            id_column=id_column,
            sep=sep,
            skip_mismatches=skip_mismatches,
            chunk_size=CHUNK_ROWS,
        ):
            table = table.copy()
            for name, values in columns.items():
                table[unique_name(name, table.columns)] = values
            parts.append(table)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def predict_file(
        self,
        data: str | Path,
        out: str | Path,
        *,
        output_format: str = "seqvae",
        sequences: bool = False,
        mutant_column: str | None = None,
        sequence_column: str | None = None,
        id_column: str | None = None,
        sep: str | None = None,
        skip_mismatches: bool = False,
        chunk_size: int = CHUNK_ROWS,
    ) -> int:
        """:meth:`predict` streamed to the CSV ``out`` chunk by chunk (bounded memory, written
        atomically: nothing is left behind on bad input); returns the rows written.
        ``output_format="proteingym"``: ``mutant``, ``mutated_sequence``, one column per model and
        ``prediction`` (variants only)."""
        if output_format not in OUTPUT_FORMATS:
            raise InputError(
                f"output format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}"
            )
        if sequences and output_format != "seqvae":
            raise InputError("whole sequences are written in the seqvae format only")
        from seqvae.utils import release_free_memory

        rows = 0
        mapper = None if sequences or output_format == "seqvae" else self.mapper()
        with atomic_open(out, "w", newline="", encoding="utf-8") as handle:
            for table, columns in self._chunks(
                data,
                sequences=sequences,
                mutant_column=mutant_column,
                sequence_column=sequence_column,
                id_column=id_column,
                sep=sep,
                skip_mismatches=skip_mismatches,
                chunk_size=chunk_size,
            ):
                if mapper is not None:
                    table = _proteingym_table(table, columns, mapper, None)
                else:
                    table = table.copy()
                    for name, values in columns.items():
                        table[unique_name(name, table.columns)] = _formatted(values)
                table.to_csv(handle, index=False, header=rows == 0)
                rows += len(table)
                release_free_memory()
        return rows

    def to_dict(self) -> dict[str, Any]:
        """What ``predictor.json`` holds."""
        return {
            "format": FORMAT_VERSION,
            "models": [
                {"path": p, "name": n, "checksums": self.checksums[p]}
                for p, n in zip(self.models, self.names)
            ],
            "model": {
                "kind": self.model.kind,
                "alpha": self.model.alpha,
                "intercept": self.model.intercept,
                "penalties": _penalties(self.model),
            },
            "cv": self.cv.to_dict(),
            "settings": self.settings,
            "reference": self.reference,
        }

    def save(self, folder: str | Path, overwrite: bool = False) -> dict[str, Path]:
        """Write ``predictor.json`` and ``weights.npz`` into ``folder`` (claimed as a predictor
        folder: a folder holding anything else is refused; each file written atomically)."""
        with claim_directory(folder, PREDICTOR_DIRECTORY, overwrite) as out:
            with atomic_path(out / WEIGHTS_FILE) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, **self.model.arrays())
            write_json(out / PREDICTOR_FILE, self.to_dict())
        return {"predictor": Path(folder) / PREDICTOR_FILE, "weights": Path(folder) / WEIGHTS_FILE}


def _penalties(model: LabelModel) -> dict[str, float | None]:
    """Each block's penalty: the density block and the intercept are unpenalised (0)."""
    out: dict[str, float | None] = {"density": 0.0}
    if model.onehot_weights is not None:
        out["onehot"] = model.alpha
    if model.latent_weights is not None:
        out["latent"] = model.alpha
    return out


def _check_same_registry(scorers: list[Scorer]) -> None:
    if len(scorers) > 1:
        EnsembleScorer(scorers)  # refuses models of other references or focus columns


def latent_means(scorers: Sequence[Scorer], codes: np.ndarray) -> np.ndarray:
    """The latent mean z of coded sequences under the first VAE among ``scorers``, ``[B, d]``."""
    import torch

    vae = next((s for s in scorers if hasattr(s, "model") and hasattr(s.model, "encode")), None)
    if vae is None:
        raise ConfigError("labels.latent: needs a VAE run among the models", field="labels.latent")
    with torch.no_grad():
        parts = [
            vae.model.encode(torch.from_numpy(np.asarray(codes[i : i + 4096])).to(vae.device))[0]
            .double()
            .cpu()
            .numpy()
            for i in range(0, len(codes), 4096)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, vae.model.config.latent_dim))


def _map_frame(table: pd.DataFrame, mapper, mutant_column, sequence_column, skip_mismatches, separator):
    """A DataFrame of variants mapped like a scan file's chunk (a missing column: one line naming it)."""
    columns = list(table.columns)
    if mutant_column is None and sequence_column is None:
        if "mutant" in columns:
            mutant_column = "mutant"
        elif "mutated_sequence" in columns:
            sequence_column = "mutated_sequence"
        else:
            raise InputError(
                f"mutant_column: the table has no 'mutant' or 'mutated_sequence' column "
                f"(columns: {', '.join(map(str, columns))}); name one"
            )
    wanted = sequence_column or mutant_column
    if wanted not in columns:
        field_name = "sequence_column" if sequence_column else "mutant_column"
        raise InputError(
            f"{field_name}: column {wanted!r} not found (columns: {', '.join(map(str, columns))})"
        )
    text = table.astype(str).reset_index(drop=True)
    chunk, _ = map_table(
        text,
        mapper,
        None if sequence_column else mutant_column,
        sequence_column,
        skip_mismatches,
        "table",
        2,
        separator,
    )
    return chunk


def _labelled_variants(
    labels, label_column, mapper, *, mutant_column, sequence_column, sep, mutation_separator, skip_mismatches
) -> tuple[np.ndarray, np.ndarray, str]:
    """The coded scorable variants of a scan with a finite label, and the labels."""
    source = "labels" if isinstance(labels, pd.DataFrame) else str(labels)
    if isinstance(labels, pd.DataFrame):
        if label_column not in labels.columns:
            raise InputError(
                f"label_column: column {label_column!r} not found (columns: {', '.join(map(str, labels.columns))})"
            )
        chunks = [
            _map_frame(labels, mapper, mutant_column, sequence_column, skip_mismatches, mutation_separator)
        ]
    else:
        chunks = (
            chunk
            for chunk, _ in read_mutation_table(
                labels,
                mapper,
                mutant_column,
                sequence_column,
                required_columns=(label_column,),
                skip_mismatches=skip_mismatches,
                sep=sep,
                mutation_separator=mutation_separator,
            )
        )
    codes, values, n_rows, n_scorable = [], [], 0, 0
    for chunk in chunks:
        measured = _numeric_column(chunk.table, label_column, source, 2 + n_rows)[chunk.scorable]
        keep = np.isfinite(measured)
        codes.append(chunk.codes[keep])
        values.append(measured[keep])
        n_rows += len(chunk.table)
        n_scorable += int(chunk.scorable.sum())
    if n_scorable == 0:
        raise InputError(
            f"none of the {n_rows} variants maps onto the models' focus columns ({mapper.region}); "
            "check the numbering (--reference-sequence numbers a trimmed reference row)",
            source,
        )
    y = np.concatenate(values)
    if len(y) == 0:
        raise InputError(
            f"column {label_column!r} has no label for a scorable variant (all empty or NaN)", source
        )
    return np.concatenate(codes), y, source


def _labelled_sequences(sequences, labels, label_column, registry, *, sequence_column, id_column, sep):
    """Aligned sequences joined by id to a label table (``id_column``, default ``id``)."""
    from seqvae.io.tables import read_table

    alignment = read_aligned_sequences(sequences, registry, sequence_column, None)
    if isinstance(labels, pd.DataFrame):
        table, source = labels.astype(str), "labels"
    else:
        from seqvae.analysis.mutations import detect_separator

        source = str(labels)
        table = read_table(
            labels,
            "cannot read the label table",
            sep=sep or detect_separator(labels),
            dtype=str,
            keep_default_na=False,
        )
    id_column = id_column or "id"
    for name, what in ((id_column, "id_column"), (label_column, "label_column")):
        if name not in table.columns:
            raise InputError(
                f"{what}: column {name!r} not found (columns: {', '.join(map(str, table.columns))})", source
            )
    measured = _numeric_column(table, label_column, source, 2)
    label_of = dict(zip(table[id_column].astype(str).str.strip(), measured))
    rows = [i for i, name in enumerate(alignment.ids) if np.isfinite(label_of.get(str(name), np.nan))]
    if not rows:
        raise InputError(
            f"no sequence of {sequences} has a label in column {label_column!r} (ids joined on {id_column!r})",
            source,
        )
    return alignment.codes[rows], np.array([label_of[str(alignment.ids[i])] for i in rows]), source


def fit_labels(
    models: Sequence[str | Path],
    labels: str | Path | pd.DataFrame,
    label_column: str,
    *,
    sequences: str | Path | None = None,
    options: LabelOptions | None = None,
    scoring: ScoringOptions | None = None,
    mutant_column: str | None = None,
    sequence_column: str | None = None,
    id_column: str | None = None,
    sep: str | None = None,
    mutation_separator: str | None = None,
    wild_type: WildType | None = None,
    skip_mismatches: bool = False,
) -> LabelPredictor:
    """Fit a predictor of ``label_column`` from labelled variants and the zero-shot scores of
    ``models`` (run or baseline directories, one density column each).

    ``labels``: a scan (a file or a DataFrame) read as ``seqvae score`` reads one (``mutant_column``
    or ``sequence_column``, ``sep``, ``mutation_separator``, ``wild_type``, ``skip_mismatches``);
    or, with ``sequences`` (an alignment or table aligned like the models' training alignment), a
    table of labels keyed by ``id_column`` (default ``id``). Rows without a label are left out.
    See the module's docstring for the model and :class:`LabelOptions` for the settings.
    """
    options = (options or LabelOptions()).check()
    scoring = (scoring or ScoringOptions()).validate()
    if not models:
        raise InputError("models: give at least one run or baseline directory")
    paths = [str(Path(p).resolve()) for p in models]
    scorers = [load_scorers([p], scoring) for p in paths]
    _check_same_registry(scorers)
    registry = scorers[0].registry
    mapper = MutationMapper(registry, wild_type)
    if sequences is not None:
        codes, y, source = _labelled_sequences(
            sequences,
            labels,
            label_column,
            registry,
            sequence_column=sequence_column,
            id_column=id_column,
            sep=sep,
        )
    else:
        codes, y, source = _labelled_variants(
            labels,
            label_column,
            mapper,
            mutant_column=mutant_column,
            sequence_column=sequence_column,
            sep=sep,
            mutation_separator=mutation_separator,
            skip_mismatches=skip_mismatches,
        )
    try:
        check_labels(y, options.folds, field=f"column {label_column!r}")
    except InputError as err:
        raise InputError(err.message, source) from None
    names: list[str] = []
    for path in paths:
        names.append(unique_name(Path(path).name, names))
    predictor = LabelPredictor(
        paths,
        {p: model_checksums(p) for p in paths},
        names,
        LabelModel("zero-shot", None, 0.0, np.zeros(0)),
        CrossValidation({}, "", options.cv, options.folds, len(y)),
        {
            "label_column": label_column,
            "input": "sequences" if sequences is not None else "variants",
            "options": options.to_dict(),
            "scoring": scoring.to_dict(),
            "mutation_separator": mutation_separator,
            "wild_type": None
            if wild_type is None
            else {"sequence": wild_type.sequence, "start": wild_type.start, "name": wild_type.name},
        },
        {
            "id": registry.reference_id,
            "focus_sequence": registry.reference_sequence,
            "numbering": [int(n) for n in registry.numbering],
            "n_states": int(registry.alphabet.gap_code) + 1,
        },
        scorers,
    )
    onehot, density, latent, _ = predictor.features(codes)
    columns = mutated_columns(onehot, predictor.reference["n_states"])
    predictor.model, predictor.cv = fit_label_model(
        y,
        onehot,
        density,
        latent,
        cv=options.cv,
        folds=options.folds,
        alphas=options.alphas,
        seed=options.seed,
        columns=columns,
    )
    # the references the CLI prints: the one-hot ridge alone, cross-validated the same way
    _, alone = fit_label_model(
        y,
        onehot,
        None,
        cv=options.cv,
        folds=options.folds,
        alphas=options.alphas,
        seed=options.seed,
        columns=columns,
    )
    predictor.cv.rho.update(alone.rho)
    return predictor


def load_predictor(folder: str | Path, check_models: bool = True) -> LabelPredictor:
    """A predictor :meth:`LabelPredictor.save` wrote. Refuses (one line each) a damaged file and,
    with ``check_models``, a model directory whose files changed since fitting."""
    import json
    import zipfile

    folder = Path(folder)
    path = folder / PREDICTOR_FILE
    if not path.is_file():
        raise InputError(f"no {PREDICTOR_FILE}: not a predictor folder", folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
        spec = data["model"]
        model = LabelModel(
            spec["kind"],
            spec["alpha"],
            float(spec["intercept"]),
            arrays["density_coef"],
            arrays.get("onehot_weights"),
            arrays.get("latent_weights"),
            arrays.get("latent_mean"),
            arrays.get("latent_scale"),
        )
        cv = CrossValidation(**data["cv"])
        models = [m["path"] for m in data["models"]]
        checksums = {m["path"]: dict(m["checksums"]) for m in data["models"]}
        names = [m["name"] for m in data["models"]]
        settings, reference = dict(data["settings"]), dict(data["reference"])
        width = len(reference["numbering"]) * int(reference["n_states"])
        if model.density_coef.shape != (len(models),) or (
            model.onehot_weights is not None and model.onehot_weights.shape != (width,)
        ):
            raise ValueError("weights of the wrong shape")
    except FileNotFoundError as err:
        raise InputError(f"damaged predictor: {Path(err.filename).name} is missing", folder) from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"damaged predictor file ({type(err).__name__}: {err})", folder) from None
    if check_models:
        for model_path in models:
            if not Path(model_path).is_dir():
                raise InputError(
                    f"the model directory {model_path} the predictor was fitted with is gone", folder
                )
            now = model_checksums(model_path)
            changed = sorted(
                k for k in set(now) | set(checksums[model_path]) if now.get(k) != checksums[model_path].get(k)
            )
            if changed:
                raise InputError(
                    f"the model directory {model_path} changed since the predictor was fitted "
                    f"({', '.join(changed)}); fit the predictor again",
                    folder,
                )
    return LabelPredictor(models, checksums, names, model, cv, settings, reference)
