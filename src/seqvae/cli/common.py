"""Shared CLI pieces: the console, option parsing helpers, error handling."""

from __future__ import annotations

import json
from typing import Any

import yaml
from rich.console import Console

from seqvae.errors import ConfigError, InputError

# messages on stderr are never wrapped (paths stay whole, errors stay on one line)
console = Console(stderr=True, soft_wrap=True, highlight=False)
stdout = Console()


def parse_number_list(value: str, option: str, what: str = "values") -> list[float]:
    """``"0.1,-0.3"`` (commas or semicolons) -> ``[0.1, -0.3]``; a one-line error naming ``option``."""
    try:
        return [float(v) for v in value.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated numbers, got {value!r}", option) from None


def parse_set_options(values: list[str] | None) -> dict[str, Any]:
    """``--set model.beta=2`` style overrides; values are parsed as YAML scalars."""
    overrides: dict[str, Any] = {}
    for item in values or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            overrides[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}") from None
    return overrides


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


DEVICE_HELP = "cpu, cuda, mps or auto (default: cpu; same numbers as on the CPU to float32 rounding)."


def device_option(device: str | None):
    """The torch device of a ``--device`` option (None: leave the model on the CPU).

    Raises
    ------
    InputError
        An unknown or unavailable device, in one line.
    """
    if device is None:
        return None
    from seqvae.training.trainer import resolve_device

    if device not in ("auto", "cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r}; choose cpu, cuda, mps or auto", "--device")
    try:
        return resolve_device(device)
    except ConfigError as err:
        raise InputError(err.message.replace("training.device: ", ""), "--device") from None


def run_on_device(run, device: str | None):
    """Move a loaded run's model to ``--device`` (analyses follow the model's device)."""
    target = device_option(device)
    if target is not None:
        run.model.to(target)
    return run
