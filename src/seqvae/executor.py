"""One executor layer for every multi-run command: sweeps, experiments, batches, panels.

A :class:`Task` is a pure function of a config and paths: a picklable top-level callable and
its keyword arguments (JSON-able values, paths as strings). An executor runs a list of tasks
on one of three backends and reports each :class:`TaskResult` as it arrives:

``local``
    This process (``jobs=1``) or a pool of ``jobs`` spawned worker processes, each with
    ``threads_per_job`` torch (and BLAS) threads. Workers die with the driver (Linux).
``ray``
    An existing Ray cluster (``address``) or a local one started for the command and shut
    down after it. A local cluster binds to 127.0.0.1 only, with no dashboard and no usage
    reporting (:data:`RAY_LOCAL_OPTIONS`).
``slurm``
    One Slurm job array through submitit (``cluster="local"`` or ``"debug"`` runs the same
    code path on this machine, as the tests do).

Idempotency. A task with a ``folder`` writes its result as ``folder/.seqvae-task.json``
(atomically, last, with a fingerprint of its inputs); a task whose result file is there is
*complete* and is not run again (:meth:`Task.load_complete`). A task function should itself
resume half-finished work (training resumes from its checkpoint). Tasks without a folder
recognise their own complete output (experiment points).

Failures. An exception inside a task becomes a failed :class:`TaskResult` with a one-line
reason (``"InputError: file: message"``); the other tasks go on.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import ipaddress
import json
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqvae.errors import InputError, Interrupted
from seqvae.io.atomic import write_json
from seqvae.utils import MAX_THREADS, torch_threads

__all__ = [
    "BACKENDS",
    "RAY_LOCAL_OPTIONS",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "SlurmExecutor",
    "Task",
    "TaskResult",
    "array_digest",
    "file_digest",
    "fingerprint",
    "make_executor",
]

BACKENDS = ("local", "ray", "slurm")
# tasks at once: a local pool of more processes would exhaust the memory before it started
MAX_JOBS = 4096
RESULT_FILE = ".seqvae-task.json"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# a local Ray cluster started by seqvae: loopback only, no dashboard
RAY_LOCAL_OPTIONS: dict[str, Any] = {
    "address": "local",
    "include_dashboard": False,
    "_node_ip_address": "127.0.0.1",
    "configure_logging": False,
    "log_to_driver": False,
}
RAY_NO_CLUSTER_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
INSTALL_HINTS = {
    "ray": "the ray backend needs Ray: pip install 'seqvae[ray]' (or pip install ray)",
    "submitit": "the slurm backend needs submitit: pip install 'seqvae[slurm]' (or pip install submitit)",
}


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-able value (a task's inputs)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_digest(path: str | Path, _cache: dict[tuple, str] = {}) -> str:  # noqa: B006 - a cache on purpose
    """A short SHA-256 of a file's content: task inputs name files by content, so that an output
    folder moved together with its inputs is still recognised."""
    info = os.stat(path)
    key = (str(Path(path).resolve()), info.st_size, info.st_mtime_ns)
    if key not in _cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _cache[key] = digest.hexdigest()[:16]
    return _cache[key]


def array_digest(array: Any) -> str:
    """A short SHA-256 of an array's dtype, shape and values: task inputs name in-memory data by
    content, as :func:`file_digest` names files."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode("ascii"))
    digest.update(array.tobytes())
    return digest.hexdigest()[:16]


@dataclass
class Task:
    """One unit of work.

    Parameters
    ----------
    key
        Unique name within a batch of tasks (used in messages and results).
    function
        A top-level (picklable) callable returning a JSON-able value (a dict).
    kwargs
        Its keyword arguments; JSON-able values only.
    folder
        The task's own output folder. When given, the result is written to
        ``folder/.seqvae-task.json`` and a task with that file is complete.
    inputs
        What the result depends on (default: ``kwargs``); its fingerprint is stored with the
        result, and a complete task with another fingerprint is refused rather than reused.
    """

    key: str
    function: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None
    inputs: Any = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.kwargs if self.inputs is None else self.inputs)

    def load_complete(self) -> Any | None:
        """The stored result of a complete task, or None when the task still has to run.

        Raises
        ------
        InputError
            The folder holds the result of a task with other inputs.
        """
        if self.folder is None:
            return None
        path = Path(self.folder) / RESULT_FILE
        if not path.exists():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # unreadable: run again
        if stored.get("fingerprint") != self.fingerprint:
            raise InputError(
                f"holds the result of {stored.get('key', 'another task')!r} made with other inputs; "
                "use a new output folder (or delete this one)",
                self.folder,
            )
        return stored.get("result")


