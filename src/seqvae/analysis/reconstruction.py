"""Argmax re-decoding: does a sequence encode and decode back to itself?

Used by design evaluation (:mod:`seqvae.analysis.capacity`), generation and the experiments.
"""

from __future__ import annotations

import numpy as np
import torch

from seqvae.errors import InputError
from seqvae.models.vae import VAE


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
