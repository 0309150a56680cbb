"""seqvae: variational autoencoders for protein families.

Read and weight an alignment, train β-VAE (KL) or InfoVAE (MMD) models, embed and diagnose
the latent space, score mutations, generate sequences and compare what the VAE learns with
SCA, PCA and Potts models.
"""

from seqvae.analysis.labels import LabelOptions, LabelPredictor, fit_labels, load_predictor
from seqvae.data.alignment import Alignment, AlignmentOptions, AlignmentRegistry, read_alignment
from seqvae.data.alphabet import DNA, PROTEIN, RNA, Alphabet
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import ConfigError, InputError
from seqvae.models.vae import VAE, ModelConfig
from seqvae.run import Run, load, resume, train
from seqvae.training.config import DataConfig, RunConfig, TrainingConfig, preset_config
from seqvae.utils import seed_everything
from seqvae.version import __version__ as __version__
from seqvae.workflows.align import align

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
