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
import re
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def check_folder_path(out: Path) -> None:
    """``out`` can be a folder: none of its parents is a file, and it is not a file or a broken link."""
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"cannot create the output folder: {parent} is not a folder", out)
            break
    if out.is_symlink() and not out.exists():
        raise InputError("is a broken symbolic link", out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", out)


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
    check_folder_path(out)
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
        raise InputError(
            f"{kind.name} already exists and is not empty (write to a new folder, or overwrite=True)", out
        )
    foreign = [name for name in present if not kind.owns(name)]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise InputError(
            f"overwrite=True replaces only a {kind.name}; this folder also holds {foreign[0]!r}{more} "
            "(nothing was deleted)",
            out,
        )
    if not any(name in present for name in kind.markers):
        raise InputError(
            f"overwrite=True replaces only a {kind.name}, and this folder is not one "
            f"(no {' or '.join(kind.markers)}; nothing was deleted)",
            out,
        )


def open_resumable_directory(out: str | Path, kind: DirectoryKind) -> Path:
    """Create ``out`` (see :func:`check_resumable_directory`) and return it."""
    out = Path(out)
    check_resumable_directory(out, kind)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder ({err.strerror})", out) from None
    return out


def check_resumable_directory(out: str | Path, kind: DirectoryKind) -> None:
    """Refuse an output folder that a rerun of a workflow may not write into.

    A workflow that resumes into its output folder (a batch, a panel) writes into a new or
    empty folder, or into one holding a marker of ``kind``; a folder of other files (the
    user's) is refused with one line, untouched.
    """
    out = Path(out)
    check_folder_path(out)
    if out.is_dir():
        present = {
            entry.name
            for entry in out.iterdir()
            if entry.name != LOCK_FILE and not fnmatch.fnmatchcase(entry.name, _TEMPORARY)
        }
        if present and not present & set(kind.markers):
            raise InputError(f"is not a {kind.name} and not empty (write to a new folder)", out)


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
                f"another seqvae process is writing to this {kind.name}; wait for it or write to another folder",
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


# -- names and paths of a command's outputs ---------------------------------------------------
# a name that a manifest or a panel turns into a file or folder name: no separator, no "..",
# no hidden or device-like name, nothing a shell or another file system would read differently
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.+-]{0,98}[A-Za-z0-9_+-])?")


def check_name(value: Any, what: str, source: str | Path | None = None, reserved: Iterable[str] = ()) -> str:
    """The name ``value`` as a string, if it can be a file or folder name inside an output folder.

    A name starts with a letter or digit, holds only letters, digits, spaces and ``_ . + -``,
    ends with neither a space nor a dot and has at most 100 characters; it must differ (ignoring
    case) from every name in ``reserved`` (the folder's own files).

    Raises
    ------
    InputError
        Naming ``what`` (``family 'x'``, ``scan name``) and the rule.
    """
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _NAME.fullmatch(text):
        raise InputError(
            f"{what} {value!r} cannot be a file name: use up to 100 letters, digits, spaces and _ . + -, "
            "starting with a letter or digit",
            source,
        )
    taken = {name.casefold(): name for name in reserved}
    if text.casefold() in taken:
        raise InputError(
            f"{what} {text!r} is the name of the output folder's own {taken[text.casefold()]!r}", source
        )
    return text


def _is_device(path: Path) -> bool:
    """A character or block device, FIFO or socket, or anything under /dev, /proc or /sys."""
    if path.absolute().parts[1:2] in (("dev",), ("proc",), ("sys",)):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _identity(path: Path) -> tuple:
    """What tells two paths apart: the file itself where it exists (hard links, symlinks)."""
    try:
        info = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("file", info.st_dev, info.st_ino)


def _files_of(inputs: Mapping[str, str | Path]) -> Iterator[tuple[str, Path]]:
    """Each input file; an input folder (a run directory) stands for every file in it."""
    for label, path in inputs.items():
        path = Path(path)
        if path.is_dir():
            for inner in sorted(path.rglob("*")):
                if inner.is_file():
                    yield f"{label}'s {inner.relative_to(path)}", inner
        else:
            yield label, path


def check_output_paths(
    outputs: Mapping[str, str | Path],
    inputs: Mapping[str, str | Path],
    source: str | Path | None = None,
    folders: Mapping[str, str | Path] | None = None,
) -> None:
    """Refuse the files of one command's output that would replace an input or each other.

    One rule for every command that writes more than one file: no output is an input or a
    folder holding one, no two outputs are the same file or one inside the other, a file is
    not an existing folder (nor a folder an existing file), and no output is a device, a pipe or
    beside one (``/dev/stdout`` cannot hold a second file). Nothing is written.

    Parameters
    ----------
    outputs, inputs
        Paths by what the messages call them (``"the A2M"``, ``"--database"``); an input folder
        stands for the files in it.
    source
        The option or file the outputs come from (``--out``), named in the message.
    folders
        Output folders (run directories), checked like ``outputs``.
    """
    folder_paths = {label: Path(path) for label, path in (folders or {}).items()}
    for label, target in outputs.items():
        if Path(target).is_dir():
            raise InputError(f"{label} ({target}) is a folder, expected a file name", source)
    for label, folder in folder_paths.items():
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{label} ({folder}) is a file, expected a folder", source)
    paths = {**{label: Path(target) for label, target in outputs.items()}, **folder_paths}
    if len(paths) > 1:
        for path in paths.values():
            if _is_device(path) or _is_device(path.parent):
                raise InputError(
                    f"{path} is a device or pipe, and this command writes {len(paths)} files "
                    f"({', '.join(p.name for p in paths.values())}) beside it: give a file name",
                    source,
                )
    resolved = {label: Path(os.path.realpath(path)) for label, path in paths.items()}
    for label, path in _files_of(inputs):
        real = Path(os.path.realpath(path))
        for out_label, out in paths.items():
            if _identity(out) == _identity(path) or resolved[out_label] in real.parents:
                raise InputError(f"{out_label} ({out}) would overwrite the input {label} ({path})", source)
    labels = list(paths)
    for i, first in enumerate(labels):
        for second in labels[i + 1 :]:
            a, b = resolved[first], resolved[second]
            if _identity(paths[first]) == _identity(paths[second]) or a == b:
                raise InputError(f"{first} and {second} would be the same file ({paths[first]})", source)
            if a in b.parents or b in a.parents:
                inner, outer = (second, first) if a in b.parents else (first, second)
                raise InputError(
                    f"{inner} ({paths[inner]}) would lie inside {outer} ({paths[outer]})", source
                )
