"""The manifest: what a multi-run workflow runs, one schema for ``seqvae batch`` and
``benchmark-dms --panel``.

A manifest lists families (:class:`Family`): a training alignment and its wild-type row, the
deep mutational scans to score (:class:`Scan`, read with ``seqvae score``'s field names,
:class:`ScanReading`), optionally a structure and the ρ published on the same assays; and how
to model them (``seeds``, ``preset``, ``config``, ``overrides``: the whole manifest's, or a
family's own). :func:`read_manifest` reads and checks one, YAML or CSV; each workflow then
takes what it uses and refuses, by name, what it does not.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from seqvae.analysis.mutations import MUTATION_SEPARATORS, detect_separator
from seqvae.analysis.scoring import OUTPUT_FORMATS
from seqvae.errors import ConfigError, InputError
from seqvae.io.config_files import read_config_file, read_yaml
from seqvae.io.output_dirs import check_name
from seqvae.io.tables import read_table
from seqvae.options import Boolean, Check, Integer, ListOf, OneOf, Optional, Options, Text, register
from seqvae.training.config import MAX_SEED, RunConfig, preset_config

__all__ = [
    "RENAMED_FIELDS",
    "Family",
    "FamilyEntry",
    "Manifest",
    "ManifestSettings",
    "Scan",
    "ScanReading",
    "check_scan_columns",
    "checked_options",
    "read_manifest",
    "read_scan_reading",
    "resolve_file",
]

OptionsT = TypeVar("OptionsT", bound=Options)
SEPARATORS = (",", ";", "\t")
# names the manifest or the panel file used before they became one schema: old -> new
RENAMED_FIELDS = {
    "variant_column": "mutant_column",
    "measured_column": "score_column",
    "separator": "sep",
    "wild_type": "reference_sequence",
}
RENAMED_KEYS = {"proteins": "families"}


@register
@dataclass
class ScanReading(Options):
    """How to read a deep mutational scan: the fields of :func:`~seqvae.analysis.scoring.score_file`,
    named as ``seqvae score`` names them (``--mutant-col`` is ``mutant_column``, …).

    ``sep`` and ``mutation_separator`` ``None``: detected; ``reference_sequence``: a FASTA of
    the full wild type numbering the scan (a trimmed reference row); ``score_column``: the
    measured column, which gives the Spearman ρ.
    """

    section: ClassVar[str] = "scan"
    mutant_column: str | None = None
    sequence_column: str | None = None
    score_column: str | None = None
    label_column: str | None = None
    sep: str | None = None
    mutation_separator: str | None = None
    reference_sequence: str | None = None
    skip_mismatches: bool = False
    evaluate: bool = True
    output_format: str = "seqvae"

    constraints: ClassVar[dict] = {
        "mutant_column": Optional(Text()),
        "sequence_column": Optional(Text()),
        "score_column": Optional(Text()),
        "label_column": Optional(Text()),
        "sep": Optional(OneOf(SEPARATORS)),
        "mutation_separator": Optional(OneOf(MUTATION_SEPARATORS)),
        "reference_sequence": Optional(Text()),
        "skip_mismatches": Boolean(),
        "evaluate": Boolean(),
        "output_format": OneOf(OUTPUT_FORMATS),
    }


READING_KEYS = (*ScanReading.field_names(), *RENAMED_FIELDS)


def checked_options(cls: type[OptionsT], values: dict[str, Any], source: str | Path, where: str) -> OptionsT:
    """``cls`` from a manifest's mapping, checked.

    Raises
    ------
    InputError
        One line naming ``source``, ``where`` and the field at fault.
    """
    try:
        return cls.from_dict(values).check()
    except ConfigError as err:
        raise InputError(f"{where}: {err.message}", source) from None


def read_scan_reading(values: dict[str, Any], source: str | Path, where: str) -> dict[str, Any]:
    """Check a scan's reading fields; return the ones given, normalised: a column named by a
    number becomes its text, ``auto`` becomes ``None``.

    Raises
    ------
    InputError
        One line naming ``source``, ``where`` and the field: a value outside its declared
        constraint, or an old field name (with the new one).
    """
    for old, new in RENAMED_FIELDS.items():
        if old in values:
            raise InputError(f"{where}: {old!r} is now {new!r} (the name `seqvae score` uses)", source)
    given = {}
    for key, value in values.items():
        if key.endswith("_column") and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a column named 2500, unquoted in YAML
        if key in ("sep", "mutation_separator") and value == "auto":
            value = None
        given[key] = value
    checked_options(ScanReading, given, source, where)
    return {key: value for key, value in given.items() if value is not None}


def check_scan_columns(file: Path, reading: dict[str, Any], source: str | Path, where: str) -> None:
    """The columns a scan's reading names are in its header: found now, not after training."""
    sep = reading.get("sep") or detect_separator(file)
    columns = [str(c) for c in read_table(file, f"{where}: cannot read the scan", nrows=0, sep=sep).columns]
    for key in ("mutant_column", "sequence_column", "score_column", "label_column"):
        column = reading.get(key)
        if column is not None and str(column) not in columns:
            raise InputError(
                f"{where}: {key} {column!r} is not a column of {file.name} (columns: {', '.join(columns)})",
                source,
            )
    if not (reading.get("mutant_column") or reading.get("sequence_column")) and not {
        "mutant",
        "mutated_sequence",
    } & set(columns):
        raise InputError(
            f"{where}: {file.name} has no 'mutant' or 'mutated_sequence' column; name one with mutant_column",
            source,
        )


