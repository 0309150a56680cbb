"""The VAE: an MLP encoder (its first layer an embedding lookup on uint8 codes, or a linear
layer), a Gaussian q(z|x), and an MLP decoder whose output the likelihood strategy turns into
p(x|z): categorical (per-position log-softmax), Gaussian, or negative binomial for counts
(:mod:`seqvae.models.likelihoods`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from seqvae.errors import ConfigError
from seqvae.models.layers import CodeEmbedding as CodeEmbedding  # re-exported: importable from here too
from seqvae.models.likelihoods import (
    LIKELIHOOD_CLASSES,
    CategoricalLikelihood,
    Likelihood,
    make_likelihood,
)
from seqvae.models.losses import LossTerms
from seqvae.models.regularisers import Regulariser, gaussian_kl, make_regulariser
from seqvae.options import Boolean, Integer, Interval, ListOf, OneOf, Options, register

ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}
LIKELIHOODS = tuple(LIKELIHOOD_CLASSES)  # categorical, gaussian, negative_binomial
REGULARISERS = ("kl", "mmd")
# upper bounds on the sizes a config may ask for: beyond them an allocation would exhaust memory
MAX_LATENT_DIM = 4096
MAX_LAYER_WIDTH = 65536
MAX_PARAMETERS = 500_000_000
DECODER_L2_SCALINGS = ("constant", "sqrt_neff_length")
#: the variational decoder's initial log σ² of every weight (DeepSequence: log σ = -5)
DECODER_LOGVAR_INIT = -10.0


@register
@dataclass
class ModelConfig(Options):
    """Architecture and objective of a :class:`VAE`. Validated in :meth:`validate`.

    Parameters
    ----------
    likelihood
        ``categorical`` for coded sequences, ``gaussian`` for continuous vectors,
        ``negative_binomial`` for count matrices (cells × genes, scVI's likelihood); see
        :mod:`seqvae.models.likelihoods`.
    length, alphabet_size
        Columns of a data row (positions L of a sequence, dimensions D of a vector, genes G of a
        cell) and, for sequences, the number of codes Q including the gap. Training fills both
        in from the data.
    model_gaps
        Categorical only. ``False`` (DeepSequence): gaps are masked out of the likelihood and
        the decoder predicts residues only. ``True``: the gap is a state like any residue
        (needed to generate aligned sequences with gaps).
    latent_dim
        Size d of z (any d >= 1).
    encoder_hidden, decoder_hidden
        Hidden layer sizes.
    activation
        Hidden activation.
    dropout
        Dropout on hidden layers during training.
    regulariser
        ``kl`` (β-VAE) or ``mmd`` (InfoVAE, with an inverse multiquadric kernel); see
        :mod:`seqvae.models.regularisers`.
    beta
        KL weight (kl); the KL is still reported under mmd.
    mmd_weight
        λ for mmd.
    warmup_steps
        Linear warm-up of β or λ from 0.
    decoder_l2
        Strength c of a Gaussian prior on decoder weights: c · ½‖W‖² / N_eff per sequence.
    decoder_l2_scaling
        ``constant``: c is ``decoder_l2`` whatever the data. ``sqrt_neff_length``: c =
        ``decoder_l2`` · L · √N_eff, so the prior's weight against the reconstruction term, a sum
        over N_eff · L residues, falls as 1 / √N_eff whatever the length L (the ``fitness``
        preset's prior).
    decoder_bayesian
        Variational decoder (Riesselman et al. 2018, DeepSequence): every decoder weight and bias
        has a mean-field Gaussian posterior N(μ, σ²) under a N(0, 1) prior; training samples
        the weights once per step and adds KL(q(W) ‖ N(0, 1)) / N_eff per sequence; evaluation
        and scoring (eval mode) use the mean weights.
    """

    likelihood: str = "categorical"
    length: int = 0
    alphabet_size: int = 21
    model_gaps: bool = True
    latent_dim: int = 2
    encoder_hidden: list[int] = field(default_factory=lambda: [256, 128])
    decoder_hidden: list[int] = field(default_factory=lambda: [128, 256])
    activation: str = "relu"
    dropout: float = 0.0
    regulariser: str = "kl"
    beta: float = 1.0
    mmd_weight: float = 10.0
    warmup_steps: int = 0
    decoder_l2: float = 0.0
    decoder_l2_scaling: str = "constant"
    decoder_bayesian: bool = False

    constraints: ClassVar[dict] = {
        "likelihood": OneOf(LIKELIHOODS),
        "length": Integer(),
        "alphabet_size": Integer(),
        "model_gaps": Boolean(),
        "latent_dim": Integer(1, MAX_LATENT_DIM),
        "encoder_hidden": ListOf(Integer(1, MAX_LAYER_WIDTH), min_length=1),
        "decoder_hidden": ListOf(Integer(1, MAX_LAYER_WIDTH), min_length=1),
        "activation": OneOf(tuple(ACTIVATIONS)),
        "dropout": Interval(0.0, 1.0, closed="left"),
        "regulariser": OneOf(REGULARISERS),
        "beta": Interval(0.0),
        "mmd_weight": Interval(0.0),
        "warmup_steps": Integer(0),
        "decoder_l2": Interval(0.0),
        "decoder_l2_scaling": OneOf(DECODER_L2_SCALINGS),
        "decoder_bayesian": Boolean(),
    }
    # the fitness study's variants (benchmarks/study_variants.py) and settings no preset used
    retired: ClassVar[dict[str, Any]] = {
        "decoder_last_activation": None,
        "mmd_kernel": "imq",
        "decoder_group_sparsity": 0.0,
        "decoder_logvar_init": DECODER_LOGVAR_INIT,
        "free_bits": 0.0,
        "output_dictionary": 0,
    }

    section: ClassVar[str] = "model"

    @classmethod
    def from_dict(cls, values: Any, prefix: str | None = None) -> ModelConfig:
        """As :meth:`Options.from_dict`; an old config's ``input_dim`` (the columns of a vector
        or a cell, now ``length``) is read as ``length``."""
        if isinstance(values, dict) and "input_dim" in values:
            values = dict(values)
            input_dim = values.pop("input_dim")
            if input_dim not in (0, values.get("length", 0)):
                if values.get("length", 0) != 0:
                    raise ConfigError(
                        f"model.input_dim: now model.length, which is set already (got {input_dim!r})",
                        field="model.input_dim",
                    )
                values["length"] = input_dim
        return super().from_dict(values, prefix)

    def parameter_count(self) -> int:
        """About how many weights the encoder and decoder hold (their linear layers), once the
        data's size is known (0 before): bounded, so that a typo cannot exhaust the memory."""
        data = self.length * (self.alphabet_size if self.likelihood == "categorical" else 1)
        if data <= 0:
            return 0
        widths = [
            data,
            *self.encoder_hidden,
            2 * self.latent_dim,
            self.latent_dim,
            *self.decoder_hidden,
            data,
        ]
        return sum(
            a * b for i, (a, b) in enumerate(itertools.pairwise(widths)) if i != len(self.encoder_hidden)
        )

    def extra_checks(self, prefix: str) -> None:
        """The likelihood's own fields, and a bound on the model's size."""

        def fail(name: str, why: str) -> None:
            raise ConfigError(
                f"{prefix}.{name}: {why} (got {getattr(self, name)!r})", field=f"{prefix}.{name}"
            )

        LIKELIHOOD_CLASSES[self.likelihood].check_config(self, fail)
        if self.parameter_count() > MAX_PARAMETERS:
            fail(
                "decoder_hidden",
                f"the model would have about {self.parameter_count():,} weights, more than the bound of "
                f"{MAX_PARAMETERS:,} (smaller layers, a smaller latent_dim or a shorter alignment)",
            )

    @classmethod
    def example(cls) -> ModelConfig:
        return cls(length=10)

    def decoder_prior_coefficient(self, n_eff: float) -> float:
        """Per-sequence coefficient of ½‖W‖² of the decoder prior for a family of ``n_eff``
        effective sequences: c / N_eff, with c = ``decoder_l2`` (constant) or ``decoder_l2`` · L ·
        √N_eff (sqrt_neff_length)."""
        if self.decoder_l2 <= 0:
            return 0.0
        n_eff = max(float(n_eff), 1.0)
        if self.decoder_l2_scaling == "sqrt_neff_length":
            return self.decoder_l2 * self.length / math.sqrt(n_eff)
        return self.decoder_l2 / n_eff


def step_flops(config: ModelConfig, batch_size: int) -> float:
    """Estimated floating-point operations of one training step (forward + backward).

    Linear layers: 2·B·in·out forward and 4·B·in·out backward (input and weight gradients);
    the first-layer embedding lookup of coded sequences: B·L·H additions each way.
    Element-wise work (activations, log-softmax, Adam) is left out: it is memory-bound.
    """
    likelihood = make_likelihood(config)
    first = likelihood.first_layer_flops(batch_size, config.encoder_hidden[0])
    output = likelihood.output_size
    sizes = [
        *itertools.pairwise(config.encoder_hidden),
        (config.encoder_hidden[-1], 2 * config.latent_dim),
        *itertools.pairwise([config.latent_dim, *config.decoder_hidden]),
        (config.decoder_hidden[-1], output),
    ]
    return first + sum(6.0 * batch_size * n_in * n_out for n_in, n_out in sizes)


class BayesianLinear(nn.Linear):
    """A linear layer with a mean-field Gaussian posterior over its weights and bias.

    ``weight`` and ``bias`` are the posterior means (so eval mode, scoring and every fast path
    that reads ``weight`` use the mean weights); ``weight_logvar`` and ``bias_logvar`` their
    log-variances. In training mode each call draws one weight matrix (shared by the batch).
    """

    def __init__(self, n_in: int, n_out: int, logvar_init: float = DECODER_LOGVAR_INIT):
        super().__init__(n_in, n_out)
        self.weight_logvar = nn.Parameter(torch.full_like(self.weight, logvar_init))
        self.bias_logvar = nn.Parameter(torch.full_like(self.bias, logvar_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        weight = self.weight + torch.randn_like(self.weight) * torch.exp(0.5 * self.weight_logvar)
        bias = self.bias + torch.randn_like(self.bias) * torch.exp(0.5 * self.bias_logvar)
        return nn.functional.linear(x, weight, bias)

    def kl(self) -> torch.Tensor:
        """KL(q(W, b) ‖ N(0, 1)) summed over every weight and bias."""
        total = self.weight.new_zeros(())
        for mean, logvar in ((self.weight, self.weight_logvar), (self.bias, self.bias_logvar)):
            total = total + 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum()
        return total


def _mlp(
    sizes: list[int], activation: str, dropout: float, linear: Callable[[int, int], nn.Module] = nn.Linear
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers.append(linear(n_in, n_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Variational autoencoder for coded sequences, continuous vectors or count matrices.

    What depends on the kind of data (the encoder's first layer and input, the decoder's
    output, the likelihood and its parameters) is the :attr:`likelihood` strategy's; the
    latent penalty is the :attr:`regulariser` strategy's. Variants of the decoder override
    :meth:`decoder_layer`, :meth:`output_layer`, :meth:`decoder_prior_coefficient`,
    :meth:`decoder_prior_terms` or :meth:`parameter_groups` in a subclass (the fitness study's, in
    ``benchmarks/study_variants.py``, do).

    Parameters
    ----------
    config
        A validated :class:`ModelConfig`.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.likelihood: Likelihood = make_likelihood(config)
        hidden_in = config.encoder_hidden[0]
        self.input_layer: nn.Module = self.likelihood.input_layer(hidden_in)
        if isinstance(self.likelihood, CategoricalLikelihood):
            self.n_output_states = self.likelihood.n_states
        output_size = self.likelihood.output_size
        # the likelihood's own parameters (Gaussian log-variances, NB inverse dispersions) live
        # on the model under their names, so weight files keep their tensor names
        parameters = self.likelihood.make_parameters()
        self.likelihood_parameter_names = tuple(parameters)
        for name, parameter in parameters.items():
            self.register_parameter(name, parameter)
        self.input_activation = ACTIVATIONS[config.activation]()
        self.input_dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.encoder_body = _mlp(config.encoder_hidden, config.activation, config.dropout)
        self.encoder_mean = nn.Linear(config.encoder_hidden[-1], config.latent_dim)
        self.encoder_logvar = nn.Linear(config.encoder_hidden[-1], config.latent_dim)
        self.decoder_body = _mlp(
            [config.latent_dim, *config.decoder_hidden], config.activation, config.dropout, self.decoder_layer
        )
        self.decoder_out: nn.Module = self.output_layer(config.decoder_hidden[-1], output_size)
        self.regulariser: Regulariser = make_regulariser(config)

    def decoder_layer(self, n_in: int, n_out: int) -> nn.Module:
        """A linear layer of the decoder: a :class:`BayesianLinear` for the variational decoder."""
        return BayesianLinear(n_in, n_out) if self.config.decoder_bayesian else nn.Linear(n_in, n_out)

    def output_layer(self, n_in: int, n_out: int) -> nn.Module:
        """The decoder's last layer, to the likelihood's parameters. Scoring's fast path and the
        couplings read its ``weight`` ``[n_out, n_in]`` and ``bias``; a layer that is no
        :class:`torch.nn.Linear` names what a weight prior acts on by ``weight_matrices()``."""
        return self.decoder_layer(n_in, n_out)

    def flops_per_step(self, batch_size: int) -> float:
        """Estimated floating-point operations of one training step; see :func:`step_flops`."""
        return step_flops(self.config, batch_size)

    # -- encoder -------------------------------------------------------------------------
    def encode_from_preactivation(self, preactivation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder from the first layer's pre-activation on (used by the couplings fast path)."""
        hidden = self.encoder_body(self.input_dropout(self.input_activation(preactivation)))
        return self.encoder_mean(hidden), self.encoder_logvar(hidden)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) parameters: mean and log-variance, each ``[B, d]``."""
        return self.encode_from_preactivation(self.input_layer(self.likelihood.encoder_input(x)))

    # -- decoder -------------------------------------------------------------------------
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output: log-probabilities ``[B, L, S]`` (categorical), means ``[B, D]``
        (gaussian) or log-proportions ``[B, G]`` (negative_binomial)."""
        return self.likelihood.decoder_output(self.decoder_out(self.decoder_body(z)))

    def likelihood_parameters(self) -> dict[str, torch.Tensor]:
        """The likelihood's learned parameters (the ``extra`` of :meth:`Likelihood.log_prob`)."""
        return {name: getattr(self, name) for name in self.likelihood_parameter_names}

    def log_likelihood_terms(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """Per-position (categorical, ``[B, L]``), per-dimension or per-gene log p(x|z)."""
        return self.likelihood.log_prob(x, decoded, self.likelihood_parameters())

    @torch.no_grad()
    def sample_data(
        self,
        z: torch.Tensor,
        generator: torch.Generator | None = None,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One draw of x from p(x|z) per row of ``z`` (``library``: total counts, for counts)."""
        return self.likelihood.sample(self.decode(z), self.likelihood_parameters(), generator, library)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per sequence, ``[B]``."""
        return self.log_likelihood_terms(x, self.decode(z)).sum(dim=-1)

    # -- objective -----------------------------------------------------------------------
    @staticmethod
    def reparameterise(
        mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + noise * torch.exp(0.5 * logvar)

    @property
    def device(self) -> torch.device:
        """The device the model's parameters live on."""
        return next(self.parameters()).device

    def decoder_weight_matrices(self) -> list[torch.Tensor]:
        """The decoder's weight matrices (biases excluded): what the decoder prior acts on."""
        matrices = []
        for module in [*self.decoder_body, self.decoder_out]:
            if isinstance(module, nn.Linear):
                matrices.append(module.weight)
            elif hasattr(module, "weight_matrices"):
                matrices.extend(module.weight_matrices())
        return matrices

    def decoder_weight_penalty(self) -> torch.Tensor:
        """½ Σ ‖W‖² over decoder weight matrices (biases excluded)."""
        total = torch.zeros((), device=self.device)
        for weight in self.decoder_weight_matrices():
            total = total + 0.5 * weight.pow(2).sum()
        return total

    def decoder_weight_kl(self) -> torch.Tensor:
        """KL(q(W) ‖ N(0, 1)) of the variational decoder's weights (0 for a plain decoder)."""
        total = torch.zeros((), device=self.device)
        for module in [*self.decoder_body, self.decoder_out]:
            if isinstance(module, BayesianLinear):
                total = total + module.kl()
        return total

    def decoder_prior_coefficient(self, n_eff: float) -> float:
        """Per-sequence coefficient c / N_eff of the decoder's Gaussian prior c·½‖W‖² (see
        :meth:`ModelConfig.decoder_prior_coefficient`)."""
        return self.config.decoder_prior_coefficient(n_eff)

    def parameter_groups(self, weight_decay: float, n_eff: float) -> list[dict]:
        """Adam parameter groups. The decoder prior c·½‖W‖²/N_eff is applied as extra weight
        decay c/N_eff on the decoder's weight matrices: Adam (not AdamW) adds ``weight_decay · W``
        to the gradient, which is exactly the prior's gradient, without computing the penalty
        and its backward pass over every decoder weight at each step."""
        prior = self.decoder_prior_coefficient(n_eff)
        decoder = self.decoder_weight_matrices() if prior > 0 else []
        special = {id(p) for p in decoder}
        groups = [
            {"params": [p for p in self.parameters() if id(p) not in special], "weight_decay": weight_decay}
        ]
        if decoder:
            groups.append({"params": decoder, "weight_decay": weight_decay + prior})
        return groups

    def decoder_prior_terms(self, n_eff: float) -> torch.Tensor:
        """The decoder prior's terms per sequence that the loss holds (the Gaussian one is the
        optimiser's weight decay, see :meth:`parameter_groups`): for a variational decoder,
        KL(q(W) ‖ N(0, 1)) / N_eff."""
        penalty = torch.zeros((), device=self.device)
        if self.config.decoder_bayesian:
            penalty = penalty + self.decoder_weight_kl() / max(float(n_eff), 1.0)
        return penalty

    def decoder_prior_penalty(self, n_eff: float, include_weight_penalty: bool = True) -> torch.Tensor:
        """The decoder prior per sequence: :meth:`decoder_prior_terms` plus, unless
        ``include_weight_penalty`` is false, the Gaussian c·½‖W‖²/N_eff (see
        :meth:`ModelConfig.decoder_prior_coefficient`)."""
        penalty = self.decoder_prior_terms(n_eff)
        coefficient = self.decoder_prior_coefficient(n_eff)
        if coefficient > 0 and include_weight_penalty:
            penalty = coefficient * self.decoder_weight_penalty() + penalty
        return penalty

    def loss(
        self, x: torch.Tensor, step: int = 0, n_eff: float = 1.0, include_weight_penalty: bool = True
    ) -> LossTerms:
        """One stochastic evaluation of the training objective on a batch.

        ``include_weight_penalty=False`` leaves the decoder prior c·½‖W‖²/N_eff out of the
        total (its gradient, c/N_eff·W, is then added by the optimiser's weight decay, which
        is the same update without the extra passes over the weights). A variational
        decoder's KL / N_eff is always in the total.
        """
        mean, logvar = self.encode(x)
        z = self.reparameterise(mean, logvar)
        log_px = self.log_likelihood(x, z)
        kl_dims = gaussian_kl(mean, logvar)
        kl = kl_dims.sum(dim=-1)
        weight = self.regulariser.weight(step)
        regulariser = self.regulariser.penalty(z, kl_dims)
        penalty = self.decoder_prior_penalty(n_eff, include_weight_penalty)
        reconstruction = -log_px.mean()
        total = reconstruction + weight * regulariser + penalty
        mmd = regulariser if self.regulariser.name == "mmd" else torch.zeros_like(reconstruction)
        return LossTerms(
            total=total,
            reconstruction=reconstruction,
            kl=kl.mean(),
            mmd=mmd,
            regulariser_weight=weight,
            weight_penalty=penalty,
            elbo_per_sequence=(log_px - kl).detach(),
        )

    # -- the sequence-model interface (models/interface.py) --------------------------------
    @property
    def length(self) -> int:
        """Columns of a data row: positions L (sequences), dimensions or genes."""
        return self.likelihood.n_columns

    @torch.no_grad()
    def log_value(
        self, codes: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """What mutation scores compare: the ELBO per sequence (eval mode), ``float64 [B]``.

        ``seqvae score`` uses :class:`~seqvae.analysis.scoring.VAEScorer`, which shares the z
        draws across sequences and can use the importance-weighted bound; this is the plain ELBO.
        """
        was_training = self.training
        self.eval()
        try:
            return self.elbo(codes, n_samples, generator).double()
        finally:
            self.train(was_training)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        temperature: float = 1.0,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``n`` draws from the model: z from the prior N(0, I), then x from p(x|z).

        Sequences: ``uint8 [n, L]`` codes, each position from softmax(log p / ``temperature``).
        Other data: :meth:`sample_data` (``temperature`` must be 1; counts need ``library``).
        """
        if not (math.isfinite(temperature) and temperature > 0):
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        device = self.device
        z = torch.randn(int(n), self.config.latent_dim, generator=generator).to(device)
        was_training = self.training
        self.eval()
        try:
            if self.config.likelihood != "categorical":
                if temperature != 1.0:
                    raise ConfigError(
                        f"temperature applies to sequences only ({self.config.likelihood} model)"
                    )
                return self.sample_data(z, generator, library)
            probs = torch.softmax(self.decode(z).double() / temperature, dim=-1).cpu()
            flat = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
            return flat.reshape(probs.shape[:2]).to(torch.uint8)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def elbo(
        self, x: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """ELBO per sequence averaged over ``n_samples`` draws of z, ``[B]`` (β = 1)."""
        mean, logvar = self.encode(x)
        kl = gaussian_kl(mean, logvar).sum(dim=-1)
        total = torch.zeros(x.shape[0], device=x.device)
        for _ in range(n_samples):
            z = self.reparameterise(mean, logvar, generator)
            total += self.log_likelihood(x, z)
        return total / n_samples - kl
