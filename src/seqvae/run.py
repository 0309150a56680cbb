"""The user-facing API over runs: train, resume, load, embed.

A :class:`Run` wraps a run directory: the resolved config, the data registry and the trained
model in eval mode. The CLI commands are thin wrappers over these functions.
"""

from __future__ import annotations

import platform
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from seqvae.data.alignment import Alignment, AlignmentRegistry, map_to_registry, read_alignment
from seqvae.data.counts import INPUT_TRANSFORMS, CountMatrix, SparseRows, read_counts
from seqvae.data.weights import compute_sequence_weights, reference_identity
from seqvae.errors import ConfigError, InputError
from seqvae.io.alignment_formats import read_records
from seqvae.io.atomic import remove_stale_temporaries, write_json
from seqvae.io.count_files import is_count_file
from seqvae.io.output_dirs import check_output_directory as check_directory
from seqvae.io.output_dirs import claim_directory, lock_directory
from seqvae.models.interface import SequenceModel
from seqvae.models.latent_usage import DEFAULT_ACTIVE_THRESHOLD, latent_diagnostics
from seqvae.models.vae import VAE
from seqvae.training import run_directory as files
from seqvae.training.baselines import is_baseline_directory, load_baseline
from seqvae.training.config import RunConfig
from seqvae.training.trainer import (
    Trainer,
    TrainingInterrupted,
    TrainingOutcome,
    averaging_decay,
    resolve_device,
)
from seqvae.utils import seed_everything
from seqvae.version import __version__

__all__ = ["Run", "collapse_warning", "latent_usage_record", "load", "load_model", "resume", "train"]


