"""Fitting a VAE into a run directory: :func:`train` and :func:`resume`.

Both write the run directory's files (:mod:`seqvae.training.run_directory`) around the
:class:`~seqvae.training.trainer.Trainer` and return the trained :class:`~seqvae.run.artifact.Run`.
"""

from __future__ import annotations

import logging
import platform
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from seqvae.data.alignment import Alignment, AlignmentRegistry, read_alignment
from seqvae.data.counts import CountMatrix, SparseRows, read_counts
from seqvae.data.weights import reference_identity
from seqvae.errors import ConfigError, InputError, TrainingInterrupted
from seqvae.io.atomic import remove_stale_temporaries, write_json
from seqvae.io.count_files import is_count_file
from seqvae.io.output_dirs import claim_directory, lock_directory
from seqvae.models.latent_usage import DEFAULT_ACTIVE_THRESHOLD, latent_diagnostics
from seqvae.models.vae import VAE
from seqvae.progress import Progress, ProgressLike, progress_argument
from seqvae.run.artifact import Run, collapse_warning
from seqvae.run.training_data import training_data
from seqvae.training import run_directory as files
from seqvae.training.config import RunConfig
from seqvae.training.run_directory import check_output_directory
from seqvae.training.trainer import (
    Trainer,
    TrainingOutcome,
    averaging_decay,
    resolve_device,
)
from seqvae.utils import seed_everything
from seqvae.version import __version__

__all__ = ["latent_usage_record", "resume", "train"]

logger = logging.getLogger(__name__)


