"""The files of a run directory, written atomically and read back safely (no unpickling).

Layout::

    RUN/config.json          resolved RunConfig (model length/alphabet filled in)
    RUN/registry.json        alphabet, focus columns, reference and numbering, filters, theta
    RUN/model.safetensors    final weights (best validation ELBO when early stopping)
    RUN/checkpoint.pt        latest training state (tensors and numbers only, weights_only load)
    RUN/metrics.csv          one row per logging step
    RUN/summary.json         status, steps, timings, best validation ELBO, versions
    RUN/train.log            human-readable log
    RUN/data/                training codes (uint8), sequence weights, ids, validation split
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seqvae.errors import InputError
from seqvae.io.atomic import atomic_path, write_json
from seqvae.io.output_dirs import DirectoryKind

CONFIG = "config.json"
REGISTRY = "registry.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
LOG = "train.log"
DATA = "data"
# written into a run directory by `seqvae sweep` beside the run's own files
LATENT_DIAGNOSTICS = "latent_diagnostics.json"

RUN_DIRECTORY = DirectoryKind(
    name="seqvae run directory",
    markers=(CONFIG, SUMMARY, CHECKPOINT),
    entries=(CONFIG, REGISTRY, WEIGHTS, CHECKPOINT, METRICS, SUMMARY, LOG, DATA, LATENT_DIAGNOSTICS),
)


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise InputError("weights file not found (did training finish?)", path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise InputError(f"weights file is damaged or truncated ({err})", path) from None


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise InputError("no checkpoint to resume from", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InputError(f"checkpoint is damaged or truncated ({type(err).__name__})", path) from None


def read_json(path: str | Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"not a seqvae run directory: {what} missing", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{what} is not valid JSON ({err.msg})", path, err.lineno) from None


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


def load_training_data(run_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    folder = Path(run_dir) / DATA
    try:
        codes = np.load(folder / "codes.npy", allow_pickle=False)
        weights = np.load(folder / "sequence_weights.npy", allow_pickle=False)
        mask = np.load(folder / "validation_mask.npy", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(f"training data of the run is missing or damaged ({err})", folder) from None
    ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
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
