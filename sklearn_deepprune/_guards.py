"""Guards against lost or half-done work: atomic file writes, noting Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a unique temporary file: never a torn file.

    The temporary file sits beside the target (same file system), is synced,
    then renamed over it with :func:`os.replace`; on any error it is removed.
    Unlike :func:`tempfile.mkstemp` (private 0600 files) the result gets the
    umask's permissions.

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
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


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
