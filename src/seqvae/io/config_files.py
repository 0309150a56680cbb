"""Reading and writing configuration files (YAML, TOML or JSON) as plain dictionaries."""

from __future__ import annotations

import json
import re
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

CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *base" may be overridden key by key
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the safe loader refuses it itself
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str | Path | None = None) -> Any:
    """Parse YAML: every parser error, a key given twice and nesting too deep for the parser are
    one :class:`InputError` naming ``source`` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(
            f"invalid YAML ({problem})", source, None if mark is None else mark.line + 1
        ) from None
    except RecursionError:
        raise InputError("invalid YAML (nested too deeply)", source) from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content (see :func:`parse_yaml`); unreadable files are InputErrors too."""
    return parse_yaml(read_text(path), path)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a ``.yaml``/``.yml``, ``.toml`` or ``.json`` file into a dict."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CONFIG_SUFFIXES:
        raise InputError(f"config must be {', '.join(CONFIG_SUFFIXES)} (by its extension)", path)
    text = read_text(path)
    try:
        if suffix in (".yaml", ".yml"):
            data = parse_yaml(text, path)
        elif suffix == ".toml":
            data = _toml_nulls(tomllib.loads(text))
        else:
            data = json.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"\(at line (\d+)", str(err))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        raise InputError(f"invalid TOML ({message})", path, int(match.group(1)) if match else None) from None
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
    except RecursionError:
        raise InputError("nested too deeply", path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping of sections (data, model, training)", path)
    return data


def _toml_nulls(value: Any) -> Any:
    """TOML has no null; the string ``"null"`` stands for it (see :func:`to_toml`)."""
    if isinstance(value, dict):
        return {k: _toml_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_nulls(v) for v in value]
    return None if value == "null" else value


def write_config_file(path: str | Path, data: dict[str, Any]) -> None:
    """Write a dict as YAML, TOML or JSON (by extension), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CONFIG_SUFFIXES:
        raise InputError(f"config must be {', '.join(CONFIG_SUFFIXES)} (by its extension)", path)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        if suffix == ".json":
            json.dump(data, handle, indent=2)
            handle.write("\n")
        elif suffix == ".toml":
            handle.write(to_toml(data))
        else:
            yaml.safe_dump(data, handle, sort_keys=False)


def to_toml(data: dict[str, Any]) -> str:
    """TOML for a config dict: scalars first, then one table per section.

    TOML has no null: an unset value is written as the string ``"null"``, which the config
    reader turns back into ``None`` for optional settings.
    """
    lines = ['# seqvae config. TOML has no null: "null" means unset.']
    tables = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in table.items():
            if isinstance(value, dict):
                raise ValueError(f"nested table {name}.{key} is not supported")
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {type(value).__name__} to TOML")


def key_line(path: str | Path, dotted_key: str | None) -> int | None:
    """1-based line of ``section.key`` (or a top-level key) in a YAML/TOML/JSON config file.

    A best-effort text search used to point error messages at the right line: the section
    header (``model:``, ``[model]`` or ``"model":``), then the first ``key:``/``key =`` after it.
    """
    if not dotted_key:
        return None
    try:
        lines = read_text(path).splitlines()
    except InputError:
        return None
    parts = dotted_key.split(".")
    start = 0
    if len(parts) > 1:
        header = re.compile(rf"""^\s*(\[\s*{re.escape(parts[0])}\s*\]|"?{re.escape(parts[0])}"?\s*:)""")
        found = next((n for n, line in enumerate(lines) if header.match(line)), None)
        if found is None:
            return None
        start = found + 1
    key = re.compile(rf"""^\s*["']?{re.escape(parts[-1])}["']?\s*[:=]""")
    next_section = re.compile(r"""^(\[[^\]]+\]\s*$|[A-Za-z_][\w-]*\s*:)""")  # TOML table / YAML top key
    for n in range(start, len(lines)):
        if key.match(lines[n]) and (len(parts) == 1 or not next_section.match(lines[n])):
            return n + 1
        if len(parts) > 1 and next_section.match(lines[n]):
            break
    return None
