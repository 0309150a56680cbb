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
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.mutations import read_wild_type
from seqvae.analysis.scoring import score_file
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
from seqvae.training.config import MAX_SEED, RunConfig, preset_config

__all__ = [
    "BATCH_DIRECTORY",
    "BatchResult",
    "FamilySpec",
    "Manifest",
    "ScanSpec",
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
# score_file reading options a scan may set (every keyword of score_file but these)
_NOT_SCAN_OPTIONS = {"scorer", "mutations", "out", "progress", "chunk_size", "burial", "rule"}
SCAN_OPTIONS = tuple(
    name for name in inspect.signature(score_file).parameters if name not in _NOT_SCAN_OPTIONS
)
FAMILY_KEYS = {"name", "alignment", "reference", "scans", "seeds", "preset", "config", "overrides"}
TOP_KEYS = {"families", "seeds", "preset", "config", "overrides", "samples", "report"}
SCAN_KEYS = {"name", "file", *SCAN_OPTIONS}
CSV_FAMILY_COLUMNS = ("family", "alignment", "reference", "seeds", "preset", "config")
CSV_SCAN_COLUMNS = ("scan", "scan_name", *SCAN_OPTIONS)


@dataclass
class ScanSpec:
    """One deep mutational scan of a family and how to read it (``score_file`` options)."""

    name: str
    file: Path
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class FamilySpec:
    """One family: its alignment, scans, seeds and resolved run config."""

    name: str
    alignment: Path
    reference: str | None
    scans: list[ScanSpec]
    seeds: list[int]
    config: RunConfig
    config_file: Path | None = None


@dataclass
class Manifest:
    """A read and checked manifest."""

    path: Path
    families: list[FamilySpec]
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
                    "scans": [{"name": s.name, "file": str(s.file), **s.options} for s in f.scans],
                    "config": f.config.to_dict(),
                }
                for f in self.families
            ],
        }


# -- reading the manifest ------------------------------------------------------------------
def _seeds(value: Any, source: str, where: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, str):
        value = [v for v in value.replace(";", " ").replace(",", " ").split() if v]
    if not isinstance(value, list):
        raise InputError(f"{where}: seeds must be a list of integers, got {value!r}", source)
    seeds = []
    for v in value:  # 1.5 or true is no seed; a CSV cell holds digits
        seed = int(v) if isinstance(v, str) and v.isdigit() else v
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InputError(f"{where}: seeds must be integers in [0, {MAX_SEED}], got {v!r}", source)
        seeds.append(seed)
    if not seeds:
        raise InputError(f"{where}: no seeds", source)
    duplicate = next((s for s in seeds if seeds.count(s) > 1), None)
    if duplicate is not None:
        raise InputError(f"{where}: duplicate task: seed {duplicate} is listed twice", source)
    return seeds


