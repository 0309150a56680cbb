"""Shared CLI pieces: the console, the option groups several commands take, option parsing
helpers, error handling."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich import progress as rich_progress
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from seqvae.errors import ConfigError, InputError, TrainingInterrupted
from seqvae.io.config_files import parse_yaml
from seqvae.progress import LogProgress, Progress, format_metrics
from seqvae.utils import MAX_THREADS

if TYPE_CHECKING:
    from seqvae.options import Options

T = TypeVar("T", bound="Options")

# messages on stderr are never wrapped (paths stay whole, errors stay on one line)
console = Console(stderr=True, soft_wrap=True, highlight=False)
stdout = Console()

DEVICE_HELP = "cpu, cuda, mps or auto (default: cpu; same numbers as on the CPU to float32 rounding)."

# -- option groups: declared once, used by every command that takes them --------------------------
# reading an alignment
AlignmentArg = Annotated[
    Path, typer.Argument(help="Alignment: FASTA, A2M, A3M or Stockholm (optionally .gz).")
]
ReferenceOpt = Annotated[
    str | None, typer.Option("--reference", help="Reference sequence id (default: first).")
]
ThetaOpt = Annotated[
    float | None,
    typer.Option("--theta", help="Identity threshold for sequence weights (default 0.2)."),
]
# structures
PdbOpt = Annotated[
    Path | None,
    typer.Option("--pdb", help="Structure (PDB/mmCIF) whose residue labels number the positions."),
]
ChainOpt = Annotated[
    str | None, typer.Option("--chain", help="Chain of the structure (when not given: the first chain).")
]
StructureOpt = Annotated[
    Path | None,
    typer.Option(
        "--structure",
        help="Structure of the reference (PDB or mmCIF, plain or .gz; a predicted model's pLDDT is "
        "read from its B-factors): adds structure-aware scores (score_structure) and burial.",
    ),
]
ContactMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--contact-map",
        help="Instead of --structure: a contact map numbered by the alignment's columns "
        "(lines 'i j score distance', 1-based; e.g. PF00595_struct.dat), or predicted contacts "
        "(.npz: a Potts baseline's couplings_apc.npz, its L strongest pairs); burial = contact number.",
    ),
]
# where the work runs
DeviceOpt = Annotated[str | None, typer.Option("--device", help=DEVICE_HELP)]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="CPU threads (default: torch's, every core; training: the config's). On a machine busy "
        "with other jobs 1 is often several times faster: threads that wait for a busy core stall each batch.",
    ),
]
WorkerThreadsOpt = Annotated[
    int, typer.Option("--threads", help="torch threads per worker (1 is fastest on shared cores).")
]
# randomness
SeedOpt = Annotated[
    int, typer.Option("--seed", help="The one seed: every random draw of the command follows from it.")
]
ZSamplesOpt = Annotated[
    int | None,
    typer.Option(
        "--samples", help="Draws of z per sequence when scoring a VAE (default 200; score --fast: 20)."
    ),
]
# outputs
OutDirOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        help="Replace an existing output directory that seqvae wrote (never a folder holding anything else)."
    ),
]
FiguresOpt = Annotated[bool, typer.Option(help="Write the PNG figures.")]
# mutation tables (score, benchmark-dms)
ScoreColOpt = Annotated[
    str | None, typer.Option("--score-col", help="Measured column: report Spearman rho against it.")
]
MutantColOpt = Annotated[
    str | None, typer.Option("--mutant-col", help="Column with mutant strings (default: mutant).")
]
SepOpt = Annotated[
    str | None,
    typer.Option("--sep", help="Field separator of the table (default: detected: , ; or tab)."),
]
MutationSeparatorOpt = Annotated[
    str | None,
    typer.Option("--mutation-separator", help="Between substitutions: ':' or '/' (default: either)."),
]
ReferenceSequenceOpt = Annotated[
    Path | None,
    typer.Option(
        "--reference-sequence",
        help="FASTA of the full wild type (id NAME/start-end numbers it): aligned to the reference "
        "row, so mutants are numbered by it (for trimmed rows, e.g. Pfam).",
    ),
]


def check_threads(threads: int | None) -> int | None:
    """A ``--threads`` value: ``None`` or >= 1, else a one-line error."""
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise InputError(f"--threads must be in [1, {MAX_THREADS}], got {threads}", "--threads")
    return threads


ProgressOpt = Annotated[
    bool,
    typer.Option(
        help="Show progress: a bar on a terminal, a line every 30 s when stderr is a file or a pipe."
    ),
]


# -- progress and messages ------------------------------------------------------------------------
# the longest a redirected stderr (a log file, nohup, Slurm) goes without a progress line
PROGRESS_INTERVAL_S = 30.0


class BarProgress(Progress):
    """A rich bar on stderr for one task at a time: name, bar, count, elapsed, left, metrics.

    The counts and times never shrink (an 80-column terminal keeps ``0:01:23`` whole); the
    metrics take what is left and are cut with an ellipsis.
    """

    def __init__(self, target: Console | None = None):
        self.console = target or console
        self._bar: rich_progress.Progress | None = None
        self._task: Any = None
        self._unit = ""

    @staticmethod
    def columns() -> tuple:
        def fixed(**kwargs: Any) -> Column:
            return Column(no_wrap=True, **kwargs)

        return (
            rich_progress.TextColumn("[bold]{task.description}", table_column=fixed()),
            rich_progress.BarColumn(bar_width=16, table_column=fixed()),
            rich_progress.TextColumn("{task.fields[count]}", table_column=fixed()),
            rich_progress.TimeElapsedColumn(table_column=fixed(min_width=7)),
            rich_progress.TimeRemainingColumn(table_column=fixed(min_width=7)),
            rich_progress.TextColumn(
                "{task.fields[metrics]}",
                markup=False,
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1, min_width=0),
            ),
        )

    def start(self, task: str, total: int | None = None, done: int = 0, unit: str = "") -> None:
        self.finish()
        self._unit = f" {unit}" if unit else ""
        self._bar = rich_progress.Progress(*self.columns(), console=self.console, expand=True)
        self._task = self._bar.add_task(task, total=total, completed=done, count="", metrics="")
        self.update(done, total)
        self._bar.start()  # drawn from here on, by rich's thread: the task is complete

    def update(self, done: int, total: int | None = None, **metrics: float | str) -> None:
        if self._bar is None:
            return
        known = self._bar.tasks[0].total if total is None else total
        count = f"{done}{self._unit}" if known is None else f"{done}/{known}{self._unit}"
        fields: dict[str, Any] = {"count": count}
        if metrics:
            fields["metrics"] = format_metrics(metrics)
        self._bar.update(self._task, completed=done, total=known, **fields)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = None


def progress_display(enabled: bool = True) -> Progress:
    """Where a command's long computations report: a bar when stderr is a terminal, else a plain
    line every :data:`PROGRESS_INTERVAL_S` seconds (through ``logging``, see :func:`logging_to_console`);
    nothing when not ``enabled`` (``--no-progress``)."""
    if not enabled:
        return Progress()
    if console.is_terminal:
        return BarProgress()
    return LogProgress(PROGRESS_INTERVAL_S)


class _ConsoleHandler(logging.Handler):
    """seqvae's log records as lines on the console (printed above a live bar, never wrapped)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console.print(Text(self.format(record)))
        except Exception:  # a logging handler never raises into the code that logged
            self.handleError(record)


