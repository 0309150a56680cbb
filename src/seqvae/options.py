"""One way to declare and check options: constraints per field, one check, dict/JSON/YAML.

An options class is a dataclass that derives from :class:`Options` and declares, once, a
``constraints`` table (field name → constraint) and its ``section`` (the prefix errors use:
``model``, ``training``, …). :func:`check_options` normalises every field against its type hint
(:func:`seqvae.utils.coerce_fields`), then checks each declared constraint, and raises
:class:`~seqvae.errors.ConfigError` whose ``field`` is ``section.name`` and whose message names
the allowed values. Library errors name fields; the CLI maps fields to its flags.

The same table drives the generated tests (``tests/test_options.py``): every constraint can
build values that break it (:meth:`Constraint.bad_values`).

Like scikit-learn's ``_parameter_constraints``, and the experiments' ``Knob`` generalised.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

import yaml

from seqvae.errors import ConfigError, InputError
from seqvae.utils import coerce_fields

T = TypeVar("T", bound="Options")


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Constraint:
    """What one field accepts: :meth:`accepts` a value, :meth:`describe` it, break it."""

    def accepts(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """The rule as the tail of ``field: must be …``."""
        raise NotImplementedError  # pragma: no cover

    def bad_values(self) -> list[Any]:
        """Values this constraint rejects (for the generated tests)."""
        raise NotImplementedError  # pragma: no cover

    def reason(self, value: Any) -> str | None:
        """``None`` when ``value`` is accepted, else why not (without the field name)."""
        return None if self.accepts(value) else f"{self.describe()} (got {value!r})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """A finite real number between ``low`` and ``high`` (``None``: unbounded on that side).

    ``closed``: ``both``, ``left``, ``right`` or ``neither`` (which ends are allowed).
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self):
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be both, left, right or neither, not {self.closed!r}")

    def _low_closed(self) -> bool:
        return self.closed in ("both", "left")

    def _high_closed(self) -> bool:
        return self.closed in ("both", "right")

    def accepts(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self._low_closed())):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and not self._high_closed()))
        )

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            left = "[" if self._low_closed() else "("
            right = "]" if self._high_closed() else ")"
            return f"must be in {left}{_plain(self.low)}, {_plain(self.high)}{right}"
        if self.low is not None:
            return f"must be {'>=' if self._low_closed() else '>'} {_plain(self.low)}"
        if self.high is not None:
            return f"must be {'<=' if self._high_closed() else '<'} {_plain(self.high)}"
        return "must be a finite number"

    def bad_values(self) -> list[Any]:
        bad: list[Any] = ["abc"]
        if self.low is not None:
            bad.append(self.low if not self._low_closed() else self.low - 1)
        if self.high is not None:
            bad.append(self.high if not self._high_closed() else self.high + 1)
        return bad


