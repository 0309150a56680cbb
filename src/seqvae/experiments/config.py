"""Experiment configs: one schema per experiment, validated in one place.

A config is a mapping with these sections (every one optional; defaults fill the rest)::

    experiment: compression          # must match the NAME on the command line
    description: free text
    family: {...}                    # the synthetic family's knobs
    grid:                            # the models: the product of these lists
      regulariser: [kl, mmd]         # kl models take the beta list, mmd models the mmd_weight list
      beta: [1.0]                    # β of the KL term
      mmd_weight: [10.0]             # λ of the MMD term
      latent_dim: [1, 2, 4, 8]
      seed: [0, 1]
      family.beta: [1.1, 1.2]        # any family knob can be swept too
    model: {...}                     # base model knobs (seqvae.ModelConfig), not the grid's ones
    training: {...}                  # base training knobs (seqvae.TrainingConfig)
    measurements: [...]              # which of the experiment's measurements to make
    analysis: {...}                  # the measurements' knobs
    quick: {...}                     # a partial config merged over the rest by --quick

Every problem raises :class:`~seqvae.errors.InputError` naming the key (``grid.latent_dim``,
``family.motifs``, ``quick.training.max_steps``) and the config file.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqvae.errors import ConfigError, InputError
from seqvae.executor import fingerprint
from seqvae.experiments.knobs import Knob
from seqvae.experiments.registry import get_experiment
from seqvae.io.config_files import read_config_file
from seqvae.training.config import preset_config

__all__ = [
    "GRID_MODEL_KEYS",
    "Knob",
    "config_hash",
    "deep_merge",
    "resolve_config",
    "validate_knobs",
]

GRID_MODEL_KEYS = ("regulariser", "beta", "mmd_weight", "latent_dim", "seed")
SECTIONS = (
    "experiment",
    "description",
    "family",
    "grid",
    "model",
    "training",
    "measurements",
    "analysis",
    "quick",
)
QUICK_SECTIONS = ("family", "grid", "model", "training", "measurements", "analysis")


def deep_merge(base: dict, override: dict) -> dict:
    """``base`` updated by ``override``; nested mappings merge, everything else (lists) replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config_hash(data: Any) -> str:
    """A short stable hash of JSON-able data (sorted keys): the start of the executor's fingerprint."""
    return fingerprint(data)[:12]