class Run:
    """A trained (or training) run directory.

    Attributes
    ----------
    path
        The run directory.
    config
        The resolved :class:`RunConfig`.
    registry
        The :class:`AlignmentRegistry` for sequence runs, ``None`` for continuous data and counts.
    model
        The :class:`VAE` with the saved weights, in eval mode.
    genes
        The gene names of a run on a count matrix (``None`` for other runs).
    """

    def __init__(
        self,
        path: Path,
        config: RunConfig,
        registry: AlignmentRegistry | None,
        model: VAE,
        summary: dict,
        genes: list[str] | None = None,
    ):
        self.path = Path(path)
        self.config = config
        self.registry = registry
        self.model = model
        self.summary = summary
        self.genes = genes

    @property
    def kind(self) -> str:
        """``sequences``, ``continuous`` or ``counts``: what the run was trained on."""
        if self.registry is not None:
            return "sequences"
        return "counts" if self.genes is not None else "continuous"

    @property
    def collapse_warning(self) -> str | None:
        """The warning line when training recorded no active latent dimension (else ``None``)."""
        return collapse_warning(self.summary)

    def _facts(self) -> dict[str, str]:
        """The few facts the reprs show: path, reference (or data kind), N x L (training and
        validation), N_eff of the training part, latent_dim, status, best validation ELBO."""
        summary = self.summary
        n = sum(int(summary.get(key) or 0) for key in ("n_train", "n_validation"))
        if self.registry is not None:
            data, length = self.registry.reference_id, self.registry.length
        elif self.genes is not None:
            data, length = "counts", len(self.genes)
        else:
            data, length = "continuous", None
        n_eff = summary.get("n_eff_train")
        elbo = summary.get("best_val_elbo")
        steps = summary.get("steps")
        return {
            "path": str(self.path),
            "data": data,
            "N x L": f"{n} x {length}" if n and length is not None else "",
            "N_eff_train": f"{n_eff:.1f}" if isinstance(n_eff, int | float) else "",
            "latent_dim": str(self.config.model.latent_dim),
            "status": f"{summary.get('status', '?')}" + (f" at step {steps}" if steps is not None else ""),
            "best validation ELBO": f"{elbo:.2f}" if isinstance(elbo, int | float) else "",
        }

    def __repr__(self) -> str:
        """One line: path, reference (or data kind), N x L, N_eff_train, latent_dim, status."""
        facts = self._facts()
        shown = [repr(facts["path"]), facts["data"]]
        shown += [f"{key} = {facts[key]}" for key in ("N x L", "N_eff_train", "latent_dim") if facts[key]]
        return f"Run({', '.join(shown)}, {facts['status']})"

    def _repr_html_(self) -> str:
        """A small table for notebooks."""
        from seqvae.utils import html_table

        return html_table("Run", self._facts())

    # -- data ------------------------------------------------------------------------------
    def read_alignment(self, path: str | Path) -> Alignment:
        """Read sequences aligned like the training alignment and code them with the registry."""
        if self.registry is None:
            raise InputError(f"this run was trained on {self.kind} data, not sequences", self.path)
        return map_to_registry(read_records(path, self.registry.options.format), self.registry)

    def read_counts(self, counts: CountMatrix | str | Path) -> CountMatrix:
        """A count matrix (or file) with its genes put in the order of the run's genes."""
        if self.genes is None:
            raise InputError(f"this run was trained on {self.kind} data, not a count matrix", self.path)
        if not isinstance(counts, CountMatrix):
            counts = read_counts(counts)
        return counts.conform_to(self.genes)

    def count_rows(self, counts: CountMatrix) -> SparseRows:
        """Counts as the model's input rows (log(1 + x) for a Gaussian run on counts)."""
        return counts.rows(INPUT_TRANSFORMS[self.config.model.likelihood])

    def cell_metadata(self) -> pd.DataFrame | None:
        """The training cells' metadata (``id`` first) of a run on counts, else ``None``."""
        return files.load_cell_metadata(self.path) if self.genes is not None else None

    def training_data(self) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
        """Codes (or vectors), sequence weights, ids and validation mask used in training."""
        return files.load_training_data(self.path, *_data_shape(self.config))

    def training_alignment(self) -> Alignment:
        """The training sequences as an :class:`Alignment` (with their weights)."""
        if self.registry is None:
            raise InputError(f"this run was trained on {self.kind} data, not sequences", self.path)
        codes, weights, ids, _ = self.training_data()
        return Alignment(
            ids=ids,
            headers=list(ids),
            codes=codes,
            registry=self.registry,
            source=str(self.path / files.DATA),
            sequence_weights=weights,
            theta=self.config.data.theta,
        )

    # -- inference -------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, data: np.ndarray | SparseRows, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Latent means and log-variances, each ``[N, d]``, computed in batches (counts as
        :class:`~seqvae.data.counts.SparseRows`: one dense batch at a time)."""
        self.model.eval()
        device = next(self.model.parameters()).device
        means, logvars = [], []
        tensor = data if isinstance(data, SparseRows) else torch.as_tensor(np.asarray(data))
        for start in range(0, len(tensor), batch_size):
            mean, logvar = self.model.encode(tensor[start : start + batch_size].to(device))
            means.append(mean.cpu())
            logvars.append(logvar.cpu())
        if not means:
            d = self.config.model.latent_dim
            return np.zeros((0, d), np.float32), np.zeros((0, d), np.float32)
        return torch.cat(means).numpy(), torch.cat(logvars).numpy()

    def embed(self, alignment: Alignment | CountMatrix | str | Path | None = None) -> pd.DataFrame:
        """Embed sequences (or cells): ``id``, ``weight``, ``z_mean_*``, ``z_logvar_*`` per row.

        Parameters
        ----------
        alignment
            An :class:`Alignment` coded with this run's registry, a path to read with it, or
            ``None`` for the training sequences. For a run on counts: a
            :class:`~seqvae.data.counts.CountMatrix` or a count file with the run's genes (any
            order; extra genes are ignored), every cell weighted 1.
        """
        if alignment is None:
            codes, weights, ids, _ = self.training_data()
        elif self.genes is not None:
            counts = self.read_counts(alignment)
            codes, ids = self.count_rows(counts), counts.cells
            weights = np.ones(counts.n_cells)
        else:
            if not isinstance(alignment, Alignment):
                alignment = self.read_alignment(alignment)
            self._check_fits(alignment)
            codes, ids = alignment.codes, alignment.ids
            if alignment.sequence_weights is not None:
                weights = alignment.sequence_weights
            else:
                weights = compute_sequence_weights(
                    codes, self.registry.alphabet.gap_code, self.config.data.theta
                )
        mean, logvar = self.encode(codes)
        table = {"id": ids, "weight": weights}
        for k in range(mean.shape[1]):
            table[f"z_mean_{k}"] = mean[:, k]
        for k in range(logvar.shape[1]):
            table[f"z_logvar_{k}"] = logvar[:, k]
        return pd.DataFrame(table)

    def _check_fits(self, alignment: Alignment) -> None:
        if self.registry is None:
            raise InputError(f"this run was trained on {self.kind} data, not sequences", self.path)
        if (
            alignment.length != self.registry.length
            or alignment.alphabet.symbols != self.registry.alphabet.symbols
        ):
            raise InputError(
                f"alignment has {alignment.length} columns over {alignment.alphabet.symbols!r}, the "
                f"run expects {self.registry.length} over {self.registry.alphabet.symbols!r}",
                alignment.source,
            )


# -- training ------------------------------------------------------------------------------
# from about this many sequences the weights take more than a few seconds (they grow as N²)
WEIGHTS_PROGRESS_ROWS = 20_000


def sequence_weights_with_progress(
    alignment: Alignment, theta: float | None, show_progress: bool = True
) -> np.ndarray:
    """:func:`~seqvae.data.weights.compute_sequence_weights` of ``alignment``, with a
    transient progress bar on stderr for alignments of :data:`WEIGHTS_PROGRESS_ROWS` sequences
    or more (200,000 sequences take minutes on two cores)."""
    progress = Progress(
        TextColumn("[bold]sequence weights"),
        BarColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show_progress or alignment.n_sequences < WEIGHTS_PROGRESS_ROWS,
        transient=True,
    )
    with progress:
        task = progress.add_task("weights", total=None)
        return compute_sequence_weights(
            alignment.codes,
            alignment.alphabet.gap_code,
            theta,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


def _prepare_sequence_data(
    alignment: Alignment, config: RunConfig, show_progress: bool = True
) -> tuple[torch.Tensor, np.ndarray]:
    if alignment.sequence_weights is None:
        weights = sequence_weights_with_progress(alignment, config.data.theta, show_progress)
    else:
        weights = alignment.sequence_weights
    return torch.from_numpy(np.ascontiguousarray(alignment.codes)), np.asarray(weights, np.float64)


def _validation_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    n_val = int(round(fraction * n))
    if fraction > 0 and n_val == 0 and n > 2:
        n_val = 1
    n_val = min(n_val, n - 1)  # always keep at least one training sequence
    if n_val:
        mask[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return mask


def _count_likelihood(config: RunConfig, source: str) -> str:
    """The likelihood of a run on counts: negative_binomial unless gaussian (on log(1 + x)) is
    asked for; the default ``categorical`` means "choose for the data"."""
    likelihood = config.model.likelihood
    if likelihood == "categorical":
        return "negative_binomial"
    if likelihood not in INPUT_TRANSFORMS:
        raise ConfigError(
            f"model.likelihood: a count matrix takes negative_binomial or gaussian (on log(1 + counts)), "
            f"not {likelihood!r}",
            source,
            field="model.likelihood",
        )
    return likelihood


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
    show_progress: bool = True,
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
        ``model.alphabet_size`` (or ``input_dim``) are filled in from the data.
    out
        The run directory; it must not exist unless ``overwrite``.
    """
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
    counts: CountMatrix | None = None
    if isinstance(data, CountMatrix):
        counts = data
        config.model.likelihood = _count_likelihood(config, counts.source)
        config.model.input_dim = counts.n_genes
        tensor = counts.rows(INPUT_TRANSFORMS[config.model.likelihood])
        weights = np.ones(counts.n_cells, dtype=np.float64)
        registry = None
        ids = list(counts.cells)
        filter_report = {}
    elif isinstance(data, Alignment):
        config.model.likelihood = "categorical"
        config.model.length = data.length
        config.model.alphabet_size = data.alphabet.size
        tensor, weights = _prepare_sequence_data(data, config, show_progress)
        registry = data.registry
        ids = list(data.ids)
        filter_report = data.filter_report
    else:
        array = np.asarray(data, dtype=np.float32)
        if array.ndim != 2 or len(array) < 2:
            raise InputError("continuous data must be a 2-D array with at least 2 rows")
        config.model.likelihood = "gaussian"
        config.model.input_dim = array.shape[1]
        tensor = torch.from_numpy(array)
        weights = np.ones(len(array), dtype=np.float64)
        registry = None
        ids = [f"row{i}" for i in range(len(array))]
        filter_report = {}
    config.model.validate()
    with claim_directory(out, files.RUN_DIRECTORY, overwrite):
        mask = _validation_mask(len(tensor), config.training.validation_fraction, config.seed)
        write_json(out / files.CONFIG, config.to_dict())
        info = {
            "kind": "sequences" if registry is not None else "continuous",
            "registry": None if registry is None else registry.to_dict(),
            "theta": config.data.theta,
            "filter_report": filter_report,
            "n_sequences": len(tensor),
            "n_eff": float(weights.sum()),
        }
        if counts is not None:
            info.update(_count_registry(counts, config))
        write_json(out / files.REGISTRY, info)
        if counts is not None:
            files.save_training_counts(out, counts.counts, weights, ids, mask, counts.metadata())
        else:
            files.save_training_data(out, tensor.numpy(), weights, ids, mask)
        return _run_training(
            out,
            config,
            registry,
            tensor,
            weights,
            mask,
            resume_state=None,
            show_progress=show_progress,
            genes=None if counts is None else list(counts.genes),
        )