@dataclass
class TaskResult:
    """What running (or skipping) one task gave."""

    key: str
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def _one_line(error: BaseException) -> str:
    text = error.one_line() if isinstance(error, InputError) else str(error)
    return f"{type(error).__name__}: {text}".replace("\n", " ")


def execute_task(
    key: str,
    function: Callable[..., Any],
    kwargs: dict[str, Any],
    folder: str | None,
    task_fingerprint: str,
    threads: int | None,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> TaskResult:
    """Run one task where it stands (a worker, a Ray task, a Slurm job) and return its result."""
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        value = function(**kwargs)
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            write_json(
                Path(folder) / RESULT_FILE,
                {"key": key, "fingerprint": task_fingerprint, "result": value},
            )
    except catch as error:
        if isinstance(error, Interrupted):
            raise
        return TaskResult(
            key,
            error=_one_line(error),
            error_type=type(error).__name__,
            seconds=time.perf_counter() - started,
        )
    return TaskResult(key, value=value, seconds=time.perf_counter() - started)


def _arguments(
    task: Task, threads: int | None
) -> tuple[str, Callable[..., Any], dict[str, Any], str | None, str, int | None]:
    return (task.key, task.function, task.kwargs, task.folder, task.fingerprint, threads)


class Executor:
    """Runs tasks; subclasses give the backend. Use :func:`make_executor`."""

    name = "base"

    def __init__(self, jobs: int = 1, threads_per_job: int = 1):
        if not 1 <= jobs <= MAX_JOBS:
            raise InputError(f"jobs: must be in [1, {MAX_JOBS}], got {jobs}")
        if not 1 <= threads_per_job <= MAX_THREADS:
            raise InputError(f"threads_per_job: must be in [1, {MAX_THREADS}], got {threads_per_job}")
        self.jobs = jobs
        self.threads_per_job = threads_per_job

    # with-blocks nest: the backend's resources are held until the outermost block ends
    _depth = 0
    _held = False

    def __enter__(self) -> Executor:
        """Hold the backend's resources (a worker pool, a Ray cluster) over several :meth:`run` calls."""
        if not self._depth:
            self._acquire()
        self._depth += 1
        self._held = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._depth -= 1
        if self._depth:
            return  # an outer block still holds the resources
        self._held = False
        self._release()

    def _acquire(self) -> None:
        """Start what :meth:`__enter__` holds (nothing by default)."""

    def _release(self) -> None:
        """Free what :meth:`__enter__` held (nothing by default)."""

    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[TaskResult], None] | None = None,
        skip_complete: bool = True,
        catch: tuple[type[BaseException], ...] = (Exception,),
    ) -> list[TaskResult]:
        """Run ``tasks`` (complete ones are read back, not run) and return results in task order.

        Parameters
        ----------
        tasks
            Tasks with unique keys.
        on_result
            Called in the driver with each result as it arrives (skipped ones first).
        skip_complete
            Read back tasks whose folder holds their result instead of running them.
        catch
            Exceptions recorded as failed results when a task runs in this process; anything
            else propagates (e.g. ``KeyboardInterrupt``). In workers every ``Exception`` is.
        """
        keys = [task.key for task in tasks]
        duplicate = next((k for k in keys if keys.count(k) > 1), None)
        if duplicate is not None:
            raise InputError(f"two tasks share the name {duplicate!r}")
        results: dict[str, TaskResult] = {}

        def deliver(result: TaskResult) -> None:
            results[result.key] = result
            if on_result is not None:
                on_result(result)

        pending = []
        for task in tasks:
            stored = task.load_complete() if skip_complete else None
            if stored is not None:
                deliver(TaskResult(task.key, value=stored, skipped=True))
            else:
                pending.append(task)
        if pending:
            self._run(pending, deliver, catch)
        return [results[key] for key in keys]

    def _run(self, tasks: list[Task], deliver: Callable[[TaskResult], None], catch) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The backend's settings, for run records."""
        return {"backend": self.name, "jobs": self.jobs, "threads_per_job": self.threads_per_job}


