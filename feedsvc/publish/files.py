"""Write published files atomically, and only when their bytes change.

The only module of :mod:`feedsvc.publish` that touches the file system.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from feedsvc.errors import PublishError

# The temporary files of write_atomic: ".<name>.<mkstemp's random part>.tmp".
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp\Z")

__all__ = ["remove_stale_temporaries", "write_atomic"]


def write_atomic(path: Path, data: bytes) -> bool:
    """Make ``path`` hold exactly ``data``; return whether the file changed.

    When ``path`` already holds these bytes it is left alone (same inode, same mtime), so
    HTTP caches stay valid. Otherwise ``data`` goes to a temporary file in the same folder,
    is flushed and fsync'ed, gets mode 0644 and is renamed over ``path`` (``os.replace``,
    atomic on POSIX): a reader sees the old file or the new one, never half of one. The
    folder is fsync'ed afterwards (best effort) so the rename survives a crash. Parent
    folders are created. Any OSError becomes :class:`PublishError` naming ``path``; the
    temporary file is removed.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as e:
        raise PublishError(f"cannot write {path}: {e}") from e

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            # mkstemp creates 0600; set the final mode before the rename so that the file
            # is never visible with the wrong permissions.
            os.fchmod(f.fileno(), 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise PublishError(f"cannot write {path}: {e}") from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_dir(path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    # Persist the rename itself (a directory entry). Not possible everywhere (e.g. Windows,
    # some network file systems): the write has succeeded anyway, so failures are ignored.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(out_dir: Path) -> list[Path]:
    """Delete the temporary files that :func:`write_atomic` calls left behind in ``out_dir``
    (recursively) when their process was killed between creating and renaming them.

    Only safe while no other process publishes into ``out_dir``: call it under the publish
    lock. Returns what was removed; a file that cannot be removed is left (it is hidden,
    never served).
    """
    removed: list[Path] = []
    if not out_dir.is_dir():
        return removed
    for folder, dirs, names in os.walk(out_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if _TEMPORARY.match(name):
                path = Path(folder) / name
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed
