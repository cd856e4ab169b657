"""Guards against lost or half-done work: safe outputs, atomic writes, noting Ctrl-C.

A command that writes files uses these, so that no input is written over, no
interrupted write looks complete and two runs at once never mix their
outputs:

1. before any work, :func:`check_output_file` (one output file) or
   :func:`check_replaceable_folder` (an output folder that is replaced as a
   whole) with the command's input files, so that a bad ``-o`` fails at once;
2. then :func:`writing_file` (a file written while the work goes on, e.g. one
   row per batch), :func:`write_atomic` (a file written in one piece) or
   :func:`replacing_folder` (a folder of files that becomes visible at once);
3. :func:`to_json` for JSON that strict readers accept (no ``NaN``).

Write errors (a full disk, ``/dev/full``, a closed pipe) are raised as an
OSError whose message names the output, not a temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike


def _temporary_name(target: Path, kind: str = "tmp") -> Path:
    """A name beside ``target`` that no other process or thread uses."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.{kind}")


def _writes_through(path: PathLike) -> bool:
    """Whether ``path`` is written in place: a device, a FIFO, ``/dev/stdout``, ``/dev/fd/N``.

    Those cannot be replaced by a temporary file (the device or the reader at
    the other end would lose its output); everything else is.
    """
    if os.path.abspath(path).startswith(("/proc/", "/dev/fd/", "/dev/std")):
        return True  # a magic link to an open file: never renamed over, even a regular one
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _same_file(path: PathLike, status: os.stat_result) -> bool:
    try:
        other = os.stat(path)
    except (OSError, ValueError):
        return False
    return (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino)


