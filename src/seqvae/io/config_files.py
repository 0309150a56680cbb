"""Reading and writing configuration files (YAML, TOML or JSON) as plain dictionaries."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from seqvae.errors import ConfigError, InputError
from seqvae.io.alignment_formats import read_text
from seqvae.io.atomic import atomic_open

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a ``.yaml``/``.yml``, ``.toml`` or ``.json`` file into a dict."""
    path = Path(path)
    text = read_text(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise InputError("config must be .yaml, .yml, .toml or .json", path)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(
            f"invalid YAML ({getattr(err, 'problem', err)})",
            path,
            None if mark is None else mark.line + 1,
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"invalid TOML ({err})", path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping of sections", path)
    return data


def write_config_file(path: str | Path, data: dict[str, Any]) -> None:
    """Write a dict as YAML or JSON (by extension), atomically."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        if path.suffix.lower() == ".json":
            json.dump(data, handle, indent=2)
        else:
            yaml.safe_dump(data, handle, sort_keys=False)
