"""Zero-shot mutation scores: how much more (or less) likely a model finds a variant than the
wild type. Higher = fitter.

* VAE: ``E[ELBO(variant)] - E[ELBO(wild type)]`` over ``samples`` draws of z (eval mode), or
  the same difference of importance-weighted log-likelihood estimates (``iw=True``).
* Site-independent model: difference of the log-probabilities (a sum of log-ratios).
* Potts model: difference of the Hamiltonians.

Every scorer compares against a wild-type value computed once. The VAE uses common random
numbers: the same standard-normal draws ``eps_s`` for every variant and for the wild type
(``z = mu + sigma * eps_s``), so the difference is not blurred by independent sampling noise,
and a given seed gives the same scores whatever the batch size or the order of the rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from seqvae.analysis.burial import PositionBurial
from seqvae.analysis.evaluation import Evaluation, evaluate_scores
from seqvae.analysis.mutations import (
    OUTPUT_PREFIX,
    MismatchTally,
    MutationMapper,
    WildType,
    all_single_mutants,
    detect_separator,
    parse_mutant,
    read_mutation_table,
)
from seqvae.analysis.structure_scores import (
    DEFAULT_STRUCTURE_RULE,
    StructureRule,
    structure_factors,
    variant_burial,
    variant_factors,
)
from seqvae.data.alignment import Alignment, AlignmentRegistry
from seqvae.errors import ConfigError, InputError
from seqvae.io.atomic import atomic_open
from seqvae.io.tables import read_table
from seqvae.models.interface import SequenceModel
from seqvae.models.layers import DictionaryLinear
from seqvae.models.regularisers import gaussian_kl
from seqvae.options import Boolean, Integer, OneOf, Optional, Options, register
from seqvae.utils import release_free_memory

# Rows (variants x z samples) decoded at once: big enough for efficient matrix products,
# small enough that the [rows, L, states] log-probabilities stay within a few tens of MB.
DECODE_ROWS = 1024


def _plain_decode():
    from seqvae.models.vae import VAE

    return VAE.decode


class Scorer:
    """Scores coded variants relative to the wild type. Subclasses set ``registry``/``name``."""

    registry: AlignmentRegistry
    name: str = "model"
    device: torch.device = torch.device("cpu")
    #: warnings about the model to repeat to the user (e.g. a collapsed posterior)
    warnings: tuple[str, ...] = ()

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
        """Scores ``float64 [B]`` of coded variants ``uint8 [B, L]``; the wild type scores 0."""
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
            out[differs] = values - self.wild_type_value()
        return out

    @property
    def column(self) -> str:
        """The name of this model's column in a table of several models (its directory's)."""
        return self.name

    def score_columns(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """One score column per model: ``{column: scores}`` (an ensemble: each member and the mean)."""
        return {self.column: self.score_codes(codes)}


DECODER_PRECISIONS = ("float32", "bfloat16")
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
        raise InputError(f"antithetic draws need an even number of samples, got {samples}", "--samples")
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
            raise InputError(f"--samples must be >= 1, got {samples}")
        if model.config.likelihood != "categorical":
            raise InputError("mutation scoring needs a model trained on sequences")
        if decoder_precision not in DECODER_PRECISIONS:
            raise InputError(
                f"decoder precision must be one of {', '.join(DECODER_PRECISIONS)}, got {decoder_precision!r}",
                "--decoder-precision",
            )
        if device is not None and not isinstance(device, torch.device):
            from seqvae.training.trainer import resolve_device

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
        # the fast path knows the plain decoder: an MLP body and one linear output layer
        self._fast = (
            isinstance(getattr(model, "decoder_out", None), (torch.nn.Linear, DictionaryLinear))
            and type(model).decode is _plain_decode()
        )
        if decoder_precision == "bfloat16" and not self._fast:
            raise InputError(
                "a bfloat16 decoder needs a plain decoder (MLP + linear output)", "--decoder-precision"
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
        if self.decoder_precision == "bfloat16":
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
                columns[_unique_name(name, columns)] = values  # two runs with the same folder name
        columns[_unique_name("ensemble", columns)] = np.mean(list(columns.values()), axis=0)
        return columns


def load_scorer(
    path: str | Path,
    samples: int = 200,
    seed: int = 0,
    iw: bool = False,
    antithetic: bool = False,
    decoder_precision: str = "float32",
    device: str | None = None,
) -> Scorer:
    """A scorer for a run directory: a VAE run, or a baseline written by ``seqvae baseline fit``.

    ``samples``, ``seed``, ``iw``, ``antithetic`` and ``decoder_precision`` apply to VAE runs
    (see :class:`VAEScorer`); baselines are exact and ignore them. ``device`` places a VAE's
    computation (baselines always score on the CPU).
    """
    from seqvae.training.baselines import is_baseline_directory, load_baseline

    path = Path(path)
    if not path.is_dir():
        raise InputError("run directory not found", path)
    if is_baseline_directory(path):
        model, registry, kind = load_baseline(path)
        return ModelScorer(model, registry, f"{kind}:{path.name}", column=path.name)
    from seqvae.run import load

    run = load(path)
    if run.registry is None:
        raise InputError(
            f"this run was trained on {getattr(run, 'kind', 'continuous')} data; it cannot score mutations",
            path,
        )
    scorer = VAEScorer(
        run.model,
        run.registry,
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
    """How VAE runs score (``seqvae score``'s options; baselines are exact and ignore them).

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
    """

    samples: int | None = None
    seed: int = 0
    iw: bool = False
    fast: bool = False
    antithetic: bool = False
    decoder_precision: str | None = None

    def resolved(self) -> ScoringOptions:
        """The options with ``fast``'s defaults filled in (nothing left ``None``)."""
        from seqvae.data.weights import fast_exact_dtype

        precision = self.decoder_precision
        if precision is None:
            precision = "bfloat16" if self.fast and fast_exact_dtype() == torch.bfloat16 else "float32"
        return ScoringOptions(
            samples=self.samples if self.samples is not None else (FAST_SAMPLES if self.fast else 200),
            seed=self.seed,
            iw=self.iw,
            fast=self.fast,
            antithetic=self.antithetic or self.fast,
            decoder_precision=precision,
        )

    section: ClassVar[str] = "scoring"
    constraints: ClassVar[dict] = {
        "samples": Optional(Integer(1), note="200, or FAST_SAMPLES with fast"),
        "seed": Integer(),
        "iw": Boolean(),
        "fast": Boolean(),
        "antithetic": Boolean(),
        "decoder_precision": Optional(OneOf(DECODER_PRECISIONS)),
    }

    def extra_checks(self, prefix: str) -> None:
        """Antithetic draws come in pairs: the (resolved) number of draws must be even."""
        samples = self.resolved().samples if self.samples is None else self.samples
        if (self.antithetic or self.fast) and samples % 2:
            raise ConfigError(
                f"{prefix}.samples: antithetic draws need an even number (got {samples})",
                field=f"{prefix}.samples",
            )

    def validate(self) -> ScoringOptions:
        """Check the fields, and that antithetic draws get an even number of ``samples``."""
        return self.check()


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
            samples=int(options.samples),
            seed=options.seed,
            iw=options.iw,
            antithetic=options.antithetic,
            decoder_precision=str(options.decoder_precision),
            device=device,
        )
        for path in paths
    ]
    return scorers[0] if len(scorers) == 1 else EnsembleScorer(scorers)