def validate_knobs(section: str, values: Any, knobs: dict[str, Knob]) -> dict[str, Any]:
    """Defaults filled in, every value checked, unknown keys rejected (naming ``section.key``)."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{section}: must be a mapping of keys to values (got {values!r})")
    unknown = sorted(set(values) - set(knobs))
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}: unknown key; known keys are {sorted(knobs)}")
    return {
        name: knob.check(f"{section}.{name}", values[name]) if name in values else copy.deepcopy(knob.default)
        for name, knob in knobs.items()
    }


def _check_grid(values: Any, spec, family: dict[str, Any]) -> dict[str, list]:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"grid: must be a mapping of keys to lists of values (got {values!r})")
    grid_knobs = {
        "regulariser": Knob("kl", "choice", choices=("kl", "mmd")),
        "beta": Knob(1.0, "float", 0.0),
        "mmd_weight": Knob(10.0, "float", 0.0),
        "latent_dim": Knob(2, "int", 1, 1024),
        "seed": Knob(0, "int", 0),
    }
    merged = {**copy.deepcopy(spec.grid_defaults), **values}
    grid: dict[str, list] = {}
    for key, raw in merged.items():
        if key.startswith("family."):
            name = key.split(".", 1)[1]
            if name not in spec.family_knobs:
                raise ConfigError(
                    f"grid.{key}: unknown family key; family keys are {sorted(spec.family_knobs)}"
                )
            knob = spec.family_knobs[name]
        elif key in grid_knobs:
            knob = grid_knobs[key]
        else:
            raise ConfigError(f"grid.{key}: unknown key; grid keys are {list(grid_knobs)} or family.<key>")
        items = raw if isinstance(raw, list | tuple) else [raw]
        if not items:
            raise ConfigError(f"grid.{key}: empty list (a grid needs at least one value)")
        checked = [knob.check(f"grid.{key}", item) for item in items]
        canonical = [json.dumps(item, sort_keys=True) for item in checked]
        if len(set(canonical)) != len(canonical):
            raise ConfigError(f"grid.{key}: repeated value in {list(items)!r}")
        grid[key] = checked
    regularisers = grid.get("regulariser", ["kl"])
    if "kl" in regularisers and not grid.get("beta"):
        raise ConfigError("grid.beta: empty (kl models need at least one β)")
    if "mmd" in regularisers and not grid.get("mmd_weight"):
        raise ConfigError("grid.mmd_weight: empty (mmd models need at least one λ)")
    for key in GRID_MODEL_KEYS:
        grid.setdefault(key, [grid_knobs[key].default])
    # every family variant must itself be valid (motifs inside the sequence, ...)
    for key in [k for k in grid if k.startswith("family.")]:
        for value in grid[key]:
            spec.check_family({**family, key.split(".", 1)[1]: value}, f"grid.{key}")
    return grid


_GRID_CONTROLLED = ("latent_dim", "regulariser", "beta", "mmd_weight")


def _check_run_sections(model: Any, training: Any, spec) -> dict[str, dict]:

    sections = {}
    for name, values in (("model", model), ("training", training)):
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"{name}: must be a mapping (got {values!r})")
        if name == "model":
            for key in _GRID_CONTROLLED:
                if key in values:
                    raise ConfigError(f"model.{key}: set by the grid; put it under grid.{key}")
        sections[name] = {**copy.deepcopy(spec.run_defaults.get(name, {})), **values}
    try:
        preset_config(None).updated({"data": {"theta": None}, **sections}).validate()
    except ConfigError as err:
        raise ConfigError(err.message) from None
    return sections


def _check_measurements(values: Any, spec) -> list[str]:
    if values is None:
        return list(spec.measurements)
    if not isinstance(values, list | tuple) or any(not isinstance(v, str) for v in values):
        raise ConfigError(f"measurements: must be a list of names (got {values!r})")
    if not values:
        raise ConfigError(f"measurements: empty list; choose from {list(spec.measurements)}")
    for value in values:
        if value not in spec.measurements:
            raise ConfigError(
                f"measurements: unknown measurement {value!r}; choose from {list(spec.measurements)}"
            )
    return list(dict.fromkeys(values))


def _validate(data: dict, spec) -> dict[str, Any]:
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; sections are {list(SECTIONS)}")
    family = spec.check_family(validate_knobs("family", data.get("family"), spec.family_knobs), "family")
    resolved = {
        "experiment": spec.name,
        "description": data.get("description", spec.description),
        "family": family,
        "grid": _check_grid(data.get("grid"), spec, family),
        **_check_run_sections(data.get("model"), data.get("training"), spec),
        "measurements": _check_measurements(data.get("measurements"), spec),
        "analysis": validate_knobs("analysis", data.get("analysis"), spec.analysis_knobs),
    }
    spec.check_analysis(resolved)
    return resolved


def _quick_label(quick: dict) -> Callable[[str], str]:
    def label(message: str) -> str:
        key = message.split(":", 1)[0]
        head = key.split(".")
        if head[0] in quick and (
            len(head) == 1 or not isinstance(quick[head[0]], dict) or head[1] in quick[head[0]]
        ):
            return f"quick.{message}"
        return message

    return label


def resolve_config(
    name: str,
    data: dict[str, Any] | str | Path | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Validate a user config against experiment ``name`` and fill in every default.

    Parameters
    ----------
    name
        A built-in experiment (see :data:`seqvae.experiments.EXPERIMENTS`).
    data
        A config mapping, a path to a YAML/TOML/JSON file, or ``None`` (the shipped config).
    quick
        Merge the config's ``quick`` section (or the experiment's built-in one when the config
        has none) over the rest: the test-sized version.

    Returns
    -------
    dict
        The resolved config (``experiment``, ``description``, ``family``, ``grid``, ``model``,
        ``training``, ``measurements``, ``analysis``, ``quick``: whether the quick section was used).
    """

    spec = get_experiment(name)
    source: str | None = None
    if data is None:
        data = {}
    elif isinstance(data, str | Path):
        source = str(data)
        if not Path(data).exists():
            raise InputError("config file not found", source)
        data = read_config_file(data)
    if not isinstance(data, dict):
        raise InputError(f"a config must be a mapping of sections (got {type(data).__name__})", source)
    try:
        stated = data.get("experiment")
        if stated is not None and stated != spec.name:
            raise ConfigError(f"experiment: the config is for {stated!r}, not {spec.name!r}")
        quick_section = data.get("quick", spec.quick)
        if quick_section is None:
            quick_section = {}
        if not isinstance(quick_section, dict):
            raise ConfigError(f"quick: must be a mapping of sections (got {quick_section!r})")
        bad = sorted(set(quick_section) - set(QUICK_SECTIONS))
        if bad:
            raise ConfigError(f"quick.{bad[0]}: unknown section; quick may hold {list(QUICK_SECTIONS)}")
        body = {k: v for k, v in data.items() if k != "quick"}
        resolved = _validate(body, spec)
        # a broken quick section is an error even when --quick is not given
        label = _quick_label(quick_section)
        try:
            quick_resolved = _validate(deep_merge(body, quick_section), spec)
        except ConfigError as err:
            raise ConfigError(label(err.message)) from None
    except ConfigError as err:
        raise InputError(err.message, source) from None
    out = quick_resolved if quick else resolved
    out["quick"] = bool(quick)
    return out
