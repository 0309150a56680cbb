"""What a run trains on, one class per kind of data: sequences, counts, continuous vectors.

Each kind fills in the model's part of the config from its data (likelihood, input shape), holds
the model's input rows with their weights and ids, and writes its own part of the run directory
(the ``registry.json`` record and ``data/``). :func:`training_data` picks the kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from seqvae.data.alignment import Alignment, AlignmentRegistry
from seqvae.data.counts import INPUT_TRANSFORMS, CountMatrix, SparseRows
from seqvae.errors import ConfigError, InputError
from seqvae.progress import Progress, tracking
from seqvae.training import run_directory as files
from seqvae.training.config import RunConfig

__all__ = [
    "ContinuousData",
    "CountData",
    "SequenceData",
    "TrainingData",
    "sequence_weights_with_progress",
    "training_data",
]

# from about this many sequences the weights take more than a few seconds (they grow as N²)
WEIGHTS_PROGRESS_ROWS = 20_000


def sequence_weights_with_progress(
    alignment: Alignment, theta: float | None, progress: Progress | None = None
) -> np.ndarray:
    """:meth:`~seqvae.data.alignment.Alignment.set_weights` of ``alignment`` (in place),
    reported to ``progress`` as the task ``sequence weights`` (in products of two row blocks)
    for alignments of :data:`WEIGHTS_PROGRESS_ROWS` sequences or more (200,000 sequences take
    minutes on two cores). Returns the weights."""
    if progress is None or alignment.n_sequences < WEIGHTS_PROGRESS_ROWS:
        progress = Progress()
    with tracking(progress, "sequence weights", unit="blocks") as tracked:
        return alignment.set_weights(theta, progress=lambda done, total: tracked.update(done, total))


class TrainingData(Protocol):
    """One kind of training data, ready for the trainer and the run directory."""

    # read-only here, so that each kind may hold a narrower type (SequenceData's rows: a tensor)
    @property
    def rows(self) -> torch.Tensor | SparseRows: ...

    @property
    def weights(self) -> np.ndarray: ...

    @property
    def ids(self) -> list[str]: ...

    @property
    def registry(self) -> AlignmentRegistry | None:
        """Sequences only."""
        ...

    @property
    def genes(self) -> list[str] | None:
        """Counts only."""
        ...

    def registry_record(self, config: RunConfig) -> dict:
        """What ``registry.json`` records of the data."""
        ...

    def save(self, out: Path, mask: np.ndarray) -> None:
        """Write ``data/`` of the run directory (``mask``: the validation rows)."""
        ...


def _record(data: TrainingData, kind: str, theta: float | None, filter_report: dict) -> dict:
    """The fields of ``registry.json`` that every kind of data has."""
    return {
        "kind": kind,
        "registry": None if data.registry is None else data.registry.to_dict(),
        "theta": theta,
        "filter_report": filter_report,
        "n_sequences": len(data.rows),
        "n_eff": float(data.weights.sum()),
    }


class SequenceData:
    """An aligned family, coded with its registry and weighted (categorical likelihood)."""

    genes = None

    def __init__(self, alignment: Alignment, config: RunConfig, progress: Progress | None = None):
        config.model.likelihood = "categorical"
        config.model.length = alignment.length
        config.model.alphabet_size = alignment.alphabet.size
        weights = alignment.sequence_weights
        if weights is None:
            weights = sequence_weights_with_progress(alignment, config.data.theta, progress)
        self.rows = torch.from_numpy(np.ascontiguousarray(alignment.codes))
        self.weights = np.asarray(weights, np.float64)
        self.ids = list(alignment.ids)
        self.registry: AlignmentRegistry | None = alignment.registry
        self.filter_report = alignment.filter_report

    def registry_record(self, config: RunConfig) -> dict:
        return _record(self, "sequences", config.data.theta, self.filter_report)

    def save(self, out: Path, mask: np.ndarray) -> None:
        files.save_training_data(out, self.rows.numpy(), self.weights, self.ids, mask)


class CountData:
    """A count matrix of cells by genes, every cell weighted 1 (negative-binomial likelihood,
    or Gaussian on log(1 + counts))."""

    registry = None

    def __init__(self, counts: CountMatrix, config: RunConfig):
        config.model.likelihood = _count_likelihood(config, counts.source)
        config.model.length = counts.n_genes
        self.counts = counts
        self.rows = counts.rows(INPUT_TRANSFORMS[config.model.likelihood])
        self.weights = np.ones(counts.n_cells, dtype=np.float64)
        self.ids = list(counts.cells)
        self.genes: list[str] | None = list(counts.genes)

    def registry_record(self, config: RunConfig) -> dict:
        counts = self.counts
        library = counts.library_sizes()
        return _record(self, "counts", None, {}) | {
            "likelihood": config.model.likelihood,
            "input": "log1p(counts)" if INPUT_TRANSFORMS[config.model.likelihood] else "counts",
            "source": counts.source,
            "layer": counts.layer,
            "n_cells": counts.n_cells,
            "n_genes": counts.n_genes,
            "library_size": {
                "min": float(library.min()),
                "median": float(np.median(library)),
                "max": float(library.max()),
            },
            "metadata_columns": [] if counts.obs is None else [str(c) for c in counts.obs.columns],
            "genes": list(counts.genes),
        }

    def save(self, out: Path, mask: np.ndarray) -> None:
        counts = self.counts
        files.save_training_counts(out, counts.counts, self.weights, self.ids, mask, counts.metadata())


class ContinuousData:
    """Real vectors ``[N, D]``, every row weighted 1 (Gaussian likelihood)."""

    registry = None
    genes = None

    def __init__(self, array: np.ndarray, config: RunConfig):
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2 or len(array) < 2:
            raise InputError("continuous data must be a 2-D array with at least 2 rows")
        config.model.likelihood = "gaussian"
        config.model.length = array.shape[1]
        self.rows = torch.from_numpy(array)
        self.weights = np.ones(len(array), dtype=np.float64)
        self.ids = [f"row{i}" for i in range(len(array))]

    def registry_record(self, config: RunConfig) -> dict:
        return _record(self, "continuous", config.data.theta, {})

    def save(self, out: Path, mask: np.ndarray) -> None:
        files.save_training_data(out, self.rows.numpy(), self.weights, self.ids, mask)


def training_data(
    data: Alignment | CountMatrix | np.ndarray, config: RunConfig, progress: Progress | None = None
) -> TrainingData:
    """``data`` as its kind of :class:`TrainingData`; ``config.model`` is filled in from it
    (``progress``: where the sequence weights report)."""
    if isinstance(data, CountMatrix):
        return CountData(data, config)
    if isinstance(data, Alignment):
        return SequenceData(data, config, progress)
    return ContinuousData(data, config)


def _count_likelihood(config: RunConfig, source: str) -> str:
    """The likelihood of a run on counts: negative_binomial unless gaussian (on log(1 + x)) is
    asked for; the default ``categorical`` means "choose for the data"."""
    likelihood = config.model.likelihood
    if likelihood == "categorical":
        return "negative_binomial"
    if likelihood not in INPUT_TRANSFORMS:
        raise ConfigError(
            f"model.likelihood: a count matrix takes negative_binomial or gaussian (on log(1 + counts)), "
            f"not {likelihood!r}",
            source,
            field="model.likelihood",
        )
    return likelihood
