"""``benchmark-dms``: train -> score -> evaluate on a panel of deep mutational scans, or on one.

A panel is a manifest (:mod:`seqvae.workflows.manifest`, read by :func:`load_panel`) whose
families each have one measured scan: the training alignment and its wild-type row, the scan
and how to read it, a structure, and the Spearman ρ published on the same assay.
:func:`run_panel` fits every model of every protein (executor tasks, resumable), scores each
scan with every model, their seed ensemble, the seed-0 VAE + Potts mean and, with a structure,
each row's ``+ structure`` row, and writes the panel's table, summary (settings are compared on
the seed mean: one retraining moves ρ by up to the seed spread) and figure
(:class:`PanelLayout`). ``benchmark-dms`` on one scan (:func:`run_dms_benchmark`) is a panel of
one protein laid out in one folder (:class:`OneScanLayout`).

A workflow (it trains, then analyses).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from seqvae.analysis.burial import position_burial
from seqvae.analysis.mutations import MutationMapper, read_wild_type
from seqvae.analysis.scoring import FAST_SAMPLES, scoring_files
from seqvae.analysis.structure_scores import DEFAULT_STRUCTURE_RULE
from seqvae.data.alignment import read_alignment
from seqvae.errors import InputError
from seqvae.executor import MAX_JOBS, Task, file_digest, make_executor
from seqvae.io.atomic import ensure_directory, write_json
from seqvae.io.output_dirs import (
    DirectoryKind,
    check_output_paths,
    check_resumable_directory,
    lock_directory,
    open_resumable_directory,
)
from seqvae.plots.panel import plot_panel
from seqvae.training.baselines import NAMED_BASELINES, is_baseline_directory
from seqvae.training.config import preset_config
from seqvae.training.run_directory import is_finished
from seqvae.utils import MAX_THREADS
from seqvae.workflows.manifest import MODEL_SETTINGS, Family, Scan, read_manifest
from seqvae.workflows.multirun import (
    STRUCTURE_SUFFIX,
    TaskLog,
    fit_member,
    format_number,
    markdown_table,
    read_json,
    run_record,
    save_weights,
    score_rows,
    weights_file,
    write_table,
)

__all__ = [
    "BENCHMARK_FILE",
    "MODEL_KINDS",
    "PANEL_COLUMNS",
    "load_panel",
    "panel_markdown",
    "panel_summary",
    "run_dms_benchmark",
    "run_panel",
]

# the key (file names) of the mean of the seed-0 VAE and the Potts model
VAE_POTTS = "vae_seed0_potts"
PANEL_FILE = "panel.json"
MODEL_KINDS = (*NAMED_BASELINES, "vae")
# the rows of one scan's benchmark (``run_panel(one_scan=True)``), written beside its models
BENCHMARK_FILE = "benchmark.json"
# the panel folder's own files: no protein may be named like one of them
PANEL_FILES = (PANEL_FILE, "panel.csv", "panel_summary.csv", "panel.md", "panel.png")
PANEL_DIRECTORY = DirectoryKind("seqvae panel folder", markers=(PANEL_FILE, "panel.csv"), entries=("*",))
PANEL_COLUMNS = (
    "protein",
    "model",
    "spearman",
    "ci_low",
    "ci_high",
    "n_scored",
    "n_skipped",
    "train_s",
    "score_s",
    "active_dims",
    "kl",
    "n_eff",
    "length",
)


# what a manifest may hold that the panel does not read: its models are run_panel's settings
UNUSED = {
    key: "is not read by the panel: its models are set by its own settings (preset, overrides, "
    "ensemble, samples)"
    for key in (*MODEL_SETTINGS, "samples", "report")
}


def load_panel(path: str | Path) -> list[Family]:
    """Read and check a manifest (:func:`~seqvae.workflows.manifest.read_manifest`) as a panel:
    each family one scan with a measured ``score_column``; no model settings (the panel's own
    settings say what to fit).

    Raises
    ------
    InputError
        Naming the file and the entry at fault: unreadable YAML, a missing key or file, a
        column the scan lacks, a family without exactly one measured scan.
    """
    families = read_manifest(path, refuse=UNUSED, reserved=PANEL_FILES).families
    for family in families:
        if len(family.scans) != 1 or not family.scans[0].reading.get("score_column"):
            raise InputError(
                f"family {family.name!r}: a panel family has one scan with a score_column "
                f"(the measured column); found {len(family.scans)} scan(s)",
                path,
            )
    return families


@dataclass
class PanelLayout:
    """Where a panel writes: each protein's models, scores and evaluations in
    ``out/<protein>/``, the panel's tables (:data:`PANEL_FILES`) in ``out``, a resumable panel
    folder held under its lock while the panel runs."""

    out: Path

    def folder(self, protein: Family) -> Path:
        return self.out / protein.name

    def own_files(self) -> dict[str, Path]:
        return {f"the panel's {name}": self.out / name for name in PANEL_FILES}

    def check(self, proteins: list[Family]) -> None:
        check_resumable_directory(self.out, PANEL_DIRECTORY)

    @contextlib.contextmanager
    def opened(self, preset: str, proteins: list[Family], keys: list[str]) -> Iterator[None]:
        open_resumable_directory(self.out, PANEL_DIRECTORY)
        with lock_directory(self.out, PANEL_DIRECTORY):
            names = [p.name for p in proteins]
            write_json(self.out / PANEL_FILE, {"preset": preset, "proteins": names, "models": keys})
            yield

    def write(self, rows: list[dict], proteins: list[Family], preset: str, structures: dict) -> None:
        """Write ``panel.csv``, ``panel_summary.csv``, ``panel.md`` and ``panel.png`` (each atomically)."""

        table = pd.DataFrame(rows, columns=list(PANEL_COLUMNS))
        summary = panel_summary(table)
        write_table(summary, self.out / "panel_summary.csv", float_format="%.6g")
        markdown = panel_markdown(table, proteins, preset, summary, structures)
        write_table(table, self.out / "panel.csv", self.out / "panel.md", markdown, float_format="%.6g")
        plot_panel(table, {p.name: p.published for p in proteins}, self.out / "panel.png")


class OneScanLayout(PanelLayout):
    """Where ``benchmark-dms`` on one scan writes: its one protein's models, scores and
    evaluations in ``out`` itself, its rows (every field of an evaluation) in
    ``out/benchmark.json``."""

    def folder(self, protein: Family) -> Path:
        return self.out

    def own_files(self) -> dict[str, Path]:
        return {"the benchmark table": self.out / BENCHMARK_FILE}

    def check(self, proteins: list[Family]) -> None:
        if len(proteins) != 1:
            raise ValueError("run_panel: one_scan lays out one protein")

    @contextlib.contextmanager
    def opened(self, preset: str, proteins: list[Family], keys: list[str]) -> Iterator[None]:
        ensure_directory(self.out)
        yield

    def write(self, rows: list[dict], proteins: list[Family], preset: str, structures: dict) -> None:
        write_json(
            self.out / BENCHMARK_FILE, [{k: v for k, v in row.items() if k != "protein"} for row in rows]
        )


def row_files(folder: Path, key: str) -> tuple[Path, Path]:
    """Where a protein's row ``key`` is kept in its ``folder``: its scores and its evaluation."""
    return folder / f"scores_{key}.csv", folder / f"eval_{key}.json"