@contextlib.contextmanager
def logging_to_console(level: int = logging.INFO):
    """The ``seqvae`` logger's INFO (and above) messages on stderr while a command runs."""
    package = logging.getLogger("seqvae")
    handler = _ConsoleHandler(level)
    previous = package.level
    package.addHandler(handler)
    package.setLevel(level)
    try:
        yield handler
    finally:
        package.removeHandler(handler)
        package.setLevel(previous)


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
            overrides[key.strip()] = parse_yaml(raw)
        except InputError:
            raise ConfigError(f"--set {key}: cannot parse value {raw[:80]!r}") from None
    return overrides


def flag_of(field: str, flags: Mapping[str, str | None] | None = None) -> str | None:
    """The command-line flag of a library field: ``scoring.decoder_precision`` → ``--decoder-precision``
    (``flags`` maps the exceptions, by field name without its section: ``{"n": "-n"}``; ``None``:
    the field has no flag)."""
    name = field.split(".", 1)[-1]
    flags = flags or {}
    return flags[name] if name in flags else "--" + name.replace("_", "-")


def options_from_arguments(
    cls: type[T], arguments: dict[str, Any], flags: Mapping[str, str | None] | None = None
) -> T:
    """The options a command's parameters set: each field from the parameter its flag is spelt
    after (``n_pcs`` → ``--pcs`` → parameter ``pcs``; ``flags`` as in :func:`flag_of`); a field
    without a flag keeps its default. Not validated.

    Raises
    ------
    KeyError
        A field has a flag but the command no parameter of that name (a bug, not bad input).
    """
    values = {}
    for name in cls.field_names():
        flag = flag_of(name, flags)
        if flag is not None:
            values[name] = arguments[flag.lstrip("-").replace("-", "_")]
    return cls(**values)


