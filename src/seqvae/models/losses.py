"""The typed result of a loss evaluation: every term kept apart."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossTerms:
    """Per-batch loss terms (all means over the batch, per sequence).

    Attributes
    ----------
    total
        The objective minimised: ``reconstruction + regulariser_weight * regulariser +
        weight_penalty``.
    reconstruction
        ``-E_q[log p(x|z)]`` (one z sample per sequence).
    kl
        ``KL(q(z|x) || N(0, I))``, always computed (it is part of the ELBO).
    mmd
        ``MMD^2(q(z), N(0, I))`` when the regulariser is MMD, else zero.
    regulariser_weight
        The β (with warm-up applied) or λ in force at this step.
    weight_penalty
        The Gaussian prior on decoder weights, per sequence (``c/2 ||W||^2 / N_eff``).
    elbo_per_sequence
        ``log p(x|z) - KL`` for each sequence of the batch (detached).
    """

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    mmd: torch.Tensor
    regulariser_weight: float
    weight_penalty: torch.Tensor
    elbo_per_sequence: torch.Tensor

    @property
    def elbo(self) -> float:
        return float(self.elbo_per_sequence.mean())

    def as_tensors(self) -> dict[str, torch.Tensor]:
        """The terms as detached 0-d tensors (no device synchronisation)."""
        weight = self.regulariser_weight
        return {
            "loss": self.total.detach(),
            "reconstruction": self.reconstruction.detach(),
            "kl": self.kl.detach(),
            "mmd": self.mmd.detach(),
            "regulariser_weight": torch.as_tensor(float(weight)),
            "weight_penalty": self.weight_penalty.detach(),
            "elbo": self.elbo_per_sequence.mean(),
        }

    def as_floats(self) -> dict[str, float]:
        return {
            "loss": float(self.total.detach()),
            "reconstruction": float(self.reconstruction.detach()),
            "kl": float(self.kl.detach()),
            "mmd": float(self.mmd.detach()),
            "regulariser_weight": float(self.regulariser_weight),
            "weight_penalty": float(self.weight_penalty.detach()),
            "elbo": self.elbo,
        }
