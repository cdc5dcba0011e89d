"""Bounded concurrency for fetching: a per-host slot limit and a host-interleaved order.

The total limit is the size of the fetch thread pool (see :mod:`feedsvc.pipeline`); this
module adds the per-host one. It knows nothing about HTTP or storage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class HostLimiter:
    """At most ``per_host`` holders of a slot for the same host at once (thread-safe)."""

    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of ``host``'s slots for the duration of the block (blocks until free)."""
        with self._lock:
            sem = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with sem:
            yield


def interleave_by(items: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """``items`` reordered round-robin across their keys (hosts), first-seen key first, order
    kept within a key: so a pool of workers is not filled with jobs that all wait for the
    same host's few slots while other hosts sit idle."""
    groups: OrderedDict[str, list[T]] = OrderedDict()
    for item in items:
        groups.setdefault(key(item), []).append(item)
    out: list[T] = []
    queues = [iter(g) for g in groups.values()]
    while queues:
        still: list[Iterator[T]] = []
        for q in queues:
            nxt = next(q, None)
            if nxt is not None:
                out.append(nxt)
                still.append(q)
        queues = still
    return out
