"""Progress and logging: the library reports to a progress protocol and to ``logging``; the CLI
shows a bar on a terminal and periodic lines in a log file; a notebook gets an HTML bar."""

from __future__ import annotations

import ast
import io
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import seqvae
from builders import TINY, write_family
from seqvae.cli import common
from seqvae.cli.main import main
from seqvae.progress import (
    LogProgress,
    NotebookProgress,
    Progress,
    as_progress,
    format_duration,
    tracking,
)
from seqvae.training.baselines import PottsSettings, fit_potts

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "seqvae"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder(Progress):
    """Everything a computation reported, in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, task, total=None, done=0, unit=""):
        self.events.append(("start", task, total, done, unit))

    def update(self, done, total=None, **metrics):
        self.events.append(("update", done, total, metrics))

    def finish(self):
        self.events.append(("finish",))


def tiny_config(steps: int = 12) -> seqvae.RunConfig:
    return seqvae.RunConfig().updated(
        {
            "model.encoder_hidden": [16],
            "model.decoder_hidden": [16],
            "training.max_steps": steps,
            "training.batch_size": 16,
            "training.log_every": 3,
            "training.eval_every": 6,
            "training.threads": 1,
        }
    )


@pytest.fixture(scope="module")
def family(tmp_path_factory) -> Path:
    return write_family(tmp_path_factory.mktemp("progress") / "family.fasta")


# -- the plain-line reporter -------------------------------------------------------------------------
def test_log_lines_come_every_interval_and_at_the_end(caplog):
    clock = FakeClock()
    reporter = LogProgress(interval_s=30, clock=clock)
    caplog.set_level(logging.INFO, logger="seqvae")
    with tracking(reporter, "training", total=100, unit="steps") as shown:
        for step in range(1, 101):
            clock.now += 1.0  # one step a second: lines at 30, 60 and 90 s
            shown.update(step, loss=123.456 + step)
    records = [r for r in caplog.records if r.name == "seqvae.progress"]
    assert [r.levelno for r in records] == [logging.INFO] * 4
    lines = [r.getMessage() for r in records]
    assert lines[0] == "training: 30/100 steps (30%), 0:00:30 elapsed, 0:01:10 left; loss 153.5"
    assert lines[1].startswith("training: 60/100 steps (60%), 0:01:00 elapsed, 0:00:40 left")
    assert lines[2].startswith("training: 90/100 steps (90%), 0:01:30 elapsed, 0:00:10 left")
    assert lines[3] == "training: done, 100/100 steps (100%), 0:01:40 elapsed; loss 223.5"


def test_a_short_task_stays_quiet_and_a_slow_step_speaks_at_once(caplog):
    clock = FakeClock()
    reporter = LogProgress(interval_s=30, clock=clock)
    caplog.set_level(logging.INFO, logger="seqvae")
    with tracking(reporter, "scoring", unit="rows") as shown:
        clock.now += 29.0
        shown.update(50)
    assert caplog.records == []  # under 30 s: no line at all, not even the final one
    with tracking(reporter, "Potts fit", unit="evaluations") as shown:
        clock.now += 95.0  # one evaluation of 95 s: one line when it reports, none owed
        shown.update(1, objective=2.5)
        clock.now += 1.0
        shown.update(2, objective=2.25)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Potts fit: 1 evaluations, 0:01:35 elapsed; objective 2.5",
        "Potts fit: done, 2 evaluations, 0:01:36 elapsed; objective 2.25",
    ]


def test_durations_are_never_shortened():
    assert format_duration(0) == "0:00:00"
    assert format_duration(3723.4) == "1:02:03"
    assert format_duration(2 * 86_400 + 61) == "2 days, 0:01:01"
    with pytest.raises(ValueError, match="interval_s"):
        LogProgress(interval_s=0)


# -- what library code reports ------------------------------------------------------------------------
def test_training_reports_steps_and_loss_terms(family, tmp_path):
    calls = []
    seqvae.train(
        family,
        tiny_config(),
        out=tmp_path / "run",
        progress=lambda task, done, total, metrics: calls.append((task, done, total, metrics)),
    )
    assert {c[0] for c in calls} == {"training"}
    assert [c[1] for c in calls] == list(range(13))  # the start, then every step
    assert {c[2] for c in calls} == {12}
    assert set(calls[-1][3]) == {"loss", "rec", "kl", "val"}
    assert calls[-1][3]["loss"] > 0 and calls[-1][3]["val"] < 0


def test_resume_reports_from_the_checkpoint_step(family, tmp_path):
    config = tiny_config(6)
    seqvae.train(family, config, out=tmp_path / "run", progress=False)
    summary = (tmp_path / "run" / "config.json").read_text().replace('"max_steps": 6', '"max_steps": 9')
    (tmp_path / "run" / "config.json").write_text(summary)
    recorder = Recorder()
    seqvae.resume(tmp_path / "run", progress=recorder)
    assert recorder.events[0] == ("start", "training", 9, 6, "steps")
    assert recorder.events[-1] == ("finish",)
    assert [e[1] for e in recorder.events if e[0] == "update"] == [7, 8, 9]


def test_the_potts_fit_reports_each_evaluation():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(40, 6)).astype(np.uint8)
    recorder = Recorder()
    _, report = fit_potts(codes, np.ones(40), 5, PottsSettings(max_iterations=5), progress=recorder)
    assert recorder.events[0] == ("start", "Potts fit", None, 0, "evaluations")
    updates = [e for e in recorder.events if e[0] == "update" and e[3]]
    assert [e[1] for e in updates] == list(range(1, report["function_evaluations"] + 1))
    # inside an evaluation (one block of rows each here) the count of those finished
    ticks = [e[1] for e in recorder.events if e[0] == "update" and not e[3]]
    assert ticks == list(range(report["function_evaluations"]))
    assert all(np.isfinite(e[3]["objective"]) for e in updates)
    assert updates[-1][3]["objective"] < updates[0][3]["objective"]  # it descends
    assert recorder.events[-1] == ("finish",)


def test_progress_arguments(family, tmp_path):
    assert type(as_progress(False)) is Progress
    assert isinstance(as_progress(None), LogProgress)  # outside a notebook
    assert isinstance(as_progress(True), LogProgress)
    with pytest.raises(TypeError, match="progress must be a Progress"):
        as_progress("yes")
    with pytest.warns(FutureWarning, match="show_progress is deprecated"):
        run = seqvae.train(family, tiny_config(3), out=tmp_path / "old", show_progress=False)
    assert run.summary["status"] == "finished"


# -- logging --------------------------------------------------------------------------------------
def test_the_library_logs_and_a_caller_can_silence_it(family, tmp_path, caplog):
    package = logging.getLogger("seqvae")
    assert [type(h) for h in package.handlers] == [logging.NullHandler]
    caplog.set_level(logging.INFO, logger="seqvae")
    seqvae.train(family, tiny_config(), out=tmp_path / "a", progress=LogProgress(interval_s=1e-9))
    names = {r.name for r in caplog.records}
    assert names == {"seqvae.run.fitting", "seqvae.progress"}
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("training: N=")
    assert any(m.startswith("training: 12/12 steps") for m in messages)
    assert any(m.startswith("finished: 12 steps") for m in messages)
    assert all(m in (tmp_path / "a" / "train.log").read_text() for m in messages if "N=" in m)
    caplog.clear()
    package.setLevel(logging.WARNING)  # what a pipeline does to silence seqvae
    try:
        seqvae.train(family, tiny_config(), out=tmp_path / "b", progress=LogProgress(interval_s=1e-9))
    finally:
        package.setLevel(logging.INFO)
    assert caplog.records == []


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def test_no_print_and_no_handlers_in_the_library():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{relative}:{c.lineno} print()" for c in _calls(tree, "print")]
        found += [f"{relative}:{c.lineno} basicConfig()" for c in _calls(tree, "basicConfig")]
        if relative != Path("__init__.py"):  # the package logger's NullHandler
            found += [f"{relative}:{c.lineno} addHandler()" for c in _calls(tree, "addHandler")]
        for call in _calls(tree, "getLogger"):
            argument = ast.unparse(call.args[0]) if call.args else "(root)"
            if argument != "__name__":
                found += [f"{relative}:{call.lineno} getLogger({argument}) (use __name__)"]
    assert not found, "\n".join(found)


# -- the CLI's displays ------------------------------------------------------------------------------
def test_train_into_a_log_file_writes_progress_lines(family, tmp_path, capsys, monkeypatch):
    # stderr captured by pytest is not a terminal, as under nohup or Slurm
    monkeypatch.setattr(common, "PROGRESS_INTERVAL_S", 1e-9)
    args = [a for a in TINY if a != "--no-progress"]
    assert main(["train", str(family), "--out", str(tmp_path / "run"), *args]) == 0
    err = capsys.readouterr().err.splitlines()
    steps = [
        line for line in err if re.match(r"training: \d+/12 steps \(\d+%\), \d+:\d\d:\d\d elapsed", line)
    ]
    assert len(steps) == 12
    assert any(line.startswith("training: done, 12/12 steps") for line in err)
    assert "loss " in steps[-1] and " kl " in steps[-1]
    assert any(line.startswith("finished: 12 steps") for line in err)
    assert err[-1] == f"run directory: {tmp_path / 'run'}"
    assert main(["train", str(family), "--out", str(tmp_path / "quiet"), *TINY]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if "steps (" in line]


def test_baseline_fit_into_a_log_file_shows_the_potts_fit(family, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(common, "PROGRESS_INTERVAL_S", 1e-9)
    out = tmp_path / "potts"
    assert main(["baseline", "fit", str(family), "--model", "potts", "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.startswith("Potts fit: ")]
    assert len(lines) >= 3 and "objective" in lines[-2]
    assert lines[-1].startswith("Potts fit: done, ")


def test_the_bar_keeps_its_times_whole_in_80_columns():
    target = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    bar = common.BarProgress(target)
    metrics = {"loss": 123.4567, "rec": 118.23, "kl": 5.2231, "mmd": 0.0123, "val": -130.25}
    with tracking(bar, "training", total=50_000, unit="steps") as shown:
        shown.update(12_345, **metrics)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", target.file.getvalue())
    last = [line for line in text.replace("\r", "\n").splitlines() if line.strip()][-1]
    assert len(last) <= 80
    assert "12345/50000 steps" in last
    assert re.search(r" 0:00:0\d (-:--:--|\d+:\d\d:\d\d) loss", last), last  # elapsed and left, uncut
    assert "0:0…" not in last and "loss 123.5" in last


def test_the_cli_picks_its_display(monkeypatch):
    assert type(common.progress_display(False)) is Progress
    assert isinstance(common.progress_display(), LogProgress)  # captured stderr: not a terminal
    monkeypatch.setattr(common, "console", Console(file=io.StringIO(), force_terminal=True))
    assert isinstance(common.progress_display(), common.BarProgress)


# -- notebooks -----------------------------------------------------------------------------------
def test_the_notebook_bar_is_html_updated_in_place(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(obj.data)
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    clock = FakeClock()
    bar = NotebookProgress(interval_s=1.0, clock=clock)
    with tracking(bar, "training", total=10, unit="steps") as progress:
        for step in range(1, 11):
            clock.now += 0.6
            progress.update(step, loss=1.0 / step)
    assert '<progress style="width: 40ex" value="0" max="10">' in shown[0]
    assert len(shown) == 1 + 5 + 1  # the first drawing, one redraw a second, the final one
    assert 'value="10" max="10"' in shown[-1] and "training: done, 10/10 steps" in shown[-1]


def test_training_in_a_jupyter_kernel_draws_an_html_bar_without_widgets(family, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    source = f"""
import seqvae
config = seqvae.RunConfig().updated({{
    "model.encoder_hidden": [16], "model.decoder_hidden": [16], "training.max_steps": 12,
    "training.batch_size": 16, "training.log_every": 3, "training.threads": 1}})
run = seqvae.train({str(family)!r}, config, out={str(tmp_path / "run")!r})
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"]  # no stream: no warning, no lines
    html = outputs[0].data["text/html"]
    assert '<progress style="width: 40ex" value="12" max="12">' in html
    assert "training: done, 12/12 steps (100%)" in html and "loss " in html
