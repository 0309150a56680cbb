"""Library errors name fields and arguments, never command-line flags (the CLI maps fields to its
flags: ``cli/common.fields_as_flags``); and they are ``ValueError``s.

The scan reads every module of ``src/seqvae`` outside ``cli/`` and collects the string literals
(f-string parts included) of each ``raise`` statement and of each call to an ``...Error`` or
``...Exception`` class; a ``--flag`` in one of them is a library message that names a flag.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from seqvae.errors import ConfigError, InputError

SOURCE = Path(__file__).resolve().parents[1] / "src" / "seqvae"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")

# (module, flag) -> why the message names that flag; at most 5
ALLOWED = {
    ("executor.py", "--head"): "`ray start --head` is Ray's command that starts a cluster, not a seqvae flag",
}


def _message_nodes(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            yield node.exc
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            if name.endswith(("Error", "Exception")):
                yield node


def flags_in_library_errors() -> dict[tuple[str, str], list[int]]:
    """(module, flag) -> the lines of the error messages that name it."""
    found: dict[tuple[str, str], set[int]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        module = path.relative_to(SOURCE).as_posix()
        if module.startswith("cli/"):
            continue
        for node in _message_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            for text in ast.walk(node):
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    for flag in FLAG.findall(text.value):
                        found.setdefault((module, flag), set()).add(node.lineno)
    return {key: sorted(lines) for key, lines in found.items()}


def test_the_scan_finds_a_flag_in_an_error_message(tmp_path, monkeypatch):
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "x.py").write_text('raise InputError("use --out")\n')
    (tmp_path / "m.py").write_text(
        'def f(k):\n    if k:\n        raise InputError(f"bad {k}; try --k-max", "--k")\n'
        '    return ValueError("a --plain one")\n'
        'print("--not-an-error")\n'
    )
    monkeypatch.setattr(__import__(__name__), "SOURCE", tmp_path)
    assert flags_in_library_errors() == {
        ("m.py", "--k-max"): [3],
        ("m.py", "--k"): [3],
        ("m.py", "--plain"): [4],
    }


def test_library_errors_name_fields_not_flags():
    found = flags_in_library_errors()
    assert len(ALLOWED) <= 5
    unexpected = {key: lines for key, lines in found.items() if key not in ALLOWED}
    assert not unexpected, (
        "library error messages that name a CLI flag (name the field instead): "
        + ", ".join(f"{module}:{lines[0]} {flag}" for (module, flag), lines in sorted(unexpected.items()))
    )
    # a fixed message leaves the lists: keep them to what is still there
    assert not set(ALLOWED) - set(found), "listed but no longer found"


@pytest.mark.parametrize(
    "error", [InputError("bad", "file.csv", 3), ConfigError("model.beta: bad", field="model.beta")]
)
def test_input_errors_are_value_errors(error):
    with pytest.raises(ValueError, match="bad"):
        raise error


def test_the_cli_shows_the_flag_of_an_argument_a_library_message_names():
    from seqvae.cli.common import arguments_as_flags

    flags = {"wild_type": "--reference-sequence", "bitscore": "--bitscore"}
    with pytest.raises(InputError) as caught, arguments_as_flags(flags):
        raise InputError("trimmed: number the mutants by the full wild type (wild_type)", "scan.csv", 4)
    assert (
        caught.value.one_line()
        == "scan.csv:4: trimmed: number the mutants by the full wild type (--reference-sequence)"
    )
    with (
        pytest.raises(InputError, match=r"^no hit; try a lower threshold \(--bitscore\), not bitscores$"),
        arguments_as_flags(flags),
    ):
        raise InputError("no hit; try a lower threshold (bitscore), not bitscores")
    # an argument that is also a word is a flag only where it names the argument ("out:", "(out)",
    # "out="): another error's text quoted in a message keeps its words
    words = {"out": "--out", "models": "--models"}
    with pytest.raises(InputError) as quoted, arguments_as_flags(words):
        raise InputError("models: 2 failed; first: CUDA out of memory (use a new output folder (out))")
    assert (
        quoted.value.message
        == "--models: 2 failed; first: CUDA out of memory (use a new output folder (--out))"
    )
    with pytest.raises(ConfigError) as config, arguments_as_flags(flags):  # fields_as_flags' job
        raise ConfigError("scoring.samples: wild_type", field="scoring.samples")
    assert config.value.message == "scoring.samples: wild_type"


def test_every_command_names_overwrite_as_its_flag(tmp_path):
    """``cli/main`` maps ``overwrite=True`` for every command (``tests/io/test_output_dirs.py`` runs one)."""
    from seqvae.cli.common import COMMON_ARGUMENT_FLAGS, arguments_as_flags
    from seqvae.io.output_dirs import check_output_directory
    from seqvae.training.run_directory import RUN_DIRECTORY

    out = tmp_path / "full"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    with pytest.raises(InputError) as library:
        check_output_directory(out, RUN_DIRECTORY, overwrite=False)
    assert "overwrite=True" in library.value.message
    with pytest.raises(InputError) as cli, arguments_as_flags(COMMON_ARGUMENT_FLAGS):
        check_output_directory(out, RUN_DIRECTORY, overwrite=False)
    assert "--overwrite" in cli.value.message and "overwrite=True" not in cli.value.message
    assert (out / "mine.txt").read_text() == "kept"


@pytest.mark.parametrize(("flag", "field"), [("--jobs", "jobs"), ("--threads", "threads_per_job")])
def test_a_command_names_the_flag_of_a_bad_argument(tmp_path, capsys, flag, field):
    from seqvae.cli.main import main

    out = tmp_path / "experiment"
    assert main(["experiment", "simpson", flag, "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {flag}: must be an integer >= 1 (got 0)", err
    assert field not in err.replace(flag, "")  # the library's name for it
    assert not out.exists()


def test_scoring_names_its_arguments_and_the_score_command_shows_their_flags(tmp_path):
    from seqvae.analysis.scoring import score_file
    from seqvae.cli.common import arguments_as_flags
    from seqvae.cli.score import ARGUMENT_FLAGS

    with pytest.raises(InputError, match=r"^output_format must be one of .*, got 'xlsx'$") as library:
        score_file(None, tmp_path / "scan.csv", tmp_path / "out.csv", output_format="xlsx")
    assert library.value.source is None
    with pytest.raises(InputError) as cli, arguments_as_flags(ARGUMENT_FLAGS):
        score_file(None, tmp_path / "scan.csv", tmp_path / "out.csv", output_format="xlsx")
    assert cli.value.message.startswith("--format must be one of")
    with pytest.raises(InputError) as cli, arguments_as_flags(ARGUMENT_FLAGS):
        raise InputError("score_column 'fit': the measured values are all 1", "scan.csv")
    assert cli.value.one_line() == "scan.csv: --score-col 'fit': the measured values are all 1"