def check_output_file(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Raise a ValueError unless ``path`` can be written as an output file.

    Called before any work, so that a bad ``-o`` fails at once. Refused: an
    existing folder, a path that is one of ``inputs`` (also through a symbolic
    or hard link) and a file in a folder that is missing or not writable.
    Devices, FIFOs and ``/dev/stdout`` are accepted: :func:`writing_file`
    writes through them.

    Parameters
    ----------
    path : str or path-like
        The output file.
    inputs : iterable of str, path-like or None, default=()
        The files the command reads (``None`` entries are skipped).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Saying what is wrong with ``path``.
    """
    path = Path(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        status = None
    except OSError as exc:
        raise ValueError(f"cannot write the output {path}: {exc.strerror}") from None
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise ValueError(f"output {path} is a folder; give the name of a file to write")
    if status is not None:
        for source in inputs:
            if source is not None and _same_file(source, status):
                same = os.path.abspath(source) == os.path.abspath(path)
                what = "the input" if same else "the same file as the input"
                raise ValueError(f"output {path} is {what} {source}; refusing to write over it")
    if _writes_through(path):
        if status is not None and not os.access(path, os.W_OK):
            raise ValueError(f"cannot write the output {path}: permission denied")
        return path
    folder = Path(os.path.realpath(path)).parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = "no such folder" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise ValueError(f"cannot write the output {path} in {folder}: {reason}") from None
    return path


def check_replaceable_folder(
    path: PathLike,
    owned: Collection[str],
    inputs: Iterable[PathLike | None] = (),
    *,
    owner: str = "this command",
) -> Path:
    """Raise a ValueError unless :func:`replacing_folder` may replace the folder ``path``.

    Called before any work. ``path`` may be missing, or a folder that holds
    only files named in ``owned`` (an earlier run's output, replaced as a
    whole) and leftovers of :func:`write_atomic`; a folder that holds other
    files, or any of ``inputs``, is refused, so that no file the command did
    not write is lost. So is the current folder (or one above it): replacing
    it would leave this process, and the shell it runs in, in a deleted
    folder.

    Parameters
    ----------
    path : str or path-like
        The output folder.
    owned : collection of str
        The names of the files that the command writes into the folder.
    inputs : iterable of str, path-like or None, default=()
        The files and folders the command reads (``None`` entries are skipped).
    owner : str, default="this command"
        Who writes the folder, for the message, e.g. ``"'deepprune fit'"``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Naming the input, or the files, that the folder holds.
    """
    path = Path(path)
    folder = Path(os.path.realpath(path))
    for source in inputs:
        if source is None:
            continue
        resolved = Path(os.path.realpath(source))
        if resolved == folder or folder in resolved.parents:
            raise ValueError(
                f"output folder {path} holds the input {source}; give another folder "
                f"(it is replaced by what {owner} writes)"
            )
    if not folder.is_dir():
        return path
    here = Path.cwd().resolve()
    if here == folder or folder in here.parents:
        raise ValueError(
            f"output folder {path} is the current folder or holds it; it is replaced by what "
            f"{owner} writes: run from outside it, or give a new folder"
        )
    foreign = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name not in owned
        and not (entry.name.startswith(".") and entry.name.endswith(".tmp"))
    )
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ValueError(
            f"output folder {path} holds {len(foreign)} file(s) that {owner} does not write "
            f"({listed}); give a new or empty folder, or the folder of an earlier run (it is "
            "replaced)"
        )
    return path


class _OutputIO(io.FileIO):
    """A FileIO whose write errors name the output as the user gave it."""

    def __init__(self, fd: int, shown: str):
        super().__init__(fd, "wb", closefd=True)
        self.shown = shown

    def write(self, data) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise _write_error(exc, self.shown) from None

    def sync(self) -> None:
        try:
            os.fsync(self.fileno())
        except OSError as exc:
            raise _write_error(exc, self.shown) from None


def _write_error(exc: OSError, shown: str) -> OSError:
    error = type(exc)(f"cannot write {shown}: {exc.strerror or exc}")
    error.errno = exc.errno
    return error


@contextlib.contextmanager
def writing_file(
    path: PathLike, mode: str = "w", *, encoding: str = "utf-8", newline: str | None = None
) -> Iterator[IO]:
    """Open ``path`` for writing such that it is either the old file or the whole new one.

    A regular file (or a new one) is written to a temporary file beside it,
    unique to this process and call (two runs at once never share one),
    synced, then renamed over it when the block ends without an error, with
    the old file's permissions; on an error or Ctrl-C it is removed and the
    old file is left as it was. A symbolic link is followed: its target is
    replaced, the link stays. Devices, FIFOs, ``/dev/stdout`` and
    ``/dev/fd/N`` (a shell's ``>(command)``) are written in place, never
    replaced.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    mode : {"w", "wb"}, default="w"
        Text or binary.
    encoding : str, default="utf-8"
        The text encoding (text mode only).
    newline : str or None, default=None
        As for :func:`open` (text mode only); ``""`` for :mod:`csv` writers.

    Yields
    ------
    file object
        Write to it; it is closed when the block ends.

    Raises
    ------
    ValueError
        If ``path`` is a folder or ``mode`` is not ``"w"`` or ``"wb"``.
    OSError
        If it cannot be written; the message names ``path``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    if os.path.isdir(path):
        raise ValueError(f"output {path} is a folder; give the name of a file to write")
    shown = os.fspath(path)
    target = temporary = None
    if _writes_through(path):
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    else:
        target = Path(os.path.realpath(path))
        temporary = _temporary_name(target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(temporary or path, flags, 0o666)
    except OSError as exc:
        raise _write_error(exc, shown) from None
    raw = _OutputIO(fd, shown)
    handle: IO = io.BufferedWriter(raw)
    if mode == "w":
        handle = io.TextIOWrapper(handle, encoding=encoding, newline=newline)
    try:
        yield handle
        handle.flush()
        if temporary is not None:
            raw.sync()
            with contextlib.suppress(OSError):
                os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        handle.close()
        if temporary is not None:
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            handle.close()
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a unique temporary file: never a torn file.

    :func:`writing_file` in one piece: the temporary file sits beside the
    target (same file system), is synced, then renamed over it with
    :func:`os.replace`; on any error it is removed. Unlike
    :func:`tempfile.mkstemp` (private 0600 files) a new file gets the umask's
    permissions. Devices and FIFOs are written in place.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    data : bytes
        Its whole content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with writing_file(path, "wb") as file:
        file.write(data)
    return Path(path)


@contextlib.contextmanager
def replacing_folder(path: PathLike) -> Iterator[Path]:
    """Yield a fresh folder to fill; when the block ends, it becomes ``path`` at once.

    The folder is created beside ``path`` (``.NAME.PID.TOKEN.incomplete``),
    so that a run killed while writing leaves a folder named as incomplete
    and ``path`` as it was. When the block ends without an error, its files
    are synced and the folder is swapped in for ``path`` (atomically on
    Linux, where ``renameat2`` exchanges the two), and the old folder is
    removed; on an error or Ctrl-C the new folder is removed and ``path`` is
    left as it was. Check the folder with :func:`check_replaceable_folder`
    before the work: everything in the old folder is lost. A symbolic link
    to a folder is followed.

    Parameters
    ----------
    path : str or path-like
        The output folder; its parent folders are created.

    Yields
    ------
    pathlib.Path
        The folder to write in (not ``path``: name the files by ``path``).
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(target, "incomplete")
    temporary.mkdir()
    try:
        yield temporary
        _sync_folder(temporary)
        _swap_in(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    for entry in folder.rglob("*"):
        if entry.is_file():
            fd = os.open(entry, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    with contextlib.suppress(OSError):  # not every system syncs a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap_in(new: Path, target: Path) -> None:
    """Make ``new`` the folder ``target``; the old one (if any) ends up at ``new``."""
    try:
        os.rename(new, target)  # no target, or an empty folder
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if _exchange(new, target):
        return
    old = _temporary_name(target, "old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    os.rename(old, new)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    first_name, second_name = os.fsencode(first), os.fsencode(second)
    if renameat2(at_fdcwd, first_name, at_fdcwd, second_name, rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(second))


def _finite(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain, NaN and infinities made None."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return _finite(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def to_json(data: Any, **kwargs) -> str:
    """``data`` as strict JSON: an undefined number (NaN, infinity) becomes ``null``.

    Python's :func:`json.dumps` writes ``NaN``, which is not JSON (strict
    readers, e.g. browsers and ``jq``, refuse the file). numpy numbers and
    arrays become plain numbers and lists; other objects with ``__float__``
    become floats.

    Parameters
    ----------
    data : object
        What to write.
    **kwargs
        Passed to :func:`json.dumps`, e.g. ``indent=2``.

    Returns
    -------
    str
        The JSON text.
    """
    return json.dumps(
        _finite(data), allow_nan=False, default=lambda value: _finite(float(value)), **kwargs
    )


@contextlib.contextmanager
def noting_interrupts() -> Iterator[list[int]]:
    """Note a Ctrl-C (SIGINT) that arrives inside the block, in the yielded list.

    The previous handler still runs, so the KeyboardInterrupt is raised as
    before (and skorch still ends its epoch loop); the list tells a real
    Ctrl-C apart from a KeyboardInterrupt that code raises on purpose (a
    callback stopping training) or swallows. Outside the main thread (where
    no signal arrives), or when SIGINT is ignored, nothing is installed.
    """
    noted: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield noted
        return

    def handler(signum, frame):
        try:
            previous(signum, frame)
        except KeyboardInterrupt:
            noted.append(signum)
            raise

    signal.signal(signal.SIGINT, handler)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)
