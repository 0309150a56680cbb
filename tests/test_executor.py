"""The executor layer: local pool, Ray (loopback only) and Slurm (submitit's local executor)."""

from __future__ import annotations

import json
import os
import signal
import socket
import textwrap
from pathlib import Path

import pytest

from seqvae.errors import InputError, Interrupted, TrainingInterrupted
from seqvae.executor import RESULT_FILE, LocalExecutor, SlurmExecutor, Task, make_executor


def _tasks(folder: Path | None = None) -> list[Task]:
    """Small tasks any worker can import (a library function with keyword arguments)."""
    texts = ["the quick brown fox jumps over the lazy dog", "a b c d e f g h", "one two three four five six"]
    tasks = [
        Task(
            f"t{k}",
            textwrap.shorten,
            {"text": text, "width": 12 + k},
            folder=None if folder is None else str(folder / f"t{k}"),
        )
        for k, text in enumerate(texts)
    ]
    # fails inside the task: the placeholder is wider than the width
    tasks.append(Task("bad", textwrap.shorten, {"text": "x y z", "width": 2, "placeholder": "....."}))
    return tasks


EXPECTED = [textwrap.shorten(text=t.kwargs["text"], width=t.kwargs["width"]) for t in _tasks()[:3]]


def _need(module: str) -> None:
    """An optional backend: skipped locally when missing, required under CI (the Makefile installs it)."""
    if os.environ.get("CI", "").lower() != "true":
        pytest.importorskip(module)


def _check(results) -> None:
    assert [r.key for r in results] == ["t0", "t1", "t2", "bad"]
    assert [r.value for r in results[:3]] == EXPECTED
    assert all(r.ok for r in results[:3])
    bad = results[3]
    assert not bad.ok and bad.error.startswith("ValueError: placeholder too large")
    assert "\n" not in bad.error


def test_local_pool_equals_one_process_and_skips_complete_tasks(tmp_path):
    sequential = LocalExecutor(jobs=1).run(_tasks(tmp_path / "a"))
    _check(sequential)
    seen = []
    pooled = LocalExecutor(jobs=2).run(_tasks(tmp_path / "b"), on_result=lambda r: seen.append(r.key))
    _check(pooled)
    assert sorted(seen) == ["bad", "t0", "t1", "t2"]
    # complete tasks are read back from their folder, not run again; the failed one runs again
    stored = json.loads((tmp_path / "a" / "t0" / RESULT_FILE).read_text())
    assert stored["result"] == EXPECTED[0]
    again = LocalExecutor(jobs=1).run(_tasks(tmp_path / "a"))
    assert [r.skipped for r in again] == [True, True, True, False]
    assert [r.value for r in again[:3]] == EXPECTED


def test_changed_inputs_and_duplicate_keys_are_refused(tmp_path):
    LocalExecutor().run(_tasks(tmp_path)[:1])
    changed = Task("t0", textwrap.shorten, {"text": "other", "width": 12}, folder=str(tmp_path / "t0"))
    with pytest.raises(InputError, match="made with other inputs"):
        LocalExecutor().run([changed])
    with pytest.raises(InputError, match="two tasks share the name 't0'"):
        LocalExecutor().run([_tasks()[0], _tasks()[0]])


def test_in_process_exceptions_outside_catch_propagate():
    with pytest.raises(ValueError):
        LocalExecutor().run(_tasks()[3:], catch=(KeyError,))


def test_unknown_backend_and_missing_packages_are_one_line(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="unknown backend 'spark'; choose from local, ray, slurm"):
        make_executor("spark")
    with pytest.raises(InputError, match="address: only the ray backend"):
        make_executor("local", address="127.0.0.1:6379")
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setitem(__import__("sys").modules, "submitit", None)
    with pytest.raises(InputError, match=r"pip install 'seqvae\[ray\]'"):
        make_executor("ray")
    with pytest.raises(InputError, match=r"pip install 'seqvae\[slurm\]'"):
        make_executor("slurm", folder=tmp_path)


def test_slurm_backend_through_submitits_local_executor(tmp_path):
    _need("submitit")
    executor = SlurmExecutor(tmp_path / "jobs", jobs=2, cluster="local")
    tasks = _tasks(tmp_path / "out")
    results = executor.run([tasks[1], tasks[3]])  # one array job of two tasks: a good one and a bad one
    assert results[0].ok and results[0].value == EXPECTED[1]
    assert not results[1].ok and results[1].error.startswith("ValueError: placeholder too large")
    assert (tmp_path / "out" / "t1" / RESULT_FILE).exists()
    assert any((tmp_path / "jobs").rglob("*_submission.sh")) or any((tmp_path / "jobs").rglob("*.pkl"))


# -- Ray: a local cluster binds to 127.0.0.1 only (the test is in test_batch.py: one cluster for both) ------------------------------------------------
def _hex_address(text: str) -> str:
    """The IP of a /proc/net/tcp{,6} ``local_address`` field."""
    host = text.split(":")[0]
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def _listening_addresses(pids: set[int]) -> list[str]:
    """``ip:port`` of every listening TCP socket held by one of ``pids`` (Linux /proc)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    found.append(f"{_hex_address(fields[1])}:{int(fields[1].split(':')[1], 16)}")
    return found


def _ray_processes(session_dir: str) -> set[int]:
    """This process, the processes naming the Ray session, and all their descendants."""
    parents: dict[int, int] = {}
    roots = {os.getpid()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        if Path(session_dir).name in cmdline:
            roots.add(int(entry))
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or host.startswith("::ffff:127.")


def _stopped_by_user(**_):
    raise TrainingInterrupted(step=3, run_dir=Path("run"), saved_step=3, signum=signal.SIGTERM)


def test_a_user_stop_ends_the_whole_run_not_one_task():
    """Ctrl-C or SIGTERM during one task's training stops the workflow: it is not recorded as
    that task's failure with the next task started after it."""
    ran = []
    tasks = [
        Task("first", _stopped_by_user, {}),
        Task("second", lambda: ran.append("second"), {}),
    ]
    with pytest.raises(Interrupted):
        LocalExecutor(jobs=1).run(tasks)
    assert ran == []
