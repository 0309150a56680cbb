"""Fit the classical baselines and keep them in run-like directories.

* :func:`fit_site_independent`: weighted column frequencies plus a pseudocount; with a
  ``reference_power`` p > 0 (:func:`fit_baseline`), each sequence's weight is multiplied by its
  identity to the reference to the power p, a profile of the wild type's near relatives.
* :func:`fit_potts`: a Potts model by weighted pseudo-likelihood with L2 on fields and
  couplings (the plmc / EVmutation recipe), optimised with L-BFGS in torch.

A baseline directory holds ``baseline.json`` (kind, settings, timings), ``registry.json`` (the
same schema as a VAE run, so mutations map identically), ``model.safetensors`` and, for Potts,
``couplings.npz`` and ``couplings_apc.npz``: the L x L coupling strengths (Frobenius norm of each
zero-sum-gauge ``J_ij`` over the 20 amino acids, gap state dropped), without and with the average
product correction, in the position-matrix convention of :mod:`seqvae.io.matrix_file`
(``matrix``, ``numbering``, ``residues``, ``kind``), so ``seqvae compare`` and ``seqvae contacts``
read them directly; ``couplings_apc_pairs.csv`` ranks the corrected pairs (``i, A_i, j, A_j,
score``, EVcouplings' columns).
``seqvae score DIR mutations.csv`` accepts such a directory like a VAE run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import save_file

from seqvae.data.alignment import Alignment, AlignmentRegistry
from seqvae.data.onehot import one_hot
from seqvae.data.weights import DEFAULT_THETA, compute_sequence_weights, reference_identity
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_path, write_json
from seqvae.io.matrix_file import save_matrix_npz, save_pair_table
from seqvae.io.output_dirs import DirectoryKind, check_output_directory, claim_directory
from seqvae.models.potts import PottsModel, average_product_correction
from seqvae.models.site_independent import SiteIndependentModel
from seqvae.options import Boolean, Integer, Interval, Options, register
from seqvae.progress import Progress, ProgressLike, as_progress, tracking
from seqvae.training import run_directory as files

BASELINE = "baseline.json"
COUPLINGS = "couplings.npz"
COUPLINGS_APC = "couplings_apc.npz"
#: ``couplings_apc.npz`` as a ranked pair table (``i, A_i, j, A_j, score``; EVcouplings' columns)
COUPLINGS_APC_PAIRS = "couplings_apc_pairs.csv"
BASELINE_DIRECTORY = DirectoryKind(
    name="seqvae baseline directory",
    markers=(BASELINE,),
    entries=(BASELINE, files.REGISTRY, files.WEIGHTS, COUPLINGS, COUPLINGS_APC, COUPLINGS_APC_PAIRS),
)
KINDS = ("site-independent", "potts")
#: the baselines the DMS benchmarks fit, by name: (kind, ``reference_power`` of
#: :func:`fit_baseline`); ``site-independent-wt`` is the site-independent profile of the
#: family weighted towards the wild type (identity²)
NAMED_BASELINES = {
    "site-independent": ("site-independent", 0.0),
    "site-independent-wt": ("site-independent", 2.0),
    "potts": ("potts", 0.0),
}


def _weights(alignment: Alignment, theta: float | None) -> np.ndarray:
    if alignment.sequence_weights is not None:
        return np.asarray(alignment.sequence_weights, dtype=np.float64)
    return compute_sequence_weights(alignment.codes, alignment.alphabet.gap_code, theta)


# -- site-independent ----------------------------------------------------------------------
def fit_site_independent(
    codes: np.ndarray,
    weights: np.ndarray,
    gap_code: int,
    pseudocount: float = 1.0,
    model_gaps: bool = False,
) -> SiteIndependentModel:
    """Weighted per-column frequencies with ``pseudocount`` added to every state's weighted count.

    Parameters
    ----------
    codes
        ``uint8 [N, L]`` training sequences.
    weights
        ``[N]`` sequence weights.
    gap_code
        The gap code (last code).
    pseudocount
        Weighted count added to each state of each column (> 0 keeps unseen residues finite).
    model_gaps
        Treat the gap as a state (``True``) or leave gaps out of the distribution (``False``).
    """
    if pseudocount < 0:
        raise InputError(f"pseudocount must be >= 0, got {pseudocount}")
    n_states = gap_code + 1 if model_gaps else gap_code
    counts = np.zeros((codes.shape[1], gap_code + 1), dtype=np.float64)
    for state in range(gap_code + 1):
        counts[:, state] = (weights[:, None] * (codes == state)).sum(axis=0)
    counts = counts[:, :n_states] + pseudocount
    totals = counts.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise InputError("a column has no residues and the pseudocount is 0: cannot fit frequencies")
    with np.errstate(divide="ignore"):
        log_frequencies = np.log(counts / totals)
    return SiteIndependentModel(torch.from_numpy(log_frequencies), gap_code)


# -- Potts -----------------------------------------------------------------------------------
@register
@dataclass
class PottsSettings(Options):
    """Pseudo-likelihood fit settings (plmc / EVcouplings defaults).

    Parameters
    ----------
    lambda_h
        L2 strength on the fields, ``lambda_h * ||h||^2``.
    lambda_j
        L2 strength on the couplings, ``lambda_j * sum_{i<j} ||J_ij||^2``; multiplied by
        ``(q - 1) * (L - 1)`` when ``scale_lambda_j`` (EVcouplings ``lambda_J_times_Lq``).
    max_iterations
        L-BFGS iterations.
    tolerance
        Stop when the relative change of the objective per iteration falls below it.
    block_rows
        Sequences one-hot encoded at a time.
    bfloat16_gradient
        Compute the couplings' gradient ``X^T R`` (one-hot ``X`` times residuals ``R``) in
        bfloat16: the one-hots are exact, the residuals keep ~3 significant digits, and on CPUs
        with AMX/AVX-512 the product is ~5x faster. The objective itself stays float32.

    Errors name ``potts.<field>``; ``seqvae baseline fit`` reports them against its flags.
    """

    lambda_h: float = 0.01
    lambda_j: float = 0.01
    scale_lambda_j: bool = True
    max_iterations: int = 30
    tolerance: float = 1e-6
    block_rows: int = 2048
    bfloat16_gradient: bool = True

    section: ClassVar[str] = "potts"
    constraints: ClassVar[dict] = {
        "lambda_h": Interval(0.0),
        "lambda_j": Interval(0.0),
        "scale_lambda_j": Boolean(),
        "max_iterations": Integer(1),
        "tolerance": Interval(0.0),
        "block_rows": Integer(1),
        "bfloat16_gradient": Boolean(),
    }

    def validate(self) -> PottsSettings:
        """Every field against its constraint; a :class:`~seqvae.errors.ConfigError` naming it."""
        return self.check()


def _deduplicate(codes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Identical rows merged, their weights summed (the pseudo-likelihood is unchanged)."""
    unique, inverse = np.unique(codes, axis=0, return_inverse=True)
    summed = np.zeros(len(unique), dtype=np.float64)
    np.add.at(summed, inverse.reshape(-1), weights)
    return unique, summed


