"""Notice new and edited article files as they are written (the only watchfiles user).

:class:`FolderWatcher` watches the folders of directory sources in one background thread
(inotify on Linux, through watchfiles) and calls back with the names of the sources whose
folder saw an article file added or modified. It reads no file and runs no source: the daemon
decides what a change means (run that source now). Deletions and files that are not articles
(hidden files, editor backups, other suffixes) are ignored. A folder that does not exist when
watching starts is not watched; its source still runs on its schedule.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from watchfiles import Change, watch

from feedsvc.articles import SUFFIXES

log = logging.getLogger("feedsvc.watch")

DEBOUNCE_MS = 1000  # the longest a burst of changes is grouped before it is reported
STEP_MS = 50  # a burst is reported once no change came for this long
STOP_POLL_MS = 200  # how often the thread checks whether it should stop


def is_article_change(path: Path, folder: Path) -> bool:
    """Whether a changed ``path`` inside ``folder`` may be an article (pure)."""
    try:
        rel = path.relative_to(folder)
    except ValueError:
        return False
    if any(part.startswith(".") for part in rel.parts):
        return False
    name = path.name.lower()
    return name.endswith(SUFFIXES) and not name.endswith("~")


class FolderWatcher:
    """Watch ``folders`` (source name → folder) and report changed sources to ``on_change``."""

    def __init__(self, folders: Mapping[str, Path], on_change: Callable[[str], None]) -> None:
        self.folders = {name: Path(f).resolve() for name, f in folders.items()}
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        existing = sorted({f for f in self.folders.values() if f.is_dir()})
        missing = sorted(n for n, f in self.folders.items() if not f.is_dir())
        for name in missing:
            log.warning("%s: folder %s does not exist; not watched", name, self.folders[name])
        if not existing:
            return
        self._thread = threading.Thread(
            target=self._run, args=(existing,), name="feedsvc-watch", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, folders: list[Path]) -> None:
        try:
            for changes in watch(
                *folders,
                watch_filter=None,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=self._stop,
                rust_timeout=STOP_POLL_MS,
                yield_on_timeout=False,
                raise_interrupt=False,
            ):
                self._dispatch(changes)
        except Exception:  # a watcher failure must not take the daemon down
            log.exception("watching %s failed; sources still run on their schedule", folders)

    def _dispatch(self, changes: set[tuple[Change, str]]) -> None:
        touched: set[str] = set()
        for change, raw in changes:
            if change is Change.deleted:
                continue
            path = Path(raw)
            for name, folder in self.folders.items():
                if is_article_change(path, folder):
                    touched.add(name)
        for name in sorted(touched):
            log.debug("%s: files changed, running it now", name)
            self.on_change(name)
