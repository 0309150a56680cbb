"""seqvae: variational autoencoders for protein families.

Read and weight an alignment, train β-VAE (KL) or InfoVAE (MMD) models, embed and diagnose
the latent space, score mutations, generate sequences and compare what the VAE learns with
SCA, PCA and Potts models.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from seqvae.version import __version__ as __version__

# Each public name and the module it lives in, imported on first use (PEP 562): every command
# runs this file, and `seqvae --help` should not pay for torch, pandas and the analyses.
_HOMES = {
    "Run": "seqvae.api",
    "load": "seqvae.api",
    "resume": "seqvae.api",
    "train": "seqvae.api",
    "LabelOptions": "seqvae.analysis.labels",
    "LabelPredictor": "seqvae.analysis.labels",
    "fit_labels": "seqvae.analysis.labels",
    "load_predictor": "seqvae.analysis.labels",
    "Alignment": "seqvae.data.alignment",
    "AlignmentOptions": "seqvae.data.alignment",
    "AlignmentRegistry": "seqvae.data.alignment",
    "read_alignment": "seqvae.data.alignment",
    "DNA": "seqvae.data.alphabet",
    "PROTEIN": "seqvae.data.alphabet",
    "RNA": "seqvae.data.alphabet",
    "Alphabet": "seqvae.data.alphabet",
    "compute_sequence_weights": "seqvae.data.weights",
    "ConfigError": "seqvae.errors",
    "InputError": "seqvae.errors",
    "VAE": "seqvae.models.vae",
    "ModelConfig": "seqvae.models.vae",
    "DataConfig": "seqvae.training.config",
    "RunConfig": "seqvae.training.config",
    "TrainingConfig": "seqvae.training.config",
    "preset_config": "seqvae.training.config",
    "seed_everything": "seqvae.utils",
    "align": "seqvae.workflows.align",
}

# the library reports through loggers named seqvae.<module>; the application chooses the handlers
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DNA",
    "PROTEIN",
    "RNA",
    "VAE",
    "Alignment",
    "AlignmentOptions",
    "AlignmentRegistry",
    "Alphabet",
    "ConfigError",
    "DataConfig",
    "InputError",
    "LabelOptions",
    "LabelPredictor",
    "ModelConfig",
    "Run",
    "RunConfig",
    "TrainingConfig",
    "align",
    "compute_sequence_weights",
    "fit_labels",
    "load",
    "load_predictor",
    "preset_config",
    "read_alignment",
    "resume",
    "seed_everything",
    "train",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'seqvae' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


if TYPE_CHECKING:
    from seqvae.analysis.labels import LabelOptions, LabelPredictor, fit_labels, load_predictor
    from seqvae.api import Run, load, resume, train
    from seqvae.data.alignment import Alignment, AlignmentOptions, AlignmentRegistry, read_alignment
    from seqvae.data.alphabet import DNA, PROTEIN, RNA, Alphabet
    from seqvae.data.weights import compute_sequence_weights
    from seqvae.errors import ConfigError, InputError
    from seqvae.models.vae import VAE, ModelConfig
    from seqvae.training.config import DataConfig, RunConfig, TrainingConfig, preset_config
    from seqvae.utils import seed_everything
    from seqvae.workflows.align import align
