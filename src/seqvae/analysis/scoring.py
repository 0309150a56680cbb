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

import numpy as np
import pandas as pd
import torch

from seqvae.analysis.mutations import (
    MutationMapper,
    WildType,
    all_single_mutants,
    read_mutation_table,
)
from seqvae.data.alignment import AlignmentRegistry
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open
from seqvae.models.regularisers import gaussian_kl

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

    def log_value(self, codes: torch.Tensor) -> torch.Tensor:
        """The model's (unnormalised) log-probability proxy per sequence, ``float64 [B]``."""
        raise NotImplementedError

    def wild_type_value(self) -> float:
        if not hasattr(self, "_wild_type"):
            wt = torch.from_numpy(self.registry.reference_codes()[None, :])
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
            values = self.log_value(torch.from_numpy(codes[differs])).double().numpy()
            out[differs] = values - self.wild_type_value()
        return out


class VAEScorer(Scorer):
    """ELBO (or importance-weighted log-likelihood) differences under a trained VAE.

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
    """

    def __init__(
        self,
        model,
        registry: AlignmentRegistry,
        samples: int = 200,
        seed: int = 0,
        iw: bool = False,
        name: str = "vae",
    ):
        if samples < 1:
            raise InputError(f"--samples must be >= 1, got {samples}")
        if model.config.likelihood != "categorical":
            raise InputError("mutation scoring needs a model trained on sequences")
        self.model = model.eval()
        self.registry = registry
        self.samples = samples
        self.iw = iw
        self.name = name
        generator = torch.Generator().manual_seed(seed)
        self.noise = torch.randn(samples, model.config.latent_dim, generator=generator)
        self._buffer: torch.Tensor | None = None
        # the fast path knows the plain decoder: an MLP body and one linear output layer
        self._fast = (
            isinstance(getattr(model, "decoder_out", None), torch.nn.Linear)
            and type(model).decode is _plain_decode()
        )
        if self._fast:
            self._prepare_fast_path()

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
            self._buffer = torch.empty(max(n, DECODE_ROWS), states * length)
        logits = torch.addmm(self._bias, hidden, self._weight_t, out=self._buffer[:n]).view(n, states, length)
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
        model = self.model
        n_samples = self.samples
        per_block = max(1, DECODE_ROWS // n_samples)
        results = []
        for start in range(0, codes.shape[0], per_block):
            block = codes[start : start + per_block]
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
                results.append(torch.logsumexp(log_w, dim=1) - math.log(n_samples))
            else:
                kl = gaussian_kl(mean, logvar).sum(-1)
                results.append(log_px.double().mean(dim=1) - kl.double())
        return torch.cat(results)


class ModelScorer(Scorer):
    """Wraps a baseline module with a ``log_value(codes)`` method (site-independent, Potts)."""

    def __init__(self, model, registry: AlignmentRegistry, name: str):
        self.model = model.eval()
        self.registry = registry
        self.name = name

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
        self.registry = first
        self.name = "ensemble(" + ",".join(m.name for m in members) + ")"

    def score_codes(self, codes: np.ndarray) -> np.ndarray:
        total = np.zeros(len(codes), dtype=np.float64)
        for member in self.members:
            total += member.score_codes(codes)
        return total / len(self.members)


def load_scorer(path: str | Path, samples: int = 200, seed: int = 0, iw: bool = False) -> Scorer:
    """A scorer for a run directory: a VAE run, or a baseline written by ``seqvae baseline fit``."""
    from seqvae.training.baselines import is_baseline_directory, load_baseline

    path = Path(path)
    if not path.is_dir():
        raise InputError("run directory not found", path)
    if is_baseline_directory(path):
        model, registry, kind = load_baseline(path)
        return ModelScorer(model, registry, f"{kind}:{path.name}")
    from seqvae.run import load

    run = load(path)
    if run.registry is None:
        raise InputError("this run was trained on continuous data; it cannot score mutations", path)
    return VAEScorer(run.model, run.registry, samples=samples, seed=seed, iw=iw, name=path.name)


# -- tables --------------------------------------------------------------------------------
@dataclass
class ScoringReport:
    """What :func:`score_file` did."""

    n_rows: int = 0
    n_scored: int = 0
    n_unscored: int = 0
    n_mismatches_skipped: int = 0
    seconds: float = 0.0
    measured: np.ndarray = field(default_factory=lambda: np.zeros(0))
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    notes: list[str] = field(default_factory=list)


def _numeric_column(block: pd.DataFrame, column: str, source: str, first_line: int) -> np.ndarray:
    values = pd.to_numeric(block[column].replace("", np.nan), errors="coerce")
    text = values.isna() & block[column].notna() & (block[column].astype(str).str.strip() != "")
    if text.any():
        k = int(np.flatnonzero(text.to_numpy())[0])
        raise InputError(
            f"column {column!r} must be numeric; found {block[column].iloc[k]!r}",
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
    sep: str | None = None,
    mutation_separator: str | None = None,
    wild_type: WildType | None = None,
) -> ScoringReport:
    """Score a mutation CSV chunk by chunk and stream the result to ``out`` (written atomically).

    The output (comma-separated, whatever the input's ``sep``) keeps the input columns as read
    and adds ``n_mutations``, ``score`` (empty when not scorable) and ``reason``; an added
    column whose name the input already uses is written as ``seqvae_<name>`` (see
    :func:`~seqvae.analysis.mutations.output_column_names`). ``sep`` (``None``: detected),
    ``mutation_separator`` (``None``: ``:`` or ``/``) and ``wild_type`` (numbering of a trimmed
    reference row) are passed to the reader and mapper. A bad row anywhere aborts the whole
    file: nothing is written.
    """
    mapper = MutationMapper(scorer.registry, wild_type)
    required = tuple(c for c in (score_column, label_column) if c)
    report = ScoringReport(notes=list(mapper.notes))
    measured, predicted, labels = [], [], []
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
        ):
            table = chunk.table
            measured_values = (
                _numeric_column(table, score_column, source, first_line) if score_column else None
            )
            label_values = _numeric_column(table, label_column, source, first_line) if label_column else None
            scores = np.full(len(table), np.nan)
            scores[chunk.scorable] = scorer.score_codes(chunk.codes)
            # the input columns are written back as read; scores keep 8 significant digits
            names = chunk.columns
            table[names["score"]] = [f"{v:.8g}" if np.isfinite(v) else "" for v in scores]
            added = [names["n_mutations"], names["score"], names["reason"]]
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
                if label_values is not None:
                    labels.append(label_values[chunk.scorable])
            first_line += len(table) + n_skipped
            if progress is not None:
                progress(report.n_rows)
    report.seconds = time.perf_counter() - started
    if measured:
        report.measured = np.concatenate(measured)
        report.predicted = np.concatenate(predicted)
        if labels:
            report.labels = np.concatenate(labels)
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
