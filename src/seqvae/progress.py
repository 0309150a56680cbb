"""Progress of long computations: what the library reports, and how it is shown.

Library code reports to a :class:`Progress` — ``start(task, total)``, ``update(done, **metrics)``,
``finish()`` — and never draws. Whoever calls it picks the display:

- ``progress=None`` or ``True`` (the API's default, :func:`default_progress`): a bar in a Jupyter
  notebook (plain HTML, no widgets), else :class:`LogProgress` — periodic lines through the
  ``seqvae.progress`` logger, which stay silent unless the application configures ``logging``;
- ``progress=False``: nothing (:class:`Progress` itself reports nowhere);
- a :class:`Progress` object (the CLI's rich bar, :class:`LogProgress` with its own interval);
- a function ``f(task, done, total, metrics)``, called on every update.

The package logger ``seqvae`` has only a ``NullHandler``: an application routes or silences
seqvae's messages with ``logging`` as usual (``logging.getLogger("seqvae").setLevel(...)``).
"""

from __future__ import annotations

import contextlib
import html
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "CallbackProgress",
    "LogProgress",
    "NotebookProgress",
    "Progress",
    "ProgressLike",
    "as_progress",
    "default_progress",
    "format_duration",
    "format_metrics",
    "in_notebook",
    "progress_argument",
    "tracking",
]

logger = logging.getLogger(__name__)

# the longest a log file goes without a progress line while a task advances
LOG_INTERVAL_S = 30.0


class Progress:
    """What long computations report to; this base class shows nothing.

    One task at a time: ``start`` a task (its name, ``total`` units or ``None`` when unknown,
    ``done`` already, e.g. on resume), ``update`` it as it advances (``metrics``: the latest
    numbers worth showing, e.g. the loss terms), ``finish`` it. Use :func:`tracking` to make sure
    ``finish`` is called.
    """

    def start(self, task: str, total: int | None = None, done: int = 0, unit: str = "") -> None:
        """A new task begins."""

    def update(self, done: int, total: int | None = None, **metrics: float | str) -> None:
        """The task has ``done`` units (of ``total``, when it became known)."""

    def finish(self) -> None:
        """The task ended (completed, failed or interrupted)."""


ProgressLike = Progress | bool | Callable[[str, int, int | None, dict], Any] | None


