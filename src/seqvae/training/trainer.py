"""The training loop: weighted minibatches, Adam, validation ELBO, early stopping,
atomic checkpoints, exact resume and clean interruption.

Randomness comes from two generators, both saved in checkpoints so that a resumed run
continues bit-for-bit: a dedicated ``torch.Generator`` for minibatch sampling, and torch's
default generator of the training device (CPU, CUDA or MPS) for reparameterisation noise,
dropout and MMD prior draws. Validation uses a third generator re-seeded at each evaluation,
so evaluating never shifts the others.

Ctrl-C (SIGINT) sets a flag; the loop finishes the step in progress, writes a checkpoint and
raises :class:`TrainingInterrupted`, so an interrupted run resumes exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import csv
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypedDict

import numpy as np
import torch

from seqvae.data.counts import SparseRows
from seqvae.errors import ConfigError, InputError, TrainingInterrupted
from seqvae.io.atomic import atomic_open
from seqvae.models.vae import VAE, ModelConfig, step_flops
from seqvae.progress import Progress, tracking
from seqvae.training import run_directory as files
from seqvae.training.config import TrainingConfig
from seqvae.training.sampling import sampling_schedule
from seqvae.utils import torch_threads


class TrainingDiverged(InputError):
    """The loss became NaN or infinite: training stopped, nothing of the diverged state was kept.

    The last checkpoint (before the divergence) stays; the run's status is ``failed``.
    """

    def __init__(self, step: int, term: str, value: float, run_dir: Path, checkpoint_step: int | None):
        self.step = step
        kept = (
            f"the last checkpoint (step {checkpoint_step}) is from before"
            if checkpoint_step is not None
            else "no weights were saved"
        )
        super().__init__(
            f"training diverged: the {term} became {value} by step {step} (status failed; {kept}); "
            "lower training.learning_rate (--lr) or raise training.batch_size",
            run_dir,
        )


@dataclass
class TrainingOutcome:
    steps: int
    stop_reason: str
    best_val_elbo: float | None
    best_step: int | None
    elapsed_s: float


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit device must be available."""
    mps_available = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available:
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "training.device: cuda is not available here (no CUDA GPU or a CPU-only torch); use auto or cpu",
            field="training.device",
        )
    if name == "mps" and not mps_available:
        raise ConfigError(
            "training.device: mps is not available here (Apple GPUs only); use auto or cpu",
            field="training.device",
        )
    return torch.device(name)


def device_rng_state(device: torch.device) -> torch.Tensor | None:
    """The default generator state of an accelerator (None on CPU: the global state covers it)."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.mps.get_rng_state()
    return None


def set_device_rng_state(device: torch.device, state: torch.Tensor | None) -> None:
    if state is None:
        return
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)


def make_adam(parameters, learning_rate: float, weight_decay: float = 0.0):
    """Adam, fused into one kernel where this torch supports it for the parameters' device
    (several times faster than the per-tensor loop on CPU), else the default implementation."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay)


def averaging_decay(decay: float, step: int) -> float:
    """The moving average's decay at ``step``: ``decay`` ramped up as (1 + step) / (10 + step),
    so that the first iterates, far from the optimum, do not dominate the average."""
    return min(decay, (1 + step) / (10 + step))


SMALL_STEP_FLOPS = 2e9