def _count_registry(counts: CountMatrix, config: RunConfig) -> dict:
    """What registry.json records of a run on counts (beside kind, n_sequences, n_eff)."""
    library = counts.library_sizes()
    return {
        "kind": "counts",
        "theta": None,
        "likelihood": config.model.likelihood,
        "input": "log1p(counts)" if INPUT_TRANSFORMS[config.model.likelihood] else "counts",
        "source": counts.source,
        "layer": counts.layer,
        "n_cells": counts.n_cells,
        "n_genes": counts.n_genes,
        "library_size": {
            "min": float(library.min()),
            "median": float(np.median(library)),
            "max": float(library.max()),
        },
        "metadata_columns": [] if counts.obs is None else [str(c) for c in counts.obs.columns],
        "genes": list(counts.genes),
    }


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


def _data_shape(config: RunConfig) -> tuple[int | None, int | None]:
    """(columns, number of states) that the run's training data must have."""
    if config.model.likelihood == "categorical":
        return config.model.length, config.model.alphabet_size
    return config.model.input_dim, None


def _as_input(data: np.ndarray | SparseRows) -> torch.Tensor | SparseRows:
    """Training data as the trainer takes it: a tensor, or counts kept sparse."""
    return data if isinstance(data, SparseRows) else torch.from_numpy(data)


