"""The fitness study's model variants that seqvae does not ship (issue 12; numbers in
benchmarks/ARCHIVE.md), built on the product's extension points instead of its options.

Each variant is a :class:`StudyOptions` on top of a run config:

* ``decoder_l2_scaling = "sqrt_neff"``: the decoder prior c = ``decoder_l2`` · √N_eff, the one
  the ``fitness`` preset shipped before c = ``decoder_l2`` · L · √N_eff;
* ``free_bits``: KL free bits per latent dimension (Kingma et al. 2016), a regulariser;
* ``decoder_logvar_init``: the variational decoder's initial log σ² (``model.decoder_bayesian``);
* ``variance_learning_rate``: Adam's learning rate of the variational decoder's log-variances;
* ``output_dictionary``: DeepSequence's convolved output layer, a residue dictionary of K
  vectors shared by every position;
* ``decoder_group_sparsity``: a group-sparsity prior on the output layer.

:class:`StudyVAE` overrides the VAE's hooks (``decoder_layer``, ``output_layer``,
``decoder_prior_coefficient``, ``decoder_prior_terms``, ``parameter_groups``) and sets its
``regulariser``; :func:`train` and :func:`load` hand it to seqvae's own ``train`` and ``load``,
and record the options in the run directory (``study_variant.json``) so that a variant's run
loads as what it was trained as.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
from pathlib import Path
from unittest import mock

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seqvae.models.regularisers import KLRegulariser  # noqa: E402
from seqvae.models.vae import DECODER_LOGVAR_INIT, VAE, BayesianLinear, ModelConfig  # noqa: E402

OPTIONS_FILE = "study_variant.json"
PREFIX = "study."


@dataclasses.dataclass(frozen=True)
class StudyOptions:
    """The study's settings beyond a run config (the defaults: none, a plain seqvae model)."""

    decoder_l2_scaling: str | None = None  # "sqrt_neff", or None: the config's scaling
    free_bits: float = 0.0
    decoder_logvar_init: float = DECODER_LOGVAR_INIT
    variance_learning_rate: float | None = None
    output_dictionary: int = 0
    decoder_group_sparsity: float = 0.0


def split_overrides(overrides: dict) -> tuple[dict, StudyOptions]:
    """``{"section.key": value}`` overrides of a run config, and the ``study.*`` ones as options."""
    study = {k.removeprefix(PREFIX): v for k, v in overrides.items() if k.startswith(PREFIX)}
    return {k: v for k, v in overrides.items() if not k.startswith(PREFIX)}, StudyOptions(**study)


class FreeBitsKL(KLRegulariser):
    """KL free bits: Σ_d max(λ, the batch mean of KL_d), so that no gradient pushes a dimension
    below λ nats (the reported KL and the ELBO stay the true ones)."""

    def __init__(self, beta: float, warmup_steps: int, floor: float):
        super().__init__(beta, warmup_steps)
        self.floor = floor

    def penalty(self, z: torch.Tensor, kl_dims: torch.Tensor) -> torch.Tensor:
        return kl_dims.mean(dim=0).clamp(min=self.floor).sum()


class DictionaryLinear(nn.Module):
    """Output layer whose weights at each position are mixed from a shared residue dictionary.

    The logit of residue ``a`` at position ``l`` is ``Σ_k (W_l h)_k D_{k a} + b_{l a}``: every
    position has its own ``[K, H]`` matrix ``W_l`` but all positions share one ``[K, S]``
    dictionary ``D`` (DeepSequence's "convolved" output layer, Riesselman et al. 2018).

    ``weight`` is the equivalent ``[L·S, H]`` matrix of a :class:`torch.nn.Linear`, so every
    path that reads the output layer's weight (scoring's fast path, couplings) works unchanged.
    """

    def __init__(self, hidden: int, length: int, states: int, dictionary_size: int):
        super().__init__()
        self.length, self.states = length, states
        # stored [H, L, K] so the combined weight is one matrix product, already in the
        # [H, L·S] layout a batch is multiplied by
        self.position_weight = nn.Parameter(torch.empty(hidden, length, dictionary_size))
        self.dictionary = nn.Parameter(torch.empty(dictionary_size, states))
        self.bias = nn.Parameter(torch.zeros(length * states))
        # the product's entries get the variance of a default nn.Linear(hidden, L·S) weight
        nn.init.normal_(self.position_weight, std=(1.0 / (3.0 * hidden)) ** 0.5)
        nn.init.normal_(self.dictionary, std=(1.0 / dictionary_size) ** 0.5)

    @property
    def in_features(self) -> int:
        return self.position_weight.shape[0]

    def weight_t(self) -> torch.Tensor:
        """The equivalent linear layer's weight transposed, ``[H, L·S]``."""
        return (self.position_weight @ self.dictionary).view(self.in_features, -1)

    @property
    def weight(self) -> torch.Tensor:
        """The equivalent linear layer's weight, ``[L·S, H]`` (a transposed view)."""
        return self.weight_t().T

    def weight_matrices(self) -> list[nn.Parameter]:
        """What a prior on the weights acts on: the per-position matrices and the dictionary."""
        return [self.position_weight, self.dictionary]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.weight_t()) + self.bias