def _validation_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    n_val = int(round(fraction * n))
    if fraction > 0 and n_val == 0 and n > 2:
        n_val = 1
    n_val = min(n_val, n - 1)  # always keep at least one training sequence
    if n_val:
        mask[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return mask


def _check_sequence_likelihood(config: RunConfig, data) -> None:
    if isinstance(data, Alignment) and config.model.likelihood == "negative_binomial":
        raise ConfigError(
            "model.likelihood: negative_binomial needs a count matrix (.h5ad, .npz, .csv or .tsv), "
            "not an alignment",
            data.source,
            field="model.likelihood",
        )


def train(
    data: Alignment | CountMatrix | np.ndarray | str | Path,
    config: RunConfig | None = None,
    out: str | Path = "runs/run",
    overwrite: bool = False,
    progress: ProgressLike = None,
    *,
    show_progress: bool | None = None,
) -> Run:
    """Train a VAE and write a complete run directory.

    Parameters
    ----------
    data
        An :class:`Alignment` (categorical likelihood), a
        :class:`~seqvae.data.counts.CountMatrix` (negative-binomial likelihood, or Gaussian on
        log(1 + counts) when ``config.model.likelihood`` is ``gaussian``), a path to either (a
        ``.h5ad``, ``.npz``, ``.csv`` or ``.tsv`` file is read as counts, anything else as an
        alignment with ``config.data``), or a float array ``[N, D]`` (Gaussian likelihood).
    config
        The run configuration (defaults: :class:`RunConfig`). ``model.length`` and
        ``model.alphabet_size`` are filled in from the data.
    out
        The run directory; it must not exist unless ``overwrite``.
    progress
        Where the sequence weights and the training steps report their progress: ``None``
        or ``True`` a bar in a notebook and lines through ``logging`` elsewhere, ``False``
        nothing, or a :class:`~seqvae.progress.Progress` or a function (see
        :mod:`seqvae.progress`). ``show_progress`` is its former name (deprecated).
    """
    progress = progress_argument(progress, show_progress)
    config = RunConfig.from_dict((config or RunConfig()).to_dict())
    config.validate()
    resolve_device(config.training.device)  # an unavailable device fails before any file is written
    out = Path(out)
    if isinstance(data, str | Path):
        data = (
            read_counts(data)
            if is_count_file(data)
            else read_alignment(data, config.data.alignment_options())
        )
    _check_sequence_likelihood(config, data)
    check_output_directory(out, overwrite)
    prepared = training_data(data, config, progress)
    config.model.validate()
    with claim_directory(out, files.RUN_DIRECTORY, overwrite):
        mask = _validation_mask(len(prepared.rows), config.training.validation_fraction, config.seed)
        write_json(out / files.CONFIG, config.to_dict())
        write_json(out / files.REGISTRY, prepared.registry_record(config))
        prepared.save(out, mask)
        return _run_training(
            out,
            config,
            prepared.registry,
            prepared.rows,
            prepared.weights,
            mask,
            resume_state=None,
            progress=progress,
            genes=prepared.genes,
        )


# Below this N_eff of the family near the reference, the focus phase fits a few dozen sequences
# (avGFP, 30: -0.04 rho on the panel; BLAT 644 and PDZ3 1,209 did not lose, benchmarks/RESULTS.md)
FOCUS_MIN_N_EFF = 100.0


def _warn_small_focus(trainer: Trainer) -> None:
    """Say so when the focus phase would train on too few effective sequences."""
    n_eff = trainer.focus_n_eff
    if n_eff is not None and n_eff < FOCUS_MIN_N_EFF:
        warnings.warn(
            f"training.focus_steps: the family weighted towards the reference holds only "
            f"{n_eff:.1f} effective sequences; the focus phase is likely to overfit them "
            "(on the DMS panel, avGFP at 30 lost 0.04 in Spearman rho); consider leaving it off",
            stacklevel=2,
        )


def _warn_unreached_averaging(config: RunConfig) -> None:
    """Say so when the moving average's decay ramp never reaches the configured decay: every
    decay above the ramp's last value then gives the same weights."""
    training = config.training
    if training.weight_averaging is None or training.max_steps is None:
        return
    reached = averaging_decay(training.weight_averaging, training.max_steps)
    if reached < training.weight_averaging:
        warnings.warn(
            f"training.weight_averaging: {training.weight_averaging} is never reached in "
            f"{training.max_steps} steps (its ramp (1 + step) / (10 + step) ends at {reached:.4f}), "
            f"so it averages like {reached:.4f}; any larger decay gives the same weights",
            stacklevel=2,
        )


def _warn_without_validation(n: int, mask: np.ndarray, config: RunConfig) -> None:
    """Say so when a validation split was asked for but the data are too few to make one."""
    if config.training.validation_fraction > 0 and not mask.any():
        stopping = (
            "; early stopping is off (it needs the validation ELBO)"
            if config.training.early_stopping_patience is not None
            else ""
        )
        warnings.warn(
            f"only {n} sequence{'s' if n != 1 else ''}: no validation split is possible "
            f"(training.validation_fraction = {config.training.validation_fraction:g}), so no validation "
            f"ELBO is reported{stopping}",
            UserWarning,
            stacklevel=4,
        )


def _as_input(data: np.ndarray | SparseRows) -> torch.Tensor | SparseRows:
    """Training data as the trainer takes it: a tensor, or counts kept sparse."""
    return data if isinstance(data, SparseRows) else torch.from_numpy(data)


def resume(path: str | Path, progress: ProgressLike = None, *, show_progress: bool | None = None) -> Run:
    """Continue an interrupted run from its last checkpoint (bit-identical on the same machine).

    ``progress`` as in :func:`train`.
    """
    progress = progress_argument(progress, show_progress)
    path = Path(path)
    config = files.read_config(path)
    registry, genes = files.read_run_registry(path, config)
    with lock_directory(path, files.RUN_DIRECTORY):
        data, weights, _, mask = files.load_training_data(path)
        state = files.load_checkpoint(path / files.CHECKPOINT)
        return _run_training(
            path,
            config,
            registry,
            _as_input(data),
            weights,
            mask,
            resume_state=state,
            progress=progress,
            genes=genes,
        )


def _run_training(
    out: Path,
    config: RunConfig,
    registry: AlignmentRegistry | None,
    tensor: torch.Tensor | SparseRows,
    weights: np.ndarray,
    mask: np.ndarray,
    resume_state: dict | None,
    progress: Progress,
    genes: list[str] | None = None,
) -> Run:
    seed_everything(config.seed)
    model = VAE(config.model)
    focus_factors = None
    if config.training.focus_steps > 0:
        if registry is None:  # a checked RunConfig refuses focus_steps on counts already
            raise ConfigError(
                "training.focus_steps: weights towards a reference sequence need sequences",
                field="training.focus_steps",
            )
        focus_factors = reference_identity(np.asarray(tensor), registry.reference_codes())
    trainer = Trainer(
        model, tensor, weights, mask, config.training, out, config.seed, progress, focus_factors
    )
    if resume_state is not None:  # a checkpoint that does not fit fails before anything is written
        trainer.load_state(resume_state, source=out / files.CHECKPOINT)
        remove_stale_temporaries(out)
        remove_stale_temporaries(out / files.DATA)
    else:
        _warn_without_validation(len(tensor), mask, config)
        _warn_small_focus(trainer)
        _warn_unreached_averaging(config)
    focus = ""
    if trainer.focus_start is not None:
        focus = (
            f"; from step {trainer.focus_start} weighted towards the reference "
            f"(identity^{config.training.focus_power:g}, N_eff {trainer.focus_n_eff:.2f})"
        )
    _log(
        out,
        f"{'resuming at step ' + str(resume_state['step']) if resume_state else 'training'}: "
        f"N={len(tensor)} (validation {int(mask.sum())}), N_eff={weights.sum():.2f}, "
        f"device={trainer.device}, seed={config.seed}{focus}",
    )
    previous = _previous_weights(out)
    write_json(out / files.SUMMARY, _summary(config, "running", None, trainer, weights, mask, previous))
    try:
        outcome = trainer.fit()
    except TrainingInterrupted as err:
        kept = previous
        if err.saved_step == err.step:  # consistent weights: save them so the run can be used as is
            kept = _save_kept_weights(out, config, trainer)
        write_json(out / files.SUMMARY, _summary(config, "interrupted", None, trainer, weights, mask, kept))
        how = "SIGTERM" if err.signum == signal.SIGTERM else "Ctrl-C"
        _log(
            out,
            f"interrupted ({how}) at step {err.step}; resume from the checkpoint of step {err.saved_step}",
            logging.DEBUG,  # the exception carries it to the caller
        )
        raise
    except BaseException as err:
        write_json(
            out / files.SUMMARY,
            _summary(config, "failed", None, trainer, weights, mask, previous, error=_one_line(err)),
        )
        message = f"failed at step {trainer.step}: {type(err).__name__}: {_one_line(err)}"
        _log(out, message, logging.DEBUG)  # the exception carries it to the caller
        raise
    kept = _save_kept_weights(out, config, trainer, outcome)
    usage = latent_usage_record(trainer.model, tensor, weights, mask)
    write_json(
        out / files.SUMMARY,
        _summary(config, "finished", outcome, trainer, weights, mask, kept, latent=usage),
    )
    _log(
        out,
        f"finished: {outcome.steps} steps, stop={outcome.stop_reason}, "
        f"best val ELBO={_rounded(outcome.best_val_elbo)}, {outcome.elapsed_s:.1f}s, "
        f"{usage['n_active']} of {usage['latent_dim']} latent dimensions active",
    )
    warning = collapse_warning(usage)
    if warning:
        _log(out, warning, logging.WARNING)
    trainer.model.eval()
    return Run(
        out,
        config,
        registry,
        trainer.model.cpu(),
        files.read_summary(out),
        genes,
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _one_line(err: BaseException) -> str:
    text = err.one_line() if isinstance(err, InputError) else str(err)
    return text.replace("\n", " ")


def _previous_weights(out: Path) -> tuple[str, int | None] | None:
    """What an existing ``model.safetensors`` holds, as the last summary described it."""
    if not (out / files.WEIGHTS).exists() or not (out / files.SUMMARY).exists():
        return None
    try:
        summary = files.read_json(out / files.SUMMARY, files.SUMMARY)
    except InputError:
        return None
    kind, step = summary.get("weights"), summary.get("weights_step")
    if not isinstance(kind, str) or not (step is None or isinstance(step, int)):
        return None
    return kind, step


def _save_kept_weights(
    out: Path, config: RunConfig, trainer: Trainer, outcome: TrainingOutcome | None = None
) -> tuple[str, int | None]:
    """Write ``model.safetensors`` and say what it holds: (description, step of the weights).

    With early stopping the best validation ELBO's weights are kept (also after an
    interruption, so that the file and ``summary.json`` always agree); otherwise the latest.
    """
    if config.training.early_stopping_patience is not None and trainer.best_state is not None:
        if outcome is None:  # interrupted: the trainer still holds the current step's weights
            files.save_weights(out / files.WEIGHTS, trainer.best_state)
        else:  # fit() has already restored the best weights
            files.save_weights(out / files.WEIGHTS, trainer.model.state_dict())
        return "best validation ELBO", trainer.best_step
    files.save_weights(out / files.WEIGHTS, trainer.model.state_dict())
    return ("final" if outcome is not None else "latest (interrupted)"), trainer.step


def _summary(
    config: RunConfig,
    status: str,
    outcome: TrainingOutcome | None,
    trainer: Trainer,
    weights: np.ndarray,
    mask: np.ndarray,
    kept: tuple[str, int | None] | None = None,
    error: str | None = None,
    latent: dict | None = None,
) -> dict:
    summary = {
        "status": status,
        "steps": trainer.step,
        "stop_reason": None if outcome is None else outcome.stop_reason,
        "best_val_elbo": trainer.best_val_elbo,
        "best_step": trainer.best_step,
        # what model.safetensors holds now (None: no weights written yet)
        "weights": None if kept is None else kept[0],
        "weights_step": None if kept is None else kept[1],
        "checkpoint_step": trainer.saved_step,
        "train_time_s": None if outcome is None else round(outcome.elapsed_s, 3),
        "n_train": int((~mask).sum()),
        "n_validation": int(mask.sum()),
        "n_eff_train": float(weights[~mask].sum()),
        "device": str(trainer.device),
        "threads": trainer.threads,
        "versions": {
            "seqvae": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    if trainer.focus_start is not None:
        summary["focus"] = {
            "start_step": trainer.focus_start,
            "power": config.training.focus_power,
            "n_eff_train": trainer.focus_n_eff,
        }
    if error is not None:
        summary["error"] = error
    if latent is not None:
        summary["latent"] = latent
    return summary


@torch.no_grad()
def latent_usage_record(
    model: VAE,
    data: torch.Tensor | SparseRows,
    weights: np.ndarray,
    mask: np.ndarray,
    threshold: float = DEFAULT_ACTIVE_THRESHOLD,
    batch_size: int = 4096,
) -> dict:
    """What ``summary.json`` records about the latent space of a trained model.

    The training sequences (validation rows excluded) are encoded and summarised as in
    :func:`~seqvae.models.latent_usage.latent_diagnostics`, weighted by the sequence weights:
    per dimension the variance of z_mean, the mean posterior variance and the mean KL, the
    number of active dimensions (Var(z_mean) > ``threshold``), tr Cov(z_mean) and the
    participation ratio of the active dimensions' correlation (how many of them are not
    redundant), named as in :meth:`~seqvae.models.latent_usage.LatentDiagnostics.to_dict`.

    Parameters
    ----------
    model
        The trained :class:`VAE` (put in eval mode, left there).
    data, weights, mask
        Training codes (or vectors), sequence weights and validation mask.
    threshold
        Var(z_mean) above which a dimension is active.

    Returns
    -------
    dict
        ``latent_dim``, ``threshold``, ``n_active``, ``active_dimensions``, ``total_kl``,
        ``trace_cov_z_mean``, ``participation_ratio_active_correlation`` and ``per_dimension``
        (rows of ``dimension``, ``variance``, ``posterior_variance``, ``kl``). With fewer than
        two training rows or a non-finite encoding: ``n_active`` and the totals ``None``, no rows.
    """
    model.eval()
    device = next(model.parameters()).device
    rows = np.flatnonzero(~mask) if (~mask).sum() >= 2 else np.arange(len(data))
    means, logvars = [], []
    for start in range(0, len(rows), batch_size):
        block = data[torch.from_numpy(rows[start : start + batch_size])].to(device)
        mean, logvar = model.encode(block)  # type: ignore[arg-type]  # integer rows of SparseRows are dense
        means.append(mean.double().cpu().numpy())
        logvars.append(logvar.double().cpu().numpy())
    z_mean, z_logvar = np.concatenate(means), np.concatenate(logvars)
    if len(rows) < 2 or not (np.isfinite(z_mean).all() and np.isfinite(z_logvar).all()):
        d = model.config.latent_dim
        return {
            "latent_dim": d,
            "threshold": threshold,
            "n_active": None,
            "active_dimensions": [],
            "total_kl": None,
            "trace_cov_z_mean": None,
            "participation_ratio_active_correlation": None,
            "per_dimension": [],
        }
    diagnostics = latent_diagnostics(z_mean, z_logvar, weights[rows], threshold)
    table = diagnostics.table
    return {
        "latent_dim": int(len(table)),
        "threshold": float(threshold),
        "n_active": diagnostics.n_active,
        "active_dimensions": diagnostics.active_dimensions,
        "total_kl": round(diagnostics.total_kl, 6),
        "trace_cov_z_mean": round(diagnostics.trace_cov, 6),
        "participation_ratio_active_correlation": round(diagnostics.participation_ratio_active, 6),
        "per_dimension": [
            {
                "dimension": int(row.dimension),
                "variance": round(float(row.variance), 6),
                "posterior_variance": round(float(row.posterior_variance), 6),
                "kl": round(float(row.kl), 6),
            }
            for row in table.itertuples()
        ],
    }


def _log(out: Path, message: str, level: int = logging.INFO) -> None:
    """A line of ``train.log``, also sent to the ``seqvae.run.fitting`` logger."""
    logger.log(level, message)
    with open(out / files.LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
