"""Local feed files: skip the unchanged ones, parse the others, on worker processes if asked.

:func:`read_feed_file` stats, reads and parses one feed file, skipping what
:mod:`feedsvc.filestate` says is unchanged; it returns a picklable :class:`FeedFileRead` (never
raises for a bad file), so that it can run on a worker process. :func:`read_feed_files` runs it
for many files and yields the results in order: in this process, one at a time, when
``workers`` is 1 or there is too little to parse to pay for starting processes; otherwise on a
pool of worker processes that stays a few files ahead of the caller, who stores each result
while the next ones are parsed (parsing is CPU-bound Python; threads would share one core).

What it does not do: store anything, or decide what is new (the pipeline and
:mod:`feedsvc.dedup` do).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

from feedsvc.dedup import Derived, UrlRules, derive
from feedsvc.errors import FeedsvcError, ParseError
from feedsvc.filestate import FileState, Signature, trusted, unchanged_by_hash, unchanged_by_stat
from feedsvc.models import ParsedFeed
from feedsvc.owner import exit_with

__all__ = [
    "MIN_POOL_BYTES",
    "FeedFileRead",
    "FetchedParse",
    "parse_fetched",
    "parse_pool",
    "read_feed_file",
    "read_feed_files",
    "workers_for",
]

log = logging.getLogger("feedsvc.localread")

MIN_POOL_BYTES = 4_000_000
"""Below this much to parse, worker processes cost more to start than they save."""


@dataclass(frozen=True)
class FeedFileRead:
    """The outcome of reading one feed file: parsed, unchanged, or an error message."""

    path: str
    parsed: ParsedFeed | None = None
    state: FileState | None = None  # what to record once the entries are stored
    unchanged: bool = False  # same file as last time: not parsed
    error: str | None = None  # names the file; set when it could not be read or parsed
    derived: tuple[Derived, ...] | None = None  # dedup's values, one per parsed article


def read_feed_file(
    path: str, known: FileState | None = None, rules: UrlRules | None = None
) -> FeedFileRead:
    """Read and parse the feed file ``path`` unless ``known`` shows it is unchanged; with
    ``rules``, also compute what deduplication derives from each article
    (:func:`feedsvc.dedup.derive`), so that on a worker process that work is done there."""
    from feedsvc.parse import parse_feed  # imported here: cheap to pickle a reference to

    checked_ns = time.time_ns()
    try:
        signature = Signature.of(os.stat(path))
        if known is not None and unchanged_by_stat(known, signature):
            return FeedFileRead(path, state=known, unchanged=True)
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return FeedFileRead(path, error=f"{path}: cannot read feed file: {e.strerror or e}")
    digest = hashlib.sha256(data).hexdigest()
    fresh = trusted(signature, checked_ns)
    if known is not None and unchanged_by_hash(known, digest):
        return FeedFileRead(path, state=replace(known, signature=fresh), unchanged=True)
    try:
        parsed = parse_feed(data, origin=path)
    except ParseError as e:
        return FeedFileRead(path, error=str(e))
    derived = None if rules is None else tuple(derive(a, rules) for a in parsed.articles)
    state = FileState(digest, fresh, entries=len(parsed.articles))
    return FeedFileRead(path, parsed, state, derived=derived)


@dataclass(frozen=True)
class FetchedParse:
    """A fetched feed body parsed (on a worker process): the feed and dedup's values for its
    articles, or the error that parsing raised."""

    parsed: ParsedFeed | None = None
    derived: tuple[Derived, ...] | None = None
    error: FeedsvcError | None = None


def parse_fetched(
    body: bytes, headers: dict[str, str], url: str, origin: str, rules: UrlRules
) -> FetchedParse:
    """``parse_feed`` of a fetched body and :func:`feedsvc.dedup.derive` of its articles;
    a :class:`~feedsvc.errors.FeedsvcError` is returned, not raised (it crosses processes)."""
    from feedsvc.parse import parse_feed

    try:
        parsed = parse_feed(body, headers=headers, url=url, origin=origin)
    except FeedsvcError as e:
        return FetchedParse(error=e)
    return FetchedParse(parsed, tuple(derive(a, rules) for a in parsed.articles))


def parse_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for parsing: forked from a fork server (forking a process that runs
    threads, like the URL fetchers, is unsafe), spawned where there is none."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=exit_with,  # a killed ingest leaves no worker behind
        initargs=(os.getpid(),),
    )


def workers_for(setting: int, cpus: int | None) -> int:
    """How many parse workers ``ingest.parse_workers`` means on a machine with ``cpus``."""
    if setting > 0:
        return setting
    return cpus if cpus and cpus > 1 else 1


def read_feed_files(
    jobs: Sequence[tuple[str, FileState | None]],
    *,
    workers: int,
    min_pool_bytes: int = MIN_POOL_BYTES,
    rules: UrlRules | None = None,
) -> Generator[FeedFileRead, None, None]:
    """:func:`read_feed_file` for each ``(path, known)`` (and ``rules``), yielded in order
    of ``jobs``; on ``workers`` processes when there are at least ``min_pool_bytes`` to read
    and parse."""
    if workers <= 1 or len(jobs) < 2 or _bytes_to_parse(jobs) < min_pool_bytes:
        for path, known in jobs:
            yield read_feed_file(path, known, rules)
        return
    todo = iter(jobs)
    with parse_pool(workers) as pool:
        pending: deque[tuple[Future[FeedFileRead], str, FileState | None]] = deque()
        # A bounded window: results wait in memory only a few files ahead of the caller.
        for path, known in todo:
            pending.append((pool.submit(read_feed_file, path, known, rules), path, known))
            if len(pending) >= 2 * workers:
                break
        while pending:
            future, path, known = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool as e:
                # A worker died (killed, out of memory, or a __main__ script without the
                # `if __name__ == "__main__":` guard that spawned processes need): the rest
                # is read here, nothing is lost.
                log.warning("parse workers failed (%s); parsing in this process", e)
                yield read_feed_file(path, known, rules)
                for _, path, known in pending:
                    yield read_feed_file(path, known, rules)
                break
            for next_path, next_known in todo:
                future = pool.submit(read_feed_file, next_path, next_known, rules)
                pending.append((future, next_path, next_known))
                break
            yield result
    for path, known in todo:
        yield read_feed_file(path, known, rules)


def _bytes_to_parse(jobs: Sequence[tuple[str, FileState | None]]) -> int:
    total = 0
    for path, known in jobs:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not unchanged_by_stat(known, Signature.of(st)):
            total += st.st_size
    return total