def _die_with_parent() -> None:  # pragma: no cover - runs in worker processes
    """Worker initializer: on Linux, get SIGKILL when the driver dies (so kill -9 of the driver
    leaves no orphan writing into the output folders)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalExecutor(Executor):
    """This process (``jobs=1``) or a pool of spawned worker processes.

    Inside ``with executor:`` one pool serves every :meth:`run` call (workers start once)."""

    name = "local"
    _pool: ProcessPoolExecutor | None = None

    def _start_pool(self, workers: int) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        # one thread per worker everywhere (BLAS too), set before the workers start
        saved = {key: os.environ.get(key) for key in THREAD_VARIABLES}
        for key in saved:
            os.environ[key] = str(self.threads_per_job)
        try:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_die_with_parent)
            pool.submit(int).result()  # the workers start now, with these variables
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return pool

    def _release(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _run(self, tasks, deliver, catch) -> None:
        threads = self.threads_per_job
        if self.jobs == 1 or (len(tasks) == 1 and self._pool is None):
            with torch_threads(threads):  # restored afterwards
                for task in tasks:
                    deliver(execute_task(*_arguments(task, None), catch=catch))
            return
        pool = self._pool or self._start_pool(self.jobs if self._held else min(self.jobs, len(tasks)))
        if self._held:
            self._pool = pool
        try:
            futures: dict[Future, Task] = {
                pool.submit(execute_task, *_arguments(task, threads)): task for task in tasks
            }
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in done:
                    error = future.exception()
                    if error is not None:  # the worker itself died
                        deliver(TaskResult(futures[future].key, error=_one_line(error)))
                    else:
                        deliver(future.result())
        except BaseException:
            # the driver is stopped (SIGTERM, Ctrl-C): so are its workers, at once (a training
            # worker saves its state on SIGTERM), rather than after their tasks
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            if not self._held and self._pool is not pool:
                pool.shutdown(wait=True, cancel_futures=True)


def require(module: str):
    """Import an optional backend package or fail with one line and an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(INSTALL_HINTS[module]) from None


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _reachable(address: str, timeout_s: float = 5.0) -> str:
    """The host of a Ray cluster's ``[ray://]host:port``, once something answers there: Ray
    itself would retry a dead address for ever."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"address: expected HOST:PORT (or ray://HOST:PORT), got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise InputError(
            f"address: no Ray cluster answers at {address} ({err.strerror or err}); start one with "
            "`ray start --head`, or give none for a local one",
        ) from None
    return host


class RayExecutor(Executor):
    """Tasks as Ray remote functions, one CPU each.

    Parameters
    ----------
    address
        An existing cluster (``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``). None starts
        a local cluster of ``jobs`` CPUs on 127.0.0.1 for the duration of :meth:`run` (the
        ``RAY_ADDRESS`` environment variable is ignored then).
    """

    name = "ray"

    def __init__(self, jobs: int = 1, threads_per_job: int = 1, address: str | None = None):
        super().__init__(jobs, threads_per_job)
        self.address = address
        # environment variables set for the cluster, restored by stop(): {name: value before}
        self._saved_environment: dict[str, str | None] = {}
        if address is None:
            # Ray resolves 127.0.0.1 to the machine's primary address (and its gRPC servers then
            # listen on every interface) unless it is told this node is no cluster member
            self._set_environment(RAY_NO_CLUSTER_VARIABLE, "0")
        self.ray = require("ray")
        self.addresses: dict[str, Any] = {}
        self._host = None if address in (None, "auto") else _reachable(address)

    def start(self) -> None:
        """Connect to the cluster (or start the local one) unless already connected."""
        ray = self.ray
        if ray.is_initialized():
            return
        self._set_environment("RAY_USAGE_STATS_ENABLED", "0", keep=True)  # no reporting to the outside
        if self.address is None:
            from ray._private import ray_constants  # read once, when ray was first imported

            ray_constants.ENABLE_RAY_CLUSTER = False
            for key in THREAD_VARIABLES:  # the workers start with one BLAS thread per task
                self._set_environment(key, str(self.threads_per_job), keep=True)
            context = ray.init(num_cpus=self.jobs, **RAY_LOCAL_OPTIONS)
        else:
            # a cluster on this machine's loopback is joined from the loopback, not from the
            # address Ray would otherwise pick (the machine's LAN address)
            loopback = {"_node_ip_address": "127.0.0.1"} if _is_loopback(self._host) else {}
            context = ray.init(address=self.address, configure_logging=False, log_to_driver=False, **loopback)
        node = ray.get_runtime_context()
        self.addresses = {
            "gcs_address": getattr(node, "gcs_address", None),
            "node_ip_address": getattr(context, "address_info", {}).get("node_ip_address"),
            "dashboard_url": getattr(context, "dashboard_url", None),
            "session_dir": getattr(context, "address_info", {}).get("session_dir"),
        }
        self._started_here = True

    def _acquire(self) -> None:
        self.start()

    def _release(self) -> None:
        self.stop()

    def _set_environment(self, name: str, value: str, keep: bool = False) -> None:
        """Set ``name`` (unless ``keep`` and it is set already), remembering the value before."""
        if keep and name in os.environ:
            return
        self._saved_environment.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def stop(self) -> None:
        if self.ray.is_initialized() and getattr(self, "_started_here", False):
            self.ray.shutdown()
            self._started_here = False
        # the driver's environment as it was: later work in this process is not Ray's
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}

    def _run(self, tasks, deliver, catch) -> None:
        ray = self.ray
        self.start()
        held = self._held
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(execute_task)
            if self.address is not None:  # a local cluster's workers inherit this process's variables
                env = dict.fromkeys(THREAD_VARIABLES, str(self.threads_per_job))
                remote = remote.options(runtime_env={"env_vars": env})
            refs = {remote.remote(*_arguments(task, self.threads_per_job)): task for task in tasks}
            remaining = list(refs)
            while remaining:
                done, remaining = ray.wait(remaining, num_returns=1)
                for ref in done:
                    try:
                        deliver(ray.get(ref))
                    except Exception as error:  # the worker died (RayTaskError, WorkerCrashedError)
                        deliver(TaskResult(refs[ref].key, error=f"{type(error).__name__}: worker failed"))
        finally:
            if not held:
                self.stop()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": self.address}


class SlurmExecutor(Executor):
    """One Slurm job array per call through submitit.

    Parameters
    ----------
    folder
        Where submitit keeps job scripts, pickles and logs.
    cluster
        None or ``"slurm"``: submit to Slurm; ``"local"``: subprocesses on this machine;
        ``"debug"``: in this process (submitit's debug executor).
    partition, time_minutes, parameters
        Slurm settings (``parameters`` are passed to ``update_parameters`` as they are).
    """

    name = "slurm"

    def __init__(
        self,
        folder: str | Path,
        jobs: int = 1,
        threads_per_job: int = 1,
        cluster: str | None = None,
        partition: str | None = None,
        time_minutes: int = 60,
        parameters: dict[str, Any] | None = None,
    ):
        super().__init__(jobs, threads_per_job)
        if cluster not in (None, "slurm", "local", "debug"):
            raise InputError(f"unknown submitit cluster {cluster!r}; choose slurm, local or debug")
        self.submitit = require("submitit")
        self.folder = Path(folder)
        self.cluster = cluster
        self.partition = partition
        self.time_minutes = time_minutes
        self.parameters = dict(parameters or {})

    def _executor(self):
        submitit = self.submitit
        executor = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.cluster)
        settings: dict[str, Any] = {"timeout_min": self.time_minutes, "cpus_per_task": self.threads_per_job}
        if executor.cluster == "slurm":
            settings["slurm_array_parallelism"] = self.jobs
            if self.partition:
                settings["slurm_partition"] = self.partition
        settings.update(self.parameters)
        executor.update_parameters(**settings)
        return executor

    def _run(self, tasks, deliver, catch) -> None:
        executor = self._executor()
        # one array job: submitit submits the whole batch at once
        jobs = []
        with executor.batch():
            for task in tasks:
                jobs.append(executor.submit(execute_task, *_arguments(task, self.threads_per_job)))
        by_job = dict(zip([id(job) for job in jobs], tasks))
        remaining = list(jobs)
        while remaining:
            still = []
            for job in remaining:
                if job.done():
                    try:
                        deliver(job.result())
                    except Exception as error:  # the job itself failed (killed, timed out)
                        reason = str(error).strip().splitlines()
                        deliver(
                            TaskResult(
                                by_job[id(job)].key,
                                error=f"{type(error).__name__}: {reason[-1] if reason else 'job failed'}",
                            )
                        )
                else:
                    still.append(job)
            remaining = still
            if remaining:
                time.sleep(0.2)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "cluster": self.cluster or "slurm", "partition": self.partition}


def make_executor(
    backend: str = "local",
    jobs: int = 1,
    threads_per_job: int = 1,
    address: str | None = None,
    folder: str | Path | None = None,
    cluster: str | None = None,
    partition: str | None = None,
) -> Executor:
    """The executor of ``backend`` (``local``, ``ray`` or ``slurm``).

    Raises
    ------
    InputError
        An unknown backend, an option the backend does not take, or a missing optional
        package (with the command that installs it).
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise InputError("address: only the ray backend connects to an address")
    if backend == "local":
        return LocalExecutor(jobs, threads_per_job)
    if backend == "ray":
        return RayExecutor(jobs, threads_per_job, address=address)
    if folder is None:
        raise InputError("the slurm backend needs a folder for its job files")
    return SlurmExecutor(folder, jobs, threads_per_job, cluster=cluster, partition=partition)