def resolve_file(root: Path, value: Any, source: str | Path, where: str) -> Path:
    """A file a manifest names, relative to ``root`` unless absolute.

    Raises
    ------
    InputError
        One line naming ``source`` and ``where``: no name, or no such file.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: expected a file name", source)
    path = Path(value)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise InputError(f"{where}: file not found: {value} (looked at {path})", source)
    return path


# -- what a manifest describes -------------------------------------------------------------------
@dataclass
class Scan:
    """One deep mutational scan of a family: its name (that of its files), the file, and how it
    is read (the :class:`ScanReading` fields given; ``reference_sequence`` a resolved path)."""

    name: str
    file: Path
    reading: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.file), **self.reading}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Scan:
        reading = {key: value for key, value in values.items() if key not in ("name", "file")}
        return cls(values["name"], Path(values["file"]), reading)


@dataclass
class Family:
    """One family of a manifest: what to train on, what to score.

    Attributes
    ----------
    name
        Short name (also its folder under the output directory).
    alignment, reference
        Training alignment and the id of its wild-type row (``None``: the first row).
    scans
        Its deep mutational scans (a panel's family has one).
    seeds, config, config_file
        The VAE seeds and resolved run config (and the config file it came from), as
        ``seqvae batch`` reads them; the panel sets its models with its own settings.
    structure, chain, contact_map
        A structure of the reference (PDB/mmCIF, plain or gzip) and its chain (``None``: the
        first), or a contact map numbered by the alignment's columns: each panel model then also
        gets a structure-aware row (:mod:`seqvae.analysis.structure_scores`).
    published
        Published Spearman ρ on the same assay, by method name.
    """

    name: str
    alignment: Path
    scans: list[Scan]
    reference: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    config: Any = None
    config_file: Path | None = None
    structure: Path | None = None
    chain: str | None = None
    contact_map: Path | None = None
    published: dict[str, float] = field(default_factory=dict)

    def inputs(self) -> dict[str, Path]:
        """The files this family reads, by what messages call them."""
        files = {f"{self.name}'s alignment": self.alignment}
        for name in ("config_file", "structure", "contact_map"):
            if getattr(self, name) is not None:
                files[f"{self.name}'s {name}"] = getattr(self, name)
        for scan in self.scans:
            files[f"{self.name}'s scan {scan.name!r}"] = scan.file
            if scan.reading.get("reference_sequence") is not None:
                files[f"the wild type of {self.name}'s scan {scan.name!r}"] = Path(
                    scan.reading["reference_sequence"]
                )
        return files


# -- the schema ----------------------------------------------------------------------------------
def _is_mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"must be a mapping of config keys to values (got {value!r})"


def _is_list(value: Any) -> str | None:
    return None if isinstance(value, list) else f"must be a list of files or mappings (got {value!r})"


def _published(value: Any) -> str | None:
    if isinstance(value, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        return None
    return f"must map method names to numbers (got {value!r})"


SEEDS = ListOf(Integer(0, MAX_SEED), min_length=1, distinct=True)
PRESET_NAME = RunConfig.constraints["preset"]
OVERRIDES = Optional(Check(_is_mapping, "must be a mapping of config keys to values", bad=("x",)))
# the model settings a manifest may give at its top level or per family
MODEL_SETTINGS = ("seeds", "preset", "config", "overrides")


@register
@dataclass
class FamilyEntry(Options):
    """One family of a manifest as written: its alignment and reference row; its scans (files
    or mappings with a ``name``, a ``file`` and reading fields), or one ``scan`` file; reading
    fields (:class:`ScanReading`'s) given beside them apply to each of its scans; a
    ``structure`` (with its ``chain``) or a ``contact_map``; the ``published`` ρ; ``notes``; and
    its own ``seeds``, ``preset``, ``config`` and ``overrides`` (default: the manifest's)."""

    section: ClassVar[str] = "family"
    name: str | None = None
    alignment: str | None = None
    reference: str | None = None
    scans: list | None = None
    scan: str | None = None
    seeds: list[int] | None = None
    preset: str | None = None
    config: str | None = None
    overrides: dict | None = None
    structure: str | None = None
    chain: str | None = None
    contact_map: str | None = None
    published: dict | None = None
    notes: str | None = None

    constraints: ClassVar[dict] = {
        "name": Text(),
        "alignment": Text(),
        "reference": Optional(Text()),
        "scans": Optional(Check(_is_list, "must be a list of files or mappings", bad=("x",))),
        "scan": Optional(Text()),
        "seeds": Optional(SEEDS),
        "preset": PRESET_NAME,
        "config": Optional(Text()),
        "overrides": OVERRIDES,
        "structure": Optional(Text()),
        "chain": Optional(Text()),
        "contact_map": Optional(Text()),
        "published": Optional(Check(_published, "must map method names to numbers", bad=([1], {"EVE": "x"}))),
        "notes": Optional(Text()),
    }

    @classmethod
    def example(cls) -> FamilyEntry:
        return cls(name="BLAT", alignment="blat.a2m")

    def extra_checks(self, prefix: str) -> None:
        if self.scan is not None and self.scans is not None:
            raise ConfigError(f"{prefix}.scan and {prefix}.scans exclude each other", field=prefix)
        if self.structure is not None and self.contact_map is not None:
            raise ConfigError(f"{prefix}.structure and {prefix}.contact_map exclude each other", field=prefix)
        if self.chain is not None and self.structure is None:
            raise ConfigError(f"{prefix}.chain needs {prefix}.structure", field=f"{prefix}.chain")


@register
@dataclass
class ManifestSettings(Options):
    """A manifest's top level: its ``families``, the folder their files are named relative to
    (``root``, itself relative to the manifest's folder; default: that folder), the families'
    default ``seeds``, ``preset``, ``config`` and ``overrides``, and ``samples`` (draws of z per
    sequence when scoring) and ``report`` (a report per family) for ``seqvae batch``."""

    section: ClassVar[str] = "manifest"
    families: list = field(default_factory=list)
    root: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    preset: str | None = None
    config: str | None = None
    overrides: dict | None = None
    samples: int = 200
    report: bool = True

    constraints: ClassVar[dict] = {
        "families": ListOf(Check(lambda v: None, "a family"), min_length=1),
        "root": Optional(Text()),
        "seeds": SEEDS,
        "preset": PRESET_NAME,
        "config": Optional(Text()),
        "overrides": OVERRIDES,
        "samples": Integer(1),
        "report": Boolean(),
    }

    @classmethod
    def example(cls) -> ManifestSettings:
        return cls(families=[{"name": "BLAT", "alignment": "blat.a2m"}])


@dataclass
class Manifest:
    """A read and checked manifest."""

    path: Path
    families: list[Family]
    samples: int = 200
    report: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": str(self.path),
            "samples": self.samples,
            "report": self.report,
            "families": [
                {
                    "name": f.name,
                    "alignment": str(f.alignment),
                    "reference": f.reference,
                    "seeds": f.seeds,
                    "scans": [scan.to_dict() for scan in f.scans],
                    "config": f.config.to_dict(),
                }
                for f in self.families
            ],
        }


def _checked(cls: type[OptionsT], values: dict[str, Any], source: str, where: str) -> OptionsT:
    """``cls`` from a manifest's mapping (a CSV cell's seeds ``0;1;2`` read as a list), checked."""
    seeds = values.get("seeds")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        values = {**values, "seeds": [seeds]}
    elif isinstance(seeds, str):
        values = {**values, "seeds": [v for v in seeds.replace(";", " ").replace(",", " ").split() if v]}
    return checked_options(cls, values, source, where)


def _config(
    preset: str | None,
    config_file: Path | None,
    overrides: dict | None,
    reference: str | None,
    device: str | None,
    source: str,
    where: str,
) -> RunConfig:
    try:
        values: dict[str, Any] = {}
        if config_file is not None:
            values = read_config_file(config_file)
            preset = preset or values.pop("preset", None)
            values.pop("preset", None)
        config = preset_config(preset or "fitness").updated(values).updated(overrides or {})
        extra: dict[str, Any] = {}
        if reference:
            extra["data.reference"] = reference
        if device:
            extra["training.device"] = device
        return config.updated(extra).validate()
    except ConfigError as err:
        raise InputError(f"{where}: {err.message}", source) from None


# -- reading one -----------------------------------------------------------------------------------
CSV_FAMILY_COLUMNS = (
    "family",
    "alignment",
    "reference",
    "seeds",
    "preset",
    "config",
    "structure",
    "chain",
    "contact_map",
)
CSV_SCAN_COLUMNS = ("scan", "scan_name", *READING_KEYS)


def _read_yaml(path: Path) -> dict[str, Any]:
    values = read_yaml(path)
    if isinstance(values, dict):
        for old, new in RENAMED_KEYS.items():
            if old in values:
                raise InputError(f"{old!r} is now {new!r} (one manifest for batch and the panel)", path)
    if not isinstance(values, dict) or not isinstance(values.get("families"), list) or not values["families"]:
        raise InputError("a manifest needs a non-empty 'families' list", path)
    return values


def _read_csv(path: Path) -> dict[str, Any]:
    """One row per family and scan; family columns repeat (or stay empty) on a family's later rows."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"cannot read the manifest ({err})", path) from None
    if not rows:
        raise InputError("the manifest has no rows", path)
    columns = set(rows[0])
    unknown = sorted(columns - set(CSV_FAMILY_COLUMNS) - set(CSV_SCAN_COLUMNS))
    if unknown:
        raise InputError(f"unknown column {unknown[0]!r}", path, 1)
    for required in ("family", "alignment"):
        if required not in columns:
            raise InputError(f"no column {required!r}", path, 1)
    families: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        name = row["family"]
        if not name:
            raise InputError("empty family name", path, line)
        family = families.setdefault(name, {"name": name, "scans": [], "_line": line})
        for column in CSV_FAMILY_COLUMNS[1:]:
            value = row.get(column, "")
            if not value:
                continue
            if column in family and family[column] != value:
                raise InputError(
                    f"family {name!r}: {column} {value!r} differs from its earlier row", path, line
                )
            family[column] = value
        if row.get("scan"):
            scan: dict[str, Any] = {
                "name": row.get("scan_name") or Path(row["scan"]).stem,
                "file": row["scan"],
            }
            for option in CSV_SCAN_COLUMNS[2:]:
                if row.get(option):  # a boolean is a cell of 1/true/yes or anything else
                    value = row[option]
                    bool_field = option in ("skip_mismatches", "evaluate")
                    scan[option] = value.lower() in ("1", "true", "yes") if bool_field else value
            scan["_line"] = line
            family["scans"].append(scan)
    return {"families": list(families.values())}


def _refuse(values: Mapping[str, Any], refuse: Mapping[str, str], source: str, where: str) -> None:
    for key, why in refuse.items():
        if values.get(key) is not None:
            raise InputError(f"{where}: {key!r} {why}", source)


def _scans(
    entry: FamilyEntry, defaults: dict[str, Any], root: Path, path: Path, source: str, where: str
) -> list[Scan]:
    """A family's scans, each read with the family's reading fields updated by its own."""
    scans: list[Scan] = []
    listed = entry.scans if entry.scan is None else [entry.scan]
    for k, scan in enumerate(listed or []):
        if isinstance(scan, str):
            scan = {"file": scan}
        scan_line = scan.pop("_line", None) if isinstance(scan, dict) else None
        scan_source = f"{path}:{scan_line}" if scan_line else source
        if not isinstance(scan, dict):
            raise InputError(f"{where} scans[{k}]: expected a file name or a mapping", scan_source)
        unknown = sorted(set(scan) - {"name", "file", *READING_KEYS})
        if unknown:
            keys = ", ".join(sorted({"name", "file", *ScanReading.field_names()}))
            raise InputError(f"{where} scans[{k}]: unknown key {unknown[0]!r}; keys are {keys}", scan_source)
        file = resolve_file(root, scan.get("file"), scan_source, f"{where} scan")
        name = check_name(
            file.stem if scan.get("name") is None else scan["name"],
            f"{where} scans[{k}]: scan name",
            scan_source,
        )
        if any(s.name.casefold() == name.casefold() for s in scans):
            raise InputError(f"{where}: duplicate task: scan {name!r} is listed twice", scan_source)
        own = read_scan_reading(
            {key: value for key, value in scan.items() if key not in ("name", "file")},
            scan_source,
            f"{where} scans[{k}]",
        )
        reading = {**defaults, **own}
        check_scan_columns(file, reading, scan_source, f"{where} scan {name!r}")
        if reading.get("reference_sequence") is not None:  # the full wild type numbering the scan
            reading["reference_sequence"] = str(
                resolve_file(
                    root, reading["reference_sequence"], scan_source, f"{where} scan reference_sequence"
                )
            )
        scans.append(Scan(name, file, reading))
    return scans


def _family(
    name: str,
    values: dict[str, Any],
    top: ManifestSettings,
    root: Path,
    path: Path,
    source: str,
    where: str,
    device: str | None,
) -> Family:
    """One family of a manifest, its reading fields, files and config checked."""
    reading_keys = [key for key in values if key in READING_KEYS]
    defaults = read_scan_reading({key: values[key] for key in reading_keys}, source, f"family {name!r}")
    entry = _checked(
        FamilyEntry, {key: value for key, value in values.items() if key not in reading_keys}, source, where
    )
    where = f"family {name!r}"
    files = {
        key: resolve_file(root, getattr(entry, key), source, f"{where} {key}")
        for key in ("alignment", "structure", "contact_map")
        if getattr(entry, key) is not None
    }
    config_name = entry.config or top.config
    config_file = None if not config_name else resolve_file(root, config_name, source, f"{where}.config")
    overrides = {**(top.overrides or {}), **(entry.overrides or {})}
    config = _config(
        entry.preset or top.preset, config_file, overrides, entry.reference, device, source, where
    )
    return Family(
        name=name,
        alignment=files["alignment"],
        scans=_scans(entry, defaults, root, path, source, where),
        reference=entry.reference or None,
        seeds=entry.seeds if entry.seeds is not None else top.seeds,
        config=config,
        config_file=config_file,
        structure=files.get("structure"),
        chain=entry.chain,
        contact_map=files.get("contact_map"),
        published={str(method): float(v) for method, v in (entry.published or {}).items()},
    )


def read_manifest(
    path: str | Path,
    device: str | None = None,
    refuse: Mapping[str, str] | None = None,
    reserved: tuple[str, ...] = (),
) -> Manifest:
    """Read a manifest (``.yaml``/``.yml`` or ``.csv``) and check every file and name.

    YAML::

        preset: fitness                  # or config: run.yaml; overrides: {training.max_steps: 500}
        seeds: [0, 1, 2]
        samples: 200                     # draws of z per sequence when scoring
        report: true
        root: data                       # files are named relative to this (default: the manifest's folder)
        families:
          - name: BLAT
            alignment: blat/BLAT_ECOLX.a2m
            reference: null              # default: the first sequence
            scans:
              - name: stiffler2015
                file: blat/BLAT_ECOLX_Ranganathan2015.csv
                mutant_column: mutant
                score_column: "2500"     # the measured column: gives the Spearman rho
                # reference_sequence: pdz3/DLG4_RAT_PDZ3.fasta   # a trimmed reference row: number
                #                                      # the scan from the full wild type (FASTA)
            structure: blat/1FQG.pdb     # benchmark-dms --panel: structure-aware rows
            published: {EVE: 0.711}      # benchmark-dms --panel: marks in its figure

    A family may set its own ``seeds``, ``preset``, ``config`` and ``overrides``; ``scan: FILE``
    is one scan, and reading fields beside it (or beside ``scans``) apply to each of the
    family's scans. CSV: one row per family and scan with columns ``family, alignment,
    reference, seeds (0;1;2), preset, config, structure, chain, scan, scan_name`` and the scan
    reading fields. A scan is read with the fields of ``seqvae score`` (:class:`ScanReading`).

    Parameters
    ----------
    device
        Set as every family config's ``training.device``.
    refuse
        Keys the calling workflow does not use, each with why: given at the top level or in a
        family, they are refused.
    reserved
        Names no family may take (the workflow's own files in its output folder).

    Raises
    ------
    InputError
        A missing file, a duplicate family or scan, an unknown key, a bad value: one line
        naming the manifest and the entry.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest not found", path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        values = _read_yaml(path)
    elif suffix == ".csv":
        values = _read_csv(path)
    else:
        raise InputError("a manifest is a .yaml, .yml or .csv file", path)
    refuse = refuse or {}
    _refuse(values, refuse, source, "manifest")
    top = _checked(ManifestSettings, values, source, "manifest")
    root = path.parent if top.root is None else path.parent / top.root
    families: list[Family] = []
    for index, entry_values in enumerate(top.families):
        where = f"families[{index}]"
        if not isinstance(entry_values, dict):
            raise InputError(f"{where}: expected a mapping", source)
        line = entry_values.pop("_line", None)
        entry_source = f"{source}:{line}" if line else source
        name = check_name(entry_values.get("name"), f"{where}: family name", entry_source, reserved)
        if any(f.name.casefold() == name.casefold() for f in families):
            raise InputError(f"{where}: duplicate task: family {name!r} is listed twice", entry_source)
        _refuse(entry_values, refuse, entry_source, f"family {name!r}")
        families.append(_family(name, entry_values, top, root, path, entry_source, where, device))
    return Manifest(path, families, samples=top.samples, report=top.report)
