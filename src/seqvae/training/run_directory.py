"""The files of a run directory, written atomically, read back safely (no unpickling) and checked
against each other (registry.json and the training data against config.json).

Layout::

    RUN/config.json          resolved RunConfig (model length/alphabet filled in)
    RUN/registry.json        alphabet, focus columns, reference and numbering, filters, theta;
                             for counts (kind "counts"): the likelihood, the gene names, library sizes
    RUN/model.safetensors    final weights (best validation ELBO when early stopping)
    RUN/checkpoint.pt        latest training state (tensors and numbers only, weights_only load)
    RUN/metrics.csv          one row per logging step
    RUN/summary.json         status, steps, timings, best validation ELBO, versions
    RUN/train.log            human-readable log
    RUN/data/                training codes (uint8), sequence weights, ids, validation split;
                             for counts: counts.npz (sparse, raw counts) and obs.csv (cell metadata)
    RUN/.seqvae-task.json    a sweep point's executor result (seqvae.executor), written last
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from scipy import sparse

from seqvae.data.alignment import AlignmentRegistry
from seqvae.data.counts import INPUT_TRANSFORMS, SparseRows
from seqvae.errors import ConfigError, InputError
from seqvae.executor import RESULT_FILE
from seqvae.io.atomic import atomic_path, write_csv, write_json
from seqvae.io.output_dirs import DirectoryKind
from seqvae.io.output_dirs import check_output_directory as check_directory
from seqvae.io.tables import read_table
from seqvae.training.config import RunConfig

CONFIG = "config.json"
REGISTRY = "registry.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
LOG = "train.log"
DATA = "data"
# the training counts of a run on a count matrix (in DATA), and its cell metadata
COUNTS = "counts.npz"
OBS = "obs.csv"
REGISTRY_KINDS = ("sequences", "continuous", "counts")
# the columns of metrics.csv, one row per logging step
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
# files that no command writes but an older run directory may hold: owned, so that overwrite
# replaces such a run directory
RETIRED_ENTRIES = ("latent_diagnostics.json",)

RUN_DIRECTORY = DirectoryKind(
    name="seqvae run directory",
    markers=(CONFIG, SUMMARY, CHECKPOINT),
    entries=(
        CONFIG,
        REGISTRY,
        WEIGHTS,
        CHECKPOINT,
        METRICS,
        SUMMARY,
        LOG,
        DATA,
        RESULT_FILE,
        *RETIRED_ENTRIES,
    ),
)


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def non_finite_tensor(tensors: dict[str, torch.Tensor], allow_neg_inf: bool = False) -> str | None:
    """The name of the first floating-point tensor holding NaN or infinity, else ``None``."""
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            continue
        bad = torch.isnan(tensor) | (tensor == float("inf"))
        if not allow_neg_inf:
            bad |= tensor == float("-inf")
        if bool(bad.any()):
            return name
    return None


def load_weights(path: str | Path, allow_neg_inf: bool = False) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing, damaged or non-finite one is an :class:`InputError`.

    Parameters
    ----------
    allow_neg_inf
        Accept ``-inf`` (the log-frequency of a state never seen, in a baseline without
        pseudocount); NaN and ``+inf`` are always refused.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("weights file not found (did training finish?)", path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise InputError(f"weights file is damaged or truncated ({err})", path) from None
    bad = non_finite_tensor(tensors, allow_neg_inf)
    if bad is not None:
        raise InputError(
            f"weights are not finite (tensor {bad!r} holds NaN or infinity: training diverged); "
            "retrain, e.g. with a lower training.learning_rate",
            path,
        )
    return tensors


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


# every checkpoint holds these, with these types (None allowed where listed)
CHECKPOINT_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "step": ((int,), False),
    "elapsed_s": ((int, float), False),
    "model": ((dict,), False),
    "optimizer": ((dict,), False),
    "sampler_rng": ((torch.Tensor,), False),
    "global_rng": ((torch.Tensor,), False),
    "best_val_elbo": ((int, float), True),
    "best_step": ((int,), True),
    "evals_since_best": ((int,), False),
    "best_model": ((dict,), True),
}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read ``checkpoint.pt`` (``weights_only``: tensors and plain values, nothing unpickled)
    and check that it holds every field of a training state with the right types."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            "no checkpoint to resume from: the run stopped before training began "
            "(its first checkpoint is written before step 1); train it again with overwrite=True",
            path,
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InputError(f"checkpoint is damaged or truncated ({type(err).__name__})", path) from None
    if not isinstance(state, dict):
        raise InputError(f"checkpoint is not a training state (a {type(state).__name__})", path)
    for name, (types, optional) in CHECKPOINT_FIELDS.items():
        if name not in state:
            raise InputError(f"checkpoint is damaged: field {name!r} is missing", path)
        value = state[name]
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise InputError(f"checkpoint is damaged: field {name!r} is a {type(value).__name__}", path)
    if state["step"] < 0:
        raise InputError(f"checkpoint is damaged: step {state['step']} is negative", path)
    for name in ("model", "best_model", "averaged_model"):
        tensors = state.get(name) or {}
        if not isinstance(tensors, dict):
            raise InputError(f"checkpoint is damaged: field {name!r} is a {type(tensors).__name__}", path)
        if not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise InputError(f"checkpoint is damaged: {name!r} holds values that are not tensors", path)
        bad = non_finite_tensor(tensors)
        if bad is not None:
            raise InputError(
                f"checkpoint holds non-finite weights ({name}.{bad}); it cannot be resumed", path
            )
    return state


def read_json(path: str | Path, what: str, expect: type | None = dict) -> Any:
    """Read a JSON file of a run directory; it must hold an ``expect`` (a mapping by default)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"not a seqvae run directory: {what} missing", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{what} is not valid JSON ({err.msg})", path, err.lineno) from None
    except UnicodeDecodeError as err:
        raise InputError(f"{what} is not UTF-8 text (byte {err.start})", path) from None
    except OSError as err:
        raise InputError(f"cannot read {what} ({err.strerror or err})", path) from None
    if expect is not None and not isinstance(data, expect):
        kinds: dict[type, str] = {dict: "an object (mapping)", list: "a list"}
        kind = kinds.get(expect, expect.__name__)
        raise InputError(f"{what} must hold {kind}, not {type(data).__name__}", path)
    return data


