"""Worker processes that end with the process that started them.

A worker process (a parse worker, an HTTP serve worker) waits on a pipe or a socket that other
processes hold open too, so when its owner is killed with SIGKILL (or by the OOM killer) nothing
tells it to stop: it would keep running, holding memory, the listening port, or the fork server
(found by tests/test_crash.py for parse workers). :func:`exit_with` starts a thread in the
worker that ends it as soon as the owner is gone. No other job.
"""

from __future__ import annotations

import os
import threading
import time

POLL_S = 0.5
"""How often a worker checks that its owner is alive."""


def exit_with(owner: int) -> None:
    """In a worker: exit (status 1, at once) as soon as process ``owner`` is gone.

    Polls with signal 0; a pid reused by another user's process (PermissionError) counts as
    gone too. Call it once per worker process, from its start-up code."""

    def watch() -> None:
        while True:
            time.sleep(POLL_S)
            try:
                os.kill(owner, 0)
            except (ProcessLookupError, PermissionError):
                os._exit(1)

    threading.Thread(target=watch, name="feedsvc-owner-watch", daemon=True).start()
