"""Fitness predictors that learn from a few measured variants: Hsu et al. (2022)'s augmented model.

Features of a variant: the one-hot of its focus columns relative to the wild type, one column
per model's zero-shot score (the "density" block, unpenalised) and, optionally, a VAE's latent
mean z; a ridge regression with one penalty per block (the estimator on arrays:
:mod:`seqvae.analysis.label_models`). Inner K-fold cross-validation
picks, by the Spearman ρ of the pooled out-of-fold predictions, among the zero-shot score
itself, the density columns alone (when there are several) and the augmented model at each α:
labels can then only replace the zero-shot ranking where held-out rows say they improve it.
The folds follow the intended use: ``random`` (new variants at measured positions) or
``positions`` (whole positions held out: new positions).

For whole aligned sequences the learner may instead be a Gaussian process on the first VAE's
latent mean z (``learner="gp"``, :class:`~seqvae.analysis.label_models.GPLabelModel`): it
predicts an sd beside each prediction, and is cross-validated on the same folds.

:func:`fit_labels` does it for run or baseline directories and a scan (or aligned sequences);
:class:`LabelPredictor` predicts, saves (``predictor.json`` + ``weights.npz``, never pickle) and
:func:`load_predictor` refuses a model directory changed since fitting. :func:`fit_label_model`
(the estimator on arrays) and :func:`label_splits` (the train/test splits) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from seqvae.analysis.label_models import (
    ALPHAS,
    CV_KINDS,
    LEARNERS,
    CrossValidation,
    GPLabelModel,
    LabelModel,
    Learner,
    check_labels,
    fit_gp_model,
    fit_label_model,
    inner_folds,
    label_splits,
    learner_from,
    learning_curve,
    mutated_columns,
    onehot_features,
)
from seqvae.analysis.mutations import (
    MappedChunk,
    MutationMapper,
    WildType,
    detect_separator,
    map_table,
    read_mutation_table,
    variant_columns,
)
from seqvae.analysis.scorers import EnsembleScorer, Scorer, ScoringOptions, load_scorers, unique_name
from seqvae.analysis.scoring import (
    OUTPUT_FORMATS,
    _formatted,
    _numeric_column,
    _proteingym_table,
    read_aligned_sequences,
)
from seqvae.errors import ConfigError, InputError
from seqvae.executor import file_digest
from seqvae.io.atomic import atomic_open, atomic_path, write_json
from seqvae.io.output_dirs import DirectoryKind, claim_directory
from seqvae.io.tables import read_table
from seqvae.options import Boolean, Integer, Interval, ListOf, OneOf, Options, register
from seqvae.utils import release_free_memory

PREDICTOR_FILE = "predictor.json"
WEIGHTS_FILE = "weights.npz"
PREDICTOR_DIRECTORY = DirectoryKind(
    "seqvae predictor folder", markers=(PREDICTOR_FILE,), entries=(PREDICTOR_FILE, WEIGHTS_FILE)
)
# the files of a run or baseline directory whose content the predictor's weights depend on
MODEL_FILES = ("config.json", "registry.json", "baseline.json", "model.safetensors")
PREDICTION_COLUMN = "prediction"
#: the GP's predictive sd; a ridge's predictions have no such column
SD_COLUMN = "sd"
CHUNK_ROWS = 50_000
FORMAT_VERSION = 1

__all__ = [
    "ALPHAS",
    "CV_KINDS",
    "CrossValidation",
    "GPLabelModel",
    "LabelModel",
    "LabelOptions",
    "LabelPredictor",
    "check_labels",
    "fit_label_model",
    "fit_labels",
    "inner_folds",
    "label_splits",
    "load_predictor",
    "mutated_columns",
    "onehot_features",
]


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
        Add the first VAE's latent mean z as a block (of the ridge).
    learner
        ``ridge`` (the augmented model, chosen by cross-validation) or ``gp`` (whole sequences
        only: a Gaussian process on the first VAE's latent mean z, with a predictive sd).
    """

    cv: str = "random"
    folds: int = 5
    alphas: list[float] = field(default_factory=lambda: list(ALPHAS))
    seed: int = 0
    latent: bool = False
    learner: str = "ridge"

    section: ClassVar[str] = "labels"
    constraints: ClassVar[dict] = {
        "cv": OneOf(CV_KINDS),
        "folds": Integer(2, 50),
        "alphas": ListOf(Interval(0, None, closed="neither"), min_length=1, distinct=True),
        "seed": Integer(),
        "latent": Boolean(),
        "learner": OneOf(LEARNERS),
    }


