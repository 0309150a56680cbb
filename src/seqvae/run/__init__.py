"""The user-facing API over runs: train, resume, load.

A run directory as one object (:class:`Run`, :func:`load`, :func:`load_model`) is
:mod:`seqvae.run.artifact`; fitting one (:func:`train`, :func:`resume`) is
:mod:`seqvae.run.fitting`, over the kinds of training data in :mod:`seqvae.run.training_data`; its files and their checks against each other are
:mod:`seqvae.training.run_directory`. The CLI commands are thin wrappers over these functions.
"""

from seqvae.run.artifact import Run, collapse_warning, load, load_model
from seqvae.run.fitting import latent_usage_record, resume, train
from seqvae.run.training_data import sequence_weights_with_progress
from seqvae.training.run_directory import check_output_directory, read_config

__all__ = [
    "Run",
    "check_output_directory",
    "collapse_warning",
    "latent_usage_record",
    "load",
    "load_model",
    "read_config",
    "resume",
    "sequence_weights_with_progress",
    "train",
]
