"""Atomic writes: write to a temporary file beside the target, then rename over it.

A crash or a bad input part-way through never leaves a half-written output behind. The
guarantees, for every file seqvae writes through :func:`atomic_path` / :func:`atomic_open`:

* **Symbolic links are written through.** An output path that is a symlink keeps being one:
  the new content replaces the file it points to, atomically, in that file's folder.
* **Special files are streamed to.** A FIFO or a character device (``/dev/stdout``,
  ``/dev/null``) cannot be replaced atomically and must never be replaced at all: it is opened
  and written directly.
* **Stale temporaries are removed.** The temporary file is ``.NAME.PID.XXXX.tmp``; one left
  behind by a process that was killed (``kill -9``) is deleted by the next write of the same
  target (or by :func:`remove_stale_temporaries`, which ``seqvae resume`` calls), while the
  temporary of a live process is left alone.
* **Permissions** are those a plain ``open()`` would give: an existing target keeps its
  mode, a new one gets ``0o666`` minus the umask, whatever library wrote the temporary.
* **Errors name the target**, never the hidden temporary; a folder on the way that is a
  regular file is an :class:`~seqvae.errors.InputError` naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from seqvae.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

# a temporary without a process id (written before ids were recorded) is stale after this long
_LEGACY_STALE_S = 60.0


def ensure_directory(folder: str | Path, target: str | Path | None = None) -> Path:
    """Create ``folder`` (and its parents) unless it exists; a file in the way is an InputError.

    Parameters
    ----------
    folder
        The folder to create.
    target
        The file that will be written there, named in the error (default: ``folder``).
    """
    folder = Path(folder)
    for candidate in (folder, *folder.absolute().parents):
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                raise InputError(
                    f"cannot create the folder for it: {candidate} is not a folder",
                    target if target is not None else folder,
                )
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(
            f"cannot create the folder {folder} ({err.strerror or err})", target or folder
        ) from None
    return folder


def _is_stream(path: Path) -> bool:
    """True for an existing FIFO, character or block device (or socket): never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode)


def resolve_target(target: str | Path) -> Path:
    """The file a write to ``target`` must replace: the end of its symlink chain, if any."""
    target = Path(target)
    if target.is_symlink():
        return Path(os.path.realpath(target))
    return target


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process (or an id we cannot check): leave it
    return True


def _is_stale(path: Path, name: str) -> bool:
    """Whether ``.NAME.<rest>.tmp`` was left behind by a process that no longer runs."""
    rest = path.name[len(name) + 2 : -len(".tmp")]
    pid_text, _, random_part = rest.partition(".")
    if pid_text.isdigit() and random_part:
        return not _pid_alive(int(pid_text))
    try:  # an older name without a process id: stale once it has not been touched for a while
        return time.time() - path.stat().st_mtime > _LEGACY_STALE_S
    except OSError:
        return False


def remove_stale_temporaries(folder: str | Path, name: str | None = None) -> list[Path]:
    """Delete the temporaries of killed writers in ``folder`` (those of ``name`` only, if given).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        entry = path.name
        if not (entry.startswith(".") and entry.endswith(".tmp")) or not path.is_file():
            continue
        if name is not None and (not entry.startswith(f".{name}.") or len(entry) <= len(name) + 6):
            continue
        owner = name if name is not None else _owner_of(entry)
        if owner is None:
            continue
        if _is_stale(path, owner):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _owner_of(entry: str) -> str | None:
    """The target name of ``.NAME.PID.XXXX.tmp`` (``None`` when the name has no process id)."""
    parts = entry[1:-4].split(".")
    if len(parts) >= 3 and parts[-2].isdigit():
        return ".".join(parts[:-2])
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _renamed(err: OSError, tmp: Path, target: Path) -> OSError:
    """The same error, naming ``target`` instead of the hidden temporary, or naming it at all
    (a full disk fails a write, which names no file)."""
    if err.filename is None or Path(str(err.filename)).name == tmp.name:
        return type(err)(err.errno, err.strerror or str(err), str(target))
    return err


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``target`` on success.

    ``target`` may be a symlink (the file it points to is replaced) or a special file such as
    a FIFO or ``/dev/stdout`` (the path itself is yielded and written directly). See the module
    docstring for the guarantees.
    """
    given = Path(target)
    if given.is_dir():
        raise InputError("is a folder, expected a file name", given)
    if _is_stream(given) or (given.exists() and given.absolute().parts[1:2] in (("dev",), ("proc",))):
        # /dev/stdout may lead to a pipe, a terminal or the file the shell redirected it to:
        # write to it as it is, never replace what it leads to
        try:
            yield given
        except OSError as err:
            raise _renamed(err, given, given) from None
        return
    target = resolve_target(given)
    ensure_directory(target.parent, given)
    remove_stale_temporaries(target.parent, target.name)
    try:
        handle, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
        )
    except OSError as err:
        raise type(err)(err.errno, err.strerror, str(given)) from None
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        try:
            yield tmp
            # mkstemp creates the file readable by its owner only, and some writers (safetensors)
            # recreate it: give the result the permissions a plain open() would
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except OSError as err:
            raise _renamed(err, tmp, given) from None
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``target`` only if the block succeeds."""
    with atomic_path(target) as tmp:
        try:
            handle = open(tmp, mode, **kwargs)
        except OSError as err:
            raise _renamed(err, tmp, Path(target)) from None
        with handle:
            yield handle


def write_json(target: str | Path, data: Any) -> None:
    """Write JSON atomically (indented, keys in insertion order)."""
    with atomic_open(target, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, default=_json_default)
        handle.write("\n")


def write_csv(target: str | Path, table: pd.DataFrame, float_format: str | None = None) -> Path:
    """Write a table as CSV atomically (no index; numbers with ``float_format``, default: in
    full); returns the path."""
    with atomic_open(target, "w", newline="", encoding="utf-8") as handle:
        table.to_csv(handle, index=False, float_format=float_format)
    return Path(target)


def write_npz(target: str | Path, /, **arrays: Any) -> Path:
    """Write arrays as a compressed NPZ atomically; returns the path."""
    with atomic_open(target, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return Path(target)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