# -- the predictor on model directories -------------------------------------------------------------
def model_checksums(path: str | Path) -> dict[str, str]:
    """The content digest of each of a run or baseline directory's :data:`MODEL_FILES`."""

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
        The fitted learner: a :class:`LabelModel` or a :class:`GPLabelModel`.
    cv
        The inner cross-validation that chose it (for the GP: that judged it).
    settings
        The label column, the kind of input (``variants`` or ``sequences``), the options, the
        scoring options, the mutation separator and the wild type that numbers the variants.
    reference
        The reference's id, focus sequence and numbering, and the one-hot's states.
    """

    models: list[str]
    checksums: dict[str, dict[str, str]]
    names: list[str]
    model: Learner
    cv: CrossValidation
    settings: dict[str, Any]
    reference: dict[str, Any]
    _scorers: list[Scorer] | None = field(default=None, repr=False)
    #: the learning curve of the labels it was fitted on (:func:`~seqvae.analysis.label_models.learning_curve`)
    learning_curve: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"LabelPredictor({self.cv.chosen}, models={self.names}, "
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
        options = self.options
        latent = None
        if options.learner == GPLabelModel.kind:
            latent = latent_means(self.scorers, codes, "labels.learner")
        elif options.latent:
            latent = latent_means(self.scorers, codes)
        return onehot, density, latent, columns

    def predict_codes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """Predictions ``float [B]`` of coded focus sequences, their sd (the GP's; None for the
        ridge) and the zero-shot score columns."""
        onehot, density, latent, columns = self.features(np.asarray(codes, dtype=np.uint8))
        return *self.model.predict_with_sd(onehot, density, latent), columns

    def _predicted(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """The output columns of coded focus sequences: each model's score, ``prediction`` and,
        for the GP, ``sd``."""
        predicted, sd, columns = self.predict_codes(codes)
        out = {**columns, PREDICTION_COLUMN: predicted}
        if sd is not None:
            out[SD_COLUMN] = sd
        return out

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
                table = pd.DataFrame(
                    {"id": alignment.ids[start : start + chunk_size], "n_differences": (codes != wild).sum(1)}
                )
                yield table, self._predicted(codes)
            return
        if self.model.kind == GPLabelModel.kind:
            raise InputError(
                "a gp predictor predicts whole aligned sequences (sequences), not variants: the "
                "variants of one wild type all sit next to its latent mean z"
            )
        mapper = self.mapper()
        # the separator between substitutions: ':' or '/', whichever the table uses
        chunks = _mapped_chunks(
            data, mapper, mutant_column, sequence_column, skip_mismatches, sep, None, (), chunk_size
        )
        for chunk in chunks:
            out = {}
            for name, values in self._predicted(chunk.codes).items():
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
        zero-shot score (a column named by its directory), ``prediction`` (empty, with a
        ``reason``, where a variant cannot be scored) and, for a GP, its sd ``sd`` (a ridge
        predictor writes no such column)."""
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
            "model": self.model.to_dict(),
            "cv": self.cv.to_dict(),
            "learning_curve": self.learning_curve,
            "settings": self.settings,
            "reference": self.reference,
        }

    def save(self, folder: str | Path, overwrite: bool = False) -> dict[str, Path]:
        """Write ``predictor.json`` and ``weights.npz`` into ``folder`` (claimed as a predictor
        folder: a folder holding anything else is refused; each file written atomically)."""
        with claim_directory(folder, PREDICTOR_DIRECTORY, overwrite) as out:
            with atomic_path(out / WEIGHTS_FILE) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, **self.model.arrays())  # type: ignore[arg-type]  # numpy stub: **kwds
            write_json(out / PREDICTOR_FILE, self.to_dict())
        return {"predictor": Path(folder) / PREDICTOR_FILE, "weights": Path(folder) / WEIGHTS_FILE}


