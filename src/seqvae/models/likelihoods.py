"""Likelihoods p(x | z) as strategies, like the regularisers in :mod:`seqvae.models.regularisers`.

A :class:`Likelihood` says everything the :class:`~seqvae.models.vae.VAE` needs to know about
one kind of data, so the model has no branch on ``ModelConfig.likelihood``:

* what the encoder sees (:meth:`Likelihood.encoder_input`) and its first layer
  (:meth:`Likelihood.input_layer`: an embedding lookup on codes, or a linear layer);
* the decoder's output size and how its last layer becomes the distribution's parameters
  (:meth:`Likelihood.decoder_output`);
* its own learned parameters (:meth:`Likelihood.make_parameters`; they are registered on the
  model under these names, so the weights files keep their tensor names);
* ``log p(x | decoder output)`` per item (:meth:`Likelihood.log_prob`: per position, per
  dimension or per gene) and a draw from it (:meth:`Likelihood.sample`);
* its checks of the model config (:meth:`Likelihood.check_config`).

Adding a likelihood is one class here and one entry in :data:`LIKELIHOOD_CLASSES`.

Three are defined:

``categorical``
    Coded sequences ``uint8 [B, L]``: a per-position softmax over the residues (and the gap
    when ``model_gaps``; otherwise gap positions contribute nothing).
``gaussian``
    Float vectors ``[B, D]``: a mean per dimension and one learned log-variance per dimension
    (``output_logvar``).
``negative_binomial``
    Count matrices ``[B, G]`` (cells × genes), as in scVI (Lopez et al. 2018): the decoder gives
    per-gene proportions ρ (softmax over genes), the mean is μ = ℓ ρ with ℓ the cell's observed
    total count (library size), and each gene has a learned inverse dispersion θ (stored as
    ``log_inverse_dispersion``). The encoder sees log(1 + x).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from seqvae.errors import ConfigError
from seqvae.models.layers import CodeEmbedding

if TYPE_CHECKING:
    from seqvae.models.vae import ModelConfig

Fail = Callable[[str, str], None]


class Likelihood(ABC):
    """One kind of data and its distribution p(x | decoder output).

    Parameters
    ----------
    config
        The model's :class:`~seqvae.models.vae.ModelConfig` (already checked).
    """

    name: ClassVar[str]
    #: what the rows are, for messages: "sequences", "vectors", "cells"
    items: ClassVar[str] = "rows"

    def __init__(self, config: ModelConfig):
        self.config = config

    # -- configuration ---------------------------------------------------------------------
    @classmethod
    def check_config(cls, config: ModelConfig, fail: Fail) -> None:
        """Check the config fields this likelihood uses; ``fail(field, why)`` raises."""
        if config.length < 1:
            fail("length", "must be >= 1")

    @property
    def n_columns(self) -> int:
        """Columns of one data row (positions, dimensions, genes)."""
        return self.config.length

    # -- encoder ---------------------------------------------------------------------------
    def input_layer(self, hidden: int) -> nn.Module:
        """The encoder's first layer (data row -> ``hidden`` pre-activations)."""
        return nn.Linear(self.n_columns, hidden)

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder's first layer is given for the data ``x``."""
        return x

    def first_layer_flops(self, batch_size: int, hidden: int) -> float:
        """Forward + backward floating-point operations of the first layer (see ``step_flops``)."""
        return 6.0 * batch_size * self.n_columns * hidden

    # -- decoder ---------------------------------------------------------------------------
    @property
    def output_size(self) -> int:
        """Size of the decoder's last linear layer."""
        return self.n_columns

    def make_parameters(self) -> dict[str, nn.Parameter]:
        """The likelihood's own learned parameters, by the name the model registers them under."""
        return {}

    def decoder_output(self, out: torch.Tensor) -> torch.Tensor:
        """The decoder's last layer ``[B, output_size]`` as the distribution's parameters."""
        return out

    @abstractmethod
    def log_prob(
        self, x: torch.Tensor, decoded: torch.Tensor, extra: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """``log p(x | decoded)`` per item (position, dimension or gene), ``[B, n_columns]``.

        ``extra`` holds the parameters of :meth:`make_parameters` (as registered on the model).
        """

    @abstractmethod
    def sample(
        self,
        decoded: torch.Tensor,
        extra: Mapping[str, torch.Tensor],
        generator: torch.Generator | None = None,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One draw of x from p(x | decoded) per row."""


class CategoricalLikelihood(Likelihood):
    """Coded sequences: a softmax per position (see the module docstring)."""

    name = "categorical"
    items = "sequences"

    @classmethod
    def check_config(cls, config: ModelConfig, fail: Fail) -> None:
        super().check_config(config, fail)
        if config.alphabet_size < 2:
            fail("alphabet_size", "must be >= 2")

    @property
    def n_states(self) -> int:
        """States the decoder predicts per position (the gap only when it is modelled)."""
        config = self.config
        return config.alphabet_size if config.model_gaps else config.alphabet_size - 1

    def input_layer(self, hidden: int) -> nn.Module:
        config = self.config
        return CodeEmbedding(config.length, config.alphabet_size, hidden, config.model_gaps)

    def first_layer_flops(self, batch_size: int, hidden: int) -> float:
        # an embedding lookup: B·L·H additions forward and backward
        return 2.0 * batch_size * self.config.length * hidden

    @property
    def output_size(self) -> int:
        return self.config.length * self.n_states

    def decoder_output(self, out: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``[B, L, S]``."""
        return torch.log_softmax(out.view(out.shape[0], self.config.length, self.n_states), dim=-1)

    def log_prob(
        self, x: torch.Tensor, decoded: torch.Tensor, extra: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        codes = x.long()
        if self.config.model_gaps:
            return decoded.gather(-1, codes.unsqueeze(-1)).squeeze(-1)
        gap = self.config.alphabet_size - 1
        is_gap = codes == gap
        safe = torch.where(is_gap, 0, codes)
        terms = decoded.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
        return terms.masked_fill(is_gap, 0.0)

    def sample(
        self,
        decoded: torch.Tensor,
        extra: Mapping[str, torch.Tensor],
        generator: torch.Generator | None = None,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``uint8 [B, L]`` codes, each position drawn from its softmax."""
        batch, length, states = decoded.shape
        flat = torch.multinomial(decoded.exp().reshape(-1, states), 1, generator=generator)
        return flat.view(batch, length).to(torch.uint8)


class GaussianLikelihood(Likelihood):
    """Float vectors: N(mean, σ²) per dimension with one learned log σ² per dimension."""

    name = "gaussian"
    items = "vectors"

    def make_parameters(self) -> dict[str, nn.Parameter]:
        return {"output_logvar": nn.Parameter(torch.zeros(self.config.length))}

    def log_prob(
        self, x: torch.Tensor, decoded: torch.Tensor, extra: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        logvar = extra["output_logvar"]
        return -0.5 * ((x - decoded).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi))

    def sample(
        self,
        decoded: torch.Tensor,
        extra: Mapping[str, torch.Tensor],
        generator: torch.Generator | None = None,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        noise = torch.randn(decoded.shape, generator=generator, dtype=decoded.dtype, device=decoded.device)
        return decoded + noise * torch.exp(0.5 * extra["output_logvar"])


def negative_binomial_log_prob(
    x: torch.Tensor, log_mean: torch.Tensor, log_inverse_dispersion: torch.Tensor
) -> torch.Tensor:
    """log NB(x; μ, θ) elementwise, from log μ and log θ (mean μ, variance μ + μ²/θ).

    ``lgamma(x + θ) − lgamma(θ) − lgamma(x + 1) + θ (log θ − log(θ + μ)) + x (log μ − log(θ + μ))``
    with ``log(θ + μ)`` as a log-sum-exp, so neither a huge θ nor a tiny μ loses precision; a
    zero count with μ = 0 (log μ = −inf) is log 1 = 0.
    """
    theta = log_inverse_dispersion.exp()
    log_theta_mu = torch.logaddexp(log_inverse_dispersion, log_mean)
    x_term = torch.where(x > 0, x * (log_mean - log_theta_mu), torch.zeros_like(log_mean))
    return (
        torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1.0)
        + theta * (log_inverse_dispersion - log_theta_mu)
        + x_term
    )


def log_library_size(x: torch.Tensor) -> torch.Tensor:
    """log ℓ per row, ``[B, 1]``: the log of the row's total count (an empty row counts as 1)."""
    return torch.log(x.sum(dim=-1, keepdim=True).clamp(min=1.0))


class NegativeBinomialLikelihood(Likelihood):
    """Counts (cells × genes) as in scVI: μ = library size × softmax proportions, per-gene θ."""

    name = "negative_binomial"
    items = "cells"

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x)

    def make_parameters(self) -> dict[str, nn.Parameter]:
        # θ = 1 at the start (variance μ + μ²): learned per gene
        return {"log_inverse_dispersion": nn.Parameter(torch.zeros(self.config.length))}

    def decoder_output(self, out: torch.Tensor) -> torch.Tensor:
        """Log-proportions log ρ ``[B, G]`` (each row's proportions sum to 1)."""
        return torch.log_softmax(out, dim=-1)

    def log_prob(
        self, x: torch.Tensor, decoded: torch.Tensor, extra: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        log_mean = decoded + log_library_size(x)
        return negative_binomial_log_prob(x, log_mean, extra["log_inverse_dispersion"])

    def sample(
        self,
        decoded: torch.Tensor,
        extra: Mapping[str, torch.Tensor],
        generator: torch.Generator | None = None,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Counts ``float32 [B, G]`` drawn as Poisson(Gamma(θ, θ/μ)), μ = ``library`` × ρ.

        ``library`` is the total count per row, ``[B]`` or ``[B, 1]`` (required: the decoder
        gives proportions only).
        """
        if library is None:
            raise ConfigError("a negative-binomial draw needs the library size (total count) of each cell")
        library = torch.as_tensor(library, dtype=decoded.dtype, device=decoded.device).reshape(-1, 1)
        mean = decoded.exp() * library
        theta = extra["log_inverse_dispersion"].exp().expand_as(mean)
        # Gamma(shape θ, rate θ/μ) = (μ/θ) · Gamma(θ, 1), drawn with the generator (torch's own
        # gamma sampler takes none, so draws would not be reproducible from a seed)
        rate = _standard_gamma(theta, generator) * mean / theta
        return torch.poisson(rate, generator=generator)


def _standard_gamma(shape: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Gamma(shape, 1) draws with ``generator`` (Marsaglia & Tsang 2000, boosted below 1)."""
    boost = shape < 1.0
    alpha = torch.where(boost, shape + 1.0, shape)
    d = alpha - 1.0 / 3.0
    c = 1.0 / torch.sqrt(9.0 * d)
    out = torch.zeros_like(alpha)
    pending = torch.ones_like(alpha, dtype=torch.bool)
    for _ in range(64):  # each round accepts >= 95 % of what is left
        normal = torch.randn(alpha.shape, generator=generator, dtype=alpha.dtype, device=alpha.device)
        uniform = torch.rand(alpha.shape, generator=generator, dtype=alpha.dtype, device=alpha.device)
        v = (1.0 + c * normal) ** 3
        accept = (v > 0) & (
            torch.log(uniform.clamp(min=1e-30))
            < 0.5 * normal**2 + d - d * v + d * torch.log(v.clamp(min=1e-30))
        )
        take = pending & accept
        out = torch.where(take, d * v, out)
        pending = pending & ~take
        if not bool(pending.any()):
            break
    out = torch.where(pending, alpha, out)  # practically never: the mean
    if bool(boost.any()):
        uniform = torch.rand(alpha.shape, generator=generator, dtype=alpha.dtype, device=alpha.device)
        out = torch.where(boost, out * uniform.clamp(min=1e-30) ** (1.0 / shape.clamp(min=1e-30)), out)
    return out


LIKELIHOOD_CLASSES: dict[str, type[Likelihood]] = {
    cls.name: cls for cls in (CategoricalLikelihood, GaussianLikelihood, NegativeBinomialLikelihood)
}


def likelihood_class(name: str) -> type[Likelihood]:
    """The :class:`Likelihood` of a ``ModelConfig.likelihood`` name."""
    try:
        return LIKELIHOOD_CLASSES[name]
    except KeyError:
        raise ConfigError(
            f"model.likelihood: must be one of {tuple(LIKELIHOOD_CLASSES)} (got {name!r})",
            field="model.likelihood",
        ) from None


def make_likelihood(config: ModelConfig) -> Likelihood:
    """The likelihood strategy of a model config."""
    return likelihood_class(config.likelihood)(config)
