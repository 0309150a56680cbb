"""Output directories that seqvae owns: claimed atomically, replaced only when recognised.

One mechanism for every command that writes a directory of results (a training run, a
baseline fit):

* **Claiming.** :func:`claim_directory` takes an exclusive advisory lock (``flock``) on a lock
  file inside the directory for as long as the command writes there. A second process that
  tries to write into the same directory at the same time fails at once with one line, so two
  runs never leave a mixed directory. The lock dies with its process (also after ``kill -9``):
  there is no stale lock to clean up.
* **Replacing.** ``--overwrite`` replaces a directory only when every entry in it is one that
  a seqvae directory of that kind writes, and at least one of its marker files is present. A
  folder holding anything else (a thesis, the input alignment, the working folder itself) is
  refused with one line and left exactly as it was. Only the recognised entries are removed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seqvae.errors import InputError

try:  # POSIX; elsewhere runs are not protected against concurrent writers
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".seqvae.lock"
# atomic writes leave ``.NAME.XXXX.tmp`` beside their target while they run (or after kill -9)
_TEMPORARY = ".*.tmp"


@dataclass(frozen=True)
class DirectoryKind:
    """What a seqvae output directory of one kind holds.

    Attributes
    ----------
    name
        How messages call it ("seqvae run directory").
    markers
        File names of which at least one must be present for the directory to be recognised.
    entries
        Glob patterns of every name such a directory may hold (files or folders).
    """

    name: str
    markers: tuple[str, ...]
    entries: tuple[str, ...]

    def owns(self, name: str) -> bool:
        return name == LOCK_FILE or any(
            fnmatch.fnmatchcase(name, pattern) for pattern in (*self.entries, _TEMPORARY)
        )


def _check_parents(out: Path) -> None:
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"cannot create the output folder: {parent} is not a folder", out)
            return


def check_output_directory(out: str | Path, kind: DirectoryKind, overwrite: bool = False) -> None:
    """Refuse an output directory that cannot be (re)written, without changing anything.

    A new directory must not exist or be empty; with ``overwrite`` it may instead be a
    recognised directory of ``kind`` (see :class:`DirectoryKind`).

    Raises
    ------
    InputError
        One line naming the directory and what is wrong.
    """
    out = Path(out)
    _check_parents(out)
    if out.is_symlink() and not out.exists():
        raise InputError("is a broken symbolic link", out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", out)
    if not out.exists():
        return
    # the lock and temporaries of an atomic write (left by a process killed during its first
    # write) are seqvae's own debris: a folder holding nothing else counts as empty
    present = sorted(
        entry.name
        for entry in out.iterdir()
        if entry.name != LOCK_FILE and not fnmatch.fnmatchcase(entry.name, _TEMPORARY)
    )
    if not present:
        return
    if not overwrite:
        raise InputError(f"{kind.name} already exists and is not empty (use a new --out or --overwrite)", out)
    foreign = [name for name in present if not kind.owns(name)]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise InputError(
            f"--overwrite replaces only a {kind.name}; this folder also holds {foreign[0]!r}{more} "
            "(nothing was deleted)",
            out,
        )
    if not any(name in present for name in kind.markers):
        raise InputError(
            f"--overwrite replaces only a {kind.name}, and this folder is not one "
            f"(no {' or '.join(kind.markers)}; nothing was deleted)",
            out,
        )


@contextlib.contextmanager
def lock_directory(out: str | Path, kind: DirectoryKind) -> Iterator[Path]:
    """Hold the exclusive write lock of an existing directory (e.g. to resume a run in it)."""
    out = Path(out)
    if not out.is_dir():
        raise InputError(f"not a {kind.name}", out)
    handle = _acquire(out, kind)
    try:
        yield out
    finally:
        os.close(handle)


def _acquire(out: Path, kind: DirectoryKind) -> int:
    try:
        handle = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise InputError(f"cannot write into the {kind.name} ({err.strerror})", out) from None
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            raise InputError(
                f"another seqvae process is writing to this {kind.name}; wait for it or use another --out",
                out,
            ) from None
    return handle


@contextlib.contextmanager
def claim_directory(out: str | Path, kind: DirectoryKind, overwrite: bool = False) -> Iterator[Path]:
    """Create (or, with ``overwrite``, empty a recognised) output directory and hold its lock.

    The checks of :func:`check_output_directory` are repeated once the lock is held, so that
    of two processes started at once exactly one writes and the other fails with one line.
    If the block fails and nothing was written, a directory created here is removed again.

    Yields
    ------
    Path
        The directory, empty apart from the lock file.
    """
    out = Path(out)
    check_output_directory(out, kind, overwrite)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder ({err.strerror})", out) from None
    handle = _acquire(out, kind)
    try:
        check_output_directory(out, kind, overwrite)  # the state may have changed before the lock
        for entry in out.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        yield out
    except BaseException:
        if created and all(entry.name == LOCK_FILE for entry in out.iterdir()):
            with contextlib.suppress(OSError):
                (out / LOCK_FILE).unlink()
                out.rmdir()
        raise
    finally:
        os.close(handle)