@dataclass
class _PseudoLikelihood:
    """The objective of :func:`fit_potts` per N_eff, with its gradient made by hand."""

    codes: torch.Tensor  # [N, L], deduplicated
    weights: torch.Tensor  # float32 [N]
    n_eff: float
    q: int
    lambda_h: float
    lambda_j: float
    block_mask: torch.Tensor  # zero on the diagonal blocks
    settings: PottsSettings

    def evaluate(self, h: torch.Tensor, J: torch.Tensor, on_block: Callable[[], None]) -> torch.Tensor:
        """The objective at (h, J); sets both parameters' ``.grad``."""
        lambda_h, lambda_j = self.lambda_h, self.lambda_j
        with torch.no_grad():
            total, grad_h, grad_j = self.data_term(h, J, on_block)
            # J is used by both conditionals (i given j and j given i): symmetric gradient
            grad_j = 0.5 * (grad_j + grad_j.T)
            grad_j.mul_(self.block_mask)
            scale = 1.0 / self.n_eff
            # each pair i<j appears twice in the full matrix: lambda_J * sum_{i<j} = lambda_J / 2 * sum_full
            penalty = lambda_h * float(h.double().pow(2).sum()) + 0.5 * lambda_j * float(
                J.double().pow(2).sum()
            )
            h.grad = ((grad_h + 2.0 * lambda_h * h.double()) * scale).float()
            # the gradient of D(sym(J)) + lambda_J / 2 * ||J||_F^2 over the full matrix; on
            # symmetric J this is the objective above, so J stays symmetric under L-BFGS
            J.grad = (grad_j + lambda_j * J) * scale
            value = (total + penalty) * scale
        return torch.tensor(value)

    def data_term(
        self, h: torch.Tensor, J: torch.Tensor, on_block: Callable[[], None]
    ) -> tuple[float, torch.Tensor, torch.Tensor]:
        """``-Σ_n w_n Σ_i log p(x_ni | x_n,-i)`` and its gradients in h and J (J's not yet made
        symmetric), one block of ``block_rows`` one-hot rows at a time."""
        q, rows = self.q, self.settings.block_rows
        length = self.codes.shape[1]
        lq = length * q
        grad_h = torch.zeros(lq, dtype=torch.float64)
        grad_j = torch.zeros(lq, lq)
        total = 0.0
        for start in range(0, len(self.codes), rows):
            block = self.codes[start : start + rows]
            w = self.weights[start : start + rows]
            x = one_hot(block, q)
            logits = torch.addmm(h, x, J).view(-1, length, q)
            log_p = torch.log_softmax(logits, dim=-1)
            observed = log_p.gather(-1, block.long().unsqueeze(-1)).squeeze(-1)
            total -= float((w.double() * observed.double().sum(-1)).sum())
            residual = log_p.exp_()
            residual.view(-1, lq).sub_(x)
            residual.mul_(w[:, None, None])
            flat = residual.view(-1, lq)
            grad_h += flat.double().sum(0)
            if self.settings.bfloat16_gradient:
                grad_j += (x.T.bfloat16() @ flat.bfloat16()).float()
            else:
                grad_j.addmm_(x.T, flat)
            on_block()
        return total, grad_h, grad_j


