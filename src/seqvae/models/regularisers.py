"""Latent regularisers as strategies, like the likelihoods: β-KL and MMD (InfoVAE, IMQ kernel), each with
a linear warm-up of its weight.

A :class:`Regulariser` gives the weight in force at a step and the penalty that weight
multiplies in the loss, from the batch's z draws and its per-dimension KL. Another penalty on
the latent (the fitness study's KL free bits, ``benchmarks/study_variants.py``) is one more
subclass set as the model's ``regulariser``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import torch

if TYPE_CHECKING:
    from seqvae.models.vae import ModelConfig

IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per dimension, shape ``[B, d]``."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)


def kernel_matrix(a: torch.Tensor, b: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """Inverse multiquadric kernel values between rows of ``a`` and ``b``: the sum over scales s
    of C_s / (C_s + ||a-b||^2), C_s = s * 2 * d * bandwidth."""
    latent_dim = a.shape[1]
    distances = _squared_distances(a, b)
    total = torch.zeros_like(distances)
    for scale in IMQ_SCALES:
        c = scale * 2.0 * latent_dim * bandwidth
        total = total + c / (c + distances)
    return total


def mmd_unbiased(samples: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² estimate between two sample sets (diagonals dropped within each set)."""
    n = samples.shape[0]
    m = prior.shape[0]
    if n < 2 or m < 2:
        return samples.new_zeros(())
    k_xx = kernel_matrix(samples, samples)
    k_yy = kernel_matrix(prior, prior)
    k_xy = kernel_matrix(samples, prior)
    term_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    term_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return term_xx + term_yy - 2.0 * k_xy.mean()


class Regulariser(ABC):
    """``weight(step) · penalty`` in the loss, the weight ramped up from 0 over ``warmup_steps``."""

    name: ClassVar[str]

    def __init__(self, weight: float, warmup_steps: int = 0):
        self.full_weight = weight
        self.warmup_steps = warmup_steps

    def weight(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return self.full_weight
        return self.full_weight * min(1.0, step / self.warmup_steps)

    @abstractmethod
    def penalty(self, z: torch.Tensor, kl_dims: torch.Tensor) -> torch.Tensor:
        """The penalty of a batch: ``z`` ``[B, d]`` drawn from q(z|x), ``kl_dims`` ``[B, d]`` the
        KL(q(z|x) ‖ N(0, I)) of each sequence per latent dimension."""


class KLRegulariser(Regulariser):
    """β · KL(q(z|x) ‖ N(0, I)), the mean over the batch (β-VAE)."""

    name = "kl"

    def penalty(self, z: torch.Tensor, kl_dims: torch.Tensor) -> torch.Tensor:
        return kl_dims.sum(dim=-1).mean()


class MMDRegulariser(Regulariser):
    """λ · MMD²(q(z), N(0, I)) with the IMQ kernel, estimated against as many prior draws as the
    batch has rows (from torch's default generator, so that training stays reproducible)."""

    name = "mmd"

    def penalty(self, z: torch.Tensor, kl_dims: torch.Tensor) -> torch.Tensor:
        prior = torch.randn_like(z)
        return mmd_unbiased(z, prior)


def make_regulariser(config: ModelConfig) -> Regulariser:
    """The regulariser strategy of a model config."""
    if config.regulariser == "mmd":
        return MMDRegulariser(config.mmd_weight, config.warmup_steps)
    return KLRegulariser(config.beta, config.warmup_steps)
