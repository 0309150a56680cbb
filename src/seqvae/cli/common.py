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
