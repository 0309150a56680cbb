"""Errors that mean "the input is wrong", as opposed to bugs.

The CLI turns every :class:`InputError` into one line on stderr and exit code 2, with no
traceback. Library users catch it like any other exception; it is a :class:`ValueError` (a bad
value given to a function), so ``except ValueError`` catches it too.
"""

from __future__ import annotations

import signal
from pathlib import Path


class InputError(ValueError):
    """Bad user input: a file, a field, a parameter.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    source
        The file (or option) the problem was found in.
    line
        1-based line number within ``source``, when known.
    """

    def __init__(self, message: str, source: str | Path | None = None, line: int | None = None):
        self.message = message
        self.source = None if source is None else str(source)
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source if self.line is None else f"{self.source}:{self.line}"
            where += ": "
        return (where + self.message).replace("\n", " ")


class Interrupted(Exception):
    """The user stopped the work (Ctrl-C, SIGTERM). A workflow of many tasks stops with it: it is
    never recorded as one task's failure and followed by the next task."""


class TrainingInterrupted(Interrupted):
    """Raised after Ctrl-C or SIGTERM. ``saved_step`` is the step of the checkpoint to resume
    from; ``signum`` the signal that stopped training (``signal.SIGINT`` or ``signal.SIGTERM``);
    ``continue_with`` what to run to go on, when it is not ``seqvae resume`` of the run (a
    workflow of many runs: the same command again)."""

    continue_with: str | None = None

    def __init__(self, step: int, run_dir: Path, saved_step: int | None = None, signum: int = signal.SIGINT):
        self.step = step
        self.run_dir = run_dir
        self.saved_step = step if saved_step is None else saved_step
        self.signum = int(signum)
        super().__init__(f"interrupted at step {step}; state of step {self.saved_step} saved in {run_dir}")


class ConfigError(InputError):
    """An invalid configuration value or key.

    Parameters
    ----------
    field
        The dotted config key at fault (``model.beta``), so that callers can point at the
        file line or command-line option it came from.
    """

    def __init__(
        self,
        message: str,
        source: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        self.field = field
        super().__init__(message, source, line)