class _Task:
    """The state every display keeps: name, counts, the latest metrics, when it started."""

    def __init__(self, name: str, total: int | None, done: int, unit: str, now: float):
        self.name, self.total, self.done, self.unit = name, total, done, unit
        self.first_done, self.started = done, now
        self.metrics: dict[str, float | str] = {}

    def advance(self, done: int, total: int | None, metrics: dict[str, float | str]) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self.metrics.update(metrics)

    def remaining_s(self, now: float) -> float | None:
        """Time left at the rate since the start (None: unknown total or no progress yet)."""
        advanced = self.done - self.first_done
        if self.total is None or advanced <= 0:
            return None
        return (now - self.started) * (self.total - self.done) / advanced

    def line(self, now: float, finished: bool = False) -> str:
        """``training: 1200/5000 steps (24%), 0:01:02 elapsed, 0:03:17 left; loss 123.4 ...``"""
        unit = f" {self.unit}" if self.unit else ""
        count = f"{self.done}{unit}" if self.total is None else f"{self.done}/{self.total}{unit}"
        if self.total:
            count += f" ({100 * self.done / self.total:.0f}%)"
        parts = [count, f"{format_duration(now - self.started)} elapsed"]
        left = self.remaining_s(now)
        if finished:
            parts[0] = "done, " + parts[0]
        elif left is not None:
            parts.append(f"{format_duration(left)} left")
        text = f"{self.name}: {', '.join(parts)}"
        metrics = format_metrics(self.metrics)
        return f"{text}; {metrics}" if metrics else text


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (``D days, H:MM:SS`` past a day), never shortened."""
    seconds = max(0, int(round(seconds)))
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{days} day{'s' if days != 1 else ''}, {text}" if days else text


def format_metrics(metrics: dict[str, float | str]) -> str:
    """``loss 123.4 kl 3.21``: four significant digits, strings as they are."""
    return " ".join(
        f"{name} {value:.4g}" if isinstance(value, float | int) else f"{name} {value}"
        for name, value in metrics.items()
    )


class LogProgress(Progress):
    """Plain lines through ``logging`` (INFO) for a log file or a pipeline: one every
    ``interval_s`` seconds while a task advances, and one when it ends; a task shorter than
    ``interval_s`` says nothing.

    Parameters
    ----------
    interval_s
        The most seconds between two lines while the task advances.
    log
        The logger (default ``seqvae.progress``).
    clock
        Seconds as a float (``time.monotonic``; tests pass a fake one).
    """

    def __init__(
        self,
        interval_s: float = LOG_INTERVAL_S,
        log: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.interval_s = interval_s
        self.log = log or logger
        self.clock = clock
        self._task: _Task | None = None
        self._last = 0.0
        self._spoke = False

    def start(self, task: str, total: int | None = None, done: int = 0, unit: str = "") -> None:
        now = self.clock()
        self._task = _Task(task, total, done, unit, now)
        self._last, self._spoke = now, False

    def update(self, done: int, total: int | None = None, **metrics: float | str) -> None:
        if self._task is None:
            return
        self._task.advance(done, total, metrics)
        now = self.clock()
        if now - self._last >= self.interval_s:
            self._last, self._spoke = now, True
            self.log.info(self._task.line(now))

    def finish(self) -> None:
        if self._task is not None and self._spoke:
            self.log.info(self._task.line(self.clock(), finished=True))
        self._task = None


class CallbackProgress(Progress):
    """Calls ``function(task, done, total, metrics)`` on every start and update (``metrics``:
    the latest value of each number reported so far)."""

    def __init__(self, function: Callable[[str, int, int | None, dict], Any]):
        self.function = function
        self._task: _Task | None = None

    def start(self, task: str, total: int | None = None, done: int = 0, unit: str = "") -> None:
        self._task = _Task(task, total, done, unit, 0.0)
        self.function(task, done, total, {})

    def update(self, done: int, total: int | None = None, **metrics: float | str) -> None:
        if self._task is not None:
            self._task.advance(done, total, metrics)
            self.function(self._task.name, done, self._task.total, dict(self._task.metrics))

    def finish(self) -> None:
        self._task = None


class NotebookProgress(Progress):
    """A bar in a Jupyter notebook: an HTML ``<progress>`` element updated in place (no
    ipywidgets), redrawn at most every ``interval_s`` seconds."""

    def __init__(self, interval_s: float = 0.5, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self.clock = clock
        self._task: _Task | None = None
        self._handle: Any = None
        self._last = 0.0

    def start(self, task: str, total: int | None = None, done: int = 0, unit: str = "") -> None:
        from IPython.display import display

        now = self.clock()
        self._task = _Task(task, total, done, unit, now)
        self._last = now
        self._handle = display(self._html(self._task, now), display_id=True)

    def update(self, done: int, total: int | None = None, **metrics: float | str) -> None:
        if self._task is None:
            return
        self._task.advance(done, total, metrics)
        now = self.clock()
        if now - self._last >= self.interval_s:
            self._last = now
            self._handle.update(self._html(self._task, now))

    def finish(self) -> None:
        if self._task is not None and self._handle is not None:
            self._handle.update(self._html(self._task, self.clock(), finished=True))
        self._task = self._handle = None

    def _html(self, task: _Task, now: float, finished: bool = False):
        from IPython.display import HTML

        value = "" if task.total is None else f' value="{task.done}" max="{max(task.total, 1)}"'
        text = html.escape(task.line(now, finished))
        return HTML(f'<div><progress style="width: 40ex"{value}></progress> <code>{text}</code></div>')


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel), not in a terminal IPython."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def default_progress() -> Progress:
    """A bar in a Jupyter notebook; elsewhere periodic lines through ``logging``."""
    return NotebookProgress() if in_notebook() else LogProgress()


def as_progress(progress: ProgressLike, name: str = "progress") -> Progress:
    """A ``progress=`` argument as a :class:`Progress` (see the module docstring)."""
    if isinstance(progress, Progress):
        return progress
    if progress is None or progress is True:
        return default_progress()
    if progress is False:
        return Progress()
    if callable(progress):
        return CallbackProgress(progress)
    raise TypeError(
        f"{name} must be a Progress, a function (task, done, total, metrics), True, False or None, "
        f"not {type(progress).__name__}"
    )


@contextlib.contextmanager
def tracking(
    progress: Progress, task: str, total: int | None = None, done: int = 0, unit: str = ""
) -> Iterator[Progress]:
    """``progress`` with ``task`` started, finished on leaving (also on an error)."""
    progress.start(task, total, done, unit)
    try:
        yield progress
    finally:
        progress.finish()


def progress_argument(progress: ProgressLike, show_progress: bool | None) -> Progress:
    """``progress=`` of an API function that used to take ``show_progress: bool``: the old
    keyword still works for one release (with a ``FutureWarning``)."""
    if show_progress is not None:
        warnings.warn(
            "show_progress is deprecated and will be removed in the next release; use progress= "
            "(True, False, a Progress or a function)",
            FutureWarning,
            stacklevel=3,
        )
        progress = show_progress
    return as_progress(progress)