class StudyVAE(VAE):
    """A :class:`VAE` with the study's options (sequences only for the output-layer ones)."""

    def __init__(self, config: ModelConfig, options: StudyOptions):
        object.__setattr__(self, "study", options)  # the layer hooks read it during VAE.__init__
        super().__init__(config)
        if options.free_bits > 0:
            self.regulariser = FreeBitsKL(config.beta, config.warmup_steps, options.free_bits)

    def decoder_layer(self, n_in: int, n_out: int) -> nn.Module:
        if self.config.decoder_bayesian:
            return BayesianLinear(n_in, n_out, self.study.decoder_logvar_init)
        return nn.Linear(n_in, n_out)

    def output_layer(self, n_in: int, n_out: int) -> nn.Module:
        if self.study.output_dictionary > 0:
            states = self.likelihood.n_states
            return DictionaryLinear(n_in, self.config.length, states, self.study.output_dictionary)
        return super().output_layer(n_in, n_out)

    def _per_sequence(self, strength: float, n_eff: float) -> float:
        """A prior's per-sequence coefficient under the decoder prior's scaling."""
        if strength <= 0:
            return 0.0
        n_eff = max(float(n_eff), 1.0)
        scaling = self.study.decoder_l2_scaling or self.config.decoder_l2_scaling
        if scaling == "sqrt_neff":
            return strength / math.sqrt(n_eff)
        if scaling == "sqrt_neff_length":
            return strength * self.config.length / math.sqrt(n_eff)
        return strength / n_eff

    def decoder_prior_coefficient(self, n_eff: float) -> float:
        return self._per_sequence(self.config.decoder_l2, n_eff)

    def output_group_norms(self) -> torch.Tensor:
        """‖W_{l·,h}‖₂ of the output layer for every position l and last hidden unit h, ``[L, H]``."""
        weight = self.decoder_out.weight
        return weight.view(self.config.length, self.likelihood.n_states, -1).norm(dim=1)

    def decoder_prior_terms(self, n_eff: float) -> torch.Tensor:
        penalty = super().decoder_prior_terms(n_eff)
        sparsity = self._per_sequence(self.study.decoder_group_sparsity, n_eff)
        if sparsity > 0:
            penalty = penalty + sparsity * self.output_group_norms().sum()
        return penalty

    def decoder_log_variances(self) -> list[nn.Parameter]:
        return [
            p
            for m in [*self.decoder_body, self.decoder_out]
            if isinstance(m, BayesianLinear)
            for p in (m.weight_logvar, m.bias_logvar)
        ]

    def parameter_groups(self, weight_decay: float, n_eff: float) -> list[dict]:
        groups = super().parameter_groups(weight_decay, n_eff)
        if self.study.variance_learning_rate is None:
            return groups
        variances = self.decoder_log_variances()
        own = {id(p) for p in variances}
        groups[0]["params"] = [p for p in groups[0]["params"] if id(p) not in own]
        groups.append(
            {"params": variances, "weight_decay": weight_decay, "lr": self.study.variance_learning_rate}
        )
        return groups


@contextlib.contextmanager
def _models(options: StudyOptions):
    """Within the block seqvae's train and load build :class:`StudyVAE` with ``options``."""
    with (
        mock.patch("seqvae.run.fitting.VAE", lambda config: StudyVAE(config, options)),
        mock.patch("seqvae.run.artifact.VAE", lambda config: StudyVAE(config, options)),
    ):
        yield


def train(data, config, options: StudyOptions, out: Path, **kwargs):
    """seqvae's ``train`` with a variant's model; the options go to ``out/study_variant.json``."""
    from seqvae.run import train as seqvae_train

    with _models(options):
        run = seqvae_train(data, config, out=out, **kwargs)
    (Path(out) / OPTIONS_FILE).write_text(json.dumps(dataclasses.asdict(options)))
    return run


def train_or_resume(config, options: StudyOptions, run_dir: Path, read):
    """seqvae's multi-run ``train_or_resume`` with a variant's model (its options recorded as in
    :func:`train`)."""
    from seqvae.workflows.multirun import train_or_resume as seqvae_train_or_resume

    with _models(options):
        run = seqvae_train_or_resume(None, config, run_dir, read)
    (Path(run_dir) / OPTIONS_FILE).write_text(json.dumps(dataclasses.asdict(options)))
    return run


def load(run_dir: Path):
    """seqvae's ``load`` of a run trained by :func:`train` (a plain run loads as usual)."""
    from seqvae.run import load as seqvae_load

    path = Path(run_dir) / OPTIONS_FILE
    options = StudyOptions(**json.loads(path.read_text())) if path.exists() else StudyOptions()
    with _models(options):
        return seqvae_load(run_dir)