def check_output_directory(out: str | Path, overwrite: bool = False) -> None:
    """A new run directory must not exist (or be empty); ``overwrite`` replaces only a run directory.

    Nothing is changed here: :func:`train` repeats the check under the directory's write lock.
    """
    check_directory(out, files.RUN_DIRECTORY, overwrite)


def resume(path: str | Path, show_progress: bool = True) -> Run:
    """Continue an interrupted run from its last checkpoint (bit-identical on the same machine)."""
    path = Path(path)
    config = read_config(path)
    registry, genes = _read_registry(path, with_genes=True)
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
            show_progress=show_progress,
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
    show_progress: bool,
    genes: list[str] | None = None,
) -> Run:
    seed_everything(config.seed)
    model = VAE(config.model)
    focus_factors = None
    if config.training.focus_steps > 0:
        focus_factors = reference_identity(np.asarray(tensor), registry.reference_codes())
    trainer = Trainer(
        model, tensor, weights, mask, config.training, out, config.seed, show_progress, focus_factors
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
        )
        raise
    except BaseException as err:
        write_json(
            out / files.SUMMARY,
            _summary(config, "failed", None, trainer, weights, mask, previous, error=_one_line(err)),
        )
        _log(out, f"failed at step {trainer.step}: {type(err).__name__}: {_one_line(err)}")
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
        f"best val ELBO={outcome.best_val_elbo}, {outcome.elapsed_s:.1f}s, "
        f"{usage['n_active']} of {usage['latent_dim']} latent dimensions active",
    )
    warning = collapse_warning(usage)
    if warning:
        _log(out, warning)
    trainer.model.eval()
    return Run(
        out,
        config,
        registry,
        trainer.model.cpu(),
        files.read_summary(out),
        genes,
    )


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
    data: torch.Tensor,
    weights: np.ndarray,
    mask: np.ndarray,
    threshold: float = DEFAULT_ACTIVE_THRESHOLD,
    batch_size: int = 4096,
) -> dict:
    """What ``summary.json`` records about the latent space of a trained model.

    The training sequences (validation rows excluded) are encoded and summarised as in
    :func:`~seqvae.models.latent_usage.latent_diagnostics`, weighted by the sequence weights:
    per dimension the variance of z_mean, the mean posterior variance and the mean KL, and the
    number of active dimensions (Var(z_mean) > ``threshold``).

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
        ``latent_dim``, ``threshold``, ``n_active``, ``active_dimensions``, ``total_kl`` and
        ``per_dimension`` (rows of ``dimension``, ``variance``, ``posterior_variance``, ``kl``).
    """
    model.eval()
    device = next(model.parameters()).device
    rows = np.flatnonzero(~mask) if (~mask).sum() >= 2 else np.arange(len(data))
    means, logvars = [], []
    for start in range(0, len(rows), batch_size):
        block = data[torch.from_numpy(rows[start : start + batch_size])].to(device)
        mean, logvar = model.encode(block)
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