# summary.json fields that readers use, with their types (None is always allowed)
SUMMARY_FIELDS: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "steps": (int,),
    "stop_reason": (str,),
    "best_val_elbo": (int, float),
    "best_step": (int,),
    "weights": (str,),
    "weights_step": (int,),
    "checkpoint_step": (int,),
    "train_time_s": (int, float),
    "device": (str,),
    "error": (str,),
}


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """``summary.json`` of a run, its fields checked (``{}`` when there is none yet)."""
    path = Path(run_dir) / SUMMARY
    if not path.exists():
        return {}
    summary = read_json(path, SUMMARY)
    for name, types in SUMMARY_FIELDS.items():
        value = summary.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            expected = " or ".join(t.__name__ for t in types)
            raise InputError(f"{name}: must be {expected} or null, got {value!r:.40}", path)
    return summary


def read_registry(run_dir: str | Path) -> tuple[dict[str, Any], AlignmentRegistry | None]:
    """``registry.json`` of a run or baseline directory, validated: (its dict, the registry).

    The registry is ``None`` for a run on continuous data. Every field is checked (types,
    lengths, consistency); a bad one is an :class:`InputError` naming the file and field.
    """
    path = Path(run_dir) / REGISTRY
    info = read_json(path, REGISTRY)
    kind = info.get("kind", "sequences")
    if kind not in REGISTRY_KINDS:
        raise InputError(
            f"kind: must be one of {', '.join(map(repr, REGISTRY_KINDS))}, got {kind!r:.40}", path
        )
    for name, types in (("n_sequences", (int,)), ("n_eff", (int, float))):
        value = info.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise InputError(f"{name}: must be a number, got {value!r:.40}", path)
    theta = info.get("theta")
    if theta is not None and (isinstance(theta, bool) or not isinstance(theta, int | float)):
        raise InputError(f"theta: must be a number or null, got {theta!r:.40}", path)
    if not isinstance(info.get("filter_report", {}), dict):
        raise InputError("filter_report: must be a mapping", path)
    if kind == "counts":
        _check_count_registry(info, path)
    if kind in ("continuous", "counts"):
        if info.get("registry") is not None:
            raise InputError(f"registry: must be null for a run on {kind} data", path)
        return info, None
    if "registry" not in info:
        raise InputError("registry: missing", path)
    try:
        return info, AlignmentRegistry.from_dict(info["registry"])
    except InputError as err:
        raise InputError(err.message, path) from None


