"""A run directory as one object: :class:`Run`, :func:`load` and :func:`load_model`.

A :class:`Run` wraps a run directory: the resolved config, the data registry and the trained
model in eval mode. Training one is :mod:`seqvae.run.fitting`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqvae.data.alignment import Alignment, AlignmentRegistry, map_to_registry
from seqvae.data.counts import INPUT_TRANSFORMS, CountMatrix, SparseRows, read_counts
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import InputError
from seqvae.io.alignment_formats import read_records
from seqvae.models.interface import SequenceModel
from seqvae.models.vae import VAE
from seqvae.training import run_directory as files
from seqvae.training.baselines import is_baseline_directory, load_baseline
from seqvae.training.config import RunConfig
from seqvae.utils import html_table

__all__ = ["Run", "collapse_warning", "load", "load_model"]


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
        return html_table("Run", self._facts())

    # -- data ------------------------------------------------------------------------------
    def sequence_registry(self) -> AlignmentRegistry:
        """The registry of a run on sequences; any other run is an :class:`InputError`."""
        if self.registry is None:
            raise InputError(f"this run was trained on {self.kind} data, not sequences", self.path)
        return self.registry

    def read_alignment(self, path: str | Path) -> Alignment:
        """Read sequences aligned like the training alignment and code them with the registry."""
        registry = self.sequence_registry()
        return map_to_registry(read_records(path, registry.options.format), registry)

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
        """The training cells' metadata (``id`` first) of a run on counts (only they have it), else ``None``."""
        return files.load_cell_metadata(self.path)

    def training_data(self) -> tuple[np.ndarray | SparseRows, np.ndarray, list[str], np.ndarray]:
        """Codes (or vectors; counts as :class:`~seqvae.data.counts.SparseRows`), sequence
        weights, ids and validation mask used in training."""
        return files.load_training_data(self.path, *files.training_data_shape(self.config))

    def training_alignment(self) -> Alignment:
        """The training sequences as an :class:`Alignment` (with their weights)."""
        registry = self.sequence_registry()
        codes, weights, ids, _ = self.training_data()
        if isinstance(codes, SparseRows):  # sequence_registry() refused a run on counts already
            raise InputError(f"this run was trained on {self.kind} data, not sequences", self.path)
        return Alignment(
            ids=ids,
            headers=list(ids),
            codes=codes,
            registry=registry,
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
            batch = tensor[start : start + batch_size]  # a slice of SparseRows is dense
            mean, logvar = self.model.encode(batch.to(device))
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
        codes, ids, weights = self.input_rows(alignment)
        mean, logvar = self.encode(codes)
        table = {"id": ids, "weight": weights}
        for k in range(mean.shape[1]):
            table[f"z_mean_{k}"] = mean[:, k]
        for k in range(logvar.shape[1]):
            table[f"z_logvar_{k}"] = logvar[:, k]
        return pd.DataFrame(table)

    def input_rows(
        self, data: Alignment | CountMatrix | str | Path | None = None
    ) -> tuple[np.ndarray | SparseRows, list[str], np.ndarray]:
        """``data`` (any ``alignment`` that :meth:`embed` takes) as the model's input rows, with
        their ids and weights."""
        codes: np.ndarray | SparseRows
        if data is None:
            codes, weights, ids, _ = self.training_data()
        elif isinstance(data, CountMatrix) or (self.genes is not None and not isinstance(data, Alignment)):
            counts = self.read_counts(data)  # refuses a run not on counts
            codes, ids = self.count_rows(counts), counts.cells
            weights = np.ones(counts.n_cells)
        else:
            alignment = data if isinstance(data, Alignment) else self.read_alignment(data)
            registry = self.sequence_registry()  # refuses a run not on sequences
            if alignment.length != registry.length or alignment.alphabet.symbols != registry.alphabet.symbols:
                raise InputError(
                    f"alignment has {alignment.length} columns over {alignment.alphabet.symbols!r}, the "
                    f"run expects {registry.length} over {registry.alphabet.symbols!r}",
                    alignment.source,
                )
            codes, ids = alignment.codes, list(alignment.ids)
            if alignment.sequence_weights is not None:
                weights = alignment.sequence_weights
            else:
                weights = compute_sequence_weights(codes, registry.alphabet.gap_code, self.config.data.theta)
        return codes, ids, weights


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


def load(path: str | Path) -> Run:
    """Load a run directory: config, registry and weights (safetensors; nothing unpickled)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError("run directory not found", path)
    config = files.read_config(path)
    registry, genes = files.read_run_registry(path, config)
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
    return run.model, run.sequence_registry(), "vae"
