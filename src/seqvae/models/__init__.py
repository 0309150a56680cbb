"""Torch modules: encoders, decoders, likelihoods and regularisers. Models never read files."""

from seqvae.models.losses import LossTerms
from seqvae.models.regularisers import KLRegulariser, MMDRegulariser, mmd_unbiased
from seqvae.models.vae import VAE, ModelConfig

__all__ = ["VAE", "KLRegulariser", "LossTerms", "MMDRegulariser", "ModelConfig", "mmd_unbiased"]