# -- tables --------------------------------------------------------------------------------
# The files beside a scores CSV (OUT.csv): OUT_summary.json, the evaluation against a measured
# column that `seqvae report` finds by this suffix, and OUT_scatter.png, its figure; the heatmap
# of an all-singles table is OUT.png.
SUMMARY_SUFFIX = "_summary.json"
SCATTER_SUFFIX = "_scatter.png"
SINGLES_FIGURE_SUFFIX = ".png"


def scoring_files(out: str | Path) -> dict[str, Path]:
    """The files of a scores CSV ``out``: ``scores``, ``summary`` (JSON), ``scatter`` and, for an
    all-singles table, ``heatmap`` (PNG)."""
    out = Path(out)
    return {
        "scores": out,
        "summary": out.with_name(f"{out.stem}{SUMMARY_SUFFIX}"),
        "scatter": out.with_name(f"{out.stem}{SCATTER_SUFFIX}"),
        "heatmap": out.with_suffix(SINGLES_FIGURE_SUFFIX),
    }


STRUCTURE_SCORE_COLUMN = "score_structure"
BURIAL_COLUMN = "burial"


@dataclass
class StructureScoring:
    """The structure-aware side of a scored table (``score_file(burial=...)``).

    Attributes
    ----------
    burial, rule, measure
        Where the burial came from, the rule, and the measure it used.
    factors
        ``float [L]``: the rule's factor per focus column (NaN: not covered).
    n_uncovered
        Scored variants none of whose mutated positions the structure covers (plain score kept;
        a variant identical to the wild type has no mutated position and is not counted).
    predicted
        The structure-aware scores of the measured rows (beside ``ScoringReport.predicted``).
    evaluation
        Their agreement with the measured column.
    """

    burial: PositionBurial
    rule: StructureRule
    measure: str
    factors: np.ndarray
    n_uncovered: int = 0
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evaluation: Evaluation | None = None

    @classmethod
    def of(cls, burial: PositionBurial, rule: StructureRule | None = None) -> StructureScoring:
        rule = (rule or DEFAULT_STRUCTURE_RULE).check()
        return cls(burial, rule, rule.measure_for(burial), structure_factors(burial, rule))

    def variant_factors(self, codes: np.ndarray, wild_type: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each coded variant's factor and burial (means over its covered mutated positions;
        factor 1 and burial NaN where none is covered, and such variants are counted)."""
        mask = np.asarray(codes) != wild_type[None, :]
        factor, n_covered = variant_factors(mask, self.factors)
        self.n_uncovered += int(((n_covered == 0) & mask.any(1)).sum())
        return factor, variant_burial(mask, self.burial.burial(self.measure))

    def to_dict(self) -> dict[str, Any]:
        """Coverage, identity, the rule, the uncovered variants and, when evaluated, ρ."""
        out = {
            **self.burial.to_dict(),
            "measure": self.measure,
            "rule": self.rule.to_dict(),
            "variants_without_covered_position": self.n_uncovered,
        }
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation.to_dict()
        return out

    def describe(self) -> str:
        return (
            f"structure: {self.burial.describe()}; {self.rule.describe(self.measure)}; "
            f"{self.n_uncovered} scored variants with no covered position keep their plain score"
        )


@dataclass
class ScoredVariants:
    """The scored rows of a saved scores table, ready for the combination rule.

    Attributes
    ----------
    table
        The scored rows (no ``reason``), every column as text, in the table's order.
    scores
        ``float [B]``: their plain scores.
    columns
        The mutated focus columns (0-based) of each row (a wild-type row: none).
    n_rows
        Rows of the whole table (scored or not).
    source
        The file.
    """

    table: pd.DataFrame
    scores: np.ndarray
    columns: list[list[int]]
    n_rows: int
    source: str

    def measured(self, column: str) -> np.ndarray:
        """``float [B]``: a measured column of the scored rows (empty, NaN, NA: missing)."""
        if column not in self.table.columns:
            raise InputError(f"column {column!r} not found", self.source)
        return _numeric_column(self.table, column, self.source, 2)


def read_scored_variants(scores: str | Path | pd.DataFrame, mapper: MutationMapper) -> ScoredVariants:
    """The scored rows of a table :func:`score_file` wrote (seqvae format: its ``mutant``,
    ``score`` and ``reason`` columns, ``seqvae_``-prefixed where the input had those names) and
    the focus columns each mutates, through ``mapper`` (the
    :class:`~seqvae.analysis.mutations.MutationMapper` it was scored with: registry and wild
    type). Read once, then try rules with :func:`~seqvae.analysis.structure_scores.structure_factors`
    and :func:`~seqvae.analysis.structure_scores.structure_aware`."""
    table = (
        scores if isinstance(scores, pd.DataFrame) else pd.read_csv(scores, dtype=str, keep_default_na=False)
    )
    source = "scores" if isinstance(scores, pd.DataFrame) else str(scores)

    def column(name: str) -> str:
        for candidate in (OUTPUT_PREFIX + name, name):
            if candidate in table.columns:
                return candidate
        raise InputError(f"no {name!r} column: not a table written by seqvae score", source)

    reason = table[column("reason")].astype(str).str.strip()
    scored = table[(reason == "").to_numpy()].reset_index(drop=True)
    plain = pd.to_numeric(scored[column("score")], errors="coerce").to_numpy(dtype=np.float64)
    columns = [
        [mapper.column_of(sub.position) for sub in parse_mutant(text) if sub.mutant != sub.wild_type]
        for text in scored[column("mutant")]
    ]
    if any(c is None for row in columns for c in row):
        raise InputError(
            "a scored mutant has no focus column: was the table scored with this alignment?", source
        )
    return ScoredVariants(scored, plain, columns, len(table), source)  # type: ignore[arg-type]


def structure_from_scores(
    scores: str | Path | pd.DataFrame | ScoredVariants,
    mapper: MutationMapper | None,
    burial: PositionBurial,
    rule: StructureRule | None = None,
    score_column: str | None = None,
) -> StructureScoring:
    """The structure-aware side of a scores table :func:`score_file` wrote, without scoring
    again (see :func:`read_scored_variants`; ``mapper`` may be ``None`` when ``scores`` is
    already read). The structure-aware scores of the scored rows, in the table's order, are
    ``.predicted``; with ``score_column`` (a measured column of the table) they are evaluated
    against it (``.evaluation``, with its bootstrap interval: seconds on a large scan).
    """
    if not isinstance(scores, ScoredVariants):
        if mapper is None:
            raise InputError("reading a scores table needs the MutationMapper it was scored with")
        scores = read_scored_variants(scores, mapper)
    structure = StructureScoring.of(burial, rule)
    factor, n_covered = variant_factors(scores.columns, structure.factors)
    structure.n_uncovered = int(sum(1 for row, n in zip(scores.columns, n_covered) if row and n == 0))
    structure.predicted = scores.scores * factor
    if score_column is not None:
        structure.evaluation = evaluate_scores(
            structure.predicted, scores.measured(score_column), n_unscored=scores.n_rows - len(scores.scores)
        )
    return structure


@dataclass
class ScoringReport:
    """What :func:`score_file` did: counts, the scores of the measured rows and, with a
    measured column, their evaluation (:meth:`save` writes it as ``OUT_summary.json``)."""

    n_rows: int = 0
    n_scored: int = 0
    n_unscored: int = 0
    n_mismatches_skipped: int = 0
    seconds: float = 0.0
    measured: np.ndarray = field(default_factory=lambda: np.zeros(0))
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evaluation: Evaluation | None = None
    notes: list[str] = field(default_factory=list)
    model: str = ""
    score_column: str | None = None
    out: Path | None = None
    structure: StructureScoring | None = None

    def __repr__(self) -> str:
        """One line (the arrays are not printed): model, rows, scored, dropped, rho, output."""
        rho = f", rho = {self.evaluation.spearman:.4f}" if self.evaluation is not None else ""
        out = f", out = {self.out.name!r}" if self.out is not None else ""
        return (
            f"ScoringReport({self.model!r}, {self.n_scored} of {self.n_rows} rows scored, "
            f"{self.n_mismatches_skipped} mismatches dropped{rho}{out})"
        )

    def describe(self) -> str:
        """One line: rows scored, rows without a score, mismatches dropped, and the output (and,
        with a structure, a second line: its coverage and the variants it does not cover)."""
        dropped = (
            f"; {self.n_mismatches_skipped} wild-type mismatches dropped" if self.n_mismatches_skipped else ""
        )
        text = (
            f"scored {self.n_scored} of {self.n_rows} rows in {self.seconds:.1f} s "
            f"({self.n_unscored} without a score, see 'reason'{dropped}): {self.out}"
        )
        if self.structure is not None:
            text += "\n" + self.structure.describe()
        return text

    @property
    def mismatch_fraction(self) -> float:
        """The fraction of the rows dropped as wild-type mismatches."""
        return self.n_mismatches_skipped / self.n_rows if self.n_rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The evaluation summary: model, measured column, scores file, seconds, the rows read and
        dropped as wild-type mismatches (and their fraction), the warnings, and the agreement."""
        if self.evaluation is None:
            raise InputError("no evaluation: score the table with a measured column (--score-col)")
        summary = {
            "model": self.model,
            "column": self.score_column,
            "scores_file": None if self.out is None else self.out.name,
            "seconds": self.seconds,
            "n_rows": self.n_rows,
            "n_mismatches_skipped": self.n_mismatches_skipped,
            "mismatch_fraction": self.mismatch_fraction,
            "warnings": list(self.notes),
            **self.evaluation.to_dict(),
        }
        if self.structure is not None:
            summary["structure"] = self.structure.to_dict()
        return summary

    def save(self, path: str | Path | None = None) -> dict[str, Path]:
        """Write the evaluation summary to ``path`` (default: ``OUT_summary.json`` beside the
        scores, :func:`scoring_files`), atomically; the scatter: ``plots.mutations.plot_scoring_report``."""
        from seqvae.io.atomic import write_json

        target = Path(path) if path is not None else scoring_files(self.out or "scores.csv")["summary"]
        write_json(target, self.to_dict())
        return {"summary": target}


