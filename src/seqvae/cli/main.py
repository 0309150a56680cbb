"""The ``seqvae`` command. Every :class:`~seqvae.errors.InputError` becomes one line on stderr
and exit code 2; Ctrl-C (SIGTERM) during training saves the state and exits with code 130 (143)."""

from __future__ import annotations

import errno
import functools
import importlib
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import typer
import typer.main
from rich.text import Text

from seqvae.cli.common import COMMON_ARGUMENT_FLAGS, arguments_as_flags, console, logging_to_console
from seqvae.errors import InputError, TrainingInterrupted

app = typer.Typer(
    name="seqvae",
    help="Variational autoencoders for protein families: train, look inside, design, score mutations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Each command group lives in its own module with a ``register(app)`` function.
COMMAND_MODULES = (
    "core",
    "simulate",
    "demo",
    "generate",
    "design",
    "evaluate_samples",
    "report",
    "latent",
    "score",
    "labels",
    "benchmark_dms",
    "baseline",
    "experiment",
    "sca",
    "couplings",
    "align",
    "batch",
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"seqvae.cli.{_name}").register(app)


@functools.cache
def command() -> Any:
    """``app`` as a click command (typer's own copy of click), built once: calling the Typer
    app itself rebuilds every command from its signature (about 0.1 s) on each call."""
    return typer.main.get_command(app)


def _error_line(message: str) -> None:
    """One line on stderr, never wrapped, with no markup interpretation of the message."""
    console.print(Text.assemble(("error: ", "bold red"), message.replace("\n", " ")), soft_wrap=True)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (no source file and line of the library)."""
    console.print(Text.assemble(("warning: ", "yellow"), str(message).replace("\n", " ")), soft_wrap=True)


def _os_error_line(err: OSError) -> str:
    """An OS error as one line naming the path; a file where a folder is needed says so."""
    filename = err.filename
    if filename is not None and err.errno in (errno.EEXIST, errno.ENOTDIR):
        for parent in Path(str(filename)).absolute().parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"{filename}: cannot create it: {parent} is a file, not a folder"
                break
    where = f"{filename}: " if filename else ""
    return f"{where}{err.strerror or err}"


class Terminated(BaseException):
    """SIGTERM outside training: unwinds like an exception, so no temporary is left behind."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (no ``sys.exit``; tests call this)."""
    try:  # the trainer puts its own handler in place while it trains (it saves the state)
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: signals are not ours to handle
        previous = None
    try:
        with warnings.catch_warnings(), logging_to_console():
            warnings.showwarning = _warning_line
            # a library's notice to developers (pandas' FutureWarning) is not the user's to act on
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    from typer.exceptions import TyperException

    try:
        with arguments_as_flags(COMMON_ARGUMENT_FLAGS):
            result = command().main(args=argv, standalone_mode=False)
    except InputError as err:
        _error_line(err.one_line())
        return 2
    except TrainingInterrupted as err:
        if err.saved_step == err.step:
            where = f"state saved at step {err.step}"
        else:
            where = f"the last checkpoint is step {err.saved_step}"
        how = "by SIGTERM " if err.signum == signal.SIGTERM else ""
        then = err.continue_with or f"seqvae resume {err.run_dir}"
        console.print(f"interrupted {how}at step {err.step}; {where}. Continue with: {then}", markup=False)
        return 128 + err.signum  # 130 after Ctrl-C, 143 after SIGTERM, as the shell reports them
    except (KeyboardInterrupt, typer.Abort):
        console.print("interrupted")
        return 130
    except Terminated:
        console.print("interrupted by SIGTERM")
        return 128 + signal.SIGTERM
    except typer.Exit as err:
        return err.exit_code
    except TyperException as err:  # usage errors: show the usage line and the error
        show = getattr(err, "show", None)
        if show is not None:
            show()
        else:
            _error_line(err.format_message())
        return err.exit_code
    except OSError as err:  # e.g. an output folder that cannot be written
        _error_line(_os_error_line(err))
        return 2
    if isinstance(result, int) and not isinstance(result, bool):
        # typer turns a KeyboardInterrupt outside training into exit code 130
        if result == 130:
            console.print("interrupted")
        return result
    return 0


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