def panel_outputs(
    proteins: list[Family], layout: PanelLayout, keys: list[str]
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file and every model folder a panel writes in ``layout``, by what messages call them."""

    files = layout.own_files()
    folders = {}
    for protein in proteins:
        folder = layout.folder(protein)
        files[f"{protein.name}'s weights"] = weights_file(folder)
        for key in keys:
            folders[f"{protein.name}'s {key} model"] = folder / key
        for key, _ in _scored(keys):
            scores, evaluation = row_files(folder, key)
            files[f"{protein.name}'s {key} evaluation"] = evaluation
            for kind, path in scoring_files(scores).items():
                files[f"{protein.name}'s {key} {kind}"] = path
    return files, folders


def _scored(keys: list[str]) -> list[tuple[str, list[str]]]:
    """A protein's rows: each row's key (its file names) and the models whose scores it averages."""
    seeds = [key for key in keys if key.startswith("vae_seed")]
    scored = [(key, [key]) for key in keys]
    if len(seeds) > 1:
        scored.append((f"vae_ensemble{len(seeds)}", seeds))
    if seeds and "potts" in keys:
        # the two models err on different mutants (the VAE on positions whose wild-type residue
        # is rare in its column, benchmarks/RESULTS.md): their mean ranks better
        scored.append((VAE_POTTS, ["vae_seed0", "potts"]))
    return scored


def _fit_inputs(kind: str, protein: Family, config, potts_iterations: int) -> dict:
    """What makes a fitted model of a panel protein what it is (its task's inputs): a baseline
    depends on the data settings only, a VAE on its whole config."""
    settings = config.identity()
    if kind != "vae":
        settings = {key: value for key, value in settings.items() if key.startswith("data.")}
    return {
        "kind": kind,
        "alignment": file_digest(protein.alignment),
        "settings": settings,
        "potts_iterations": potts_iterations if kind == "potts" else None,
    }


def recorded_fit(seconds: float) -> dict:
    """The result of a model fitted before its folder held a task result (an executor task):
    the fitting seconds recorded beside it."""
    return {"seconds": seconds}


# where a panel folder made before the fits were executor tasks records a protein's models: their
# identities (the fingerprints of their tasks' inputs) and fitting seconds; read so that such a
# folder's models are kept, not fitted again
EARLIER_RECORDS = ("fits.json", "timings.json")


def _checked_fit(task, folder: Path):
    """The task that gives a model's fitting seconds: ``task``, or for a model fitted by an
    earlier seqvae (recorded in :data:`EARLIER_RECORDS`) one that records it as this task's
    result. A model fitted with other settings is refused before anything is written."""

    refusal = InputError(
        "holds a model fitted with other settings (the preset, overrides, potts_iterations or the "
        "alignment differ); use a new output folder (out), or delete this folder to fit it again",
        task.folder,
    )
    try:
        if task.load_complete() is not None:
            return task
    except InputError:
        raise refusal from None
    fits, timings = (read_json(folder / name) or {} for name in EARLIER_RECORDS)
    key, target = task.key.rsplit("/", 1)[-1], Path(task.folder)
    if key not in fits or key not in timings or not (is_finished(target) or is_baseline_directory(target)):
        return task
    if fits[key] != task.fingerprint:
        raise refusal
    return Task(task.key, recorded_fit, {"seconds": timings[key]}, folder=task.folder, inputs=task.inputs)


def _check_settings(
    models: tuple[str, ...] | list[str], ensemble: int, jobs: int, threads: int | None
) -> None:
    """Refuse bad settings of :func:`run_panel`, naming the argument."""
    unknown = sorted(set(models) - set(MODEL_KINDS))
    if unknown:
        raise InputError(f"models: unknown model {unknown[0]!r}; choose from {', '.join(MODEL_KINDS)}")
    if ensemble < 1:
        raise InputError(f"ensemble: must be >= 1, got {ensemble}")
    if not 1 <= jobs <= MAX_JOBS:
        raise InputError(f"jobs: must be in [1, {MAX_JOBS}], got {jobs}")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise InputError(f"threads: must be in [1, {MAX_THREADS}], got {threads}")


def _base_config(preset: str, overrides: dict | None, threads: int | None, jobs: int):
    """The VAE's config before a protein's reference row: the preset, its overrides, and one
    thread per fitting worker unless ``threads`` says otherwise."""

    base = preset_config(preset).updated(overrides or {})
    if threads is not None:
        return base.updated({"training.threads": threads})
    if jobs > 1:
        return base.updated({"training.threads": 1})
    return base


@dataclass
class _Prepared:
    """A protein read and checked before anything is written: its folder, its config, its
    alignment and (with a structure) its burial and mutation mapper."""

    protein: Family
    folder: Path
    config: Any
    alignment: Any
    burial: tuple | None


def _prepare(protein: Family, folder: Path, base, log: Callable[[str], None]) -> _Prepared:
    """Read a protein's alignment, check its reference sequence against its row, weight it."""

    scan = protein.scans[0]
    reference_sequence = scan.reading.get("reference_sequence")
    wild_type = read_wild_type(reference_sequence) if reference_sequence else None
    config = base.updated({"data.reference": protein.reference}) if protein.reference else base
    aln = read_alignment(protein.alignment, config.data.alignment_options())
    mapper = MutationMapper(aln.registry, wild_type, str(reference_sequence))
    aln.set_weights(config.data.theta)  # once: the fit tasks read them from weights_file(folder)
    log(f"{protein.name}: {aln.n_sequences} sequences x {aln.length} columns, N_eff {aln.n_eff:.1f}")
    burial = None
    if protein.structure is not None or protein.contact_map is not None:
        burial = (
            position_burial(aln.registry, protein.structure, protein.chain, protein.contact_map),
            mapper,
        )
        log(f"{protein.name}: {burial[0].describe()}")
    return _Prepared(protein, folder, config, aln, burial)


def _fit_tasks(item: _Prepared, keys: list[str], potts_iterations: int, threads: int | None) -> list:
    """The executor tasks fitting a protein's models, each checked against what its folder holds."""

    protein, folder, tasks = item.protein, item.folder, []
    for key in keys:
        kind = "vae" if key.startswith("vae_seed") else key
        member_config = item.config.updated({"seed": int(key[8:])}) if kind == "vae" else item.config
        arguments = {
            "kind": kind,
            "alignment": str(protein.alignment),
            "config": member_config.to_dict(),
            "target": str(folder / key),
            "potts_iterations": potts_iterations,
            "threads": threads,
            "weights": str(weights_file(folder)),
        }
        task = Task(
            f"{protein.name}/{key}",
            fit_member,
            arguments,
            folder=str(folder / key),
            inputs=_fit_inputs(kind, protein, member_config, potts_iterations),
        )
        tasks.append(_checked_fit(task, folder))
    return tasks


def _fit_all(
    tasks: list, executor, jobs: int, threads: int | None, log: Callable[[str], None]
) -> dict[str, float]:
    """Fit every missing model (baselines first: they are quick); the fitting seconds by task key."""

    fits = {task.key: task for task in tasks}

    def done(result) -> str:
        if fits[result.key].function is recorded_fit:
            return f"recorded by an earlier seqvae ({', '.join(EARLIER_RECORDS)})"
        return f"fitted in {result.value['seconds']:.1f} s"

    fitted = TaskLog(log, done)
    with executor or make_executor("local", jobs, threads or 1) as runner:
        runner.run(tasks, on_result=fitted)
    if fitted.failures:
        first = ": ".join(fitted.failures[0])
        raise InputError(f"{len(fitted.failures)} panel model(s) failed to fit; first: {first}")
    return {key: result.value["seconds"] for key, result in fitted.results.items()}


def _protein_rows(
    item: _Prepared,
    keys: list[str],
    fits: dict[str, Any],
    seconds: dict[str, float],
    scoring: dict[str, Any],
    threads: int | None,
    log: Callable[[str], None],
) -> tuple[list[dict], str | None]:
    """Score and evaluate one protein with each of its rows' models (:func:`score_rows`): its
    table rows, and with a structure the line describing it."""
    protein, folder = item.protein, item.folder
    timings = {key: seconds[f"{protein.name}/{key}"] for key in keys}
    common = {"n_eff": item.alignment.n_eff, "length": item.alignment.length}
    records = {key: run_record(folder / key) for key in keys if key.startswith("vae_seed")}
    scored = score_rows(
        {key: folder / key for key in keys},
        _scored(keys),
        protein.scans,
        lambda key, scan: row_files(folder, key),
        scoring,
        {key: fits[f"{protein.name}/{key}"].fingerprint for key in keys},
        item.burial,
        threads,
    )
    members = dict(_scored(keys))
    rows: list[dict] = []
    described = None
    for result in scored:
        key, evaluation, structure = result["key"], result["evaluation"], result["structure"]
        record = records.get(key, {})
        model = _model_name(key) + ("" if structure is None else STRUCTURE_SUFFIX)
        if structure is not None:
            described = (
                f"{structure.burial.describe()}; burial by {structure.measure}; "
                f"{structure.n_uncovered} scored variants with no covered position keep their plain score"
            )
            log(f"{protein.name} {model}: rho {evaluation['spearman']:.4f}")
        elif record:
            log(
                f"{protein.name} vae seed {key[8:]}: trained in {timings[key]:.0f} s, "
                f"{record['active_dims']} active dims, rho {evaluation['spearman']:.4f}"
            )
        elif key in keys:
            log(f"{protein.name} {key}: rho {evaluation['spearman']:.4f}")
        uncovered = {} if structure is None else {"variants_without_covered_position": structure.n_uncovered}
        rows.append(
            {
                "protein": protein.name,
                "model": model,
                **evaluation,
                "train_s": sum(timings[member] for member in members[key]),
                "score_s": result["score_s"],
                "active_dims": record.get("active_dims"),
                "kl": record.get("kl"),
                **common,
                **uncovered,
            }
        )
    return rows, described


def run_panel(
    proteins: list[Family],
    out: str | Path,
    preset: str = "fitness",
    models: tuple[str, ...] | list[str] = ("site-independent", "potts", "vae"),
    ensemble: int = 1,
    samples: int = 200,
    potts_iterations: int = 30,
    overrides: dict | None = None,
    threads: int | None = None,
    log: Callable[[str], None] = print,
    jobs: int = 1,
    fast: bool = False,
    executor=None,
    one_scan: bool = False,
) -> pd.DataFrame:
    """Train -> score -> evaluate every protein of a panel; resumable.

    Each model is an executor task whose result (the fitting seconds) is stored in its folder:
    a finished model is kept on rerun, one fitted with other settings is refused before anything
    is written. An evaluation is reused only for the same models, scan and scoring settings.

    Parameters
    ----------
    proteins
        From :func:`load_panel`.
    out
        Output folder: ``<protein>/`` with the fitted models (``site-independent/``,
        ``potts/``, ``vae_seed<k>/``), their scores and evaluations, plus ``panel.csv``,
        ``panel.md`` and ``panel.png`` for the whole panel (rewritten after each protein).
    preset, overrides
        The VAE: a preset and ``{"model.x": value}`` overrides (also ``training.threads``).
    models
        Names of :data:`~seqvae.training.baselines.NAMED_BASELINES` and ``vae``.
    ensemble
        VAEs with seeds ``0 .. ensemble-1``; with more than one, an ensemble row averages them.
    samples
        z draws per variant when scoring VAEs.
    threads
        CPU threads for training and scoring (``None``: the preset's / torch's choice); with
        ``jobs > 1`` each fitting worker gets ``threads`` (default 1).
    jobs
        Models fitted at once (every protein's baselines and VAE seeds are tasks of one
        :mod:`seqvae.executor` local pool); scoring then runs in this process.
    fast
        Score VAEs with ``seqvae score --fast``'s settings (20 antithetic shared draws, the
        bfloat16 output layer) instead of ``samples`` plain draws.
    executor
        An :class:`~seqvae.executor.Executor` to fit with instead of a local pool of ``jobs``.
    one_scan
        One protein laid out as ``benchmark-dms`` on one scan: its models, scores and
        evaluations in ``out`` itself and its rows (every field of an evaluation) in
        ``out/benchmark.json``, instead of the panel's folders and tables.

    Returns
    -------
    pandas.DataFrame
        One row per protein and model (and its ``<model> + structure`` row where the protein
        has a structure), columns :data:`PANEL_COLUMNS`.
    """

    _check_settings(models, ensemble, jobs, threads)
    layout = (OneScanLayout if one_scan else PanelLayout)(Path(out))
    base = _base_config(preset, overrides, threads, jobs)
    keys = [kind for kind in NAMED_BASELINES if kind in models]
    if "vae" in models:
        keys += [f"vae_seed{seed}" for seed in range(ensemble)]
    inputs = {label: path for protein in proteins for label, path in protein.inputs().items()}
    files, folders = panel_outputs(proteins, layout, keys)
    check_output_paths(files, inputs, layout.out, folders)
    layout.check(proteins)
    # every alignment is read, every reference sequence checked against its row and every
    # fitted model recognised before anything is written
    prepared: list[_Prepared] = []
    tasks = []
    for protein in proteins:
        prepared.append(_prepare(protein, layout.folder(protein), base, log))
        tasks += _fit_tasks(prepared[-1], keys, potts_iterations, threads)

    with layout.opened(preset, proteins, keys):
        # 1. save each protein's weights; fit every missing model of every protein
        for item in prepared:
            save_weights(item.folder, item.alignment.sequence_weights)
        seconds = _fit_all(tasks, executor, jobs, threads, log)
        # 2. score and evaluate, protein by protein (the tables are rewritten after each)
        fits = {task.key: task for task in tasks}
        scoring = {"samples": FAST_SAMPLES if fast else samples, "fast": fast}
        rows: list[dict] = []
        structures: dict[str, str] = {}
        for item in prepared:
            protein_rows, described = _protein_rows(item, keys, fits, seconds, scoring, threads, log)
            rows += protein_rows
            if described is not None:
                structures[item.protein.name] = described
            layout.write(rows, proteins, preset, structures)
        return pd.DataFrame(rows, columns=list(PANEL_COLUMNS))


def _model_name(key: str) -> str:
    """A row's model as the tables name it, from its key (``vae_seed1`` -> ``vae (seed 1)``)."""
    if key == VAE_POTTS:
        return "vae (seed 0) + potts"
    if key.startswith("vae_ensemble"):
        return f"vae ensemble of {key[12:]}"
    return f"vae (seed {key[8:]})" if key.startswith("vae_seed") else key


SEED_MEAN = "vae seed mean"
# the summary's columns besides the model and one per protein
_SUMMARY_COLUMNS = ("panel mean", "seeds", "seed_sd", "seed_min", "seed_max")


def panel_summary(table: pd.DataFrame) -> pd.DataFrame:
    """ρ per model and protein, with the VAE seeds folded into their mean, and the panel mean.

    One row per model (in the table's order; every ``vae (seed k)`` row becomes one
    ``vae seed mean`` row), one column per protein, then ``panel mean`` (over the proteins the
    model was scored on), and for the seed mean ``seeds``, ``seed_sd`` (the mean over proteins
    of the standard deviation over seeds), ``seed_min`` and ``seed_max`` (the panel means of the
    worst and best seed per protein).

    Parameters
    ----------
    table
        The panel table (``protein``, ``model``, ``spearman``), as :func:`run_panel` returns it.
    """
    proteins = list(dict.fromkeys(table["protein"]))
    # "vae (seed k)" -> "vae seed mean", "vae (seed k) + structure" -> "vae seed mean + structure"
    folded = table.assign(
        model=table["model"].str.replace(r"^vae \(seed \d+\)(?=( \+ structure)?$)", SEED_MEAN, regex=True)
    )
    models = list(dict.fromkeys(folded["model"]))
    rows = []
    for model in models:
        part = folded[folded["model"] == model].groupby("protein", sort=False)["spearman"]
        means = part.mean()
        row: dict[str, Any] = {"model": model}
        row.update({protein: means.get(protein, math.nan) for protein in proteins})
        row["panel mean"] = float(means.mean())
        if model in (SEED_MEAN, SEED_MEAN + STRUCTURE_SUFFIX):
            row["seeds"] = int(part.count().min())
            row["seed_sd"] = float(part.std(ddof=1).mean()) if row["seeds"] > 1 else math.nan
            row["seed_min"] = float(part.min().mean())
            row["seed_max"] = float(part.max().mean())
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", *proteins, *_SUMMARY_COLUMNS])


def _summary_markdown(summary: pd.DataFrame) -> list[str]:
    proteins = [c for c in summary.columns if c != "model" and c not in _SUMMARY_COLUMNS]
    rows = []
    for row in summary.to_dict("records"):
        name = row["model"]
        if name in (SEED_MEAN, SEED_MEAN + STRUCTURE_SUFFIX):
            seeds = int(row["seeds"])
            name += f" ({seeds} seed{'s' if seeds > 1 else ''}"
            if seeds > 1:
                name += (
                    f"; sd {format_number(row['seed_sd'], '.3f')}, panel mean of the worst / best seed "
                    f"{format_number(row['seed_min'], '.3f')} / {format_number(row['seed_max'], '.3f')}"
                )
            name += ")"
        rows.append(
            [name, *(format_number(row[p], ".3f") for p in proteins), format_number(row["panel mean"], ".3f")]
        )
    frame = pd.DataFrame(rows, columns=["model", *proteins, "panel mean"])
    return [
        "",
        "Summary (ρ; the VAE seeds folded into their mean; compare settings on these):",
        "",
        markdown_table(frame, str),
    ]


def panel_markdown(
    table: pd.DataFrame,
    proteins: list[Family],
    preset: str,
    summary: pd.DataFrame | None = None,
    structures: dict[str, str] | None = None,
) -> str:
    """The panel table as Markdown: ρ with its 95 % bootstrap interval, counts, times, active
    dimensions, the summary (``summary``, or :func:`panel_summary` of ``table``), the structures
    behind the ``+ structure`` rows (``structures``: protein -> one line), and the published
    figures per protein."""
    shown = [
        [
            row["protein"],
            row["model"],
            format_number(row["spearman"], ".3f"),
            f"{format_number(row['ci_low'], '.3f')}–{format_number(row['ci_high'], '.3f')}",
            row["n_scored"],
            row["n_skipped"],
            format_number(row["train_s"], ".0f"),
            format_number(row["score_s"], ".1f"),
            "" if row["active_dims"] is None or pd.isna(row["active_dims"]) else int(row["active_dims"]),
            format_number(row["kl"], ".2f"),
        ]
        for row in table.to_dict("records")
    ]
    columns = ["protein", "model", "Spearman ρ", "95 % CI", "N scored", "N skipped", "train s", "score s"]
    frame = pd.DataFrame(shown, columns=[*columns, "active dims", "KL"], dtype=object)
    lines = [f"# DMS panel (VAE preset `{preset}`)", "", markdown_table(frame, str)]
    if len(table):
        lines += _summary_markdown(panel_summary(table) if summary is None else summary)
    if structures:
        lines += ["", f"Structure-aware rows (`+ structure`): {DEFAULT_STRUCTURE_RULE.describe()}", ""]
        lines += [f"- {name}: {text}" for name, text in structures.items()]
    lines += ["", "Published on the same assays:", ""]
    for protein in proteins:
        if protein.published:
            published = ", ".join(f"{name} {value:.3f}" for name, value in protein.published.items())
            lines.append(f"- {protein.name}: {published}")
    return "\n".join(lines) + "\n"


def run_dms_benchmark(
    alignment: str | Path,
    dms: str | Path,
    score_col: str,
    out: str | Path,
    sep: str | None = None,
    mutation_separator: str | None = None,
    reference_sequence: str | Path | None = None,
    mutant_column: str | None = None,
    structure: str | Path | None = None,
    chain: str | None = None,
    contact_map: str | Path | None = None,
    reference: str | None = None,
    **settings: Any,
) -> list[dict]:
    """Fit each model on ``alignment``, score ``dms`` and evaluate against ``score_col``; resumable.

    The models go to ``out/<model>/`` (``site-independent``, ``potts``, ``vae_seed<k>``), each
    scan's scores to ``out/scores_<model>.csv`` with its evaluation ``out/eval_<model>.json``, and
    the rows to ``out/benchmark.json``. ``sep``, ``mutation_separator``, ``mutant_column``
    (default ``mutant``) and ``reference_sequence`` (a FASTA of the full wild type) say how to
    read the scan (see :func:`~seqvae.analysis.scoring.score_file`); ``reference`` is the id of
    the alignment's wild-type row. With ``structure`` (and ``chain``) or ``contact_map`` each
    model also gets a ``<model> + structure`` row: its scores made structure-aware by
    :data:`~seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`. ``settings`` are those of
    :func:`run_panel` (``models``, ``ensemble``, ``preset``,
    ``samples``, ``potts_iterations``, ``overrides``, ``threads``, ``jobs``, ``fast``, ``log``,
    ``executor``), and the rows are the panel's: a finished model is kept on rerun.

    Returns
    -------
    list of dict
        The rows of ``benchmark.json``, one per model: ``model``, the evaluation's fields
        (``spearman``, ``ci_low``, ``ci_high``, ``n_scored``, ``n_skipped``, …), ``train_s``
        (wall time of fitting), ``score_s`` (of scoring), ``active_dims`` and ``kl`` (of a VAE),
        ``n_eff`` and ``length`` (of the alignment).
    """
    reading = {
        "score_column": score_col,
        "sep": sep,
        "mutant_column": mutant_column,
        "mutation_separator": mutation_separator,
        "reference_sequence": None if reference_sequence is None else str(reference_sequence),
    }
    scan = Scan(
        Path(dms).stem, Path(dms), {key: value for key, value in reading.items() if value is not None}
    )
    protein = Family(
        name=Path(alignment).stem,
        alignment=Path(alignment),
        scans=[scan],
        reference=reference,
        structure=None if structure is None else Path(structure),
        chain=chain,
        contact_map=None if contact_map is None else Path(contact_map),
    )
    run_panel([protein], out, one_scan=True, **settings)
    return read_json(Path(out) / BENCHMARK_FILE)
