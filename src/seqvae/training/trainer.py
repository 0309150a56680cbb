"""The training loop: weighted minibatches, Adam, validation ELBO, early stopping,
atomic checkpoints, exact resume and clean interruption.

Randomness comes from two generators, both saved in checkpoints so that a resumed run
continues bit-for-bit: a dedicated ``torch.Generator`` for minibatch sampling, and torch's
global generator for reparameterisation noise, dropout and MMD prior draws. Validation uses
a third generator re-seeded at each evaluation, so evaluating never shifts the others.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from seqvae.models.vae import VAE
from seqvae.training import run_directory as files
from seqvae.training.config import TrainingConfig

METRIC_COLUMNS = [
    "step",
    "epoch",
    "time_s",
    "loss",
    "reconstruction",
    "kl",
    "mmd",
    "regulariser_weight",
    "weight_penalty",
    "elbo",
    "val_elbo",
]


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C once the state has been saved."""

    def __init__(self, step: int, run_dir: Path):
        self.step = step
        self.run_dir = run_dir
        super().__init__(f"interrupted at step {step}; state saved in {run_dir}")


@dataclass
class TrainingOutcome:
    steps: int
    stop_reason: str
    best_val_elbo: float | None
    best_step: int | None
    elapsed_s: float


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


class Trainer:
    """Trains a :class:`VAE` on prepared tensors and writes progress into a run directory.

    Parameters
    ----------
    model
        The module to train (moved to the configured device).
    data
        ``[N, ...]`` training inputs (uint8 codes or float vectors), all sequences.
    sequence_weights
        ``[N]`` weights; minibatches are drawn with probability proportional to them.
    validation_mask
        ``[N]`` boolean, True for held-out sequences.
    config
        The training section of the run config.
    run_dir
        Where checkpoints and metrics go.
    seed
        Seeds the sampling generator (the global generator is seeded by the caller).
    """

    def __init__(
        self,
        model: VAE,
        data: torch.Tensor,
        sequence_weights: np.ndarray,
        validation_mask: np.ndarray,
        config: TrainingConfig,
        run_dir: Path,
        seed: int,
        show_progress: bool = True,
    ):
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.show_progress = show_progress
        weights = torch.as_tensor(sequence_weights, dtype=torch.float64)
        mask = torch.as_tensor(validation_mask, dtype=torch.bool)
        self.train_data = data[~mask].to(self.device)
        self.train_weights = weights[~mask]
        self.val_data = data[mask].to(self.device)
        self.val_weights = weights[mask]
        self.n_eff = float(self.train_weights.sum())
        self.steps_per_epoch = max(1, math.ceil(len(self.train_data) / config.batch_size))
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.sampler = torch.Generator().manual_seed(seed)
        self.step = 0
        self.elapsed_before = 0.0
        self.best_val_elbo: float | None = None
        self.best_step: int | None = None
        self.evals_since_best = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "elapsed_s": self.elapsed_before + (time.perf_counter() - self._started),
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "sampler_rng": self.sampler.get_state(),
            "global_rng": torch.get_rng_state(),
            "best_val_elbo": self.best_val_elbo,
            "best_step": self.best_step,
            "evals_since_best": self.evals_since_best,
            "best_model": self.best_state,
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.set_state(state["sampler_rng"])
        torch.set_rng_state(state["global_rng"])
        self.step = int(state["step"])
        self.elapsed_before = float(state["elapsed_s"])
        self.best_val_elbo = state["best_val_elbo"]
        self.best_step = state["best_step"]
        self.evals_since_best = int(state["evals_since_best"])
        self.best_state = state["best_model"]
        _truncate_metrics(self.run_dir / files.METRICS, self.step)

    def save_checkpoint(self) -> None:
        files.save_checkpoint(self.run_dir / files.CHECKPOINT, self.state())

    # -- evaluation ------------------------------------------------------------------------
    @torch.no_grad()
    def validation_elbo(self) -> float | None:
        """Weighted mean ELBO of the held-out sequences (model in eval mode)."""
        if len(self.val_data) == 0:
            return None
        was_training = self.model.training
        self.model.eval()
        generator = torch.Generator(device=self.device).manual_seed(self.seed + 1)
        values = []
        for start in range(0, len(self.val_data), 2048):
            batch = self.val_data[start : start + 2048]
            values.append(self.model.elbo(batch, self.config.eval_samples, generator).cpu())
        self.model.train(was_training)
        elbo = torch.cat(values).double()
        return float((elbo * self.val_weights).sum() / self.val_weights.sum())

    # -- loop ------------------------------------------------------------------------------
    def _limit_steps(self) -> int | None:
        limits = []
        if self.config.max_steps is not None:
            limits.append(self.config.max_steps)
        if self.config.max_epochs is not None:
            limits.append(int(math.ceil(self.config.max_epochs * self.steps_per_epoch)))
        return min(limits) if limits else None

    def fit(self) -> TrainingOutcome:
        """Train until a limit or early stopping; restores the best weights at the end."""
        config = self.config
        self._started = time.perf_counter()
        if config.flush_denormal and self.device.type == "cpu":
            torch.set_flush_denormal(True)
        max_steps = self._limit_steps()
        metrics_path = self.run_dir / files.METRICS
        new_file = not metrics_path.exists()
        stop_reason = "max_steps"
        self.model.train()
        progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("{task.fields[terms]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not self.show_progress,
            transient=False,
        )
        with open(metrics_path, "a", newline="", encoding="utf-8") as handle, progress:
            writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
            if new_file:
                writer.writeheader()
            task = progress.add_task("train", total=max_steps, completed=self.step, terms="")
            try:
                while True:
                    if max_steps is not None and self.step >= max_steps:
                        stop_reason = "max_steps"
                        break
                    elapsed = self.elapsed_before + time.perf_counter() - self._started
                    if config.max_time_s is not None and elapsed >= config.max_time_s:
                        stop_reason = "max_time"
                        break
                    terms = self._train_step()
                    self.step += 1
                    row = None
                    if self.step % config.log_every == 0:
                        row = {
                            "step": self.step,
                            "epoch": round(self.step / self.steps_per_epoch, 4),
                            "time_s": round(elapsed, 3),
                            **terms,
                            "val_elbo": "",
                        }
                    if self.step % config.eval_every == 0:
                        val = self.validation_elbo()
                        if row is None:
                            row = {
                                "step": self.step,
                                "epoch": round(self.step / self.steps_per_epoch, 4),
                                "time_s": round(elapsed, 3),
                                **terms,
                            }
                        row["val_elbo"] = "" if val is None else val
                        if val is not None:
                            self._track_best(val)
                    if row is not None:
                        writer.writerow({k: row.get(k, "") for k in METRIC_COLUMNS})
                        handle.flush()
                        progress.update(
                            task,
                            terms=(
                                f"loss {terms['loss']:.2f} rec {terms['reconstruction']:.2f} "
                                f"kl {terms['kl']:.2f}"
                                + (f" mmd {terms['mmd']:.3f}" if terms["mmd"] else "")
                                + (f" val {self.best_val_elbo:.2f}" if self.best_val_elbo is not None else "")
                            ),
                        )
                    progress.update(task, completed=self.step)
                    if self.step % config.checkpoint_every == 0:
                        self.save_checkpoint()
                    if (
                        config.early_stopping_patience is not None
                        and self.evals_since_best >= config.early_stopping_patience
                    ):
                        stop_reason = "early_stopping"
                        break
            except KeyboardInterrupt:
                self.save_checkpoint()
                raise TrainingInterrupted(self.step, self.run_dir) from None
        self.save_checkpoint()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return TrainingOutcome(
            steps=self.step,
            stop_reason=stop_reason,
            best_val_elbo=self.best_val_elbo,
            best_step=self.best_step,
            elapsed_s=self.elapsed_before + time.perf_counter() - self._started,
        )

    def _train_step(self) -> dict[str, float]:
        indices = torch.multinomial(
            self.train_weights, self.config.batch_size, replacement=True, generator=self.sampler
        ).to(self.device)
        batch = self.train_data[indices]
        terms = self.model.loss(batch, step=self.step, n_eff=self.n_eff)
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.optimizer.step()
        return terms.as_floats()

    def _track_best(self, val: float) -> None:
        if self.best_val_elbo is None or val > self.best_val_elbo:
            self.best_val_elbo = val
            self.best_step = self.step
            self.evals_since_best = 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        else:
            self.evals_since_best += 1


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drop metric rows written after the checkpoint we resume from."""
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept = [r for r in rows if int(r["step"]) <= last_step]
    from seqvae.io.atomic import atomic_open

    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(kept)
