"""Decoding latent points into sequences, and how well sequences decode back to themselves.

:func:`decode_latents` decodes z by argmax or by sampling every position from the decoder's
categorical at a temperature; :func:`sequence_elbo` scores coded sequences. Re-decoding (encode to
the latent mean, decode by argmax) measures reconstruction: per sequence
(:func:`reconstruction_stability`, used by design evaluation in :mod:`seqvae.analysis.capacity`)
and over a set (:func:`reconstruction_accuracy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seqvae.analysis.generation_options import check_option_value
from seqvae.data.alignment import Alignment
from seqvae.errors import InputError
from seqvae.models.vae import VAE
from seqvae.options import Integer

DECODINGS = ("sample", "argmax")


def model_device(model: VAE) -> torch.device:
    """The device the model's parameters live on."""
    return next(model.parameters()).device


@torch.no_grad()
def redecode(model: VAE, codes: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Encode each sequence to its latent mean and decode by argmax, ``uint8 [N, L]``."""
    model.eval()
    device = model_device(model)
    tensor = torch.as_tensor(np.ascontiguousarray(codes))
    out = np.empty(tensor.shape, dtype=np.uint8)
    for start in range(0, len(tensor), batch_size):
        mean, _ = model.encode(tensor[start : start + batch_size].to(device))
        out[start : start + batch_size] = model.decode(mean).argmax(dim=-1).cpu().numpy().astype(np.uint8)
    return out


def predictable_positions(model: VAE, codes: np.ndarray) -> np.ndarray:
    """Boolean ``[N, L]``: positions the decoder can predict (all of them, or the non-gap ones
    for a model without a gap state)."""
    if model.config.model_gaps:
        return np.ones(codes.shape, dtype=bool)
    return codes != model.config.alphabet_size - 1


def reconstruction_stability(model: VAE, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Does each sequence re-encode and decode (argmax at the latent mean) to itself?

    Returns a boolean ``[N]`` (identical on every predictable position: all positions, or the
    non-gap ones for a model without a gap state) and the ``int32 [N]`` Hamming distance
    between the sequence and its re-decoding over those positions.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.shape[1] != model.config.length:
        raise InputError(
            f"sequences have {codes.shape[1]} columns but the model expects {model.config.length}"
        )
    decoded = redecode(model, codes)
    differs = (decoded != codes) & predictable_positions(model, codes)
    distance = differs.sum(axis=1).astype(np.int32)
    return distance == 0, distance


def check_decoding(decoding: str, temperature: float) -> None:
    """Refuse an unknown decoding, or a sampling temperature ``generation.temperature`` rejects."""
    if decoding not in DECODINGS:
        raise InputError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    if decoding == "sample":
        check_option_value("temperature", temperature)


@torch.no_grad()
def decode_latents(
    model: VAE,
    z: torch.Tensor | np.ndarray,
    decoding: str = "sample",
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """Decode latent points into coded sequences, ``uint8 [n, L]``, in batches.

    ``argmax`` takes the most probable state at each position; ``sample`` draws each position
    independently from softmax(log p / temperature). Decoder states are alphabet codes (the
    gap, when modelled, is the last state), so the state index is the code.
    """
    if model.config.likelihood != "categorical":
        raise InputError("this run models continuous data; only sequence runs can generate sequences")
    check_decoding(decoding, temperature)
    model.eval()
    device = model_device(model)
    z = torch.as_tensor(np.asarray(z) if isinstance(z, np.ndarray) else z, dtype=torch.float32)
    out = np.empty((z.shape[0], model.config.length), dtype=np.uint8)
    for start in range(0, z.shape[0], batch_size):
        log_probs = model.decode(z[start : start + batch_size].to(device)).cpu()
        if decoding == "argmax":
            states = log_probs.argmax(dim=-1)
        else:
            probs = torch.softmax(log_probs.double() / temperature, dim=-1)
            flat = probs.reshape(-1, probs.shape[-1])
            states = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:2])
        out[start : start + batch_size] = states.numpy().astype(np.uint8)
    return out


@torch.no_grad()
def sequence_elbo(
    model: VAE,
    codes: np.ndarray,
    n_samples: int = 8,
    seed: int = 0,
    batch_size: int = 2048,
) -> np.ndarray:
    """ELBO of each coded sequence under the model (``n_samples`` z draws each), ``float64 [N]``."""
    n_samples = check_option_value("elbo_samples", n_samples, Integer(1))
    model.eval()
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    tensor = torch.as_tensor(np.ascontiguousarray(codes))
    values = [
        model.elbo(tensor[start : start + batch_size].to(device), n_samples, generator).cpu()
        for start in range(0, len(tensor), batch_size)
    ]
    return torch.cat(values).double().numpy() if values else np.zeros(0)


@dataclass
class ReconstructionAccuracy:
    """Argmax reconstruction of sequences from their latent means.

    Attributes
    ----------
    per_position
        ``[L]`` fraction of sequences whose letter is reconstructed at each position (over the
        counted entries; NaN where none is counted).
    overall
        Fraction of counted entries reconstructed: all positions when the model has a gap
        state, non-gap positions otherwise.
    residue_accuracy
        The same over non-gap positions only (true letter is a residue), for either model.
    gap_accuracy
        Over gap positions (``None`` when the model has no gap state, which cannot predict them).
    exact_fraction
        Fraction of sequences reconstructed exactly on every counted position.
    weighted_overall
        ``overall`` with each sequence weighted by its sequence weight (``None`` without weights).
    """

    per_position: np.ndarray
    overall: float
    residue_accuracy: float
    gap_accuracy: float | None
    exact_fraction: float
    weighted_overall: float | None
    n_sequences: int
    gaps_counted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "residue_accuracy": self.residue_accuracy,
            "gap_accuracy": self.gap_accuracy,
            "exact_fraction": self.exact_fraction,
            "weighted_overall": self.weighted_overall,
            "n_sequences": self.n_sequences,
            "gaps_counted": self.gaps_counted,
            "per_position": [None if np.isnan(v) else float(v) for v in self.per_position],
        }


def reconstruction_accuracy(run, alignment: Alignment | np.ndarray | None = None) -> ReconstructionAccuracy:
    """How well argmax decoding at the latent mean gives back the sequences.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run`.
    alignment
        An :class:`~seqvae.Alignment` coded with the run's registry, or codes; ``None`` = the
        run's own training sequences (with their weights).

    Notes
    -----
    Gaps: with a gap state (``model_gaps=True``) a gap is a letter like any other and counts;
    without one (``model_gaps=False``) gap positions are left out, as the decoder cannot
    predict them. ``residue_accuracy`` (non-gap positions only) is comparable between both.
    """
    model: VAE = run.model
    weights = None
    if alignment is None:
        codes, weights, _, _ = run.training_data()
    elif isinstance(alignment, Alignment):
        codes, weights = alignment.codes, alignment.sequence_weights
    else:
        codes = np.asarray(alignment)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != model.config.length:
        raise InputError(
            f"sequences have {codes.shape[-1]} columns but the run expects {model.config.length}"
        )
    decoded = redecode(model, codes)
    correct = decoded == codes
    counted = predictable_positions(model, codes)
    is_gap = codes == model.config.alphabet_size - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        per_position = (correct & counted).sum(axis=0) / counted.sum(axis=0)
    overall = float((correct & counted).sum() / max(counted.sum(), 1))
    residue = ~is_gap
    residue_accuracy = float((correct & residue).sum() / max(residue.sum(), 1))
    gap_accuracy = None
    if model.config.model_gaps and is_gap.any():
        gap_accuracy = float((correct & is_gap).sum() / is_gap.sum())
    exact = float((((~correct) & counted).sum(axis=1) == 0).mean())
    weighted = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        per_sequence_hits = (correct & counted).sum(axis=1)
        per_sequence_counted = counted.sum(axis=1)
        weighted = float((w * per_sequence_hits).sum() / max((w * per_sequence_counted).sum(), 1e-300))
    return ReconstructionAccuracy(
        per_position=per_position.astype(np.float64),
        overall=overall,
        residue_accuracy=residue_accuracy,
        gap_accuracy=gap_accuracy,
        exact_fraction=exact,
        weighted_overall=weighted,
        n_sequences=int(codes.shape[0]),
        gaps_counted=bool(model.config.model_gaps),
    )