def _check_count_registry(info: dict[str, Any], path: Path) -> None:
    """The fields of a count run's registry.json: its likelihood and unique gene names."""
    likelihood = info.get("likelihood")
    if likelihood not in INPUT_TRANSFORMS:
        raise InputError(
            f"likelihood: must be one of {', '.join(map(repr, INPUT_TRANSFORMS))}, got {likelihood!r:.40}",
            path,
        )
    genes = info.get("genes")
    if not isinstance(genes, list) or not genes or not all(isinstance(g, str) for g in genes):
        raise InputError("genes: must be a non-empty list of gene names", path)
    if len(set(genes)) != len(genes):
        raise InputError("genes: gene names must be unique", path)


def count_genes(info: dict[str, Any]) -> list[str] | None:
    """The gene names of a count run's registry (``None`` for other runs)."""
    return list(info["genes"]) if info.get("kind") == "counts" else None


def save_training_data(
    run_dir: Path,
    codes: np.ndarray,
    weights: np.ndarray,
    ids: list[str],
    validation_mask: np.ndarray,
) -> None:
    folder = run_dir / DATA
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (
        ("codes.npy", codes),
        ("sequence_weights.npy", weights),
        ("validation_mask.npy", validation_mask),
    ):
        with atomic_path(folder / name) as tmp, open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
    write_json(folder / "ids.json", ids)


def save_training_counts(
    run_dir: Path,
    counts: sparse.csr_matrix,
    weights: np.ndarray,
    ids: list[str],
    validation_mask: np.ndarray,
    metadata: pd.DataFrame | None = None,
) -> None:
    """``data/`` of a run on counts: the sparse counts, weights, ids, split and cell metadata."""
    folder = run_dir / DATA
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / COUNTS) as tmp, open(tmp, "wb") as handle:
        sparse.save_npz(handle, sparse.csr_matrix(counts), compressed=True)
    for name, array in (("sequence_weights.npy", weights), ("validation_mask.npy", validation_mask)):
        with atomic_path(folder / name) as tmp, open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
    write_json(folder / "ids.json", ids)
    if metadata is not None:
        write_csv(folder / OBS, metadata)


def load_cell_metadata(run_dir: str | Path) -> pd.DataFrame | None:
    """``data/obs.csv`` of a run on counts (``id`` first), or ``None`` when it has none."""
    path = Path(run_dir) / DATA / OBS
    if not path.exists():
        return None
    return read_table(path, "cannot read the cell metadata", dtype={"id": str})


def _load_counts(path: Path, n_columns: int | None, transform: str | None) -> SparseRows:
    if not path.exists():
        raise InputError(
            "training counts of the run are missing (data/ was removed, or the run stopped before writing it)",
            path,
        )
    try:
        matrix = sparse.load_npz(path)
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise InputError(f"training counts file is damaged ({str(err).splitlines()[0]})", path) from None
    if matrix.ndim != 2 or matrix.shape[0] < 1:
        raise InputError(f"must be a [cells, genes] matrix, has shape {matrix.shape}", path)
    if n_columns is not None and matrix.shape[1] != n_columns:
        raise InputError(f"has {matrix.shape[1]} genes, the run's model (config.json) has {n_columns}", path)
    values = matrix.data
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
        raise InputError("holds negative or non-finite counts", path)
    return SparseRows(matrix.tocsr(), transform=transform)


def _load_array(path: Path) -> np.ndarray:
    if not path.exists():
        raise InputError(
            "training data of the run is missing (data/ was removed, or the run stopped before writing it)",
            path,
        )
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"training data file is damaged ({str(err).splitlines()[0]})", path) from None