def check_integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int when it is an integer (numpy's too, never a bool) >= ``minimum``; else
    an :class:`~seqvae.errors.InputError` naming ``name``, for a function's own arguments."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"must be an integer >= {minimum} (got {value!r})", source=name)
    return int(value)


@dataclasses.dataclass(frozen=True)
class Integer(Constraint):
    """An integer ``>= min`` (``None``: any integer), ``<= max`` when given."""

    min: int | None = None
    max: int | None = None

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"must be an integer in [{self.min}, {self.max}]"
        if self.min is not None:
            return f"must be an integer >= {self.min}"
        if self.max is not None:
            return f"must be an integer <= {self.max}"
        return "must be an integer"

    def bad_values(self) -> list[Any]:
        bad: list[Any] = ["abc", 1.5]
        if self.min is not None:
            bad.append(self.min - 1)
        if self.max is not None:
            bad.append(self.max + 1)
        return bad


@dataclasses.dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed set of values (shown as a tuple in messages)."""

    values: tuple

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:
            return False

    def describe(self) -> str:
        return f"must be one of {tuple(self.values)}"

    def bad_values(self) -> list[Any]:
        return ["no-such-choice"]


@dataclasses.dataclass(frozen=True)
class Boolean(Constraint):
    """``true`` or ``false``."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "must be true or false"

    def bad_values(self) -> list[Any]:
        return ["yes"]


@dataclasses.dataclass(frozen=True)
class Text(Constraint):
    """Any string."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def describe(self) -> str:
        return "must be a string"

    def bad_values(self) -> list[Any]:
        return [[1, 2]]


@dataclasses.dataclass(frozen=True)
class Optional(Constraint):
    """``null`` or a value ``inner`` accepts; ``note`` says what null means (``auto``)."""

    inner: Constraint
    note: str = ""

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} or null" + (f" ({self.note})" if self.note else "")

    def bad_values(self) -> list[Any]:
        return [v for v in self.inner.bad_values() if v is not None]


@dataclasses.dataclass(frozen=True)
class ListOf(Constraint):
    """A list of at least ``min_length`` values, each accepted by ``inner`` (and no two equal when
    ``distinct``)."""

    inner: Constraint
    min_length: int = 0
    distinct: bool = False

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) >= self.min_length
            and all(self.inner.accepts(v) for v in value)
            and (not self.distinct or all(v not in value[:i] for i, v in enumerate(value)))
        )

    def describe(self) -> str:
        what = "a non-empty list" if self.min_length == 1 else "a list"
        if self.min_length > 1:
            what = f"a list of at least {self.min_length} values"
        if self.distinct:
            what += " of distinct values"
        inner = self.inner.describe().removeprefix("must be ").removeprefix("an ").removeprefix("a ")
        return f"must be {what}, each {inner}"

    def bad_values(self) -> list[Any]:
        bad: list[Any] = ["not-a-list", [v for v in self.inner.bad_values()[:1]]]
        if self.min_length >= 1:
            bad.append([])
        if self.distinct:  # a repeated value the inner constraint accepts
            good = self.inner.values[0] if isinstance(self.inner, OneOf) and self.inner.values else "x"
            if self.inner.accepts(good):
                bad.append([good, good])
        return bad


@dataclasses.dataclass(frozen=True)
class Section(Constraint):
    """A nested section: an instance of the options class ``cls`` (``RunConfig.data``).

    Only the section's type is checked here; its own fields are checked by its own
    :meth:`Options.check`, which the owner calls (in its :meth:`Options.extra_checks`), so their
    errors name ``section.name``.
    """

    cls: type

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def describe(self) -> str:
        return "must be a mapping of settings"

    def bad_values(self) -> list[Any]:
        return ["not-a-mapping"]


@dataclasses.dataclass(frozen=True)
class Check(Constraint):
    """The escape hatch: ``function(value)`` returns ``None`` or why the value is wrong.

    ``description`` is the rule for documentation; ``bad`` the values the generated tests try.
    """

    function: Callable[[Any], str | None]
    description: str
    bad: tuple = ()

    def accepts(self, value: Any) -> bool:
        return self.function(value) is None

    def describe(self) -> str:
        return self.description

    def reason(self, value: Any) -> str | None:
        return self.function(value)

    def bad_values(self) -> list[Any]:
        return list(self.bad)


def _fail(field: str, why: str) -> None:
    raise ConfigError(f"{field}: {why}", field=field)


def check_options(obj: Any, prefix: str | None = None) -> Any:
    """Normalise and check every field of an options dataclass against its constraints.

    Types first (:func:`seqvae.utils.coerce_fields`: numeric strings, integral floats, ``"null"``),
    then each declared constraint in field order. Raises :class:`ConfigError` with
    ``field="prefix.name"`` and a message that names the allowed values. Returns ``obj``.
    """
    prefix = prefix if prefix is not None else getattr(obj, "section", type(obj).__name__)
    coerce_fields(obj, prefix)
    constraints = getattr(type(obj), "constraints", {})
    for spec in dataclasses.fields(obj):
        constraint = constraints.get(spec.name)
        if constraint is None:
            continue
        why = constraint.reason(getattr(obj, spec.name))
        if why is not None:
            _fail(f"{prefix}.{spec.name}" if prefix else spec.name, why)
    return obj


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: every options class, by section (filled by :func:`register`)
OPTIONS_CLASSES: dict[str, type[Options]] = {}


def register(cls: type[T]) -> type[T]:
    """Class decorator: list an options class in :data:`OPTIONS_CLASSES` (for the generated tests)."""
    OPTIONS_CLASSES[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


class Options:
    """Base of options dataclasses: declared constraints, one check, dict/JSON/YAML round trip.

    Subclasses set ``section`` (the prefix of their field names in errors) and ``constraints``,
    and may override :meth:`extra_checks` for rules that tie fields together.
    """

    section: ClassVar[str] = ""
    constraints: ClassVar[dict[str, Constraint]] = {}
    #: fields (``section.name`` inside a nested section) filled in from the data, not by users:
    #: config files users edit leave them out (:func:`commented_yaml`, :func:`without_derived`)
    derived: ClassVar[tuple[str, ...]] = ()
    #: other classes whose docstrings describe fields this one's does not (:func:`field_descriptions`)
    described_by: ClassVar[tuple[type, ...]] = ()
    #: keys that were options once, each with the one value that still means what the class
    #: does now: a file (an old run's config.json) holding that value loads, any other is an error
    retired: ClassVar[dict[str, Any]] = {}

    def extra_checks(self, prefix: str) -> None:
        """Cross-field rules, after every field passed its own constraint."""

    def check(self: T, prefix: str | None = None) -> T:
        prefix = self.section if prefix is None else prefix
        check_options(self, prefix)
        self.extra_checks(prefix)
        return self

    def validate(self: T) -> T:
        """Check every field, then the cross-field rules; a bad one is a :class:`ConfigError` naming
        it (``section.field``). Returns ``self``."""
        return self.check()

    @classmethod
    def example(cls: type[T]) -> T:
        """A valid instance (the defaults, unless some field has no valid default)."""
        return cls()

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], values: Any, prefix: str | None = None) -> T:
        """An instance from a mapping; an unknown key is a :class:`ConfigError` with "did you mean"."""
        prefix = cls.section if prefix is None else prefix
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"{prefix}: must be a mapping of settings (got {values!r})", field=prefix)
        known = cls.field_names()
        for key in [k for k in values if k in cls.retired]:
            if values[key] != cls.retired[key]:
                name = f"{prefix}.{key}" if prefix else key
                raise ConfigError(
                    f"{name}: no longer an option; only {cls.retired[key]!r}, what seqvae does now, "
                    f"still loads (got {values[key]!r})",
                    field=name,
                )
            values = {k: v for k, v in values.items() if k != key}
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ConfigError(
                f"{prefix}: unknown key {unknown[0]!r}{suggest(str(unknown[0]), known)}",
                field=f"{prefix}.{unknown[0]}" if prefix else str(unknown[0]),
            )
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls: type[T], text: str) -> T:
        return cls.from_dict(yaml.safe_load(text))


# -- descriptions and derived fields: the commented config file ----------------------------------
_SECTION_HEADERS = ("Parameters", "Attributes")
_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]+\.)?([^`]+)`")


def _plain_text(text: str) -> str:
    """Docstring markup as plain text (``code`` -> code, :class:`~a.B` -> B)."""
    return _ROLE.sub(r"\1", text).replace("``", "")


def field_descriptions(cls: type[Options]) -> dict[str, str]:
    """Each field's description from the numpydoc ``Parameters`` (or ``Attributes``) section of
    ``cls``'s docstring and of the classes in its ``described_by``; ``a, b`` entries describe both.

    The docstring is the one source of truth: the API reference, ``seqvae config``'s comments
    and these descriptions all read it.
    """
    found: dict[str, str] = {}
    for source in (cls, *cls.described_by):
        for names, body in _docstring_entries(source.__doc__ or ""):
            for name in names:
                found.setdefault(name, _plain_text(" ".join(body)))
    return found


def _docstring_entries(doc: str) -> list[tuple[list[str], list[str]]]:
    """``(names, description lines)`` of each entry of a docstring's Parameters/Attributes sections."""
    lines = inspect.cleandoc(doc).splitlines()
    entries: list[tuple[list[str], list[str]]] = []
    inside = False
    for k, line in enumerate(lines):
        if k + 1 < len(lines) and lines[k + 1].strip() and set(lines[k + 1].strip()) == {"-"}:
            inside = line.strip() in _SECTION_HEADERS
        elif not inside or not line.strip() or set(line.strip()) == {"-"}:
            continue
        elif not line[0].isspace():
            entries.append(([n.strip() for n in line.split(":")[0].split(",")], []))
        elif entries:
            entries[-1][1].append(line.strip())
    return entries


def _yaml_scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _comment(text: str, indent: str, width: int = 96) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width - len(indent) - 2)] if text else []