def fit_potts(
    codes: np.ndarray,
    weights: np.ndarray,
    n_states: int,
    settings: PottsSettings | None = None,
    progress: Progress | None = None,
) -> tuple[PottsModel, dict]:
    """Fit a Potts model by weighted pseudo-likelihood maximisation with L-BFGS.

    The objective (divided by N_eff for a well-scaled optimisation) is::

        -sum_n w_n sum_i log p(x_ni | x_n,-i) + lambda_h ||h||^2 + lambda_J sum_{i<j} ||J_ij||^2

    Gradients are computed by hand, one block of one-hot sequences at a time, so memory is
    O(block_rows x L q) plus the parameters. ``J`` stays symmetric with zero diagonal blocks.
    ``progress`` receives the task ``Potts fit``: the evaluations of the objective done (L-BFGS
    makes about one per iteration, at most ``max_iterations`` x 1.25) with the latest objective
    per N_eff, and the same count again after each block of rows inside an evaluation.

    Returns
    -------
    (PottsModel, dict)
        The model and a fit report (iterations, objective, seconds).
    """
    settings = (settings or PottsSettings()).validate()
    started = time.perf_counter()
    codes, weights = _deduplicate(np.ascontiguousarray(codes), np.asarray(weights, dtype=np.float64))
    n_eff = float(weights.sum())
    length = codes.shape[1]
    q = n_states
    lq = length * q
    lambda_j = settings.lambda_j * ((q - 1) * (length - 1) if settings.scale_lambda_j else 1.0)
    lambda_h = settings.lambda_h
    # start from the independent-site solution (J = 0): it saves L-BFGS iterations
    independent = fit_site_independent(codes, weights, n_states - 1, pseudocount=1.0, model_gaps=True)
    start = independent.log_frequencies.float()
    start = start - start.mean(dim=1, keepdim=True)
    fields = start.reshape(-1).clone().requires_grad_(True)
    couplings = torch.zeros(lq, lq, requires_grad=True)
    # zero on the diagonal blocks (a site does not couple to itself)
    block_mask = 1.0 - torch.kron(torch.eye(length), torch.ones(q, q))
    objective = _PseudoLikelihood(
        torch.from_numpy(codes),
        torch.from_numpy(weights).float(),
        n_eff,
        q,
        lambda_h,
        lambda_j,
        block_mask,
        settings,
    )
    evaluations = {"n": 0}
    progress = progress or Progress()
    optimiser = torch.optim.LBFGS(
        [fields, couplings],
        lr=1.0,
        max_iter=settings.max_iterations,
        tolerance_change=settings.tolerance,
        tolerance_grad=1e-7,
        history_size=5,
        line_search_fn="strong_wolfe",
    )

    def counted() -> torch.Tensor:
        evaluations["n"] += 1
        # one evaluation of a deep family takes minutes: a log line stays due every interval
        value = objective.evaluate(fields, couplings, lambda: progress.update(evaluations["n"] - 1))
        progress.update(evaluations["n"], objective=float(value))
        return value

    with tracking(progress, "Potts fit", unit="evaluations"):
        optimiser.step(counted)
    state = optimiser.state[optimiser._params[0]]
    final = float(state.get("prev_loss", float("nan")))
    with torch.no_grad():
        J = (0.5 * (couplings + couplings.T) * block_mask).detach()
        model = PottsModel(fields.detach().view(length, q), J)
    report = {
        "iterations": int(state.get("n_iter", 0)),
        "function_evaluations": evaluations["n"],
        "objective_per_neff": final,
        "lambda_h": lambda_h,
        "lambda_j_effective": lambda_j,
        "n_unique_sequences": int(len(codes)),
        "n_eff": n_eff,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if not math.isfinite(final):
        raise InputError("Potts fit diverged (objective is not finite)")
    return model, report


def write_potts_coupling_matrices(
    model: PottsModel, registry: AlignmentRegistry, out: str | Path
) -> dict[str, Path]:
    """Write a Potts model's L x L coupling strengths as position-matrix NPZ files.

    ``couplings.npz`` holds the Frobenius norms of the zero-sum-gauge couplings over the amino
    acids (gap state excluded), ``couplings_apc.npz`` the same after the average product
    correction; both carry the registry's reference ``numbering`` and ``residues`` and
    ``kind`` ``"potts"`` / ``"potts-apc"``. ``couplings_apc_pairs.csv`` ranks the corrected
    pairs (:func:`seqvae.io.matrix_file.save_pair_table`).

    Returns
    -------
    dict
        ``{"couplings": path, "couplings_apc": path, "couplings_apc_pairs": path}``.
    """

    out = Path(out)
    norms = model.frobenius_norms(exclude_gap=True, apc=False)
    corrected = average_product_correction(norms)
    numbering, residues = np.asarray(registry.numbering), registry.reference_sequence
    return {
        "couplings": save_matrix_npz(
            out / COUPLINGS, norms, kind="potts", numbering=numbering, residues=residues
        ),
        "couplings_apc": save_matrix_npz(
            out / COUPLINGS_APC, corrected, kind="potts-apc", numbering=numbering, residues=residues
        ),
        "couplings_apc_pairs": save_pair_table(
            out / COUPLINGS_APC_PAIRS, corrected, numbering=numbering, residues=residues
        ),
    }


# -- baseline directories ------------------------------------------------------------------------
def is_baseline_directory(path: str | Path) -> bool:
    return (Path(path) / BASELINE).exists()


def check_reference_power(power: float, kind: str, name: str = "reference_power") -> None:
    """The one check of :func:`fit_baseline`'s ``reference_power`` (``name``: how the caller
    spells it, e.g. ``--reference-power``): a finite number >= 0, and > 0 only for a
    site-independent model."""
    if not (math.isfinite(power) and power >= 0):
        raise InputError(f"{name} must be a number >= 0, got {power}", name)
    if power > 0 and kind == "potts":
        raise InputError(f"{name} weights a site-independent model only, not {kind}", name)


def fit_baseline(
    alignment: Alignment,
    kind: str,
    out: str | Path,
    theta: float | None = DEFAULT_THETA,
    pseudocount: float = 1.0,
    model_gaps: bool = False,
    potts: PottsSettings | None = None,
    overwrite: bool = False,
    progress: ProgressLike = None,
    reference_power: float = 0.0,
) -> tuple[SiteIndependentModel | PottsModel, dict]:
    """Fit a baseline on an alignment and write its directory (see module docstring).

    ``reference_power`` (site-independent only): multiply each sequence's weight by its
    identity to the reference (the fraction of focus columns holding the reference's residue)
    to this power before counting, so the profile is that of the wild type's near relatives
    (0: the family's own weights). On the DMS panel p = 2 ranks every protein's scan better
    than p = 0 (benchmarks/RESULTS.md).

    ``progress`` (Potts only) follows the fit's evaluations: ``None`` or ``True`` a bar in a
    notebook and lines through ``logging`` elsewhere, ``False`` nothing, or a
    :class:`~seqvae.progress.Progress` or a function (see :mod:`seqvae.progress`).
    """
    if kind not in KINDS:
        raise InputError(f"unknown baseline {kind!r}; choose one of {KINDS}")
    check_reference_power(reference_power, kind)
    out = Path(out)
    check_output_directory(out, BASELINE_DIRECTORY, overwrite)  # before a long fit
    started = time.perf_counter()
    weights = _weights(alignment, theta)
    gap = alignment.alphabet.gap_code
    if kind == "site-independent":
        report: dict = {"pseudocount": pseudocount, "model_gaps": model_gaps}
        if reference_power > 0:
            identity = reference_identity(alignment.codes, alignment.registry.reference_codes())
            weights = weights * identity**reference_power
            report["reference_power"] = reference_power
        independent = fit_site_independent(alignment.codes, weights, gap, pseudocount, model_gaps)
        tensors = {"log_frequencies": independent.log_frequencies}
        model: SiteIndependentModel | PottsModel = independent
    else:
        settings = potts or PottsSettings()
        pairwise, report = fit_potts(
            alignment.codes, weights, alignment.alphabet.size, settings, as_progress(progress)
        )
        report["settings"] = asdict(settings)
        tensors = {"fields": pairwise.fields, "couplings": pairwise.couplings}
        model = pairwise
    elapsed = time.perf_counter() - started
    with claim_directory(out, BASELINE_DIRECTORY, overwrite):
        registry = alignment.registry
        write_json(
            out / files.REGISTRY,
            {
                "kind": "sequences",
                "registry": registry.to_dict(),
                "theta": theta,
                "filter_report": alignment.filter_report,
                "n_sequences": alignment.n_sequences,
                "n_eff": float(weights.sum()),
            },
        )
        with atomic_path(out / files.WEIGHTS) as tmp:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
        if isinstance(model, PottsModel):
            write_potts_coupling_matrices(model, registry, out)
        summary = {
            "kind": kind,
            "gap_code": gap,
            "fit_time_s": round(elapsed, 3),
            "n_sequences": alignment.n_sequences,
            "n_eff": float(weights.sum()),
            "theta": theta,
            "source": alignment.source,
            "report": report,
        }
        write_json(out / BASELINE, summary)
    return model, summary


def load_baseline(path: str | Path) -> tuple[SiteIndependentModel | PottsModel, AlignmentRegistry, str]:
    """Read a baseline directory: (model, registry, kind)."""
    path = Path(path)
    info = files.read_json(path / BASELINE, BASELINE)
    _, registry = files.read_registry(path)
    if registry is None:
        raise InputError("registry: a baseline needs a sequence registry", path / files.REGISTRY)
    weights_path = path / files.WEIGHTS
    # a state never seen without pseudocount has log-frequency -inf: allowed; NaN never is
    tensors = files.load_weights(weights_path, allow_neg_inf=True)
    kind = info.get("kind")
    try:
        if kind == "site-independent":
            gap_code = info.get("gap_code")
            if gap_code != registry.alphabet.gap_code:
                raise InputError(
                    f"gap_code: {gap_code!r:.20} does not match the registry's alphabet "
                    f"(gap code {registry.alphabet.gap_code})",
                    path / BASELINE,
                )
            model: SiteIndependentModel | PottsModel = SiteIndependentModel(
                tensors["log_frequencies"], gap_code
            )
        elif kind == "potts":
            model = PottsModel(tensors["fields"], tensors["couplings"])
        else:
            raise InputError(f"unknown baseline kind {kind!r}", path / BASELINE)
    except KeyError as err:
        raise InputError(f"baseline weights lack tensor {err}", weights_path) from None
    except InputError:
        raise
    except ValueError as err:  # e.g. couplings of the wrong shape
        raise InputError(f"baseline weights are inconsistent ({err})", weights_path) from None
    table = model.log_frequencies if isinstance(model, SiteIndependentModel) else model.fields
    allowed = (registry.alphabet.gap_code, registry.alphabet.size)
    if table.dim() != 2 or table.shape[1] not in allowed:
        raise InputError(
            f"baseline weights have shape {tuple(table.shape)}, the registry needs "
            f"[{registry.length}, {allowed[0]} or {allowed[1]}]",
            weights_path,
        )
    if model.length != registry.length:
        raise InputError("baseline weights do not match its registry's length", weights_path)
    return model.eval(), registry, kind
