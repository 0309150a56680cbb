"""The VAE's pairwise structure ("second-order moments"): how a point mutation at position j
moves the decoded log-probability of the reference residue at position i.

For each reference sequence x and each Hamming-1 neighbour x^(j,b) (x_j := b), both encoded to
their latent means z(.),

    Δ_ij(x, b) = log p(x_i | z(x^(j,b))) - log p(x_i | z(x)),    i != j.

The L x L matrix is the root of the weighted mean of Δ² over substitutions b and references x,
symmetrised ((M + Mᵀ)/2). Where the reference has a gap at i and the model masks gaps, log p(x_i)
is undefined and those terms are left out of the mean (they are included when gaps are a
modelled state). Substitutions b run over the residue states different from x_j (and the gap too
with ``include_gap_substitutions`` when the model has a gap state).

Fast path: the encoder's first layer is an embedding lookup, i.e. linear in the one-hot input,
so the neighbour's first pre-activation is the reference's plus ``W[j, b] - W[j, x_j]``. All
neighbours of one reference come from one broadcast; only the rest of the encoder and the
decoder run per neighbour, in batches. :func:`coupling_deltas` with ``method="naive"``
re-encodes every neighbour from its codes and serves as the check and the benchmark baseline.

The decoder then dominates (its last layer is ``H x L·S`` per neighbour). With
``decoder_precision="bfloat16"`` only the change of the logits, ``(h(z') - h(z)) Wᵀ``, is a
bfloat16 product (:func:`delta_log_probs`): ~2x faster end to end on CPUs with AMX, with errors
relative to Δ, not to the logits (≤ 1e-3 of the matrix's largest entry on trained models).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from seqvae.analysis.drawable import Drawable
from seqvae.data.alignment import Alignment
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import ConfigError, InputError
from seqvae.io.atomic import write_json, write_npz
from seqvae.io.matrix_file import pair_table, save_matrix_npz, save_pair_table
from seqvae.models.vae import CodeEmbedding
from seqvae.options import Boolean, Integer, OneOf, Optional, Options, register

DECODER_PRECISIONS = ("float32", "bfloat16")

# the files `seqvae couplings` writes (and `seqvae report` reads)
COUPLINGS_FILE = "couplings.npz"
COUPLINGS_FULL_FILE = "couplings_full.npz"
#: the same matrix as a ranked pair table (``i, A_i, j, A_j, score``; EVcouplings' columns)
COUPLINGS_PAIRS_FILE = "couplings_pairs.csv"
COUPLINGS_SUMMARY_FILE = "summary.json"
COUPLINGS_KIND = "vae"  # the `kind` of couplings.npz: a Potts baseline's couplings.npz says "potts"


@register
@dataclass(frozen=True)
class CouplingOptions(Options):
    """Settings of :func:`vae_couplings`.

    Parameters
    ----------
    n_references
        Use a weighted random sample (probability ∝ sequence weight, without replacement) of
        this many reference sequences; ``None`` uses all of them, each with its weight.
    seed
        Seed of the reference sample.
    batch_size
        Neighbours encoded and decoded per batch (512: the decoder's ``[batch, L·S]`` output
        stays cache-sized; measurably faster than 2048 on CPU, see benchmarks/RESULTS.md).
    include_gap_substitutions
        Also mutate to a gap (only for models with a gap state).
    full
        Also accumulate the (i, a, j, b)-resolved tensors (a = the reference residue at i,
        b = the substituted state at j): memory 3 x L² x Q² floats.
    method
        ``fast`` (first-layer update) or ``naive`` (re-encode every neighbour).
    decoder_precision
        ``float32`` (default): every neighbour's decoder output in full, as in training.
        ``bfloat16`` (fast method only): the change of the output logits is computed as
        ``(h(z') - h(z)) Wᵀ`` with the last layer's matrix product in bfloat16 (the hidden
        layers, the reference's log-probabilities and the log-sum-exp stay float32), so the
        rounding is relative to the change, not to the logits. See :func:`delta_log_probs`.
    """

    n_references: int | None = None
    seed: int = 0
    batch_size: int = 512
    include_gap_substitutions: bool = False
    full: bool = False
    method: str = "fast"
    decoder_precision: str = "float32"

    section: ClassVar[str] = "couplings"
    constraints: ClassVar[dict] = {
        "n_references": Optional(Integer(1), note="all"),
        "seed": Integer(0),
        "batch_size": Integer(1),
        "include_gap_substitutions": Boolean(),
        "full": Boolean(),
        "method": OneOf(("fast", "naive")),
        "decoder_precision": OneOf(DECODER_PRECISIONS),
    }

    def extra_checks(self, prefix: str) -> None:
        if self.decoder_precision != "float32" and self.method != "fast":
            raise ConfigError(
                f"{prefix}.decoder_precision: a bfloat16 decoder needs the fast method",
                field=f"{prefix}.decoder_precision",
            )


def _check_model(model) -> None:

    if model.config.likelihood != "categorical" or not isinstance(model.input_layer, CodeEmbedding):
        raise InputError("couplings need a sequence model (categorical likelihood, embedding input layer)")


def neighbour_list(
    reference: np.ndarray, n_states: int, gap_code: int, gap_substitutions: bool
) -> tuple[np.ndarray, np.ndarray]:
    """All Hamming-1 substitutions ``(j, b)`` of one reference, position-major.

    ``b`` runs over the residue codes ``0 .. gap_code - 1`` (and the gap when
    ``gap_substitutions``) except the reference's own code at ``j``.
    """
    length = reference.shape[0]
    states = np.arange(gap_code + (1 if gap_substitutions else 0))
    j = np.repeat(np.arange(length), states.size)
    b = np.tile(states, length)
    keep = b != reference[j].astype(np.int64)
    return j[keep], b[keep]


def first_layer_table(model) -> torch.Tensor:
    """The embedding table as ``[L, Q, H]`` with masked-gap rows zeroed (they contribute nothing)."""
    layer = model.input_layer
    length, q = layer.length, layer.alphabet_size
    table = layer.table.weight[: length * q].view(length, q, -1).clone()
    if not layer.gap_is_state:
        table[:, q - 1] = 0.0
    return table


@torch.no_grad()
def _target_log_probs(model, z: torch.Tensor, reference: torch.Tensor, batch_size: int) -> torch.Tensor:
    """log p(x_i | z) of the reference's code at every position, ``[B, L]`` (0 where undefined)."""
    out = []
    gap = model.config.alphabet_size - 1
    ref = reference.long()
    safe = torch.where(ref == gap, 0, ref) if not model.config.model_gaps else ref
    index = safe.view(1, -1, 1)
    for start in range(0, z.shape[0], batch_size):
        decoded = model.decode(z[start : start + batch_size])
        out.append(decoded.gather(2, index.expand(decoded.shape[0], -1, 1)).squeeze(2))
    return torch.cat(out) if out else torch.zeros(0, reference.numel())


@torch.no_grad()
def delta_log_probs(
    model,
    z: torch.Tensor,
    z_reference: torch.Tensor,
    reference: torch.Tensor,
    batch_size: int,
    matmul_dtype: torch.dtype = torch.bfloat16,
) -> torch.Tensor:
    """log p(x_i | z') - log p(x_i | z) for the reference's code x_i at every position, ``[B, L]``.

    With ``h`` the decoder's last hidden layer and ``W`` its output matrix, the logits change by
    ``Δl = (h(z') - h(z)) Wᵀ`` (the bias cancels), so

        Δ_i = Δl_{i, x_i} - log Σ_a p(a | z) exp(Δl_{i, a}).

    Only ``Δl`` (the big ``[B, H] x [H, L·S]`` product) is computed in ``matmul_dtype``: its
    rounding is relative to the change of the logits, not to the logits, and the term at x_i
    is an exact float32 ``[B, H] x [H, L]`` product. Entries where the reference is a masked
    gap are meaningless (the caller zeroes them).
    """
    length, states = model.config.length, model.n_output_states
    gap = model.config.alphabet_size - 1
    ref = reference.long()
    safe = torch.where(ref == gap, 0, ref) if not model.config.model_gaps else ref
    weight = model.decoder_out.weight  # [L*S, H]
    hidden_ref = model.decoder_body(z_reference)  # [1, H]
    log_p_ref = torch.log_softmax(model.decoder_out(hidden_ref).view(length, states), dim=-1)
    p_ref = log_p_ref.exp()
    target_rows = weight.view(length, states, -1)[torch.arange(length, device=weight.device), safe]  # [L, H]
    weight_t = weight.T.contiguous().to(matmul_dtype)  # [H, L*S], converted once
    out = []
    for start in range(0, z.shape[0], batch_size):
        d_hidden = model.decoder_body(z[start : start + batch_size]) - hidden_ref
        d_logits = (d_hidden.to(matmul_dtype) @ weight_t).float().view(-1, length, states)
        # log Σ_a p_a exp(Δl_a) without a max pass; |Δl| > ~80 (overflow) falls back to a stable form
        shift = torch.log(d_logits.exp().mul_(p_ref).sum(dim=-1))
        if not torch.isfinite(shift).all():
            shift = torch.logsumexp(d_logits + log_p_ref, dim=-1)
        out.append(d_hidden @ target_rows.T - shift)
    return torch.cat(out) if out else torch.zeros(0, length, device=z.device)


@torch.no_grad()
def coupling_deltas(
    model,
    reference: np.ndarray,
    method: str = "fast",
    batch_size: int = 512,
    include_gap_substitutions: bool = False,
    table: torch.Tensor | None = None,
    decoder_precision: str = "float32",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Δ_ij for every neighbour of one reference sequence.

    ``table`` is the model's first-layer table from :func:`first_layer_table` (computed here
    when not given; pass it when looping over many references). ``decoder_precision``: see
    :class:`CouplingOptions`.

    Returns
    -------
    (j, b, delta, defined)
        ``j``, ``b``: the substitution of each neighbour; ``delta [n_neighbours, L]`` =
        log p(x_i | z(x^(j,b))) - log p(x_i | z(x)) (0 at i = j); ``defined [L]``: positions i
        where log p(x_i) exists (False for a masked gap).
    """
    _check_model(model)
    model.eval()
    config = model.config
    gap = config.alphabet_size - 1
    ref_np = np.asarray(reference, dtype=np.uint8)
    if ref_np.shape != (config.length,):
        raise InputError(f"reference has {ref_np.shape[0]} positions, the model expects {config.length}")
    gap_subs = include_gap_substitutions and config.model_gaps
    j, b = neighbour_list(ref_np, config.alphabet_size, gap, gap_subs)
    ref_t = torch.from_numpy(ref_np)
    device = next(model.parameters()).device
    ref_d = ref_t.to(device)
    base_pre = model.input_layer(ref_d.unsqueeze(0))  # [1, H]
    z_ref, _ = model.encode_from_preactivation(base_pre)
    j_t = torch.from_numpy(j).to(device)
    b_t = torch.from_numpy(b).to(device)
    means = []
    if method == "fast":
        if table is None:
            table = first_layer_table(model)
        ref_long = ref_d.long()
        for start in range(0, j.size, batch_size):
            jj, bb = j_t[start : start + batch_size], b_t[start : start + batch_size]
            pre = base_pre + table[jj, bb] - table[jj, ref_long[jj]]
            means.append(model.encode_from_preactivation(pre)[0])
    elif method == "naive":
        for start in range(0, j.size, batch_size):
            jj, bb = j_t[start : start + batch_size], b_t[start : start + batch_size]
            codes = ref_d.unsqueeze(0).repeat(jj.numel(), 1)
            codes[torch.arange(jj.numel(), device=device), jj] = bb.to(codes.dtype)
            means.append(model.encode(codes)[0])
    else:
        raise InputError(f"method must be 'fast' or 'naive', got {method!r}")
    z = torch.cat(means) if means else torch.zeros(0, config.latent_dim, device=device)
    if decoder_precision == "float32":
        base = _target_log_probs(model, z_ref, ref_d, batch_size)[0]
        delta = _target_log_probs(model, z, ref_d, batch_size) - base.unsqueeze(0)
    elif decoder_precision == "bfloat16" and method == "fast":
        delta = delta_log_probs(model, z, z_ref, ref_d, batch_size, torch.bfloat16)
    else:
        raise InputError(f"decoder_precision {decoder_precision!r} is not available with method {method!r}")
    defined = (ref_t != gap) | torch.tensor(config.model_gaps)
    delta[:, ~defined.to(device)] = 0.0
    delta[torch.arange(j.size, device=device), j_t] = 0.0
    return j, b, delta.cpu().numpy().astype(np.float64), defined.numpy()


def choose_references(
    weights: np.ndarray, n_references: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reference rows and their aggregation weights.

    All rows with their sequence weights, or a sample of ``n_references`` rows drawn with
    probability ∝ weight without replacement, each then counted once.
    """
    weights = np.asarray(weights, np.float64)
    n = weights.size
    if n_references is None or n_references >= n:
        return np.arange(n), weights.copy()
    positive = weights > 0
    if positive.sum() < n_references:
        raise ConfigError(
            f"couplings.n_references: only {int(positive.sum())} sequences have positive weight; "
            f"{n_references} is too many",
            field="couplings.n_references",
        )
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=n_references, replace=False, p=weights / weights.sum())
    return np.sort(rows), np.ones(n_references)


@dataclass(repr=False)
class CouplingResult(Drawable):
    """The aggregated VAE coupling matrix and its ingredients: :meth:`to_frame` ranks the
    pairs, :meth:`plot` draws the matrix, :meth:`save` writes ``seqvae couplings``' files."""

    matrix: np.ndarray  # [L, L] symmetrised RMS of Δ
    rms: np.ndarray  # [L, L] before symmetrisation: rows i (affected), columns j (mutated)
    mean_delta: np.ndarray  # [L, L] weighted mean of Δ (signed)
    weight_sum: np.ndarray  # [L, L] total weight of the terms behind each entry
    reference_rows: np.ndarray
    reference_weights: np.ndarray
    n_neighbours: int
    full: dict[str, np.ndarray] | None
    options: CouplingOptions
    elapsed_s: float
    timings: dict[str, float] = field(default_factory=dict)
    #: the run it was computed with (its numbering and path go into the files)
    run: Any = field(default=None, repr=False, compare=False)

    def save(self, out: str | Path, run=None) -> dict[str, Path]:
        """Write this result's files into ``out`` (see :func:`write_coupling_outputs`); ``run``
        defaults to the run the result was computed with."""
        return write_coupling_outputs(self, self.run if run is None else run, out)

    def _facts(self) -> dict[str, str]:
        length = self.matrix.shape[0]
        top = ""
        if length > 1:
            first = self.to_frame().iloc[0]
            top = f"{first['A_i']}{first['i']}-{first['A_j']}{first['j']} ({first['score']:.3g})"
        return {
            "L": str(length),
            "references": str(self.reference_rows.size),
            "neighbours": str(self.n_neighbours),
            "strongest pair": top,
        }

    def to_frame(self) -> pd.DataFrame:
        """The pairs ``i < j``, strongest first (:func:`seqvae.io.matrix_file.pair_table`: ``i``,
        ``A_i``, ``j``, ``A_j`` in the run's reference numbering, ``score`` the symmetrised
        coupling), as ``couplings_pairs.csv`` holds them."""
        registry = getattr(self.run, "registry", None)
        if registry is None:
            return pair_table(self.matrix)
        return pair_table(self.matrix, registry.numbering, registry.reference_sequence)

    def describe(self) -> str:
        """References, neighbours and speed in one line, as ``seqvae couplings`` prints them."""
        rate = self.n_neighbours / max(self.elapsed_s, 1e-9)
        return (
            f"couplings: {self.reference_rows.size} references, {self.n_neighbours} neighbours in "
            f"{self.elapsed_s:.1f} s ({rate:.0f} neighbours/s)"
        )


def reference_sequences(run, alignment) -> tuple[np.ndarray, np.ndarray]:
    """The codes and weights of reference sequences for :func:`vae_couplings`.

    Parameters
    ----------
    run
        A loaded :class:`seqvae.Run` on sequences.
    alignment
        A path (read like the training alignment) or an :class:`~seqvae.Alignment`; its sequence
        weights, or else weights at the run's identity threshold θ.

    Returns
    -------
    tuple
        ``uint8 [N, L]`` codes and ``float [N]`` weights.
    """

    aln = run.read_alignment(alignment) if isinstance(alignment, str | Path) else alignment
    weights = aln.sequence_weights
    if weights is None:
        weights = compute_sequence_weights(aln.codes, run.registry.alphabet.gap_code, run.config.data.theta)
    return aln.codes, weights


def vae_couplings(
    run,
    codes: np.ndarray | Alignment | str | Path | None = None,
    weights: np.ndarray | None = None,
    options: CouplingOptions | None = None,
    progress=None,
) -> CouplingResult:
    """The VAE's L x L coupling matrix (see the module docstring).

    Parameters
    ----------
    run
        A loaded :class:`seqvae.Run` (or anything with ``.model``) on sequences.
    codes, weights
        Reference sequences ``uint8 [N, L]`` coded like the training data, and their weights;
        or an alignment (path or :class:`~seqvae.Alignment`) with ``weights=None``: its sequences
        and weights (:func:`reference_sequences`); default: the run's training sequences and weights.
    options
        :class:`CouplingOptions`.
    progress
        Optional callable ``progress(n_done, n_total)`` called after each reference.
    """
    options = (options or CouplingOptions()).validate()
    if getattr(run, "kind", "sequences") != "sequences":  # a Run on continuous data or counts
        raise InputError(f"this run was trained on {run.kind} data, not sequences", run.path)
    if codes is not None and weights is None and not isinstance(codes, np.ndarray):
        codes, weights = reference_sequences(run, codes)
    model = run.model
    _check_model(model)
    if codes is None:
        codes, train_weights, _, _ = run.training_data()
        weights = train_weights if weights is None else weights
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != model.config.length:
        raise InputError(
            f"reference sequences must be [N, {model.config.length}] codes, got shape {codes.shape}"
        )
    if weights is None:
        weights = np.ones(codes.shape[0])
    rows, ref_weights = choose_references(weights, options.n_references, options.seed)
    length = model.config.length
    q = model.config.alphabet_size
    sum_sq = np.zeros((length, length))
    sum_delta = np.zeros((length, length))
    weight_sum = np.zeros((length, length))
    full = None
    if options.full:
        full = {
            "sum_sq": np.zeros((length, q, length, q), dtype=np.float32),
            "sum_delta": np.zeros((length, q, length, q), dtype=np.float32),
            "weight": np.zeros((length, q, length, q), dtype=np.float32),
        }
    started = time.perf_counter()
    n_neighbours = 0
    with torch.no_grad():
        table = first_layer_table(model) if options.method == "fast" else None
    for count, (row, w) in enumerate(zip(rows, ref_weights), start=1):
        reference = codes[row]
        j, b, delta, defined = coupling_deltas(
            model,
            reference,
            options.method,
            options.batch_size,
            options.include_gap_substitutions,
            table,
            options.decoder_precision,
        )
        n_neighbours += j.size
        # sums over substitutions b at each j, for every affected position i
        valid = np.broadcast_to(defined[None, :], delta.shape).astype(np.float64)
        valid = valid.copy()
        valid[np.arange(j.size), j] = 0.0
        # neighbours are grouped by j: sum each group over b (reduceat), giving [i, j] sums
        starts = np.flatnonzero(np.r_[True, np.diff(j) != 0])
        mutated = j[starts]
        sum_sq[:, mutated] += w * np.add.reduceat(delta**2, starts, axis=0).T
        sum_delta[:, mutated] += w * np.add.reduceat(delta, starts, axis=0).T
        weight_sum[:, mutated] += w * np.add.reduceat(valid, starts, axis=0).T
        if full is not None:
            a = reference.astype(np.int64)
            grid = np.zeros((length, length, q))  # [i, j, b]
            grid[:, j, b] = delta.T
            present = np.zeros((length, length, q))
            present[:, j, b] = valid.T
            rows_i = np.arange(length)
            full["sum_sq"][rows_i, a] += (w * grid**2).astype(np.float32)
            full["sum_delta"][rows_i, a] += (w * grid).astype(np.float32)
            full["weight"][rows_i, a] += (w * present).astype(np.float32)
        if progress is not None:
            progress(count, rows.size)
    elapsed = time.perf_counter() - started
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.where(weight_sum > 0, np.sqrt(sum_sq / weight_sum), 0.0)
        mean_delta = np.where(weight_sum > 0, sum_delta / weight_sum, 0.0)
    np.fill_diagonal(rms, 0.0)
    matrix = 0.5 * (rms + rms.T)
    return CouplingResult(
        matrix=matrix,
        rms=rms,
        mean_delta=mean_delta,
        weight_sum=weight_sum,
        reference_rows=rows,
        reference_weights=ref_weights,
        n_neighbours=n_neighbours,
        full=full,
        options=options,
        elapsed_s=elapsed,
        run=run,
    )


def full_tensor_to_matrix(full: dict[str, np.ndarray]) -> np.ndarray:
    """Reduce the (i, a, j, b) tensors to the L x L matrix (same as :attr:`CouplingResult.matrix`)."""
    sum_sq = full["sum_sq"].astype(np.float64).sum(axis=(1, 3))
    weight = full["weight"].astype(np.float64).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.where(weight > 0, np.sqrt(sum_sq / weight), 0.0)
    np.fill_diagonal(rms, 0.0)
    return 0.5 * (rms + rms.T)


def write_coupling_outputs(result: CouplingResult, run, out: str | Path) -> dict[str, Path]:
    """Write ``couplings.npz`` (position-matrix convention), ``couplings_pairs.csv`` (the ranked
    pair table), optionally ``couplings_full.npz``, and ``summary.json`` into ``out`` (the heatmap: :func:`seqvae.plots.matrices.plot_coupling_matrix`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    registry = getattr(run, "registry", None)
    numbering = None if registry is None else registry.numbering
    residues = None if registry is None else registry.reference_sequence
    paths = {
        "npz": save_matrix_npz(
            out / COUPLINGS_FILE,
            result.matrix,
            numbering=numbering,
            residues=residues,
            kind=COUPLINGS_KIND,
            rms_unsymmetrised=result.rms,
            mean_delta=result.mean_delta,
            weight_sum=result.weight_sum,
            reference_rows=result.reference_rows,
            reference_weights=result.reference_weights,
        )
    }
    paths["pairs"] = save_pair_table(
        out / COUPLINGS_PAIRS_FILE, result.matrix, numbering=numbering, residues=residues
    )
    if result.full is not None:
        paths["full"] = write_npz(out / COUPLINGS_FULL_FILE, **result.full)
    summary = {
        "run": str(getattr(run, "path", "")),
        "length": int(result.matrix.shape[0]),
        "n_references": int(result.reference_rows.size),
        "n_neighbours": int(result.n_neighbours),
        "elapsed_s": round(result.elapsed_s, 3),
        "neighbours_per_s": round(result.n_neighbours / max(result.elapsed_s, 1e-9), 1),
        "options": asdict(result.options),
    }
    write_json(out / COUPLINGS_SUMMARY_FILE, summary)
    paths["summary"] = out / COUPLINGS_SUMMARY_FILE
    return paths