def _check_same_registry(scorers: list[Scorer]) -> None:
    if len(scorers) > 1:
        EnsembleScorer(scorers)  # refuses models of other references or focus columns


def latent_means(scorers: Sequence[Scorer], codes: np.ndarray, field: str = "labels.latent") -> np.ndarray:
    """The latent mean z of coded sequences under the first VAE among ``scorers``, ``[B, d]``
    (``field``: the option that asked for z, named when no model is a VAE)."""
    import torch

    vae = next((s for s in scorers if hasattr(s, "model") and hasattr(s.model, "encode")), None)
    if vae is None:
        raise ConfigError(f"{field}: needs a VAE run among the models", field=field)
    with torch.no_grad():
        parts = [
            vae.model.encode(torch.from_numpy(np.asarray(codes[i : i + 4096])).to(vae.device))[0]
            .double()
            .cpu()
            .numpy()
            for i in range(0, len(codes), 4096)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, vae.model.config.latent_dim))


def _mapped_chunks(
    data: pd.DataFrame | str | Path,
    mapper,
    mutant_column,
    sequence_column,
    skip_mismatches: bool,
    sep: str | None,
    separator: str | None,
    required_columns: tuple[str, ...] = (),
    chunk_size: int = CHUNK_ROWS,
) -> Iterable[MappedChunk]:
    """The variants of a DataFrame (one chunk) or of a scan file (streamed, as ``score`` reads it),
    mapped onto the models' focus columns."""
    if isinstance(data, pd.DataFrame):
        return [_map_frame(data, mapper, mutant_column, sequence_column, skip_mismatches, separator)]
    return (
        chunk
        for chunk, _ in read_mutation_table(
            data,
            mapper,
            mutant_column,
            sequence_column,
            required_columns=required_columns,
            skip_mismatches=skip_mismatches,
            sep=sep,
            mutation_separator=separator,
            chunk_size=chunk_size,
        )
    )


