"""Advisory file locks between feedsvc processes (``fcntl.flock``).

Two uses: :class:`InstanceLock`, held for the whole life of a daemon so that a second
``feedsvc run`` on the same database refuses to start, and :func:`publish_lock`, held while the
outputs are regenerated so that a daemon and a CLI ``ingest`` never interleave "read the
database" and "write the files" (the last writer would otherwise be able to overwrite a newer
feed with an older one). The kernel drops a ``flock`` when its process dies, so a crashed
daemon never leaves a stale lock behind. This module does not know what it protects.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from feedsvc.errors import FeedsvcError, PublishError


class AlreadyRunning(FeedsvcError):
    """Another process holds the lock; ``pid`` is what it wrote into the lock file, if any."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def lock_path_for(database: Path) -> Path:
    """The daemon's lock file for a database: ``<database>.daemon.lock`` beside it."""
    return database.with_name(database.name + ".daemon.lock")


def publish_lock_path(database: Path) -> Path:
    """The publish lock of a database's outputs: ``<database>.publish.lock`` beside it (not
    in the publish folder, which holds only what is published)."""
    return database.with_name(database.name + ".publish.lock")


class InstanceLock:
    """An exclusive, non-blocking lock on a file, holding the owner's pid for messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunning` (naming the holder's pid)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise FeedsvcError(f"{self.path}: cannot open lock file: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            holder = f" (pid {pid})" if pid else ""
            raise AlreadyRunning(
                f"another feedsvc daemon{holder} is already running on this database "
                f"(lock file {self.path})",
                pid,
            ) from None
        except OSError as e:
            os.close(fd)
            raise FeedsvcError(f"{self.path}: cannot lock: {e.strerror or e}") from e
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: removing it would race with a starting daemon)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def publish_lock(path: Path) -> Iterator[None]:
    """Hold the (blocking) lock on the file ``path`` for the duration of the block."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise PublishError(f"{path}: cannot open publish lock: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def running_daemon(path: Path) -> int | None:
    """The pid of the daemon holding the instance lock ``path``, or None when no process holds
    it (the file may still exist: a stopped daemon leaves it behind, empty)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd)
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the shared lock, if it was taken
    return None
