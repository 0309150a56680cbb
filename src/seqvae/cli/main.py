"""The ``seqvae`` command. Every :class:`~seqvae.errors.InputError` becomes one line on stderr
and exit code 2; Ctrl-C during training saves the state and exits with code 130."""

from __future__ import annotations

import sys

import typer

from seqvae.cli import core, couplings
from seqvae.cli.common import console
from seqvae.errors import InputError
from seqvae.training.trainer import TrainingInterrupted

app = typer.Typer(
    name="seqvae",
    help="Variational autoencoders for protein families: train, look inside, design, score mutations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
core.register(app)
couplings.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (no ``sys.exit``; tests call this)."""
    try:
        app(args=argv, standalone_mode=False)
    except InputError as err:
        console.print(f"[bold red]error:[/] {err.one_line()}", highlight=False, soft_wrap=True)
        return 2
    except TrainingInterrupted as err:
        console.print(f"interrupted at step {err.step}; continue with: seqvae resume {err.run_dir}")
        return 130
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    except typer.Exit as err:
        return err.exit_code
    except Exception as err:  # click usage errors
        import click

        if isinstance(err, click.exceptions.ClickException):
            err.show()
            return err.exit_code
        if isinstance(err, click.exceptions.Abort):
            return 130
        raise
    return 0


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