@contextlib.contextmanager
def fields_as_flags(section: str, flags: Mapping[str, str | None] | None = None):
    """Report a :class:`ConfigError` on a field of ``section`` against its command-line flag.

    Library errors name fields (``scoring.samples: must be …``); inside this block one that
    names a field of ``section`` and no source is re-raised with the flag as its source
    (``--samples: scoring.samples: must be …``). An error about several fields names them in
    its text (``generation.argmax and generation.temperature exclude each other``): past a
    leading ``field:``, the fields of ``section`` in the text become their flags too
    (``--temperature: --argmax and --temperature exclude each other``). One that has a source
    already (a file: ``designs.csv: generation.out is the FASTA file; …``) keeps it, and only the
    fields in its text become flags (``designs.csv: --out is the FASTA file; …``).
    """

    def as_flags(text: str) -> str:
        return re.sub(
            rf"\b{re.escape(section)}\.\w+", lambda match: flag_of(match[0], flags) or match[0], text
        )

    try:
        yield
    except ConfigError as err:
        if err.field is not None and err.field.startswith(f"{section}."):
            if err.source is not None:
                raise ConfigError(as_flags(err.message), err.source, err.line, field=err.field) from None
            flag = flag_of(err.field, flags)
            if flag is not None:
                head = f"{err.field}: " if err.message.startswith(f"{err.field}: ") else ""
                raise ConfigError(head + as_flags(err.message[len(head) :]), flag, field=err.field) from None
        raise


# library arguments every command spells with the same flag, as library messages name them
COMMON_ARGUMENT_FLAGS = {"overwrite=True": "--overwrite"}


@contextlib.contextmanager
def rerun_continues(command: str):
    """Inside this block, an interrupted training says to run ``command`` again (a workflow
    of many runs keeps its finished tasks and resumes the interrupted one), not ``seqvae
    resume`` of that one run."""
    try:
        yield
    except TrainingInterrupted as err:
        err.continue_with = f"the same {command} command (finished work is kept; this training resumes)"
        raise


@contextlib.contextmanager
def arguments_as_flags(flags: dict[str, str]):
    """Report an :class:`InputError` that names a library argument with its command-line flag.

    Library messages name the arguments of the call (``number the mutants by the full wild type
    (wild_type)``, or an error whose source is the argument); inside this block each argument in
    ``flags`` becomes its flag in the message and the source (``{"wild_type":
    "--reference-sequence"}``). :class:`ConfigError`s are left to :func:`fields_as_flags`.
    """
    # A name that is also an English word (out, device, models) is replaced only where the library
    # names an argument: "models: ...", "(out)", "jobs=..."; so quoted text such as "CUDA out of
    # memory" keeps its words. Names like potts_iterations or overwrite=True cannot be prose.
    plain = [re.escape(name) for name in flags if name.isalpha()]
    marked = [re.escape(name) for name in flags if not name.isalpha()]
    alternatives = []
    if plain:
        words = "|".join(plain)
        alternatives.append(rf"^(?:{words})(?=:)|(?<=\()(?:{words})(?=\))|\b(?:{words})(?==)")
    if marked:
        alternatives.append(r"\b(?:" + "|".join(marked) + r")\b")
    pattern = re.compile("|".join(alternatives))
    try:
        yield
    except ConfigError:
        raise
    except InputError as err:
        text = pattern.sub(lambda match: flags[match[0]], err.message)
        source = flags.get(err.source, err.source) if err.source is not None else None
        if text == err.message and source == err.source:
            raise
        raise InputError(text, source, err.line) from None


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_pairs(
    title: str, rows: Iterable[tuple[str, str]], header: tuple[str, str] | None = None, justify: Any = "left"
) -> None:
    """A table of (label, value) rows on stdout, the labels bold; ``header``: column names shown."""
    table = Table(title=title, show_header=header is not None)
    table.add_column(header[0] if header else "label", style="bold")
    table.add_column(header[1] if header else "value", justify=justify)
    for label, value in rows:
        table.add_row(label, value)
    stdout.print(table)


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


def read_alignment_with_labels(alignment: Path, reference: str | None, pdb: Path | None, chain: str | None):
    """An alignment (non-standard residues dropped) and, with ``pdb``, the structure label of each
    column through the reference; prints how well the reference maps onto the structure."""
    from seqvae.analysis.sca import structure_labels_for_columns
    from seqvae.data.alignment import read_alignment
    from seqvae.io.structure_files import read_structure

    aln = read_alignment(alignment, reference=reference, nonstandard="drop")
    labels = None
    if pdb is not None:
        structure = read_structure(pdb, chain)
        labels, identity = structure_labels_for_columns(aln, structure)
        console.print(
            f"reference {aln.registry.reference_id} mapped onto {pdb.name} chain {structure.chain}: "
            f"{int((labels != '').sum())} columns labelled, residue identity {identity:.2f}"
        )
        if identity < 0.5:
            console.print("[yellow]warning:[/] low identity: is this the reference's structure?")
    return aln, labels