def choose_threads(threads: int | None, model: VAE | ModelConfig, batch_size: int) -> int:
    """The CPU thread count for training: ``threads`` when set, else 1 for models whose
    step is under 2 GFLOP (their operations are too small to gain from splitting), else all
    but one of torch's threads (at least 1).

    Leaving one core free is insurance: torch's threads spin-wait for each other, so one other
    busy process on a 2-core machine makes the fitness step 8.8x slower on both cores, while
    on an idle machine the second core gains only 1.56x (benchmarks/RESULTS.md).
    """
    if threads is not None:
        return int(threads)
    config = model.config if isinstance(model, VAE) else model
    if step_flops(config, batch_size) < SMALL_STEP_FLOPS:
        return 1
    return max(1, torch.get_num_threads() - 1)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopFlag:
    """SIGINT/SIGTERM handler for the training loop: the first Ctrl-C (or the SIGTERM that
    ``timeout`` and job schedulers send) asks the loop to stop after the current step (state
    saved); a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int = signal.SIGINT
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


class ShownMetrics(TypedDict, total=False):
    """What a progress display shows of a training step (its keys cannot clash with
    ``Progress.update``'s own arguments)."""

    loss: float
    rec: float
    kl: float
    mmd: float
    val: float


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
    progress
        Receives the task ``training``: steps, and the loss terms at each metrics row
        (default: reports nowhere).
    focus_factors
        ``[N]`` factors (e.g. each sequence's identity to the reference) that multiply the
        weights, raised to ``config.focus_power``, in the last ``config.focus_steps`` steps;
        needed when ``focus_steps > 0`` (see :mod:`seqvae.training.sampling`).
    """

    def __init__(
        self,
        model: VAE,
        data: torch.Tensor | SparseRows,
        sequence_weights: np.ndarray,
        validation_mask: np.ndarray,
        config: TrainingConfig,
        run_dir: Path,
        seed: int,
        progress: Progress | None = None,
        focus_factors: np.ndarray | None = None,
    ):
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.progress = progress or Progress()
        weights = torch.as_tensor(sequence_weights, dtype=torch.float64)
        mask = torch.as_tensor(validation_mask, dtype=torch.bool)
        self.train_data = data[~mask].to(self.device)
        self.val_data = data[mask].to(self.device)
        self.schedule = sampling_schedule(config, weights, mask, focus_factors)
        self.train_weights, self.val_weights = self.schedule.weights(0)
        # the decoder prior's N_eff: the whole family's, in every phase
        self.n_eff = float(self.train_weights.sum())
        self.steps_per_epoch = max(1, math.ceil(len(self.train_data) / config.batch_size))
        self.optimizer = make_adam(
            self.model.parameter_groups(config.weight_decay, self.n_eff), config.learning_rate
        )
        self.sampler = torch.Generator().manual_seed(seed)
        self.step = 0
        self.elapsed_before = 0.0
        self.best_val_elbo: float | None = None
        self.best_step: int | None = None
        self.evals_since_best = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.saved_step: int | None = None
        self.window: dict[str, torch.Tensor] = {}
        self.window_steps = 0
        self.threads = choose_threads(config.threads, model, config.batch_size)
        # the moving average of the floating-point weights (training.weight_averaging)
        self.averaged: dict[str, torch.Tensor] | None = None
        if config.weight_averaging is not None:
            live = {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}
            self.averaged = {k: v.detach().clone() for k, v in live.items()}
            # paired once: the state dict's tensors share the parameters' storage, and every
            # later load (resume, the averaged-weights swap) copies into them in place
            self._average_pairs = ([self.averaged[k] for k in live], list(live.values()))
        self._started = time.perf_counter()

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "elapsed_s": self.elapsed_before + (time.perf_counter() - self._started),
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "sampler_rng": self.sampler.get_state(),
            "global_rng": torch.get_rng_state(),
            "device_rng": device_rng_state(self.device),
            "device_type": self.device.type,
            "best_val_elbo": self.best_val_elbo,
            "best_step": self.best_step,
            "evals_since_best": self.evals_since_best,
            "best_model": self.best_state,
            "averaged_model": (
                None
                if self.averaged is None
                else {k: v.detach().cpu().clone() for k, v in self.averaged.items()}
            ),
            # loss terms summed since the last metrics row, so that row comes out the same
            "metrics_window": {k: v.detach().cpu().clone() for k, v in self.window.items()},
            "metrics_window_steps": self.window_steps,
        }

    def load_state(self, state: dict, source: Path | None = None) -> None:
        """Restore a :meth:`state`; one that does not fit this model (a checkpoint of another
        config, damaged tensors) is an :class:`InputError` naming ``source``."""
        try:
            self._load_state(state)
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(
                f"checkpoint does not fit the run's config.json ({type(err).__name__}: {detail[:200]})",
                source,
            ) from None

    def _load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if state.get("best_model") is not None:  # the best weights must fit the model too
            shapes = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
            best = {k: tuple(v.shape) for k, v in state["best_model"].items()}
            if best != shapes:
                wrong = sorted(set(best.items()) ^ set(shapes.items()))[0][0]
                raise ValueError(f"best_model tensor {wrong!r} does not match the model")
        self.optimizer.load_state_dict(state["optimizer"])
        for parameter, moments in self.optimizer.state.items():
            for name, value in moments.items():
                if name != "step" and isinstance(value, torch.Tensor) and value.shape != parameter.shape:
                    raise ValueError(
                        f"optimizer {name} has shape {tuple(value.shape)}, its parameter {tuple(parameter.shape)}"
                    )
        self.sampler.set_state(state["sampler_rng"])
        torch.set_rng_state(state["global_rng"])
        if (
            state.get("device_rng") is not None
            and state.get("device_type", self.device.type) == self.device.type
        ):
            set_device_rng_state(self.device, state["device_rng"])
        self.step = int(state["step"])
        self.elapsed_before = float(state["elapsed_s"])
        self.best_val_elbo = state["best_val_elbo"]
        self.best_step = state["best_step"]
        self.evals_since_best = int(state["evals_since_best"])
        self.best_state = state["best_model"]
        if self.averaged is not None:
            averaged = state.get("averaged_model")
            if averaged is None or set(averaged) != set(self.averaged):
                raise ValueError("averaged_model does not match training.weight_averaging")
            for name, value in averaged.items():
                self.averaged[name].copy_(value)
        self.window = {k: v.to(self.device) for k, v in state.get("metrics_window", {}).items()}
        self.window_steps = int(state.get("metrics_window_steps", 0))
        self.saved_step = self.step
        _truncate_metrics(self.run_dir / files.METRICS, self.step)

    def save_checkpoint(self) -> None:
        files.save_checkpoint(self.run_dir / files.CHECKPOINT, self.state())
        self.saved_step = self.step

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
        with self._averaged_weights():
            for start in range(0, len(self.val_data), 2048):
                batch = self.val_data[start : start + 2048]
                values.append(self.model.elbo(batch, self.config.eval_samples, generator).cpu())
        self.model.train(was_training)
        elbo = torch.cat(values).double()
        return float((elbo * self.val_weights).sum() / self.val_weights.sum())

    @contextlib.contextmanager
    def _averaged_weights(self):
        """Within the block the model holds the averaged weights (if any), then its own again."""
        if self.averaged is None:
            yield
            return
        live = {k: v.detach().clone() for k, v in self.model.state_dict().items() if k in self.averaged}
        self.model.load_state_dict(self.averaged, strict=False)
        try:
            yield
        finally:
            self.model.load_state_dict(live, strict=False)

    def _update_average(self) -> None:
        if self.config.weight_averaging is None:
            raise RuntimeError("no weight average to update: training.weight_averaging is null")
        decay = averaging_decay(self.config.weight_averaging, self.step)
        with torch.no_grad():
            torch._foreach_lerp_(*self._average_pairs, 1.0 - decay)

    # -- loop ------------------------------------------------------------------------------
    @property
    def focus_start(self) -> int | None:
        """The step where the focus phase begins (``None``: no focus phase)."""
        return self.schedule.phase_start

    @property
    def focus_n_eff(self) -> float | None:
        """N_eff of the training sequences under the focus weights (``None``: no focus phase)."""
        return self.schedule.phase_n_eff

    def _start_phase(self) -> None:
        """A new phase of the sampling schedule: a fresh best-validation record, so the weights
        kept are the best under that phase's validation ELBO."""
        self.best_val_elbo, self.best_step, self.best_state = None, None, None
        self.evals_since_best = 0

    def _limit_steps(self) -> int | None:
        limits = []
        if self.config.max_steps is not None:
            limits.append(self.config.max_steps)
        if self.config.max_epochs is not None:
            limits.append(int(math.ceil(self.config.max_epochs * self.steps_per_epoch)))
        return min(limits) if limits else None

    def fit(self) -> TrainingOutcome:
        """Train until a limit or early stopping.

        With early stopping enabled, the weights of the best validation ELBO are restored at
        the end; otherwise the final weights are kept.
        """
        with torch_threads(self.threads):
            return self._fit()

    def _fit(self) -> TrainingOutcome:
        config = self.config
        self._started = time.perf_counter()
        if config.flush_denormal and self.device.type == "cpu":
            # strong weight priors push weights into the denormal range, which slows steps ~10x
            torch.set_flush_denormal(True)
        max_steps = self._limit_steps()
        metrics_path = self.run_dir / files.METRICS
        new_file = not metrics_path.exists()
        self.model.train()
        with (
            open(metrics_path, "a", newline="", encoding="utf-8") as handle,
            tracking(self.progress, "training", max_steps, self.step, "steps") as progress,
            _StopFlag() as stop_flag,
        ):
            writer = csv.DictWriter(handle, fieldnames=files.METRIC_COLUMNS)
            if new_file:
                writer.writeheader()
            if self.saved_step is None:
                # a run stopped (or killed) before its first regular checkpoint can still be resumed
                self.save_checkpoint()
            try:
                while (stop_reason := self._stop_reason(max_steps)) is None:
                    if stop_flag.requested:
                        self._check_finite(weights=True)
                        self.save_checkpoint()
                        raise TrainingInterrupted(self.step, self.run_dir, signum=stop_flag.signum)
                    if self.step == self.schedule.phase_start:
                        self._start_phase()
                    self.train_weights, self.val_weights = self.schedule.weights(self.step)
                    self._add_to_window(self._train_step())
                    self.step += 1
                    if self.step % config.log_every == 0 or self.step % config.eval_every == 0:
                        means = self._metrics_row(writer)
                        handle.flush()
                        progress.update(self.step, **self._progress_metrics(means))
                    else:
                        progress.update(self.step)
                    if self.step % config.checkpoint_every == 0:
                        self._check_finite(weights=True)
                        self.save_checkpoint()
            except KeyboardInterrupt:
                # a second Ctrl-C (or one outside the main thread) may land mid-step: the
                # weights can be half-updated, so keep the last consistent checkpoint
                raise TrainingInterrupted(
                    self.step, self.run_dir, self.saved_step, signum=stop_flag.signum
                ) from None
        return self._finish(stop_reason)

    def _finish(self, stop_reason: str) -> TrainingOutcome:
        """The last checkpoint, then the weights kept: the best (early stopping), else the
        moving average (if any), else the last."""
        self._check_finite(weights=True)
        self.save_checkpoint()
        if self.config.early_stopping_patience is not None and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        elif self.averaged is not None:
            self.model.load_state_dict(self.averaged, strict=False)
        return TrainingOutcome(
            steps=self.step,
            stop_reason=stop_reason,
            best_val_elbo=self.best_val_elbo,
            best_step=self.best_step,
            elapsed_s=self.elapsed_before + time.perf_counter() - self._started,
        )

    def _stop_reason(self, max_steps: int | None) -> str | None:
        """Why training stops before the next step (``None``: it goes on)."""
        config = self.config
        if max_steps is not None and self.step >= max_steps:
            return "max_steps"
        # before the schedule's last phase, the earlier ones run their full length
        last_phase = self.schedule.phase_start or 0
        patience = config.early_stopping_patience
        if patience is not None and self.evals_since_best >= patience and self.step >= last_phase:
            return "early_stopping"
        elapsed = self.elapsed_before + time.perf_counter() - self._started
        if config.max_time_s is not None and elapsed >= config.max_time_s:
            return "max_time"
        return None

    def _add_to_window(self, terms: dict[str, torch.Tensor]) -> None:
        """Sum a step's loss terms on the device until the next metrics row reads them back, so a
        step never waits for the device (no per-step ``.item()``)."""
        for name, value in terms.items():
            self.window[name] = value if name not in self.window else self.window[name] + value
        self.window_steps += 1

    def _metrics_row(self, writer: csv.DictWriter) -> dict[str, float]:
        """Write the metrics row of this step (the window's means, and the validation ELBO on an
        evaluation step, which also tracks the best weights); returns the means."""
        self._check_finite()
        means = {k: float(v) / self.window_steps for k, v in self.window.items()}
        self.window, self.window_steps = {}, 0
        # the Gaussian prior is applied as weight decay, outside the loss: add it back
        means["weight_penalty"], gaussian = self._decoder_prior()
        means["loss"] += gaussian
        row = {
            "step": self.step,
            "epoch": round(self.step / self.steps_per_epoch, 4),
            "time_s": round(self.elapsed_before + time.perf_counter() - self._started, 3),
            **means,
            "val_elbo": "",
        }
        if self.step % self.config.eval_every == 0:
            val = self.validation_elbo()
            if val is not None:
                row["val_elbo"] = val
                self._track_best(val)
        writer.writerow({k: row.get(k, "") for k in files.METRIC_COLUMNS})
        return means

    def _check_finite(self, weights: bool = False) -> None:
        """Stop with :class:`TrainingDiverged` once a loss term summed since the last metrics row
        is NaN or infinite (one device read per logging step, not per step); a non-finite loss
        makes every later step non-finite, so nothing is lost by checking only here and before
        each checkpoint, which thus never holds a diverged state."""
        if weights:
            bad = files.non_finite_tensor(dict(self.model.named_parameters()))
            if bad is not None:
                raise TrainingDiverged(
                    self.step, f"weight {bad}", float("nan"), self.run_dir, self.saved_step
                )
        if not self.window:
            return
        names = list(self.window)
        values = torch.stack([self.window[n].detach().float().reshape(()) for n in names]).cpu()
        finite = torch.isfinite(values)
        if bool(finite.all()):
            return
        k = int((~finite).nonzero()[0])
        raise TrainingDiverged(self.step, names[k], float(values[k]), self.run_dir, self.saved_step)

    @torch.no_grad()
    def _decoder_prior(self) -> tuple[float, float]:
        """The decoder prior per sequence at the current weights (reported, not differentiated):
        every term, and the Gaussian c·½‖W‖²/N_eff alone (the weight decay the loss leaves out)."""
        model = self.model
        gaussian = model.decoder_prior_coefficient(self.n_eff) * model.decoder_weight_penalty()
        return float(gaussian + model.decoder_prior_terms(self.n_eff)), float(gaussian)

    def _progress_metrics(self, means: dict[str, float]) -> ShownMetrics:
        """The loss terms a progress display shows (``val``: the best validation ELBO so far)."""
        metrics: ShownMetrics = {"loss": means["loss"], "rec": means["reconstruction"], "kl": means["kl"]}
        if means.get("mmd"):
            metrics["mmd"] = means["mmd"]
        if self.best_val_elbo is not None:
            metrics["val"] = self.best_val_elbo
        return metrics

    def _train_step(self) -> dict[str, torch.Tensor]:
        indices = torch.multinomial(
            self.train_weights, self.config.batch_size, replacement=True, generator=self.sampler
        ).to(self.device)
        batch = self.train_data[indices]  # integer indices: a dense tensor, counts included
        # the decoder prior's gradient comes from the optimiser's weight decay (see parameter_groups)
        terms = self.model.loss(batch, step=self.step, n_eff=self.n_eff, include_weight_penalty=False)  # type: ignore[arg-type]
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.optimizer.step()
        if self.averaged is not None:
            self._update_average()
        return terms.as_tensors()

    def _track_best(self, val: float) -> None:
        if self.best_val_elbo is None or val > self.best_val_elbo:
            self.best_val_elbo = val
            self.best_step = self.step
            self.evals_since_best = 0
            with self._averaged_weights():
                self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        else:
            self.evals_since_best += 1


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Keep the complete metric rows up to the checkpoint we resume from.

    Rows written after it are dropped (they will be written again), and so is a row cut
    short by a killed process.
    """
    if not path.exists():
        return
    kept: list[dict[str, str]] = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if None in row or any(row.get(k) is None for k in files.METRIC_COLUMNS):
                continue  # a row cut short
            try:
                step = int(row["step"])
            except ValueError:
                continue
            if step <= last_step and (not kept or step > int(kept[-1]["step"])):
                kept.append(row)
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=files.METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(kept)
