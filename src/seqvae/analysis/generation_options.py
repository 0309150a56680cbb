"""``seqvae generate``'s options (:class:`GenerationOptions`) and its input layer: id lists,
latent coordinates given as text, the FASTA target.

The generation functions check their own arguments with these declarations
(:func:`check_option_value`), so a library call and ``seqvae generate`` reject a value in the
same words, naming the field (``generation.n``; the CLI shows its flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from seqvae.analysis.mutations import detect_separator
from seqvae.analysis.phenotype_selection import parse_phenotype_threshold
from seqvae.analysis.sequence_sets import FIGURE_SUFFIX, SETTINGS_SUFFIX, TABLE_SUFFIX
from seqvae.errors import ConfigError, InputError
from seqvae.io.alignment_formats import read_text
from seqvae.io.tables import read_table
from seqvae.options import Boolean, Check, Constraint, Integer, Interval, Optional, Options, Text, register


def read_id_list(value: str | Path) -> list[str]:
    """Sequence ids from a file (one per line, or a CSV/TSV with an ``id`` column) or a comma list.

    Parameters
    ----------
    value
        A path to an existing file, or ids separated by commas (``"seq1,seq7"``).

    Raises
    ------
    InputError
        A table without an ``id`` column, or a file that cannot be read.
    """
    path = Path(value)
    if path.is_file():
        text = read_text(path)
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if lines and ("," in lines[0] or "\t" in lines[0]):
            table = read_table(path, "cannot read the id table", sep=detect_separator(path), dtype=str)
            if "id" not in table.columns:
                raise InputError("an id table needs an 'id' column", path, 1)
            return [v for v in table["id"].dropna().astype(str)]
        return lines
    return [v.strip() for v in str(value).split(",") if v.strip()]


def check_fasta_target(out: str | Path) -> None:
    """Refuse an output path that names one of the files written beside the FASTA.

    The error's ``source`` is the path and its ``field`` ``generation.out`` (the FASTA a
    generated set is saved to; ``seqvae generate --out``).
    """
    if Path(out).suffix.lower() in (TABLE_SUFFIX, SETTINGS_SUFFIX, FIGURE_SUFFIX):
        out_field = option_field("out")
        raise ConfigError(
            f"{out_field} is the FASTA file; the CSV and JSON are written beside it", out, field=out_field
        )


def _ids_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str | Path):
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return None
    return f"must be a list of ids, a file of ids, a comma list or null (got {value!r})"


def _path_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str | Path):
        return None
    return f"must be a path or null (got {value!r})"


def _coords_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str):  # the CLI's text is parsed once the options fit
        return None
    if (
        isinstance(value, list | tuple | np.ndarray)
        and len(value) > 0
        and all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in value)
    ):
        return None
    return f"must be a non-empty list of numbers, a comma list or null (got {value!r})"


def _parse_coordinates(text: str) -> list[float]:
    """``"0.1,-0.3"`` (commas or semicolons) -> ``[0.1, -0.3]``."""
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"coordinates must be comma-separated numbers, got {text!r}", field=option_field("region_coords")
        ) from None


def _pair_problem(value: Any) -> str | None:
    if value is None or (
        isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)
    ):
        return None
    return f"must be two training sequence ids or null (got {value!r})"


@register
@dataclass
class GenerationOptions(Options):
    """How to draw sequences from a run or a baseline directory (``seqvae generate``'s options).

    Attributes
    ----------
    n
        Number of sequences (>= 1); leave it out with ``interpolate`` (``steps`` sequences).
    seed
        Seeds the z draws and the per-position sampling (see :mod:`seqvae.analysis.generation`).
    temperature
        Sample each position from softmax(log p / T); ``None`` = 1 (an interpolation: argmax).
    argmax
        Decode by argmax instead of sampling (VAE runs).
    region_ids
        A Gaussian fitted to these training sequences' latent means: a list of ids, or a string
        naming a file of ids or a comma list (:func:`read_id_list`).
    region_phenotype, phenotypes, id_column
        A Gaussian fitted to the training sequences passing a threshold such as
        ``"RE_norm >= q90"`` in the phenotype table ``phenotypes`` (ids in ``id_column``).
    region_scale
        Scales the fitted Gaussian's standard deviations.
    region_ball, radius
        Uniform in the ball of ``radius`` around this training sequence's latent mean.
    region_coords
        A ball (``radius``, default 0) around explicit latent coordinates.
    interpolate, steps
        Decode ``steps`` points on the straight latent path between two training sequences.
    elbo_samples
        z draws per design for its ELBO (0 skips it).
    sweeps
        Potts baselines: Gibbs sweeps per chain (default 200).
    """

    n: int | None = None
    seed: int = 0
    temperature: float | None = None
    argmax: bool = False
    region_ids: str | Sequence[str] | None = None
    region_phenotype: str | None = None
    phenotypes: str | Path | None = None
    id_column: str = "id"
    region_scale: float = 1.0
    region_ball: str | None = None
    region_coords: Sequence[float] | None = None
    radius: float | None = None
    interpolate: tuple[str, str] | None = None
    steps: int = 10
    elbo_samples: int = 8
    sweeps: int | None = None

    section: ClassVar[str] = "generation"
    constraints: ClassVar[dict] = {
        "n": Optional(Integer(1)),
        "seed": Integer(),
        "temperature": Optional(Interval(0.0, closed="neither")),
        "argmax": Boolean(),
        "region_ids": Check(_ids_problem, "a list of ids, a file of ids, a comma list or null", (3, [1, 2])),
        "region_phenotype": Optional(Text()),
        "phenotypes": Check(_path_problem, "a path or null", (3,)),
        "id_column": Text(),
        "region_scale": Interval(0.0),
        "region_ball": Optional(Text()),
        "region_coords": Check(_coords_problem, "a non-empty list of numbers or null", ([], ["a"], 3)),
        "radius": Optional(Interval(0.0)),
        "interpolate": Check(_pair_problem, "two training sequence ids or null", (("a",), "a", ("a", 1))),
        "steps": Integer(2),
        "elbo_samples": Integer(0),
        "sweeps": Optional(Integer(1)),
    }

    def selectors(self) -> list[str]:
        """The latent-region fields in use (at most one may be), ``generation.region_ids`` …"""
        return [
            option_field(name)
            for name in ("region_ids", "region_phenotype", "region_ball", "region_coords", "interpolate")
            if getattr(self, name) is not None
        ]

    def _check_one_selector(self) -> None:
        selectors = self.selectors()
        if len(selectors) > 1:
            raise ConfigError(f"choose one of {', '.join(selectors)}", field=selectors[1])

    def validate(self, out: str | Path | None = None) -> GenerationOptions:
        """Check the options for a VAE run (and ``out``, the FASTA to write) before any work.

        ``region_coords`` given as text (``"0.1,-0.3"``) becomes numbers once the combination
        of options is known to be valid.

        Raises
        ------
        ConfigError
            A bad value of one field (``generation.n: must be …``), or fields that exclude each
            other or miss a partner, in one line naming the fields (``generation.argmax and
            generation.temperature exclude each other``) with ``field`` the one at fault.
            An unreadable phenotype selector (``field``: ``generation.region_phenotype``), or an
            ``out`` that names a file written beside the FASTA (``generation.out``, the path as
            ``source``).
        """
        self.check()
        self._check_one_selector()
        n, steps, sweeps = option_field("n"), option_field("steps"), option_field("sweeps")
        temperature, phenotypes, radius = (
            option_field("temperature"),
            option_field("phenotypes"),
            option_field("radius"),
        )
        region_phenotype, ball, coords = (
            option_field("region_phenotype"),
            option_field("region_ball"),
            option_field("region_coords"),
        )
        if self.sweeps is not None:
            raise ConfigError(f"{sweeps} applies to Potts baselines only", field=sweeps)
        if self.argmax and self.temperature is not None:
            raise ConfigError(
                f"{option_field('argmax')} and {temperature} exclude each other", field=temperature
            )
        if self.region_phenotype is not None and self.phenotypes is None:
            raise ConfigError(f"{region_phenotype} needs a phenotype table ({phenotypes})", field=phenotypes)
        if self.phenotypes is not None and self.region_phenotype is None:
            raise ConfigError(f"{phenotypes} goes with {region_phenotype}", field=phenotypes)
        if self.region_phenotype is not None:
            parse_phenotype_threshold(self.region_phenotype)  # fail on a typo before loading the run
        if self.radius is not None and self.region_ball is None and self.region_coords is None:
            raise ConfigError(f"{radius} goes with {ball} or {coords}", field=radius)
        if self.region_ball is not None and self.radius is None:
            raise ConfigError(f"{ball} needs {radius}", field=ball)
        if self.interpolate is not None:
            if self.n is not None:
                raise ConfigError(
                    f"{option_field('interpolate')} makes {steps} designs; leave out {n}", field=n
                )
        elif self.n is None:
            raise ConfigError(f"give the number of designs with {n} N", field=n)
        if out is not None:
            check_fasta_target(out)
        if isinstance(self.region_coords, str):
            self.region_coords = _parse_coordinates(self.region_coords)
        return self

    def validate_for_baseline(
        self, out: str | Path | None = None, vae_only: Sequence[str] = ()
    ) -> GenerationOptions:
        """Check the options for a baseline directory, which samples from its columns only.

        ``vae_only`` names further options in use that need a VAE run (the CLI's ``--figure``).

        Raises
        ------
        ConfigError
            A bad value of one field, fields in use that need a VAE run (naming them, ``field``
            the first), or no ``n``.
        InputError
            Only ``vae_only`` options in use (``source``: the first).
        """
        self.check()
        self._check_one_selector()
        fields = [
            *self.selectors(),
            *(
                option_field(name)
                for name, used in (
                    ("argmax", self.argmax),
                    ("phenotypes", self.phenotypes is not None),
                    ("radius", self.radius is not None),
                )
                if used
            ),
        ]
        if fields or vae_only:
            message = (
                f"{', '.join([*fields, *vae_only])} need a VAE run; a baseline directory samples from "
                "its columns only"
            )
            raise ConfigError(message, field=fields[0]) if fields else InputError(message, vae_only[0])
        if self.n is None:
            raise ConfigError(
                f"give the number of samples with {option_field('n')} N", field=option_field("n")
            )
        if out is not None:
            check_fasta_target(out)
        return self


def option_field(name: str) -> str:
    """The dotted name of a generation option in errors: ``generation.n`` (the CLI shows its flag)."""
    return f"{GenerationOptions.section}.{name}"


def check_option_value(name: str, value: Any, constraint: Constraint | None = None) -> Any:
    """``value`` (numpy scalars as Python numbers, an integral float as an integer for an integer
    field) once the constraint of :class:`GenerationOptions`' field ``name`` accepts it (its
    non-null rule; or ``constraint``), else a :class:`ConfigError` naming ``generation.name``."""
    rule = constraint or GenerationOptions.constraints[name]
    if isinstance(rule, Optional):
        rule = rule.inner
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(rule, Integer) and isinstance(value, float) and value.is_integer():
        value = int(value)
    why = rule.reason(value)
    if why is not None:
        raise ConfigError(f"{option_field(name)}: {why}", field=option_field(name))
    return value