# Cells of a measured column read as missing values, like an empty cell (pandas' defaults)
MISSING_VALUES = frozenset(
    {"", "nan", "-nan", "na", "n/a", "#n/a", "#na", "<na>", "null", "none", "#n/a n/a", "-1.#ind", "1.#ind"}
    | {"-1.#qnan", "1.#qnan"}
)


def _numeric_column(block: pd.DataFrame, column: str, source: str, first_line: int) -> np.ndarray:
    """A measured column as floats; empty cells and ``NaN``/``NA``-style markers are missing."""
    cells = block[column].astype(str).str.strip()
    cells = cells.where(~cells.str.lower().isin(MISSING_VALUES), "")
    values = pd.to_numeric(cells.replace("", np.nan), errors="coerce")
    text = values.isna() & (cells != "")
    if text.any():
        k = int(np.flatnonzero(text.to_numpy())[0])
        raise InputError(
            f"column {column!r} must be numeric (or empty, NaN, NA for missing); found {block[column].iloc[k]!r}",
            source,
            first_line + k,
        )
    return values.to_numpy(dtype=np.float64)


def score_file(
    scorer: Scorer,
    mutations: str | Path,
    out: str | Path,
    mutant_column: str | None = None,
    sequence_column: str | None = None,
    score_column: str | None = None,
    label_column: str | None = None,
    skip_mismatches: bool = False,
    chunk_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
    evaluate: bool = True,
    output_format: str = "seqvae",
    sep: str | None = None,
    mutation_separator: str | None = None,
    wild_type: WildType | None = None,
    burial: PositionBurial | None = None,
    rule: StructureRule | None = None,
) -> ScoringReport:
    """Score a mutation CSV chunk by chunk and stream the result to ``out`` (written atomically).

    The output (comma-separated, whatever the input's ``sep``) keeps the input columns as read
    and adds ``n_mutations``, ``score`` (empty when not scorable) and ``reason``; an added
    column whose name the input already uses is written as ``seqvae_<name>`` (see
    :func:`~seqvae.analysis.mutations.output_column_names`). ``sep`` (``None``: detected),
    ``mutation_separator`` (``None``: ``:`` or ``/``) and ``wild_type`` (numbering of a trimmed
    reference row) are passed to the reader and mapper. A bad row anywhere aborts the whole
    file: nothing is written.
    With ``score_column`` (and ``evaluate``) the scores are evaluated against it
    (:func:`~seqvae.analysis.evaluation.evaluate_scores`, in ``report.evaluation``) before the
    output is committed, so a column that cannot be evaluated (no measured value, a constant
    column) leaves no output behind either.

    ``output_format="proteingym"`` writes the columns of ProteinGym's score tables instead:
    ``mutant`` (``A23V:G45D``), ``mutated_sequence`` (the reference span with the substitutions),
    the measured column as ``DMS_score`` and the label column as ``DMS_score_bin`` when given,
    and one score column per model, named by its directory (an ensemble: each member and
    ``ensemble``, their mean; a name already taken gets ``_2``, ``_3``, …).

    With ``burial`` (:func:`~seqvae.analysis.burial.position_burial` of the scorer's registry)
    the scores are also made structure-aware by ``rule`` (default
    :data:`~seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`): the output adds
    ``score_structure`` and ``burial`` (the mean burial of the variant's covered positions,
    empty when none is) after ``score``; the ProteinGym format adds ``<model>_structure`` after
    each model's column. ``report.structure`` holds the coverage, the variants with no covered
    position and, with a measured column, the structure-aware ρ.
    """
    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"output format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}", "--format"
        )
    mapper = MutationMapper(scorer.registry, wild_type)
    required = tuple(c for c in (score_column, label_column) if c)
    report = ScoringReport(
        notes=list(mapper.notes), model=scorer.name, score_column=score_column, out=Path(out)
    )
    if burial is not None:
        if burial.length != scorer.registry.length or list(burial.numbering) != list(
            scorer.registry.numbering
        ):
            raise InputError("the burial was computed for another alignment's focus columns")
        report.structure = StructureScoring.of(burial, rule)
    structure = report.structure
    wild_type_codes = scorer.registry.reference_codes()
    measured, predicted, labels, predicted_structure = [], [], [], []
    tally = MismatchTally()
    started = time.perf_counter()
    source = str(mutations)
    first_line = 2
    with atomic_open(out, "w", newline="", encoding="utf-8") as handle:
        header = True
        for chunk, n_skipped in read_mutation_table(
            mutations,
            mapper,
            mutant_column=mutant_column,
            sequence_column=sequence_column,
            required_columns=required,
            chunk_size=chunk_size,
            skip_mismatches=skip_mismatches,
            sep=sep,
            mutation_separator=mutation_separator,
            tally=tally,
        ):
            table = chunk.table
            measured_values = (
                _numeric_column(table, score_column, source, first_line) if score_column else None
            )
            label_values = _numeric_column(table, label_column, source, first_line) if label_column else None
            scores = np.full(len(table), np.nan)
            aware = np.full(len(table), np.nan)
            buried = np.full(len(table), np.nan)
            factor = None
            if structure is not None:
                factor, buried[chunk.scorable] = structure.variant_factors(chunk.codes, wild_type_codes)
            if output_format == "proteingym":
                columns = {}
                for name, values in scorer.score_columns(chunk.codes).items():
                    columns[name] = np.full(len(table), np.nan)
                    columns[name][chunk.scorable] = values
                    if factor is not None:
                        columns[f"{name}_structure"] = np.full(len(table), np.nan)
                        columns[f"{name}_structure"][chunk.scorable] = values * factor
                last = list(columns)[-2 if factor is not None else -1]
                scores = columns[last]
                if factor is not None:
                    aware = columns[f"{last}_structure"]
                _proteingym_table(table, columns, mapper, score_column, label_column).to_csv(
                    handle, index=False, header=header
                )
            else:
                scores[chunk.scorable] = scorer.score_codes(chunk.codes)
                # the input columns are written back as read; scores keep 8 significant digits
                names = chunk.columns
                table[names["score"]] = _formatted(scores)
                added = [names["n_mutations"], names["score"], names["reason"]]
                if factor is not None:
                    aware[chunk.scorable] = scores[chunk.scorable] * factor
                    extra = _added_names(table, (STRUCTURE_SCORE_COLUMN, BURIAL_COLUMN))
                    table[extra[0]] = _formatted(aware)
                    table[extra[1]] = _formatted(buried)
                    added = [names["n_mutations"], names["score"], *extra, names["reason"]]
                table = table[[*(c for c in table.columns if c not in added), *added]]
                table.to_csv(handle, index=False, header=header)
            header = False
            report.n_rows += len(table) + n_skipped
            report.n_scored += int(chunk.scorable.sum())
            report.n_unscored += int((~chunk.scorable).sum())
            report.n_mismatches_skipped += n_skipped
            if measured_values is not None:
                measured.append(measured_values[chunk.scorable])
                predicted.append(scores[chunk.scorable])
                predicted_structure.append(aware[chunk.scorable])
                if label_values is not None:
                    labels.append(label_values[chunk.scorable])
            first_line += len(table) + n_skipped
            release_free_memory()  # keeps the peak flat over millions of rows
            if progress is not None:
                progress(report.n_rows)
        warning = tally.warning(mapper)
        if warning:
            report.notes.append(warning)
        if measured:
            report.measured = np.concatenate(measured)
            report.predicted = np.concatenate(predicted)
            if structure is not None:
                structure.predicted = np.concatenate(predicted_structure)
            if labels:
                report.labels = np.concatenate(labels)
        if score_column and evaluate:
            try:
                report.evaluation = evaluate_scores(
                    report.predicted,
                    report.measured,
                    report.labels if label_column else None,
                    n_unscored=report.n_unscored + report.n_mismatches_skipped,
                )
                if structure is not None:
                    structure.evaluation = evaluate_scores(
                        structure.predicted,
                        report.measured,
                        report.labels if label_column else None,
                        n_unscored=report.n_unscored + report.n_mismatches_skipped,
                    )
            except InputError as err:
                raise InputError(f"--score-col {score_column!r}: {err.message}", source) from None
    report.seconds = time.perf_counter() - started
    return report


