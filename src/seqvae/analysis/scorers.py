"""The scorers: how much more (or less) likely a model finds a variant than the wild type.
Higher = fitter.

* VAE: ``E[ELBO(variant)] - E[ELBO(wild type)]`` over ``samples`` draws of z (eval mode), or
  the same difference of importance-weighted log-likelihood estimates (``iw=True``).
* Site-independent model: difference of the log-probabilities (a sum of log-ratios).
* Potts model: difference of the Hamiltonians.

Every scorer compares against a wild-type value computed once. The VAE uses common random
numbers: the same standard-normal draws ``eps_s`` for every variant and for the wild type
(``z = mu + sigma * eps_s``), so the difference is not blurred by independent sampling noise,
and a given seed gives the same scores whatever the batch size or the order of the rows.
Scoring tables, sequences and all single mutants with them: :mod:`seqvae.analysis.scoring`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from seqvae.data.alignment import AlignmentRegistry
from seqvae.data.weights import fast_exact_dtype
from seqvae.errors import ConfigError, InputError
from seqvae.models.interface import SequenceModel
from seqvae.models.regularisers import gaussian_kl
from seqvae.models.vae import VAE
from seqvae.options import Boolean, Integer, OneOf, Optional, Options, register
from seqvae.run import load
from seqvae.training.baselines import is_baseline_directory, load_baseline
from seqvae.training.trainer import resolve_device

# Rows (variants x z samples) decoded at once: big enough for efficient matrix products,
# small enough that the [rows, L, states] log-probabilities stay within a few tens of MB.
DECODE_ROWS = 1024


class Scorer:
    """Scores coded variants relative to the wild type. Subclasses set ``registry``/``name``."""

    registry: AlignmentRegistry
    name: str = "model"
    device: torch.device = torch.device("cpu")
    #: warnings about the model to repeat to the user (e.g. a collapsed posterior)
    warnings: tuple[str, ...] = ()
    #: +1: scores are log-ratios (higher = fitter); -1: EVE's evolutionary index (higher = more
    #: damaging), see :data:`SCORE_SIGNS`
    sign: float = 1.0

    def log_value(self, codes: torch.Tensor) -> torch.Tensor:
        """The model's (unnormalised) log-probability proxy per sequence, ``float64 [B]``."""
        raise NotImplementedError

    def wild_type_value(self) -> float:
        if not hasattr(self, "_wild_type"):
            wt = torch.from_numpy(self.registry.reference_codes()[None, :]).to(self.device)
            self._wild_type = float(self.log_value(wt)[0])
        return self._wild_type

    @torch.no_grad()
    def score_codes(self, codes: np.ndarray) -> np.ndarray:
        """Scores ``float64 [B]`` of coded variants ``uint8 [B, L]``; the wild type scores 0.

        A score is ``sign`` × (log-value of the variant − that of the wild type)."""
        codes = np.asarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != self.registry.length:
            raise InputError(
                f"expected coded variants of shape [B, {self.registry.length}], got {codes.shape}"
            )
        out = np.zeros(len(codes), dtype=np.float64)
        wt = self.registry.reference_codes()
        # a variant identical to the wild type has, by definition, the wild type's value
        differs = np.flatnonzero((codes != wt).any(axis=1))
        if differs.size:
            values = self.log_value(torch.from_numpy(codes[differs]).to(self.device)).double().cpu().numpy()
            out[differs] = self.sign * (values - self.wild_type_value())
        return out

    @property
    def column(self) -> str:
        """The name of this model's column in a table of several models (its directory's)."""
        return self.name

    def score_columns(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """One score column per model: ``{column: scores}`` (an ensemble: each member and the mean)."""
        return {self.column: self.score_codes(codes)}


DECODER_PRECISIONS = ("float32", "bfloat16")
#: the sign of a score: ``fitness`` log p(variant) − log p(wild type) (higher = fitter; DeepSequence,
#: ProteinGym) or ``eve`` its negative, EVE's evolutionary index (higher = more damaging)
SCORE_SIGNS = {"fitness": 1.0, "eve": -1.0}


def sign_name(sign: float) -> str:
    """The name in :data:`SCORE_SIGNS` of a scorer's ``sign``."""
    return "eve" if sign < 0 else "fitness"


# The fast settings (``seqvae score --fast``): 20 antithetic shared draws and the bfloat16 output
# layer; measured against the 200-draw float32 default in benchmarks/RESULTS.md.
FAST_SAMPLES = 20


def shared_noise(samples: int, latent_dim: int, seed: int, antithetic: bool = False) -> torch.Tensor:
    """The standard-normal draws shared by every sequence, ``float32 [samples, latent_dim]``.

    Fixed up front by ``seed`` alone, so a sequence's score never depends on which other
    sequences are scored with it. ``antithetic``: ``samples / 2`` draws and their negatives
    (``samples`` must be even), which cancels the odd terms of the ELBO's expansion around the
    posterior mean and so needs fewer draws for the same accuracy.
    """
    generator = torch.Generator().manual_seed(seed)
    if not antithetic:
        return torch.randn(samples, latent_dim, generator=generator)
    if samples % 2:
        raise ConfigError(
            f"scoring.samples: antithetic draws need an even number (got {samples})", field="scoring.samples"
        )
    half = torch.randn(samples // 2, latent_dim, generator=generator)
    return torch.cat([half, -half])


class VAEScorer(Scorer):
    """ELBO (or importance-weighted log-likelihood) differences under a trained VAE.

    Every sequence is scored in blocks of the same shape (the last one padded), with draws
    fixed up front, so a score does not depend on the row order, the table size or the other
    rows of the table; identical sequences are scored once.

    Parameters
    ----------
    model
        A categorical :class:`~seqvae.models.vae.VAE`; it is put in eval mode.
    registry
        The run's registry (wild type, focus columns).
    samples
        Draws of z per sequence.
    seed
        Seeds the shared standard-normal draws.
    iw
        Score with the importance-weighted estimate of log p(x) instead of the ELBO.
    device
        Where to compute (``cpu``, ``cuda``, ``mps``, ``auto``; default cpu). The noise is drawn
        on the CPU, so scores agree across devices to floating-point tolerance.
    antithetic
        Use ``samples / 2`` draws and their negatives (see :func:`shared_noise`).
    decoder_precision
        ``float32``, or ``bfloat16``: the output layer's matrix product computes the change of
        the logits from those at the wild type's posterior mean in bfloat16 (several times
        faster on CPUs with AMX / AVX512-BF16; the rounding is relative to the change, not to
        the logits). Plain decoders only.
    """

    def __init__(
        self,
        model,
        registry: AlignmentRegistry,
        samples: int = 200,
        seed: int = 0,
        iw: bool = False,
        name: str = "vae",
        device: str | torch.device | None = None,
        antithetic: bool = False,
        decoder_precision: str = "float32",
    ):
        if samples < 1:
            raise ConfigError(f"scoring.samples: must be >= 1 (got {samples})", field="scoring.samples")
        if model.config.likelihood != "categorical":
            raise InputError("mutation scoring needs a model trained on sequences")
        if decoder_precision not in DECODER_PRECISIONS:
            raise ConfigError(
                f"scoring.decoder_precision: must be one of {', '.join(DECODER_PRECISIONS)} "
                f"(got {decoder_precision!r})",
                field="scoring.decoder_precision",
            )
        if device is not None and not isinstance(device, torch.device):
            device = resolve_device(str(device))
        self.device = device or next(model.parameters()).device
        self.model = model.eval().to(self.device)
        self.registry = registry
        self.samples = samples
        self.iw = iw
        self.name = name
        self.antithetic = antithetic
        self.decoder_precision = decoder_precision
        self.noise = shared_noise(samples, model.config.latent_dim, seed, antithetic).to(self.device)
        self._buffer: torch.Tensor | None = None
        # the fast path knows the plain decoder: an MLP body and an output layer that acts as
        # one linear map (its ``weight`` and ``bias``; see VAE.output_layer)
        self._fast = (
            isinstance(getattr(getattr(model, "decoder_out", None), "weight", None), torch.Tensor)
            and type(model).decode is VAE.decode
        )
        if decoder_precision == "bfloat16" and not self._fast:
            raise ConfigError(
                "scoring.decoder_precision: bfloat16 needs a plain decoder (MLP + linear output)",
                field="scoring.decoder_precision",
            )
        if self._fast:
            self._prepare_fast_path()

    @property
    def block_sequences(self) -> int:
        """Sequences per block: every block has this many rows (the last one padded)."""
        return max(1, DECODE_ROWS // self.samples)

    def _prepare_fast_path(self) -> None:
        """Re-order the output layer state-major (``[S, L]`` instead of ``[L, S]``).

        The log-sum-exp over the S states then runs over a strided axis with the L positions
        contiguous, which vectorises well; on the natural layout the reduction over 20
        adjacent numbers costs more than the matrix product itself.
        """
        model = self.model
        length, states = model.config.length, model.n_output_states
        weight = model.decoder_out.weight.detach()  # [L*S, H]
        bias = model.decoder_out.bias.detach()
        self._weight_t = (
            weight.view(length, states, -1).transpose(0, 1).reshape(states * length, -1).T.contiguous()
        )
        self._bias = bias.view(length, states).T.reshape(-1).contiguous()
        if self.decoder_precision == "bfloat16":
            with torch.no_grad():
                wt = torch.from_numpy(self.registry.reference_codes()[None, :]).to(self.device)
                self._hidden_ref = model.decoder_body(model.encode(wt)[0])  # [1, H]
                self._logits_ref = torch.addmm(self._bias, self._hidden_ref, self._weight_t)[0]  # [S*L]
            self._weight_t_low = self._weight_t.to(torch.bfloat16)

    def _log_px(self, codes: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) for paired rows of ``codes [n, L]`` and ``z [n, d]``, ``[n]``."""
        model = self.model
        if not self._fast:
            return model.log_likelihood(codes, z)
        length, states = model.config.length, model.n_output_states
        hidden = model.decoder_body(z)
        n = hidden.shape[0]
        # one reused buffer for the [n, S, L] logits, transformed in place: no large temporaries,
        # so the allocator's footprint stays flat over millions of rows
        if self._buffer is None or self._buffer.shape[0] < n:
            self._buffer = torch.empty(max(n, DECODE_ROWS), states * length, device=self.device)
            self._buffer_low = (
                torch.empty(self._buffer.shape, dtype=torch.bfloat16, device=self.device)
                if self.decoder_precision == "bfloat16"
                else None
            )
        if self._buffer_low is not None:  # bfloat16
            # the bfloat16 product goes to a reused buffer too (a fresh 10 MB block per call
            # fragments the heap: peak memory then grows with the table)
            delta = torch.mm(
                (hidden - self._hidden_ref).to(torch.bfloat16), self._weight_t_low, out=self._buffer_low[:n]
            )
            logits = torch.add(self._logits_ref, delta, out=self._buffer[:n]).view(n, states, length)
        else:
            logits = torch.addmm(self._bias, hidden, self._weight_t, out=self._buffer[:n]).view(
                n, states, length
            )
        x = codes.long()
        is_gap = None if model.config.model_gaps else x == model.config.alphabet_size - 1
        index = x if is_gap is None else torch.where(is_gap, 0, x)
        observed = logits.gather(1, index.unsqueeze(1)).squeeze(1)  # [n, L]
        top = logits.amax(dim=1, keepdim=True)  # [n, 1, L]
        logits.sub_(top).exp_()
        log_norm = logits.sum(dim=1).log_().add_(top.squeeze(1))  # log-sum-exp over states
        terms = observed - log_norm
        if is_gap is not None:
            terms = terms.masked_fill(is_gap, 0.0)
        return terms.sum(-1)

    @torch.no_grad()
    def log_value(self, codes: torch.Tensor) -> torch.Tensor:
        codes = torch.as_tensor(codes)
        if codes.shape[0] == 0:
            return torch.zeros(0, dtype=torch.float64)
        # identical sequences are scored once
        unique, inverse = torch.unique(codes, dim=0, return_inverse=True)
        per_block = self.block_sequences
        results = []
        for start in range(0, unique.shape[0], per_block):
            block = unique[start : start + per_block]
            real = block.shape[0]
            if real < per_block:  # pad: every block has the same shape, hence the same rounding
                block = torch.cat([block, block[-1:].expand(per_block - real, -1)])
            results.append(self._block_value(block)[:real])
        return torch.cat(results)[inverse]

    def _block_value(self, block: torch.Tensor) -> torch.Tensor:
        model = self.model
        n_samples = self.samples
        mean, logvar = model.encode(block)
        std = torch.exp(0.5 * logvar)
        z = mean[:, None, :] + std[:, None, :] * self.noise[None, :, :]  # [b, S, d]
        flat_z = z.reshape(-1, z.shape[-1])
        flat_x = block[:, None, :].expand(-1, n_samples, -1).reshape(-1, block.shape[1])
        log_px = torch.cat(
            [
                self._log_px(flat_x[piece : piece + DECODE_ROWS], flat_z[piece : piece + DECODE_ROWS])
                for piece in range(0, flat_z.shape[0], DECODE_ROWS)
            ]
        ).view(block.shape[0], n_samples)
        if self.iw:
            # log w = log p(x|z) + log p(z) - log q(z|x); the 2*pi constants cancel
            log_prior = -0.5 * z.pow(2).sum(-1)
            log_q = -0.5 * (self.noise.pow(2).sum(-1)[None, :] + logvar.sum(-1, keepdim=True))
            log_w = (log_px + log_prior - log_q).double()
            return torch.logsumexp(log_w, dim=1) - math.log(n_samples)
        kl = gaussian_kl(mean, logvar).sum(-1)
        return log_px.double().mean(dim=1) - kl.double()


class ModelScorer(Scorer):
    """Wraps a :class:`~seqvae.models.interface.SequenceModel` by its ``log_value(codes)``
    (the site-independent and Potts baselines; a VAE is scored by :class:`VAEScorer`)."""

    def __init__(
        self, model: SequenceModel, registry: AlignmentRegistry, name: str, column: str | None = None
    ):
        self.model = model.eval()
        self.registry = registry
        self.name = name
        self._column = column or name

    @property
    def column(self) -> str:
        return self._column

    @torch.no_grad()
    def log_value(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.model.log_value(codes[s : s + 2048]) for s in range(0, codes.shape[0], 2048)])


class EnsembleScorer(Scorer):
    """The mean of several scorers' scores (same reference and focus columns required)."""

    def __init__(self, members: Sequence[Scorer]):
        if not members:
            raise InputError("an ensemble needs at least one run")
        first = members[0].registry
        for member in members[1:]:
            reg = member.registry
            if reg.reference_sequence != first.reference_sequence or list(reg.numbering) != list(
                first.numbering
            ):
                raise InputError(
                    f"runs of an ensemble must share the reference and focus columns "
                    f"({member.name} differs from {members[0].name})"
                )
        self.members = list(members)
        self.sign = members[0].sign  # the members' scores carry it; the mean keeps it
        self.warnings = tuple(w for m in members for w in m.warnings)
        self.registry = first
        self.name = "ensemble(" + ",".join(m.name for m in members) + ")"

    def score_codes(self, codes: np.ndarray) -> np.ndarray:
        total = np.zeros(len(codes), dtype=np.float64)
        for member in self.members:
            total += member.score_codes(codes)
        return total / len(self.members)

    def wild_type_value(self) -> float:
        """The mean of the members' values of the wild type (so value = score + this)."""
        return float(np.mean([m.wild_type_value() for m in self.members]))

    def score_columns(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        columns: dict[str, np.ndarray] = {}
        for member in self.members:
            for name, values in member.score_columns(codes).items():
                columns[unique_name(name, columns)] = values  # two runs with the same folder name
        columns[unique_name("ensemble", columns)] = np.mean(list(columns.values()), axis=0)
        return columns


def load_scorer(
    path: str | Path,
    samples: int = 200,
    seed: int = 0,
    iw: bool = False,
    antithetic: bool = False,
    decoder_precision: str = "float32",
    device: str | torch.device | None = None,
) -> Scorer:
    """A scorer for a run directory: a VAE run, or a baseline written by ``seqvae baseline fit``.

    ``samples``, ``seed``, ``iw``, ``antithetic`` and ``decoder_precision`` apply to VAE runs
    (see :class:`VAEScorer`); baselines are exact and ignore them. ``device`` places a VAE's
    computation (baselines always score on the CPU).
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError("run directory not found", path)
    if is_baseline_directory(path):
        model, registry, kind = load_baseline(path)
        return ModelScorer(model, registry, f"{kind}:{path.name}", column=path.name)
    return run_scorer(load(path), samples, seed, iw, antithetic, decoder_precision, device)


def run_scorer(
    run,
    samples: int = 200,
    seed: int = 0,
    iw: bool = False,
    antithetic: bool = False,
    decoder_precision: str = "float32",
    device: str | torch.device | None = None,
) -> VAEScorer:
    """The :class:`VAEScorer` of a loaded :class:`~seqvae.Run` (named by its directory), with the
    run's collapse warning; the options as in :func:`load_scorer`."""
    path = Path(run.path)
    scorer = VAEScorer(
        run.model,
        run.sequence_registry(),
        samples=samples,
        seed=seed,
        iw=iw,
        name=path.name,
        antithetic=antithetic,
        decoder_precision=decoder_precision,
        device=device,
    )
    if run.collapse_warning:
        scorer.warnings = (run.collapse_warning.replace("warning: ", f"warning: {path.name}: ", 1),)
    return scorer


@register
@dataclass
class ScoringOptions(Options):
    """How runs score (``seqvae score``'s options; baselines are exact and ignore all but ``sign``).

    Attributes
    ----------
    samples
        Draws of z per sequence; ``None``: 200, or :data:`FAST_SAMPLES` with ``fast``.
    seed
        Seeds the shared draws.
    iw
        The importance-weighted log-likelihood instead of the ELBO.
    fast
        :data:`FAST_SAMPLES` antithetic draws and the bfloat16 output layer where the CPU has a
        bfloat16 matrix product (the defaults ``samples``, ``antithetic`` and
        ``decoder_precision`` left unset take).
    antithetic
        Half the draws and their negatives (an even ``samples``).
    decoder_precision
        ``float32`` or ``bfloat16`` (see :class:`VAEScorer`); ``None``: float32, or with
        ``fast`` bfloat16 where it is fast.
    sign
        ``fitness`` (higher = fitter than the wild type) or ``eve`` (the negative: EVE's
        evolutionary index, higher = more damaging); every score column and evaluation follows
        it, so a Spearman ρ against a fitness assay flips sign with it.
    """

    samples: int | None = None
    seed: int = 0
    iw: bool = False
    fast: bool = False
    antithetic: bool = False
    decoder_precision: str | None = None
    sign: str = "fitness"

    @property
    def draws(self) -> int:
        """``samples``, or its default: :data:`FAST_SAMPLES` with ``fast``, else 200."""
        return self.samples if self.samples is not None else (FAST_SAMPLES if self.fast else 200)

    def resolved(self) -> ScoringOptions:
        """The options with ``fast``'s defaults filled in (nothing left ``None``)."""
        precision = self.decoder_precision
        if precision is None:
            precision = "bfloat16" if self.fast and fast_exact_dtype() == torch.bfloat16 else "float32"
        return ScoringOptions(
            samples=self.draws,
            seed=self.seed,
            iw=self.iw,
            fast=self.fast,
            antithetic=self.antithetic or self.fast,
            decoder_precision=precision,
            sign=self.sign,
        )

    section: ClassVar[str] = "scoring"
    constraints: ClassVar[dict] = {
        "samples": Optional(Integer(1), note="200, or FAST_SAMPLES with fast"),
        "seed": Integer(),
        "iw": Boolean(),
        "fast": Boolean(),
        "antithetic": Boolean(),
        "decoder_precision": Optional(OneOf(DECODER_PRECISIONS)),
        "sign": OneOf(tuple(SCORE_SIGNS)),
    }

    def extra_checks(self, prefix: str) -> None:
        """Antithetic draws come in pairs: the (resolved) number of draws must be even."""
        samples = self.draws
        if (self.antithetic or self.fast) and samples % 2:
            raise ConfigError(
                f"{prefix}.samples: antithetic draws need an even number (got {samples})",
                field=f"{prefix}.samples",
            )


def load_scorers(
    paths: Sequence[str | Path],
    options: ScoringOptions | None = None,
    device: str | torch.device | None = None,
) -> Scorer:
    """The scorer of one run or baseline directory, or the ensemble (mean) of several.

    Parameters
    ----------
    paths
        Run or baseline directories (:func:`load_scorer`).
    options
        How VAE runs score (:class:`ScoringOptions`; default: its defaults).
    device
        Where VAE runs compute.
    """
    options = (options or ScoringOptions()).validate().resolved()
    scorers = [
        load_scorer(
            path,
            samples=options.draws,
            seed=options.seed,
            iw=options.iw,
            antithetic=options.antithetic,
            decoder_precision=str(options.decoder_precision),
            device=device,
        )
        for path in paths
    ]
    for scorer in scorers:
        scorer.sign = SCORE_SIGNS[options.sign]
    return scorers[0] if len(scorers) == 1 else EnsembleScorer(scorers)


# -- tables --------------------------------------------------------------------------------
# The files beside a scores CSV (OUT.csv): OUT_summary.json, the evaluation against a measured
# column that `seqvae report` finds by this suffix, and OUT_scatter.png, its figure; the heatmap
# of an all-singles table is OUT.png.


def unique_name(name: str, taken) -> str:
    """``name``, or ``name_2``, ``name_3``, … when ``taken`` holds it already."""
    unique, k = name, 2
    while unique in taken:
        unique, k = f"{name}_{k}", k + 1
    return unique
