"""Sampling schedules: the sequence weights that training batches and the validation ELBO use
at each step.

The :class:`~seqvae.training.trainer.Trainer` asks its schedule for the weights of every step
and, where a schedule begins a new phase, starts its best-validation record afresh, so the
weights kept are the best of the last phase. The decoder prior keeps the whole family's N_eff
whatever the phase.
"""

from __future__ import annotations

import numpy as np
import torch

from seqvae.training.config import TrainingConfig


class SamplingSchedule:
    """The family's own weights at every step: one phase.

    Parameters
    ----------
    train_weights, val_weights
        ``float64`` weights of the training and of the held-out sequences.
    """

    def __init__(self, train_weights: torch.Tensor, val_weights: torch.Tensor):
        self.family = (train_weights, val_weights)

    @property
    def phase_start(self) -> int | None:
        """The step where the last phase begins (``None``: a single phase)."""
        return None

    @property
    def phase_n_eff(self) -> float | None:
        """N_eff of the training sequences under the last phase's weights (``None``: one phase)."""
        return None

    def weights(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training and validation weights of ``step``."""
        return self.family


class FocusSchedule(SamplingSchedule):
    """The family, then from step ``start`` on the family weighted towards the reference: each
    sequence's weight times its factor (``training.focus_steps``, ``focus_power``).

    Parameters
    ----------
    train_factors, val_factors
        The factors of the training and held-out sequences (identity to the reference, raised to
        the focus power).
    start
        The first step of the focus phase.
    """

    def __init__(
        self,
        train_weights: torch.Tensor,
        val_weights: torch.Tensor,
        train_factors: torch.Tensor,
        val_factors: torch.Tensor,
        start: int,
    ):
        super().__init__(train_weights, val_weights)
        self.focus = (train_weights * train_factors, val_weights * val_factors)
        self.start = start
        if not float(self.focus[0].sum()) > 0:
            raise ValueError("training.focus_steps: every training sequence has focus weight 0")

    @property
    def phase_start(self) -> int:
        return self.start

    @property
    def phase_n_eff(self) -> float:
        return float(self.focus[0].sum())

    def weights(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.focus if step >= self.start else self.family


def sampling_schedule(
    config: TrainingConfig,
    weights: torch.Tensor,
    validation_mask: torch.Tensor,
    focus_factors: np.ndarray | None = None,
) -> SamplingSchedule:
    """The schedule of a training config: :class:`FocusSchedule` when ``focus_steps > 0`` (it
    needs ``focus_factors``, one per sequence), else the family's weights throughout."""
    train, val = weights[~validation_mask], weights[validation_mask]
    if config.focus_steps <= 0:
        return SamplingSchedule(train, val)
    if focus_factors is None:
        raise ValueError("training.focus_steps needs focus_factors")
    if config.max_steps is None:  # a checked config never gets here (focus_steps needs max_steps)
        raise ValueError("training.focus_steps needs training.max_steps, the schedule it ends")
    factors = torch.as_tensor(focus_factors, dtype=torch.float64) ** config.focus_power
    start = int(config.max_steps) - config.focus_steps
    return FocusSchedule(train, val, factors[~validation_mask], factors[validation_mask], start)