OUTPUT_FORMATS = ("seqvae", "proteingym")


def _added_names(table: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Added column names that never overwrite an input column (``seqvae_<name>`` when taken)."""
    return [OUTPUT_PREFIX + name if name in table.columns else name for name in names]


def _formatted(values: np.ndarray) -> list[str]:
    """Scores as text with 8 significant digits; empty where there is no score."""
    return [f"{v:.8g}" if np.isfinite(v) else "" for v in values]


def _mutated_sequence(mapper: MutationMapper, mutant: str) -> str:
    """The reference span with a mutant's substitutions applied ('' when one falls outside)."""
    residues = list(mapper.reference_residues)
    for part in filter(None, str(mutant).split(":")):
        sub = parse_mutant(part)[0]
        if not mapper.start <= sub.position <= mapper.end:
            return ""
        residues[sub.position - mapper.start] = sub.mutant
    return "".join(residues)


# ProteinGym's names of the measured column and of its binary label
PROTEINGYM_SCORE = "DMS_score"
PROTEINGYM_LABEL = "DMS_score_bin"


def _unique_name(name: str, taken) -> str:
    """``name``, or ``name_2``, ``name_3``, … when ``taken`` holds it already."""
    unique, k = name, 2
    while unique in taken:
        unique, k = f"{name}_{k}", k + 1
    return unique


def _proteingym_table(
    table: pd.DataFrame,
    columns: dict[str, np.ndarray],
    mapper: MutationMapper,
    score_column: str | None,
    label_column: str | None = None,
) -> pd.DataFrame:
    """``mutant``, ``mutated_sequence``, ``DMS_score`` (the measured column), ``DMS_score_bin``
    (the label column) and one column per model, named by its directory."""
    if "mutated_sequence" in table.columns:
        sequences = table["mutated_sequence"].astype(str).str.strip().str.upper()
    else:
        sequences = [_mutated_sequence(mapper, m) for m in table["mutant"]]
    out = pd.DataFrame({"mutant": table["mutant"].to_numpy(), "mutated_sequence": list(sequences)})
    if score_column:
        out[PROTEINGYM_SCORE] = table[score_column].to_numpy()
    if label_column:
        out[PROTEINGYM_LABEL] = table[label_column].to_numpy()
    for name, values in columns.items():
        out[_unique_name(name, out.columns)] = _formatted(values)
    return out


TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
SEQUENCE_COLUMNS = ("aligned_sequence", "sequence", "mutated_sequence")


def read_aligned_sequences(
    path: str | Path,
    registry: AlignmentRegistry,
    sequence_column: str | None = None,
    id_column: str | None = None,
) -> Alignment:
    """Sequences aligned like a run's training alignment, coded with its registry.

    ``path`` is an alignment file (FASTA, A2M, A3M, Stockholm; full rows of the training
    alignment, rows with inserts removed, or the focus columns only), or a table (``.csv``,
    ``.tsv``, ``.txt``; separator detected) whose ``sequence_column`` (default: the first of
    ``aligned_sequence``, ``sequence``, ``mutated_sequence``) holds such rows, with ids in
    ``id_column`` (default ``id`` when present, else ``row1``, ``row2``, ...). Unlike mutant
    tables, a sequence may differ from the reference anywhere, including columns where the
    reference has a gap.
    """
    from seqvae.data.alignment import map_to_registry
    from seqvae.io.alignment_formats import RawAlignment, SequenceRecord, read_records

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return map_to_registry(read_records(path), registry)
    # the separator from the header's , ; or tab: a sniffer splits a one-column header on a letter
    table = read_table(
        path, "cannot read table", sep=detect_separator(path), dtype=str, keep_default_na=False
    )
    columns = list(table.columns)
    if sequence_column is None:
        sequence_column = next((c for c in SEQUENCE_COLUMNS if c in columns), None)
        if sequence_column is None:
            raise InputError(
                f"no {' or '.join(repr(c) for c in SEQUENCE_COLUMNS)} column (columns: {', '.join(columns)}); "
                "name one with --sequence-col",
                path,
            )
    for name in (sequence_column, id_column):
        if name is not None and name not in columns:
            raise InputError(f"column {name!r} not found (columns: {', '.join(columns)})", path)
    if id_column is None and "id" in columns:
        id_column = "id"
    if table.empty:
        raise InputError("the table has no rows", path)
    records = []
    for k, text in enumerate(table[sequence_column]):
        name = str(table[id_column].iloc[k]) if id_column else f"row{k + 1}"
        if not str(text).strip():
            raise InputError(f"column {sequence_column!r} is empty", path, k + 2)
        records.append(SequenceRecord(id=name, header=name, text=str(text).strip(), line=k + 2))
    return map_to_registry(RawAlignment(records, "fasta", str(path)), registry)


@dataclass
class SequenceScoringReport:
    """What :func:`score_sequences` did."""

    n_sequences: int = 0
    reference_value: float = 0.0
    n_nonstandard_as_gap: int = 0
    seconds: float = 0.0
    reference_id: str = ""
    out: Path | None = None

    def describe(self) -> str:
        """One line: sequences scored, the reference's log value, and the output."""
        nonstandard = (
            f"; {self.n_nonstandard_as_gap} non-standard residues read as gaps"
            if self.n_nonstandard_as_gap
            else ""
        )
        return (
            f"scored {self.n_sequences} aligned sequences in {self.seconds:.1f} s (reference "
            f"{self.reference_id}: log value {self.reference_value:.4f}{nonstandard}): {self.out}"
        )


def score_sequences(
    scorer: Scorer,
    path: str | Path,
    out: str | Path,
    sequence_column: str | None = None,
    id_column: str | None = None,
    chunk_size: int = 20_000,
) -> SequenceScoringReport:
    """Score whole aligned sequences (designs, natural variants) and write a CSV atomically.

    Each row gets ``id``, ``sequence`` (the focus columns as coded), ``n_differences`` (focus
    columns that differ from the reference), ``n_gaps``, ``log_value`` (the model's ELBO for
    a VAE, or the importance-weighted log p(x) with ``iw``; log p(x) for a site-independent
    model; -H for a Potts model; the members' mean for an ensemble) and ``score`` (``log_value``
    minus the reference's; higher = fitter). Gaps are part of the sequence for models that
    model gaps; models trained with gaps masked (the fitness preset) leave gapped positions
    out of the sum, so compare sequences with the same gaps there.
    """
    started = time.perf_counter()
    alignment = read_aligned_sequences(path, scorer.registry, sequence_column, id_column)
    registry = scorer.registry
    codes = alignment.codes
    wt = registry.reference_codes()
    report = SequenceScoringReport(
        n_sequences=len(codes),
        reference_value=scorer.wild_type_value(),
        n_nonstandard_as_gap=int(alignment.filter_report.get("nonstandard_residues_mapped_to_gap", 0)),
        reference_id=registry.reference_id,
        out=Path(out),
    )
    gap = registry.alphabet.gap_code
    with atomic_open(out, "w", newline="", encoding="utf-8") as handle:
        for start in range(0, len(codes), chunk_size):
            block = codes[start : start + chunk_size]
            scores = scorer.score_codes(block)
            pd.DataFrame(
                {
                    "id": alignment.ids[start : start + chunk_size],
                    "sequence": [registry.alphabet.decode(row) for row in block],
                    "n_differences": (block != wt).sum(axis=1),
                    "n_gaps": (block == gap).sum(axis=1),
                    "log_value": _formatted(scores + report.reference_value),
                    "score": _formatted(scores),
                }
            ).to_csv(handle, index=False, header=start == 0)
            release_free_memory()
    report.seconds = time.perf_counter() - started
    return report


def score_all_singles(scorer: Scorer) -> pd.DataFrame:
    """Every single substitution of the reference on the focus columns with its score."""
    table = all_single_mutants(scorer.registry)
    mapper = MutationMapper(scorer.registry)
    codes = np.stack(
        [
            mapper.apply([_sub(w, p, r)])
            for w, p, r in zip(table["wild_type"], table["position"], table["residue"])
        ]
    )
    table["score"] = scorer.score_codes(codes)
    return table


@dataclass
class SingleMutantScores:
    """Every single substitution of the reference scored by one model (``seqvae score
    --all-singles``).

    Attributes
    ----------
    table
        One row per substitution: ``mutant``, ``wild_type``, ``position``, ``residue``, ``score``
        and, with a structure, ``score_structure`` and ``burial`` (empty where not covered).
    registry
        The model's registry (numbering and wild type, for the heatmap).
    model
        The scorer's name.
    seconds
        Time spent scoring.
    structure
        The structure-aware side (``None``: no structure given).
    """

    table: pd.DataFrame
    registry: AlignmentRegistry
    model: str
    seconds: float = 0.0
    structure: StructureScoring | None = None

    def __len__(self) -> int:
        return len(self.table)

    def to_frame(self) -> pd.DataFrame:
        """The table :meth:`save` writes."""
        return self.table

    def save(self, path: str | Path) -> dict[str, Path]:
        """Write the table as CSV to ``path``, atomically (the heatmap beside it:
        ``plots.mutations.plot_single_mutant_scores``)."""
        with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
            self.table.to_csv(handle, index=False, float_format="%.6g")
        return {"scores": Path(path)}


def single_mutant_scores(
    scorer: Scorer, burial: PositionBurial | None = None, rule: StructureRule | None = None
) -> SingleMutantScores:
    """:func:`score_all_singles` as a result that saves itself; with ``burial`` (of the scorer's
    registry) also ``score_structure`` and ``burial`` by ``rule`` (see :func:`score_file`)."""
    started = time.perf_counter()
    table = score_all_singles(scorer)
    structure = None
    if burial is not None:
        structure = StructureScoring.of(burial, rule)
        column_of = {int(n): c for c, n in enumerate(scorer.registry.numbering) if n >= 0}
        columns = np.array([column_of[int(p)] for p in table["position"]], dtype=np.int64)
        factors = structure.factors[columns]
        structure.n_uncovered = int(np.isnan(factors).sum())
        table[STRUCTURE_SCORE_COLUMN] = table["score"] * np.where(np.isnan(factors), 1.0, factors)
        table[BURIAL_COLUMN] = burial.burial(structure.measure)[columns]
    return SingleMutantScores(table, scorer.registry, scorer.name, time.perf_counter() - started, structure)


def _sub(wild_type: str, position: int, residue: str):
    from seqvae.analysis.mutations import Substitution

    return Substitution(wild_type, int(position), residue)


def singles_matrix(table: pd.DataFrame, registry: AlignmentRegistry) -> tuple[np.ndarray, list[int]]:
    """Pivot an all-singles table into ``[n_positions, n_residues]`` (wild type = 0)."""
    residues = registry.alphabet.residues
    positions = [int(n) for n in registry.numbering if n >= 0]
    index = {p: i for i, p in enumerate(positions)}
    matrix = np.zeros((len(positions), len(residues)))
    for position, residue, score in zip(table["position"], table["residue"], table["score"]):
        matrix[index[int(position)], residues.index(residue)] = score
    return matrix, positions