def commented_yaml(options: Options, header: str = "") -> str:
    """``options`` as YAML with each field's description (:func:`field_descriptions`) and its
    allowed values as a comment above it, and without its derived fields (``Options.derived``).

    Reading the text back (``type(options).from_dict(yaml.safe_load(text))``) gives ``options``
    again when the derived fields hold their defaults, as in a config before training.
    """
    hidden = set(type(options).derived)
    lines = _comment(header, "")

    def emit(obj: Options, values: dict[str, Any], indent: str, prefix: str) -> None:
        cls = type(obj)
        described = field_descriptions(cls)
        for name, value in values.items():
            if f"{prefix}{name}" in hidden:
                continue
            constraint = cls.constraints.get(name)
            if isinstance(constraint, Section) and isinstance(value, dict):
                lines.append("")
                doc = (constraint.cls.__doc__ or "").strip().splitlines()
                lines.extend(_comment(_plain_text(described.get(name) or (doc[0] if doc else "")), indent))
                lines.append(f"{indent}{name}:")
                emit(getattr(obj, name), value, indent + "  ", f"{prefix}{name}.")
                continue
            text = described.get(name, "")
            if constraint is not None:
                text = f"{text} ({constraint.describe()})" if text else constraint.describe()
            lines.extend(_comment(text, indent))
            lines.append(f"{indent}{name}: {_yaml_scalar(value)}")

    emit(options, options.to_dict(), "", "")
    return "\n".join(lines).lstrip("\n") + "\n"


def without_derived(options: Options) -> dict[str, Any]:
    """``options.to_dict()`` without its derived fields (for files users edit)."""
    values = options.to_dict()
    for dotted in type(options).derived:
        *path, last = dotted.split(".")
        node = values
        for part in path:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return values