def _expected_shape(run_dir: Path) -> tuple[int | None, int | None]:
    """(columns, states) of the training data according to the run's config.json, where known."""
    try:
        model = read_json(run_dir / CONFIG, CONFIG).get("model")
    except InputError:
        return None, None
    if not isinstance(model, dict):
        return None, None

    def number(key: str) -> int | None:
        value = model.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    if model.get("likelihood") in ("gaussian", "negative_binomial"):  # an old config: input_dim
        return number("length") or number("input_dim"), None
    return number("length"), number("alphabet_size")


def _count_transform(run_dir: Path) -> str | None:
    """What the model sees of the stored counts: by the run's likelihood (config.json)."""
    try:
        model = read_json(run_dir / CONFIG, CONFIG).get("model")
    except InputError:
        return None
    likelihood = model.get("likelihood") if isinstance(model, dict) else None
    return INPUT_TRANSFORMS.get(likelihood) if isinstance(likelihood, str) else None


def load_training_data(
    run_dir: Path,
    length: int | None = None,
    n_states: int | None = None,
) -> tuple[np.ndarray | SparseRows, np.ndarray, list[str], np.ndarray]:
    """``data/``: codes (or vectors), sequence weights, ids and validation mask, all checked.

    A run on counts gives its counts as :class:`~seqvae.data.counts.SparseRows` (sparse; dense
    one batch at a time, log(1 + x) for a Gaussian likelihood).

    Parameters
    ----------
    run_dir
        The run directory.
    length
        Columns (or vector size) the model expects; checked when given.
    n_states
        Codes must be below this (the alphabet size) when given.
    """
    folder = Path(run_dir) / DATA
    if length is None and n_states is None:
        length, n_states = _expected_shape(Path(run_dir))
    if (folder / COUNTS).exists():
        codes: np.ndarray | SparseRows = _load_counts(
            folder / COUNTS, length, _count_transform(Path(run_dir))
        )
        n_states = None
    else:
        codes = _load_array(folder / "codes.npy")
    weights = _load_array(folder / "sequence_weights.npy")
    mask = _load_array(folder / "validation_mask.npy")
    ids = read_json(folder / "ids.json", "data/ids.json", expect=list)
    if isinstance(codes, SparseRows):  # its shape was checked when it was read
        n = len(codes)
    elif codes.ndim != 2 or codes.shape[0] < 1:
        raise InputError(f"must be a [N, L] array, has shape {codes.shape}", folder / "codes.npy")
    else:
        n = codes.shape[0]
    if isinstance(codes, SparseRows):
        pass
    elif length is not None and codes.shape[1] != length:
        raise InputError(
            f"has {codes.shape[1]} columns, the run's model (config.json) has {length}", folder / "codes.npy"
        )
    elif codes.dtype.kind in "ui":
        if n_states is not None and codes.size and (codes.min() < 0 or codes.max() >= n_states):
            raise InputError(f"holds codes outside 0..{n_states - 1}", folder / "codes.npy")
    elif codes.dtype.kind != "f" or (n_states is not None):
        raise InputError(f"has dtype {codes.dtype}, expected integer codes", folder / "codes.npy")
    if weights.shape != (n,) or weights.dtype.kind not in "fiu" or not np.all(np.isfinite(weights)):
        raise InputError(
            f"must hold {n} finite sequence weights, one per sequence (shape {weights.shape})",
            folder / "sequence_weights.npy",
        )
    if np.any(weights < 0) or weights.sum() <= 0:
        raise InputError("sequence weights must be >= 0 and not all 0", folder / "sequence_weights.npy")
    if mask.shape != (n,) or mask.dtype != np.bool_:
        raise InputError(
            f"must be {n} booleans, one per sequence (shape {mask.shape}, dtype {mask.dtype})",
            folder / "validation_mask.npy",
        )
    if mask.all():
        raise InputError(
            "marks every sequence as validation: none left to train on", folder / "validation_mask.npy"
        )
    if len(ids) != n or not all(isinstance(i, str) for i in ids):
        raise InputError(
            f"must list {n} sequence ids (strings), one per row of codes.npy", folder / "ids.json"
        )
    return codes, weights, ids, mask