def _file(folder: Path, value: Any, source: str, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: expected a file name", source)
    path = Path(value)
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        raise InputError(f"{where}: file not found: {value}", source)
    return path


def _config(
    folder: Path,
    preset: str | None,
    config_file: str | None,
    overrides: dict | None,
    reference: str | None,
    device: str | None,
    source: str,
    where: str,
) -> RunConfig:
    try:
        values: dict[str, Any] = {}
        if config_file:
            values = read_config_file(_file(folder, config_file, source, f"{where}.config"))
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


def _check_keys(values: dict, allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InputError(
            f"{where}: unknown key {unknown[0]!r}; keys are {', '.join(sorted(allowed))}", source
        )


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
            for option in SCAN_OPTIONS:
                value = row.get(option, "")
                if value:
                    scan[option] = (
                        value.lower() in ("1", "true", "yes")
                        if option in ("skip_mismatches", "evaluate")
                        else value
                    )
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
                # wild_type: pdz3/DLG4_RAT_PDZ3.fasta   # a trimmed reference row: number the scan
                #                                      # from the full wild type (FASTA)

    Families may set their own ``seeds``, ``preset``, ``config`` and ``overrides``. CSV: one row
    per family and scan with columns ``family, alignment, reference, seeds (0;1;2), preset,
    config, scan, scan_name`` and the scan reading options (``mutant_column``,
    ``score_column``, ...). Relative paths are relative to the manifest's folder.

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
    _check_keys(values, TOP_KEYS, source, "manifest")
    folder = path.parent
    top_seeds = _seeds(values.get("seeds", [0]), source, "seeds")
    samples = values.get("samples", 200)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise InputError(f"samples: must be an integer >= 1, got {samples!r}", source)
    families: list[FamilySpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(values["families"]):
        where = f"families[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a mapping", source)
        line = entry.pop("_line", None)
        entry_source = f"{source}:{line}" if line else source
        _check_keys(entry, FAMILY_KEYS, entry_source, where)
        name = check_name(entry.get("name"), f"{where}: family name", entry_source, OWN_FILES)
        if name.casefold() in seen:
            raise InputError(f"{where}: duplicate task: family {name!r} is listed twice", entry_source)
        seen.add(name.casefold())
        where = f"family {name!r}"
        alignment = _file(folder, entry.get("alignment"), entry_source, f"{where} alignment")
        reference = entry.get("reference") or None
        config_name = entry.get("config") or values.get("config")
        config = _config(
            folder,
            entry.get("preset") or values.get("preset"),
            config_name,
            {
                **_mapping(values.get("overrides"), source, "overrides"),
                **_mapping(entry.get("overrides"), entry_source, f"{where} overrides"),
            },
            reference,
            device,
            entry_source,
            where,
        )
        scans: list[ScanSpec] = []
        scan_entries = entry.get("scans") or []
        if not isinstance(scan_entries, list):
            raise InputError(
                f"{where}: scans must be a list of files or mappings, got {scan_entries!r}", entry_source
            )
        for k, scan in enumerate(scan_entries):
            if isinstance(scan, str):
                scan = {"file": scan}
            scan_line = scan.pop("_line", None) if isinstance(scan, dict) else None
            scan_source = f"{source}:{scan_line}" if scan_line else entry_source
            if not isinstance(scan, dict):
                raise InputError(f"{where} scans[{k}]: expected a file name or a mapping", scan_source)
            _check_keys(scan, SCAN_KEYS, scan_source, f"{where} scans[{k}]")
            file = _file(folder, scan.get("file"), scan_source, f"{where} scan")
            scan_name = check_name(
                file.stem if scan.get("name") is None else scan["name"],
                f"{where} scans[{k}]: scan name",
                scan_source,
            )
            if any(s.name.casefold() == scan_name.casefold() for s in scans):
                raise InputError(f"{where}: duplicate task: scan {scan_name!r} is listed twice", scan_source)
            options = {k2: v for k2, v in scan.items() if k2 not in ("name", "file")}
            _check_scan_options(options, scan_source, f"{where} scans[{k}]")
            _check_scan_columns(file, options, scan_source, f"{where} scan {scan_name!r}")
            if options.get("wild_type") is not None:  # the full wild type (FASTA) numbering the scan
                options["wild_type"] = str(
                    _file(folder, options["wild_type"], scan_source, f"{where} scan wild_type")
                )
            scans.append(ScanSpec(scan_name, file, options))
        seeds = _seeds(entry["seeds"], entry_source, where) if "seeds" in entry else top_seeds
        config_file = None if not config_name else _file(folder, config_name, entry_source, f"{where}.config")
        families.append(FamilySpec(name, alignment, reference, scans, seeds, config, config_file))
    report = values.get("report", True)
    if not isinstance(report, bool):
        raise InputError(f"report: must be true or false, got {report!r}", source)
    return Manifest(path, families, samples=samples, report=report)


def _check_scan_options(options: dict[str, Any], source: str, where: str) -> None:
    """Each reading option of a scan has the type (and value) ``score_file`` takes (a column
    named by a number becomes its text)."""
    from seqvae.analysis.mutations import MUTATION_SEPARATORS
    from seqvae.analysis.scoring import OUTPUT_FORMATS

    choices = {
        "sep": (",", ";", "\t"),
        "mutation_separator": MUTATION_SEPARATORS,
        "output_format": OUTPUT_FORMATS,
    }
    for key, value in options.items():
        if key.endswith("_column") and isinstance(value, int) and not isinstance(value, bool):
            value = options[key] = str(value)  # a column named 2500, unquoted in YAML
        if value is None:
            continue
        if key in ("skip_mismatches", "evaluate"):
            if not isinstance(value, bool):
                raise InputError(f"{where}: {key} must be true or false, got {value!r}", source)
        elif not isinstance(value, str) or not value:
            raise InputError(f"{where}: {key} must be a non-empty string, got {value!r}", source)
        elif key in choices and value not in choices[key]:
            raise InputError(
                f"{where}: {key} must be one of {', '.join(map(repr, choices[key]))}, got {value!r}", source
            )


def _check_scan_columns(file: Path, options: dict[str, Any], source: str, where: str) -> None:
    """The columns a scan names are in its header: found now, not after training."""
    from seqvae.analysis.mutations import detect_separator
    from seqvae.io.tables import read_table

    sep = options.get("sep") or detect_separator(file)
    columns = [str(c) for c in read_table(file, "cannot read the scan", nrows=0, sep=sep).columns]
    for key in ("mutant_column", "sequence_column", "score_column", "label_column"):
        column = options.get(key)
        if column is not None and str(column) not in columns:
            raise InputError(
                f"{where}: {key} {column!r} is not a column of {file.name} (columns: {', '.join(columns)})",
                source,
            )
    named = options.get("mutant_column") or options.get("sequence_column")
    if not named and not {"mutant", "mutated_sequence"} & set(columns):
        raise InputError(
            f"{where}: {file.name} has no 'mutant' or 'mutated_sequence' column; name one with mutant_column",
            source,
        )


def _mapping(value: Any, source: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}: must be a mapping of config keys to values, got {value!r}", source)
    return value


# -- tasks (run in workers: top-level functions of JSON-able arguments) ---------------------
def _read_family(alignment: str, config: RunConfig):
    from seqvae.data.alignment import read_alignment

    return read_alignment(alignment, config.data.alignment_options())


def prepare_family(alignment: str, config: dict[str, Any], folder: str) -> dict[str, Any]:
    """Read a family's alignment, compute its sequence weights once and save them."""
    from seqvae.data.weights import compute_sequence_weights

    started = time.perf_counter()
    run_config = RunConfig.from_dict(config)
    aln = _read_family(alignment, run_config)
    weights = compute_sequence_weights(aln.codes, aln.alphabet.gap_code, run_config.data.theta)
    Path(folder).mkdir(parents=True, exist_ok=True)
    with atomic_open(Path(folder) / "weights.npy", "wb") as handle:
        np.save(handle, weights)
    return {
        "n_sequences": int(aln.n_sequences),
        "length": int(aln.length),
        "n_eff": float(weights.sum()),
        "seconds": round(time.perf_counter() - started, 3),
    }


def train_member(alignment: str, config: dict[str, Any], weights: str, run_dir: str) -> dict[str, Any]:
    """Train one seed of a family: a run made with this config is resumed (interrupted) or
    only read (finished); a run made with another config is replaced by a new one."""
    from seqvae.analysis.diagnostics import latent_diagnostics
    from seqvae.run import load, read_config, resume, train
    from seqvae.training.run_directory import is_finished

    started = time.perf_counter()
    path = Path(run_dir)
    run_config = RunConfig.from_dict(config)
    try:
        same = (path / "checkpoint.pt").exists() and not read_config(path).differences(run_config)
    except InputError:  # no config, or a damaged one: nothing to resume
        same = False
    if not (same and is_finished(path)):
        if same:
            resume(path, progress=False)
        else:
            aln = _read_family(alignment, run_config)
            aln.sequence_weights = np.load(weights, allow_pickle=False)
            aln.theta = run_config.data.theta
            train(aln, run_config, out=path, overwrite=True, progress=False)
    run = load(path)
    data, sample_weights, _, _ = run.training_data()
    z_mean, z_logvar = run.encode(data)
    diagnostics = latent_diagnostics(z_mean, z_logvar, sample_weights)
    summary = run.summary
    return {
        "steps": summary.get("steps"),
        "best_val_elbo": summary.get("best_val_elbo"),
        "stop_reason": summary.get("stop_reason"),
        "train_time_s": summary.get("train_time_s"),
        "active_dims": int(diagnostics.n_active),
        "seconds": round(time.perf_counter() - started, 3),
    }


def score_family(
    run_dirs: list[str],
    scans: list[dict[str, Any]],
    folder: str,
    samples: int,
    report: bool,
    device: str | None = None,
) -> dict[str, Any]:
    """Score every scan with the ensemble of a family's runs; write the family's report."""
    from seqvae.analysis.evaluation import evaluate_scores
    from seqvae.analysis.scoring import EnsembleScorer, VAEScorer
    from seqvae.run import load

    started = time.perf_counter()
    members = []
    for run_dir in run_dirs:
        run = load(run_dir)
        members.append(
            VAEScorer(
                run.model, run.registry, samples=samples, seed=0, name=Path(run_dir).name, device=device
            )
        )
    scorer = EnsembleScorer(members)
    out = Path(folder)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for scan in scans:
        options = {k: v for k, v in scan.items() if k not in ("name", "file")}
        if options.get("wild_type") is not None:
            options["wild_type"] = read_wild_type(options["wild_type"])
        scored = score_file(scorer, scan["file"], out / "scores" / f"{scan['name']}.csv", **options)
        entry: dict[str, Any] = {"n_scored": scored.n_scored, "n_unscored": scored.n_unscored}
        if options.get("score_column") and scored.n_scored >= 3:
            evaluation = evaluate_scores(scored.predicted, scored.measured, n_unscored=scored.n_unscored)
            entry["spearman"] = evaluation.spearman
        results[scan["name"]] = entry
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


def _family_dir(out: Path, family: FamilySpec) -> Path:
    return out / family.name


def output_files(manifest: Manifest, out: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file and every run or task folder a batch writes, by what messages call them."""
    from seqvae.analysis.scoring import scoring_files

    files = {f"the batch's {name}": out / name for name in (BATCH_FILE, SUMMARY_CSV, SUMMARY_MD)}
    folders = {}
    for f in manifest.families:
        folder = _family_dir(out, f)
        files[f"family {f.name!r}'s weights"] = folder / "data" / "weights.npy"
        files[f"family {f.name!r}'s report"] = folder / "report.html"
        folders[f"family {f.name!r}'s task results"] = folder / "tasks"
        for seed in f.seeds:
            folders[f"family {f.name!r}'s run of seed {seed}"] = folder / f"seed{seed}"
        for scan in f.scans:
            for kind, path in scoring_files(folder / "scores" / f"{scan.name}.csv").items():
                files[f"family {f.name!r}'s {kind} of scan {scan.name!r}"] = path
    return files, folders


def input_files(manifest: Manifest) -> dict[str, Path]:
    """Every file a manifest reads, by what messages call it."""
    files = {"the manifest": manifest.path}
    for f in manifest.families:
        files[f"family {f.name!r}'s alignment"] = f.alignment
        if f.config_file is not None:
            files[f"family {f.name!r}'s config"] = f.config_file
        for scan in f.scans:
            files[f"scan {scan.name!r} of {f.name!r}"] = scan.file
            if scan.options.get("wild_type") is not None:
                files[f"the wild type of scan {scan.name!r} of {f.name!r}"] = Path(scan.options["wild_type"])
    return files


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
            raise InputError(err.message.replace("training.device", "--device"), "--device") from None
    out = Path(out)
    files, folders = output_files(manifest, out)
    check_output_paths(files, input_files(manifest), out, folders)
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
        failures: list[tuple[str, str]] = []
        results: dict[str, TaskResult] = {}

        def note(result: TaskResult) -> None:
            results[result.key] = result
            if not result.ok:
                failures.append((result.key, result.error or "failed"))
                say(f"{result.key}: failed: {result.error}")
            else:
                say(
                    f"{result.key}: {'already done' if result.skipped else f'done in {result.seconds:.1f} s'}"
                )

        def ready(needs: list[str]) -> bool:
            return all(key in results and results[key].ok for key in needs)

        # 1. weights, once per family; 2. one model per family and seed; 3. score each scan with
        # the family's ensemble, write the report
        executor.run(prepare, on_result=note)
        executor.run([t for t in train if ready([t.key.rsplit("/", 1)[0] + "/prepare"])], on_result=note)
        executor.run(
            [t for f, t in zip(families, score) if ready([f"{f.name}/seed{seed}" for seed in f.seeds])],
            on_result=note,
        )
        summary = _summary(families, results)
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
        folder = _family_dir(out, f)
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
                    train_member,
                    {
                        "alignment": str(f.alignment),
                        "config": config,
                        "weights": str(folder / "data" / "weights.npy"),
                        "run_dir": str(folder / f"seed{seed}"),
                    },
                    folder=str(folder / "tasks" / f"train-seed{seed}"),
                    inputs={"alignment": digest, "config": _without_device(config)},
                )
            )
        scans = [{"name": s.name, "file": str(s.file), **s.options} for s in f.scans]
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


def _summary(families: list[FamilySpec], results: dict[str, TaskResult]) -> pd.DataFrame:
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
        row["active_dims"] = " ".join(str(m.value["active_dims"]) for m in finished)
        scored = results.get(f"{f.name}/score")
        for scan in f.scans:
            entry = scored.value["scans"].get(scan.name, {}) if scored is not None and scored.ok else {}
            if scan.options.get("score_column"):
                row[f"rho_{scan.name}"] = entry.get("spearman")
            row[f"n_scored_{scan.name}"] = entry.get("n_scored")
        row["prepare_s"] = prepared.value["seconds"] if prepared is not None and prepared.ok else None
        row["train_s"] = round(sum(m.value["train_time_s"] or 0.0 for m in finished), 2) if finished else None
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


def _markdown(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(v) for v in row.tolist()) + " |")
    return "\n".join(lines)


def _write_summary(frame: pd.DataFrame, failures: list[tuple[str, str]], out: Path) -> None:
    with atomic_open(out / SUMMARY_CSV, "w", newline="", encoding="utf-8") as handle:
        frame.to_csv(handle, index=False)
    text = ["# seqvae batch", "", _markdown(frame), ""]
    if failures:
        text += ["## Failures", ""] + [f"- `{key}`: {reason}" for key, reason in failures] + [""]
    with atomic_open(out / SUMMARY_MD, "w", encoding="utf-8") as handle:
        handle.write("\n".join(text))