def _map_frame(table: pd.DataFrame, mapper, mutant_column, sequence_column, skip_mismatches, separator):
    """A DataFrame of variants mapped like a scan file's chunk (a missing column: one line naming it)."""
    mutant_column, sequence_column = variant_columns(
        list(table.columns), mutant_column, sequence_column, source="table"
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
    chunks = _mapped_chunks(
        labels,
        mapper,
        mutant_column,
        sequence_column,
        skip_mismatches,
        sep,
        mutation_separator,
        (label_column,),
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
            "check the numbering (wild_type numbers a trimmed reference row)",
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

    alignment = read_aligned_sequences(sequences, registry, sequence_column, None)
    if isinstance(labels, pd.DataFrame):
        table, source = labels.astype(str), "labels"
    else:
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

    With ``options.learner == "gp"`` (whole sequences only) the predictor is a Gaussian process on
    the first VAE's latent mean z; ``cv.rho`` holds its cross-validated ρ (``gp``) beside the
    zero-shot score's and the one-hot ridge's on the same folds.
    """
    options = (options or LabelOptions()).check()
    _check_learner(options, whole_sequences=sequences is not None)
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
    settings = {
        "label_column": label_column,
        "input": "sequences" if sequences is not None else "variants",
        "options": options.to_dict(),
        "scoring": scoring.to_dict(),
        "mutation_separator": mutation_separator,
        "wild_type": None
        if wild_type is None
        else {"sequence": wild_type.sequence, "start": wild_type.start, "name": wild_type.name},
    }
    predictor = _unfitted_predictor(paths, scorers, settings, options, len(y))
    _fit(predictor, codes, y, options)
    return predictor


def _check_learner(options: LabelOptions, whole_sequences: bool) -> None:
    """Refuse the GP learner where it cannot work: on variants, or beside the ridge's z block."""
    gp = options.learner == GPLabelModel.kind
    if gp and not whole_sequences:
        raise ConfigError(
            "labels.learner: gp is for whole aligned sequences, not variants: the variants of one "
            "wild type all sit next to its latent mean z, where a GP on z cannot tell them apart",
            field="labels.learner",
        )
    if gp and options.latent:
        raise ConfigError(
            "labels.latent: the z block is the ridge's; the gp learner is fitted on z already",
            field="labels.latent",
        )


def _unfitted_predictor(
    paths: list[str], scorers: list[Scorer], settings: dict[str, Any], options: LabelOptions, n_labels: int
) -> LabelPredictor:
    """A predictor of the models at ``paths`` (named by their directories), its learner not yet
    fitted."""
    names: list[str] = []
    for path in paths:
        names.append(unique_name(Path(path).name, names))
    registry = scorers[0].registry
    return LabelPredictor(
        paths,
        {p: model_checksums(p) for p in paths},
        names,
        LabelModel("zero-shot", None, 0.0, np.zeros(0)),
        CrossValidation({}, "", options.cv, options.folds, n_labels),
        settings,
        {
            "id": registry.reference_id,
            "focus_sequence": registry.reference_sequence,
            "numbering": [int(n) for n in registry.numbering],
            "n_states": int(registry.alphabet.gap_code) + 1,
        },
        scorers,
    )


def _fit(predictor: LabelPredictor, codes: np.ndarray, y: np.ndarray, options: LabelOptions) -> None:
    """Fit the learner on the labelled rows' features, with the references the CLI prints
    (cross-validated on the same folds) and the learning curve."""
    onehot, density, latent, _ = predictor.features(codes)
    folds: dict[str, Any] = {
        "cv": options.cv,
        "folds": options.folds,
        "seed": options.seed,
        "columns": mutated_columns(onehot, predictor.reference["n_states"]),
    }
    references = [fit_label_model(y, onehot, None, alphas=options.alphas, **folds)[1]]
    if options.learner == GPLabelModel.kind:
        assert latent is not None  # features() gives the gp learner z
        predictor.model, predictor.cv = fit_gp_model(y, latent, **folds)
        references.append(fit_label_model(y, None, density, **folds)[1])
    else:
        predictor.model, predictor.cv = fit_label_model(
            y, onehot, density, latent, alphas=options.alphas, **folds
        )
    # the references the CLI prints (the one-hot ridge alone; for the GP, the zero-shot score
    # too), cross-validated on the same folds
    for reference in references:
        predictor.cv.rho.update(reference.rho)
    predictor.learning_curve = learning_curve(
        y, onehot, density, latent, alphas=options.alphas, learner=options.learner, **folds
    )


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
        model = learner_from(data["model"], arrays)
        cv = CrossValidation(**data["cv"])
        models = [m["path"] for m in data["models"]]
        checksums = {m["path"]: dict(m["checksums"]) for m in data["models"]}
        names = [m["name"] for m in data["models"]]
        settings, reference = dict(data["settings"]), dict(data["reference"])
        width = len(reference["numbering"]) * int(reference["n_states"])
        if isinstance(model, LabelModel) and (
            model.density_coef.shape != (len(models),)
            or (model.onehot_weights is not None and model.onehot_weights.shape != (width,))
        ):
            raise ValueError("weights of the wrong shape")
    except FileNotFoundError as err:
        raise InputError(f"damaged predictor: {Path(err.filename).name} is missing", folder) from None
    # RuntimeError: torch's Cholesky of a damaged GP's kernel matrix
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, zipfile.BadZipFile, EOFError) as err:
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
    return LabelPredictor(
        models,
        checksums,
        names,
        model,
        cv,
        settings,
        reference,
        learning_curve=data.get("learning_curve", []),
    )