def collapse_warning(summary: dict | None) -> str | None:
    """One warning line when a run has no active latent dimension, else ``None``.

    ``summary`` is a run's ``summary.json`` (or its ``latent`` record); runs written before the
    record existed give ``None``.
    """
    if not summary:
        return None
    latent = summary.get("latent", summary)
    if not isinstance(latent, dict) or latent.get("n_active") != 0:
        return None
    total_kl = latent.get("total_kl")
    kl = f"{total_kl:.2f}" if isinstance(total_kl, int | float) else "?"
    return (
        f"warning: no active latent dimension (Var(z_mean) <= {latent.get('threshold')} in all "
        f"{latent.get('latent_dim')}, total KL {kl} nats): the posterior collapsed, z carries "
        "nothing and the model is site-independent (try a weaker decoder prior or KL weight)"
    )


def _log(out: Path, message: str) -> None:
    with open(out / files.LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def _read_registry(path: Path, with_genes: bool = False):
    """The run's registry, validated field by field and against its config.json
    (``with_genes``: and the gene names of a run on counts, ``(registry, genes)``)."""
    info, registry = files.read_registry(path)
    config = read_config(path)
    where = path / files.REGISTRY
    genes = files.count_genes(info)
    if genes is not None:
        if info.get("likelihood") != config.model.likelihood:
            raise InputError(
                f"likelihood: {info.get('likelihood')!r}, config.json's model.likelihood is "
                f"{config.model.likelihood!r}",
                where,
            )
        if len(genes) != config.model.input_dim:
            raise InputError(
                f"genes: {len(genes)} names, config.json's model.input_dim is {config.model.input_dim}", where
            )
    elif config.model.likelihood == "negative_binomial":
        raise InputError(f"kind: {info.get('kind')!r}, but config.json describes a count model", where)
    if config.model.likelihood == "categorical":
        if registry is None:
            raise InputError(f"kind: {info.get('kind')!r}, but config.json describes a sequence model", where)
        if registry.length != config.model.length:
            raise InputError(
                f"registry.focus_columns: {registry.length} columns, config.json's model.length is "
                f"{config.model.length}",
                where,
            )
        if registry.alphabet.size != config.model.alphabet_size:
            raise InputError(
                f"registry.alphabet: {registry.alphabet.size} states ({registry.alphabet.symbols!r}), "
                f"config.json's model.alphabet_size is {config.model.alphabet_size}",
                where,
            )
    elif registry is not None:
        raise InputError("registry: a sequence registry, but config.json describes continuous data", where)
    return (registry, genes) if with_genes else registry


def read_config(path: str | Path) -> RunConfig:
    """The run's resolved config; a bad one is reported against its config.json."""
    path = Path(path)
    try:
        config = RunConfig.from_dict(files.read_json(path / files.CONFIG, "config.json"))
        config.validate()
        config.model.validate()
    except ConfigError as err:
        if err.source is not None:
            raise
        raise ConfigError(err.message, path / files.CONFIG, field=err.field) from None
    return config


def load(path: str | Path) -> Run:
    """Load a run directory: config, registry and weights (safetensors; nothing unpickled)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError("run directory not found", path)
    config = read_config(path)
    registry, genes = _read_registry(path, with_genes=True)
    model = VAE(config.model)
    summary = files.read_summary(path)
    if not (path / files.WEIGHTS).exists() and summary.get("status") in ("failed", "running"):
        why = {"failed": "training failed", "running": "training has not finished (or was killed)"}
        detail = f": {summary['error']}" if summary.get("error") else ""
        raise InputError(
            f"no weights: {why[summary['status']]} at step {summary.get('steps')}{detail}",
            path / files.WEIGHTS,
        )
    state = files.load_weights(path / files.WEIGHTS)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(
            f"weights do not match the run's config ({str(err).splitlines()[0]})",
            path / files.WEIGHTS,
        ) from None
    model.eval()
    return Run(path, config, registry, model, summary, genes)


def load_model(path: str | Path) -> tuple[SequenceModel, AlignmentRegistry, str]:
    """Any sequence model from its directory: ``(model, registry, kind)``.

    A VAE run directory gives its :class:`VAE` (kind ``vae``); a baseline directory
    (``seqvae baseline fit``) its site-independent or Potts model (kind ``site-independent`` or
    ``potts``). Each satisfies :class:`~seqvae.models.interface.SequenceModel`: ``log_value``
    and ``sample`` the same way, in eval mode.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError("run directory not found", path)
    if is_baseline_directory(path):
        return load_baseline(path)
    run = load(path)
    if run.registry is None:
        raise InputError(f"this run was trained on {run.kind} data, not sequences", path)
    return run.model, run.registry, "vae"