def is_finished(run_dir: str | Path) -> bool:
    """Whether a run directory holds a finished training (resumable grids skip it)."""
    summary = Path(run_dir) / SUMMARY
    if not summary.exists():
        return False
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("status") == "finished"
    except json.JSONDecodeError:
        return False


def read_metrics(path: str | Path) -> pd.DataFrame:
    """``metrics.csv``, checked: the logging columns present and numeric, steps increasing."""
    path = Path(path)
    table = read_table(path, "cannot read metrics.csv", dtype=str, keep_default_na=False)
    missing = [c for c in METRIC_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"metrics.csv is damaged: column {missing[0]!r} missing", path, 1)
    numeric = pd.DataFrame(index=table.index)
    for column in METRIC_COLUMNS:
        values = table[column].str.strip()
        parsed = pd.to_numeric(values.replace("", np.nan), errors="coerce")
        bad = parsed.isna() & (values != "") & ~values.str.lower().isin(["nan", "inf", "-inf"])
        if column in ("step", "epoch", "time_s", "loss", "elbo"):
            bad |= values == ""
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"metrics.csv is damaged: {column} {table[column].iloc[row]!r:.30} is not a number",
                path,
                row + 2,
            )
        numeric[column] = parsed
    steps = numeric["step"].to_numpy()
    if len(steps) > 1 and np.any(np.diff(steps) <= 0):
        row = int(np.flatnonzero(np.diff(steps) <= 0)[0]) + 1
        raise InputError("metrics.csv is damaged: steps do not increase", path, row + 2)
    return numeric


# -- the files checked against each other ------------------------------------------------------
def read_config(run_dir: str | Path) -> RunConfig:
    """The run's resolved config; a bad one is reported against its config.json."""
    path = Path(run_dir)
    try:
        config = RunConfig.from_dict(read_json(path / CONFIG, CONFIG))
        config.validate()
        config.model.validate()
    except ConfigError as err:
        if err.source is not None:
            raise
        raise ConfigError(err.message, path / CONFIG, field=err.field) from None
    return config


def read_run_registry(
    run_dir: str | Path, config: RunConfig
) -> tuple[AlignmentRegistry | None, list[str] | None]:
    """``registry.json`` of a run, checked field by field and against its ``config``:
    ``(registry, genes)``, the registry ``None`` but for sequences, the genes ``None`` but for counts."""
    info, registry = read_registry(run_dir)
    where = Path(run_dir) / REGISTRY
    model = config.model
    genes = count_genes(info)
    if genes is not None:
        if info.get("likelihood") != model.likelihood:
            raise InputError(
                f"likelihood: {info.get('likelihood')!r}, config.json's model.likelihood is {model.likelihood!r}",
                where,
            )
        if len(genes) != model.length:
            raise InputError(
                f"genes: {len(genes)} names, config.json's model.length is {model.length}", where
            )
    elif model.likelihood == "negative_binomial":
        raise InputError(f"kind: {info.get('kind')!r}, but config.json describes a count model", where)
    if model.likelihood == "categorical":
        if registry is None:
            raise InputError(f"kind: {info.get('kind')!r}, but config.json describes a sequence model", where)
        if registry.length != model.length:
            raise InputError(
                f"registry.focus_columns: {registry.length} columns, config.json's model.length is {model.length}",
                where,
            )
        if registry.alphabet.size != model.alphabet_size:
            raise InputError(
                f"registry.alphabet: {registry.alphabet.size} states ({registry.alphabet.symbols!r}), "
                f"config.json's model.alphabet_size is {model.alphabet_size}",
                where,
            )
    elif registry is not None:
        raise InputError("registry: a sequence registry, but config.json describes continuous data", where)
    return registry, genes


def training_data_shape(config: RunConfig) -> tuple[int | None, int | None]:
    """(columns, number of states) that the run's training data must have."""
    if config.model.likelihood == "categorical":
        return config.model.length, config.model.alphabet_size
    return config.model.length, None


def check_output_directory(out: str | Path, overwrite: bool = False) -> None:
    """A new run directory must not exist (or be empty); ``overwrite`` replaces only a run directory.

    Nothing is changed here: training repeats the check under the directory's write lock.
    """
    check_directory(out, RUN_DIRECTORY, overwrite)
