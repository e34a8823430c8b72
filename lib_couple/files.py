"""Files the extension rewrites (presets): one writer at a time, and never a half-written file.

A save reads the file, changes it and writes it back, so two saves at once would each write
what they read and lose the other's change: `file_lock` serialises them, between threads (a
lock per path) and between processes (an OS lock on `<file>.lock`). `write_atomically` writes a
temporary file of its own beside the target and renames it over the target, so a reader or a
crash sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lib_couple.errors import CoupleError

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _lock_file(handle: IO[bytes]) -> None:
    """Block until this process holds the OS lock on `handle`."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # retries for about 10 s, then OSError
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the handle is closed


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the lock of `path` for a read-change-write; other threads and processes wait."""
    path = path.resolve()
    with _thread_lock(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a+b") as handle:
            try:
                _lock_file(handle)
            except OSError as error:
                raise CoupleError(f"{path} is held by another process ({error}); try again") from None
            yield


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step, through a temporary file no other writer shares."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); keep the mode the old file had.
        os.chmod(partial, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
