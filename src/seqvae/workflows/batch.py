"""Many families, many seeds: ``seqvae batch MANIFEST``.

For each family of a manifest: weight the alignment once, train one VAE per seed, score each
deep mutational scan with the ensemble of that family's seeds, write the family's report;
then one summary table. Every step is a task of :mod:`seqvae.executor` (local pool, Ray or a
Slurm job array), complete tasks are read back, so that rerunning the same command after an
interruption or a failure does only what is missing.

Layout of a batch folder ``OUT``::

    OUT/batch.json                         the resolved manifest and the backend
    OUT/<family>/data/weights.npy          sequence weights (computed once per family)
    OUT/<family>/seed<k>/                  a seqvae run directory per seed
    OUT/<family>/scores/<scan>.csv         ensemble scores of each scan
    OUT/<family>/report.html               the family's report (its first seed's run)
    OUT/<family>/tasks/<task>/.seqvae-task.json   each finished task's result
    OUT/batch_summary.csv, batch_summary.md        one row per family, and the failures

The manifest (YAML, or CSV with one row per family and scan) names files relative to its
own folder; see :func:`read_manifest`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from seqvae.errors import ConfigError, InputError
from seqvae.executor import Executor, Task, TaskResult, file_digest, make_executor
from seqvae.io.atomic import atomic_open, write_json
from seqvae.io.config_files import read_config_file, read_yaml
from seqvae.io.output_dirs import (
    DirectoryKind,
    check_name,
    check_output_paths,
    lock_directory,
    open_resumable_directory,
)
from seqvae.options import Boolean, Check, Integer, ListOf, Optional, Options, Text, register
from seqvae.training.config import MAX_SEED, RunConfig, preset_config
from seqvae.workflows.multirun import (
    RENAMED_FIELDS,
    Family,
    OptionsT,
    Scan,
    ScanReading,
    TaskLog,
    check_scan_columns,
    checked_options,
    fit_member,
    markdown_table,
    read_scan_reading,
    resolve_file,
    run_record,
    score_rows,
    write_table,
)

__all__ = [
    "BATCH_DIRECTORY",
    "BatchResult",
    "Manifest",
    "read_manifest",
    "run_batch",
]

SUMMARY_CSV = "batch_summary.csv"
SUMMARY_MD = "batch_summary.md"
BATCH_FILE = "batch.json"
# the batch folder's own entries: no family may be named like one of them
OWN_FILES = (BATCH_FILE, SUMMARY_CSV, SUMMARY_MD)
BATCH_DIRECTORY = DirectoryKind(
    "seqvae batch folder", markers=(BATCH_FILE,), entries=(BATCH_FILE, "batch_summary.*", ".submitit", "*")
)
# how a scan is read: the fields of `seqvae score` (old names are read to name the new ones)
SCAN_OPTIONS = tuple(ScanReading.field_names())
SCAN_KEYS = {"name", "file", *SCAN_OPTIONS, *RENAMED_FIELDS}


def _is_mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"must be a mapping of config keys to values (got {value!r})"


def _is_list(value: Any) -> str | None:
    return None if isinstance(value, list) else f"must be a list of files or mappings (got {value!r})"


SEEDS = ListOf(Integer(0, MAX_SEED), min_length=1, distinct=True)
PRESET_NAME = RunConfig.constraints["preset"]
OVERRIDES = Optional(Check(_is_mapping, "must be a mapping of config keys to values", bad=("x",)))


@register
@dataclass
class FamilyEntry(Options):
    """One family of a manifest as written: its alignment (relative to the manifest's folder),
    reference row, scans, and its own ``seeds``, ``preset``, ``config`` and ``overrides``
    (default: the manifest's)."""

    section: ClassVar[str] = "family"
    name: str | None = None
    alignment: str | None = None
    reference: str | None = None
    scans: list | None = None
    seeds: list[int] | None = None
    preset: str | None = None
    config: str | None = None
    overrides: dict | None = None

    constraints: ClassVar[dict] = {
        "name": Text(),
        "alignment": Text(),
        "reference": Optional(Text()),
        "scans": Optional(Check(_is_list, "must be a list of files or mappings", bad=("x",))),
        "seeds": Optional(SEEDS),
        "preset": PRESET_NAME,
        "config": Optional(Text()),
        "overrides": OVERRIDES,
    }

    @classmethod
    def example(cls) -> FamilyEntry:
        return cls(name="BLAT", alignment="blat.a2m")


@register
@dataclass
class BatchSettings(Options):
    """A manifest's top level: the families' defaults (``seeds``, ``preset``, ``config``,
    ``overrides``), ``samples`` (draws of z per sequence when scoring) and ``report``."""

    section: ClassVar[str] = "manifest"
    families: list = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    preset: str | None = None
    config: str | None = None
    overrides: dict | None = None
    samples: int = 200
    report: bool = True

    constraints: ClassVar[dict] = {
        "families": ListOf(Check(lambda v: None, "a family"), min_length=1),
        "seeds": SEEDS,
        "preset": PRESET_NAME,
        "config": Optional(Text()),
        "overrides": OVERRIDES,
        "samples": Integer(1),
        "report": Boolean(),
    }

    @classmethod
    def example(cls) -> BatchSettings:
        return cls(families=[{"name": "BLAT", "alignment": "blat.a2m"}])


def _checked(cls: type[OptionsT], values: dict[str, Any], source: str, where: str) -> OptionsT:
    """``cls`` from a manifest's mapping (a CSV cell's seeds ``0;1;2`` read as a list), checked:
    a bad value is one line naming the entry and the field."""
    seeds = values.get("seeds")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        values = {**values, "seeds": [seeds]}
    elif isinstance(seeds, str):
        values = {**values, "seeds": [v for v in seeds.replace(";", " ").replace(",", " ").split() if v]}
    return checked_options(cls, values, source, where)


CSV_FAMILY_COLUMNS = ("family", "alignment", "reference", "seeds", "preset", "config")
CSV_SCAN_COLUMNS = ("scan", "scan_name", *SCAN_OPTIONS, *RENAMED_FIELDS)


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


# -- reading the manifest ------------------------------------------------------------------
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


def _read_yaml(path: Path) -> dict[str, Any]:
    values = read_yaml(path)
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


def read_manifest(path: str | Path, device: str | None = None) -> Manifest:
    """Read a batch manifest (``.yaml``/``.yml`` or ``.csv``) and check every file and name.

    YAML::

        preset: fitness                  # or config: run.yaml; overrides: {training.max_steps: 500}
        seeds: [0, 1, 2]
        samples: 200                     # draws of z per sequence when scoring
        report: true
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

    Families may set their own ``seeds``, ``preset``, ``config`` and ``overrides``. CSV: one row
    per family and scan with columns ``family, alignment, reference, seeds (0;1;2), preset,
    config, scan, scan_name`` and the scan reading options. A scan is read with the fields of
    ``seqvae score`` (:class:`~seqvae.workflows.multirun.ScanReading`: ``mutant_column``,
    ``score_column``, ``sep``, ``mutation_separator``, ``reference_sequence``, ...). Relative paths are relative to the manifest's folder.

    Raises
    ------
    InputError
        A missing file, a duplicate family, seed or scan, an unknown key, a bad config value:
        one line naming the manifest and the entry.
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
    top = _checked(BatchSettings, values, source, "manifest")
    folder = path.parent
    families: list[Family] = []
    seen: set[str] = set()
    for index, values in enumerate(top.families):
        where = f"families[{index}]"
        if not isinstance(values, dict):
            raise InputError(f"{where}: expected a mapping", source)
        line = values.pop("_line", None)
        entry_source = f"{source}:{line}" if line else source
        name = check_name(values.get("name"), f"{where}: family name", entry_source, OWN_FILES)
        entry = _checked(FamilyEntry, values, entry_source, where)
        if name.casefold() in seen:
            raise InputError(f"{where}: duplicate task: family {name!r} is listed twice", entry_source)
        seen.add(name.casefold())
        where = f"family {name!r}"
        alignment = resolve_file(folder, entry.alignment, entry_source, f"{where} alignment")
        reference = entry.reference or None
        config_name = entry.config or top.config
        config_file = None
        if config_name:
            config_file = resolve_file(folder, config_name, entry_source, f"{where}.config")
        overrides = {**(top.overrides or {}), **(entry.overrides or {})}
        preset = entry.preset or top.preset
        config = _config(preset, config_file, overrides, reference, device, entry_source, where)
        scans: list[Scan] = []
        for k, scan in enumerate(entry.scans or []):
            if isinstance(scan, str):
                scan = {"file": scan}
            scan_line = scan.pop("_line", None) if isinstance(scan, dict) else None
            scan_source = f"{source}:{scan_line}" if scan_line else entry_source
            if not isinstance(scan, dict):
                raise InputError(f"{where} scans[{k}]: expected a file name or a mapping", scan_source)
            unknown = sorted(set(scan) - SCAN_KEYS)
            if unknown:
                raise InputError(
                    f"{where} scans[{k}]: unknown key {unknown[0]!r}; keys are {', '.join(sorted(SCAN_KEYS))}",
                    scan_source,
                )
            file = resolve_file(folder, scan.get("file"), scan_source, f"{where} scan")
            scan_name = check_name(
                file.stem if scan.get("name") is None else scan["name"],
                f"{where} scans[{k}]: scan name",
                scan_source,
            )
            if any(s.name.casefold() == scan_name.casefold() for s in scans):
                raise InputError(f"{where}: duplicate task: scan {scan_name!r} is listed twice", scan_source)
            options = read_scan_reading(
                {k2: v for k2, v in scan.items() if k2 not in ("name", "file")},
                scan_source,
                f"{where} scans[{k}]",
            )
            check_scan_columns(file, options, scan_source, f"{where} scan {scan_name!r}")
            if options.get("reference_sequence") is not None:  # the full wild type numbering the scan
                options["reference_sequence"] = str(
                    resolve_file(
                        folder, options["reference_sequence"], scan_source, f"{where} scan reference_sequence"
                    )
                )
            scans.append(Scan(scan_name, file, options))
        seeds = entry.seeds if entry.seeds is not None else top.seeds
        families.append(Family(name, alignment, scans, reference, seeds, config, config_file))
    return Manifest(path, families, samples=top.samples, report=top.report)


# -- tasks (run in workers: top-level functions of JSON-able arguments) ---------------------
def prepare_family(alignment: str, config: dict[str, Any], folder: str) -> dict[str, Any]:
    """Read a family's alignment, compute its sequence weights once and save them."""
    from seqvae.data.alignment import read_alignment

    started = time.perf_counter()
    run_config = RunConfig.from_dict(config)
    aln = read_alignment(alignment, run_config.data.alignment_options())
    weights = aln.set_weights(run_config.data.theta)
    Path(folder).mkdir(parents=True, exist_ok=True)
    with atomic_open(Path(folder) / "weights.npy", "wb") as handle:
        np.save(handle, weights)
    return {
        "n_sequences": int(aln.n_sequences),
        "length": int(aln.length),
        "n_eff": float(weights.sum()),
        "seconds": round(time.perf_counter() - started, 3),
    }


def scan_scores(folder: Path, scan: str) -> Path:
    """Where a family's ``folder`` keeps the ensemble scores of its scan named ``scan``."""
    return folder / "scores" / f"{scan}.csv"


def score_family(
    run_dirs: list[str],
    scans: list[dict[str, Any]],
    folder: str,
    samples: int,
    report: bool,
    device: str | None = None,
) -> dict[str, Any]:
    """Score every scan with the ensemble of a family's runs (:func:`score_rows`); write the
    family's report."""
    started = time.perf_counter()
    out = Path(folder)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    models = {Path(run_dir).name: Path(run_dir) for run_dir in run_dirs}
    scored = score_rows(
        models,
        [("ensemble", list(models))],
        [Scan.from_dict(scan) for scan in scans],
        lambda key, scan: (scan_scores(out, scan.name), None),
        {"samples": samples, "fast": False},
        device=device,
    )
    results = {result["scan"]: result["evaluation"] for result in scored}
    score_s = time.perf_counter() - started
    report_s = 0.0
    if report:
        from seqvae.report.builder import build_report

        started = time.perf_counter()
        build_report(run_dirs[0], out / "report.html")
        report_s = time.perf_counter() - started
    return {"scans": results, "score_s": round(score_s, 3), "report_s": round(report_s, 3)}


# -- the driver ------------------------------------------------------------------------------
@dataclass
class BatchResult:
    """What :func:`run_batch` returns."""

    out: Path
    summary: pd.DataFrame
    failures: list[tuple[str, str]]
    info: dict[str, Any]


def output_files(manifest: Manifest, out: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file and every run or task folder a batch writes, by what messages call them."""
    from seqvae.analysis.scoring import scoring_files

    files = {f"the batch's {name}": out / name for name in (BATCH_FILE, SUMMARY_CSV, SUMMARY_MD)}
    folders = {}
    for f in manifest.families:
        folder = out / f.name
        files[f"family {f.name!r}'s weights"] = folder / "data" / "weights.npy"
        files[f"family {f.name!r}'s report"] = folder / "report.html"
        folders[f"family {f.name!r}'s task results"] = folder / "tasks"
        for seed in f.seeds:
            folders[f"family {f.name!r}'s run of seed {seed}"] = folder / f"seed{seed}"
        for scan in f.scans:
            for kind, path in scoring_files(scan_scores(folder, scan.name)).items():
                files[f"family {f.name!r}'s {kind} of scan {scan.name!r}"] = path
    return files, folders


def run_batch(
    manifest: str | Path | Manifest,
    out: str | Path,
    backend: str = "local",
    jobs: int = 1,
    address: str | None = None,
    device: str | None = None,
    executor: Executor | None = None,
    log: Callable[[str], None] | None = None,
) -> BatchResult:
    """Train, score and report every family of a manifest; write the summary table.

    Parameters
    ----------
    manifest
        A manifest file (see :func:`read_manifest`) or a read one.
    out
        The batch folder; rerunning into it does only what is missing.
    backend, jobs, address
        Where the tasks run (see :func:`seqvae.executor.make_executor`).
    device
        ``cpu``, ``cuda``, ``mps`` or ``auto`` for training and scoring (default: the config's).
    executor
        An executor to use instead of ``backend``/``jobs``/``address``.

    Returns
    -------
    BatchResult
        The summary (one row per family: ``family``, ``n_sequences``, ``L``, ``N_eff``,
        ``seeds``, ``active_dims``, ``rho_<scan>`` per scan with a measured column,
        ``n_scored_<scan>``, ``prepare_s``, ``train_s``, ``score_s``, ``report_s``,
        ``status``) and the failures as ``(task, one-line reason)``.
    """
    say = log or (lambda _message: None)
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest, device=device)
    if device is not None:
        from seqvae.training.trainer import resolve_device

        try:
            resolve_device(device)
        except ConfigError as err:
            raise InputError(err.message.replace("training.device", "device")) from None
    out = Path(out)
    files, folders = output_files(manifest, out)
    inputs = {"the manifest": manifest.path}
    for family in manifest.families:
        inputs.update(family.inputs())
    check_output_paths(files, inputs, out, folders)
    open_resumable_directory(out, BATCH_DIRECTORY)
    if executor is None:
        executor = make_executor(backend, jobs, 1, address=address, folder=out / ".submitit")
    started = time.perf_counter()
    prepare, train, score = _tasks(manifest, out, device)
    for task in (*prepare, *train, *score):
        task.load_complete()  # a result made with other inputs is refused before anything runs
    with lock_directory(out, BATCH_DIRECTORY), executor:
        write_json(out / BATCH_FILE, {**manifest.to_dict(), "executor": executor.describe()})
        families = manifest.families
        done = TaskLog(say)
        # 1. weights, once per family; 2. one model per family and seed; 3. score each scan with
        # the family's ensemble, write the report
        executor.run(prepare, on_result=done)
        executor.run([t for t in train if done.ok([t.key.rsplit("/", 1)[0] + "/prepare"])], on_result=done)
        executor.run(
            [t for f, t in zip(families, score) if done.ok([f"{f.name}/seed{seed}" for seed in f.seeds])],
            on_result=done,
        )
        results, failures = done.results, done.failures
        summary = _summary(families, results, out)
        _write_summary(summary, failures, out)
    info = {
        "wall_seconds": round(time.perf_counter() - started, 2),
        "n_tasks": len(results),
        "n_skipped": sum(r.skipped for r in results.values()),
        "n_failed": len(failures),
        **executor.describe(),
    }
    return BatchResult(out=out, summary=summary, failures=failures, info=info)


def _tasks(manifest: Manifest, out: Path, device: str | None) -> tuple[list[Task], list[Task], list[Task]]:
    """The batch's tasks: one prepare per family, one train per family and seed, one score per
    family. A task's inputs (what its stored result is recognised by) hold every file by its
    content and the full resolved config."""
    prepare, train, score = [], [], []
    for f in manifest.families:
        folder = out / f.name
        digest = file_digest(f.alignment)
        prepare.append(
            Task(
                f"{f.name}/prepare",
                prepare_family,
                {"alignment": str(f.alignment), "config": f.config.to_dict(), "folder": str(folder / "data")},
                folder=str(folder / "tasks" / "prepare"),
                inputs={"alignment": digest, "data": f.config.to_dict()["data"]},
            )
        )
        for seed in f.seeds:
            config = f.config.updated({"seed": seed}).to_dict()
            train.append(
                Task(
                    f"{f.name}/seed{seed}",
                    fit_member,
                    {
                        "kind": "vae",
                        "alignment": str(f.alignment),
                        "config": config,
                        "target": str(folder / f"seed{seed}"),
                        "weights": str(folder / "data" / "weights.npy"),
                    },
                    folder=str(folder / "tasks" / f"train-seed{seed}"),
                    inputs={"alignment": digest, "config": _without_device(config)},
                )
            )
        scans = [scan.to_dict() for scan in f.scans]
        score.append(
            Task(
                f"{f.name}/score",
                score_family,
                {
                    "run_dirs": [str(folder / f"seed{seed}") for seed in f.seeds],
                    "scans": scans,
                    "folder": str(folder),
                    "samples": manifest.samples,
                    "report": manifest.report,
                    "device": device,
                },
                folder=str(folder / "tasks" / "score"),
                inputs={
                    "seeds": f.seeds,
                    "scans": [{**scan, "file": file_digest(Path(scan["file"]))} for scan in scans],
                    "samples": manifest.samples,
                },
            )
        )
    return prepare, train, score


def _without_device(config: dict[str, Any]) -> dict[str, Any]:
    """A run config without its device: a model trained on a GPU is reused on a CPU rerun."""
    training = {k: v for k, v in config["training"].items() if k != "device"}
    return {**config, "training": training}


def _summary(families: list[Family], results: dict[str, TaskResult], out: Path) -> pd.DataFrame:
    rows = []
    for f in families:
        row: dict[str, Any] = {"family": f.name}
        prepared = results.get(f"{f.name}/prepare")
        if prepared is not None and prepared.ok:
            row.update(
                n_sequences=prepared.value["n_sequences"],
                L=prepared.value["length"],
                N_eff=round(prepared.value["n_eff"], 2),
            )
        members = [results.get(f"{f.name}/seed{seed}") for seed in f.seeds]
        finished = [m for m in members if m is not None and m.ok]
        row["seeds"] = " ".join(str(s) for s in f.seeds)
        # what each trained seed records (a run folder deleted after its task finished: nothing)
        runs = [out / f.name / m.key.rsplit("/", 1)[1] for m in finished]
        records = [run_record(run) for run in runs if (run / "summary.json").is_file()]
        row["active_dims"] = " ".join(str(record["active_dims"]) for record in records)
        scored = results.get(f"{f.name}/score")
        for scan in f.scans:
            entry = scored.value["scans"].get(scan.name, {}) if scored is not None and scored.ok else {}
            if scan.reading.get("score_column"):
                row[f"rho_{scan.name}"] = entry.get("spearman")
            row[f"n_scored_{scan.name}"] = entry.get("n_scored")
        row["prepare_s"] = prepared.value["seconds"] if prepared is not None and prepared.ok else None
        row["train_s"] = round(sum(r["train_time_s"] or 0.0 for r in records), 2) if finished else None
        row["score_s"] = scored.value["score_s"] if scored is not None and scored.ok else None
        row["report_s"] = scored.value["report_s"] if scored is not None and scored.ok else None
        failed = [r for r in [prepared, *members, scored] if r is not None and not r.ok]
        if failed:
            row["status"] = f"failed: {failed[0].key}: {failed[0].error}"
        elif scored is None or not scored.ok:
            row["status"] = "incomplete"
        else:
            row["status"] = "finished"
        rows.append(row)
    frame = pd.DataFrame(rows)
    front = ["family", "n_sequences", "L", "N_eff", "seeds", "active_dims"]
    back = ["prepare_s", "train_s", "score_s", "report_s", "status"]
    scans = [c for c in frame.columns if c not in front and c not in back]
    return frame.reindex(columns=[*front, *scans, *back])


def _write_summary(frame: pd.DataFrame, failures: list[tuple[str, str]], out: Path) -> None:
    text = ["# seqvae batch", "", markdown_table(frame), ""]
    if failures:
        text += ["## Failures", ""] + [f"- `{key}`: {reason}" for key, reason in failures] + [""]
    write_table(frame, out / SUMMARY_CSV, out / SUMMARY_MD, "\n".join(text))
