"""``ingest(source)`` = read or fetch → parse → plan → store, and ``publish``.

This module only sequences calls: reading is in :mod:`feedsvc.articles` and
:mod:`feedsvc.fetch`, parsing in :mod:`feedsvc.parse`, decisions in :mod:`feedsvc.dedup`,
writes in :mod:`feedsvc.storage` and :mod:`feedsvc.publish`. A failing source is returned as an
:class:`~feedsvc.models.IngestReport` with errors (and recorded in the database), never raised:
one broken source never stops the others. Anything that is not a
:class:`~feedsvc.errors.FeedsvcError` is a bug and propagates.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from feedsvc import articles as article_files
from feedsvc import politeness as polite
from feedsvc.concurrency import HostLimiter, interleave_by
from feedsvc.config import Config
from feedsvc.dedup import Derived, derive_all, lookup_for, plan
from feedsvc.discover import feed_links, looks_like_html
from feedsvc.errors import FeedsvcError, FetchError, NetworkError, ParseError, SourceError
from feedsvc.fetch import DEFAULT_USER_AGENT, FetchOptions, fetch, make_client, post_form
from feedsvc.filestate import FileState
from feedsvc.localread import (
    FeedFileRead,
    FetchedParse,
    parse_fetched,
    parse_pool,
    read_feed_file,
    read_feed_files,
    workers_for,
)
from feedsvc.locks import publish_lock, publish_lock_path
from feedsvc.models import (
    Article,
    FeedInfo,
    FetchResult,
    FileStamp,
    IngestReport,
    Source,
    SourceKind,
)
from feedsvc.parse import parse_feed
from feedsvc.publish import PublishResult
from feedsvc.publish.files import remove_stale_temporaries
from feedsvc.sitepublish import publish_main_feed, publish_whole_site
from feedsvc.storage import RunCounts, SourceRun, SourceState, Store, iso
from feedsvc.websub import DEFAULT_DELAYS, PingResult, ping_hub

log = logging.getLogger("feedsvc.pipeline")

Clock = Callable[[], datetime]

MIN_POOL_FEEDS = 8
"""URL sources fetched in one run from which bodies are parsed on worker processes."""

PING_TIMEOUT = 10.0  # seconds per hub request: a slow hub must not hold up a run for long


def utc_now() -> datetime:
    """The default clock: aware UTC, whole seconds (what storage keeps)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Collected:
    """What reading a source produced, before storage."""

    articles: list[Article] = field(default_factory=list)
    info: FeedInfo | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    # Directory sources: stamps to store, files gone since the last run, files known unchanged
    # (skipped unread or unparsed; counted as unchanged), and whether old stamps are void.
    stamps: list[FileStamp] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    unchanged_files: int = 0
    forget_files: bool = False
    # issue 8: a feed file's state to record, and its entries when it was skipped unchanged
    feed_file: FileState | None = None
    unchanged_entries: int = 0
    # dedup's values for ``articles`` when they were computed with them (on a parse worker)
    derived: tuple[Derived, ...] | None = None


@dataclass
class Pipeline:
    """Everything a source run needs: the config, an open store, an HTTP client, a clock."""

    config: Config
    store: Store
    clock: Clock = utc_now
    client: httpx.Client | None = None
    rand: Callable[[], float] = random.random  # backoff jitter; injectable for tests
    # WebSub topics a hub has not acknowledged yet: announced again after the next publish.
    pending_pings: list[str] = field(default_factory=list)
    last_ping: PingResult | None = None
    ping_delays: tuple[float, ...] = DEFAULT_DELAYS  # waits between retries of a hub ping
    # Told (source name, entries new or updated) as each source of ingest_all finishes, on
    # the calling thread: what a progress bar shows. Failed and held sources count 0.
    progress: Callable[[str, int], None] | None = None

    def _client(self) -> httpx.Client:
        if self.client is None:
            self.client = make_client(self._fetch_options())
        return self.client

    def _fetch_options(self) -> FetchOptions:
        f = self.config.fetch
        return FetchOptions(
            timeout=f.timeout,
            max_bytes=f.max_bytes,
            user_agent=f.user_agent or DEFAULT_USER_AGENT,
            connect_timeout=f.connect_timeout,
            total_timeout=f.total_timeout,
            max_connections=f.max_connections,
            refuse_private=f.refuse_private_addresses,
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    # --- reading -----------------------------------------------------------------------------

    def collect(self, source: Source, *, read: FeedFileRead | None = None) -> Collected:
        """Read or fetch and parse one source. Raises SourceError if nothing could be read.

        A feed file unchanged since the last successful run is skipped (not read, or not
        parsed; see :mod:`feedsvc.filestate`). ``read`` is a feed file already read ahead
        (:func:`feedsvc.localread.read_feed_files`)."""
        out = Collected()
        if source.kind is SourceKind.DIRECTORY:
            state = self.store.source_state(source.name)
            # Stamps are only valid for the folder they were taken in.
            same_dir = state is not None and state.location == source.location
            known = self.store.seen_files(source.name) if same_dir else {}
            out.forget_files = not same_dir
            scan = article_files.scan_directory(source.path, known=known)
            out.stamps = [s for s in scan.stamps if known.get(s.relpath) != s]
            out.gone = sorted(known.keys() - {s.relpath for s in scan.stamps})
            out.unchanged_files = len(scan.unchanged)
            out.articles.extend(scan.articles)
            out.errors.extend(scan.errors)
            out.warnings.extend(scan.skipped)
            out.skipped = len(scan.skipped)
        elif source.kind is SourceKind.ARTICLE:
            out.articles.append(article_files.read_article_file(source.path, source.path.parent))
        elif source.kind is SourceKind.FILE:
            path = str(source.path)
            if read is None or read.path != path:
                recorded = self.store.feed_file(source.name, path)
                read = read_feed_file(path, recorded, self.config.dedup.url_rules)
            if read.error is not None:
                raise SourceError(read.error)
            out.feed_file = read.state
            if read.unchanged:
                out.unchanged_entries = read.state.entries if read.state else 0
            elif read.parsed is not None:
                out.articles.extend(read.parsed.articles)
                out.derived = read.derived
                out.info = read.parsed.info
                out.warnings.extend(read.parsed.warnings)
        else:
            raise AssertionError("URL sources go through ingest_all")
        return out

    # --- one source --------------------------------------------------------------------------

    def ingest(self, source: Source, *, force: bool = False) -> IngestReport:
        """Run one source: collect, plan and store in one transaction. Never raises for a
        problem with the source; the report carries the error and is recorded. A URL source
        follows the fetch rules of :meth:`ingest_all` (``force`` as there)."""
        if source.kind is SourceKind.URL:
            return self.ingest_all([source], force=force)[0]
        return self._ingest_local(source, None)

    def _ingest_local(self, source: Source, read: FeedFileRead | None) -> IngestReport:
        started = self.clock()
        try:
            got = self.collect(source, read=read)
        except FeedsvcError as e:
            report = IngestReport(source.name, started, self.clock(), errors=(str(e),))
            self._record_failure(source, report)
            return report

        try:
            with self.store.transaction() as run:
                now = self.clock()
                run.ensure_source(source.name, source.kind.value, source.location, now)
                if source.kind is SourceKind.FILE and not got.unchanged_entries:
                    run.set_feed_info(source.name, got.info)
                counts = self._store_articles(run, source, got.articles, now, got.derived)
                if source.kind is SourceKind.DIRECTORY:
                    if got.forget_files:
                        run.forget_files(source.name)
                    run.record_files(source.name, got.stamps, got.gone)
                if got.feed_file is not None:
                    run.set_feed_file(source.name, str(source.path), got.feed_file)
                report = IngestReport(
                    source=source.name,
                    started=started,
                    finished=self.clock(),
                    new=counts.new,
                    updated=counts.updated,
                    unchanged=counts.unchanged + got.unchanged_files + got.unchanged_entries,
                    duplicates=counts.duplicates,
                    skipped=got.skipped,
                    not_modified=got.not_modified,
                    errors=tuple(got.errors),
                    warnings=tuple(got.warnings),
                )
                run.record_run(report, next_due=report.finished + interval(source))
        except FeedsvcError as e:
            report = IngestReport(source.name, started, self.clock(), errors=(str(e),))
            self._record_failure(source, report)
            return report
        # A broken source is an expected condition, reported in the IngestReport (and by the
        # CLI's summary), hence WARNING rather than ERROR: ERROR is for feedsvc's own failures.
        for warning in report.warnings:
            log.info("%s: %s", source.name, warning)
        for error in report.errors:
            log.warning("%s: %s", source.name, error)
        return report

    def _store_articles(
        self,
        run: SourceRun,
        source: Source,
        articles: Sequence[Article],
        now: datetime,
        derived: Sequence[Derived] | None = None,
    ) -> RunCounts:
        """Plan (pure) and apply one source's articles inside its transaction: the one place
        local and URL sources meet the dedup rules. ``derived``: the articles' dedup values
        when a parse worker computed them already."""
        rules = self.config.dedup.url_rules
        derived = derive_all(articles, rules, derived)
        existing = run.existing(source.name, lookup_for(articles, rules, derived))
        intents = plan(
            source.name,
            articles,
            existing,
            now,
            feed_id=self.config.feed.id,
            rules=rules,
            priorities=self.config.priorities(),
            derived=derived,
        )
        return run.apply(source.name, intents, now)

    def _record_failure(self, source: Source, report: IngestReport) -> None:
        log.warning("%s: %s", source.name, "; ".join(report.errors))
        try:
            self.store.record_failure(
                report, source.kind.value, source.location, report.finished + interval(source)
            )
        except FeedsvcError as e:  # the database itself is failing; the report still says why
            log.error("%s: could not record the failure: %s", source.name, e)

    def ingest_all(self, sources: Iterable[Source], *, force: bool = False) -> list[IngestReport]:
        """Run every source now; reports come back in the order of ``sources``.

        URL sources are fetched concurrently (at most ``fetch.max_connections`` at once, at
        most ``fetch.max_per_host`` per host) on worker threads; parsing and storing stay on
        this thread, one transaction per source. Local sources run one after the other.

        A source retired by 410 Gone or under a publisher's Retry-After is not fetched (its
        report says why and until when) unless ``force``; a forced fetch that succeeds
        re-enables a retired source. Intervals and backoff are the daemon's business and are
        not checked here. When every URL source fails without any HTTP response, across at
        least two servers, our own network is taken to be down and the failures are not
        counted against the sources (:func:`feedsvc.politeness.network_down`).
        """
        sources = list(sources)
        with self.store.grouped():  # sources committed together, ~0.2 s at a time
            reports = self._ingest_grouped(sources, force)
        return [reports[i] for i in range(len(sources))]

    def _ingest_grouped(self, sources: list[Source], force: bool) -> dict[int, IngestReport]:
        reports: dict[int, IngestReport] = {}
        urls: list[tuple[int, Source]] = []
        files = [src for src in sources if src.kind is SourceKind.FILE]
        # Feed files are read and parsed ahead (on worker processes when that pays) while
        # each source in turn is stored here.
        reads = read_feed_files(
            [(str(src.path), self.store.feed_file(src.name, str(src.path))) for src in files],
            workers=workers_for(self.config.ingest.parse_workers, os.cpu_count()),
            rules=self.config.dedup.url_rules,
        )
        for i, src in enumerate(sources):
            if src.kind is SourceKind.URL:
                urls.append((i, src))
            elif src.kind is SourceKind.FILE:
                reports[i] = self._ingest_local(src, next(reads))
                self._tick(src.name, reports[i])
            else:
                self.store.flush()  # reading a folder can take a while: not under the lock
                reports[i] = self.ingest(src)
                self._tick(src.name, reports[i])
        reads.close()
        if urls:
            reports.update(self._ingest_urls(urls, force))
        return reports

    # --- URL sources -------------------------------------------------------------------------

    def _ingest_urls(
        self, urls: Sequence[tuple[int, Source]], force: bool
    ) -> dict[int, IngestReport]:
        states = {s.name: s for s in self.store.source_states()}
        now = self.clock()
        out: dict[int, IngestReport] = {}
        todo: list[tuple[int, Source]] = []
        for i, src in urls:
            st = states.get(src.name)
            held = polite.hold_reason(
                now,
                src.name,
                retired=st.retired if st else None,
                retry_after_until=st.retry_after_until if st else None,
                force=force,
            )
            if held:
                log.info("%s: not fetched: %s", src.name, held)
                out[i] = IngestReport(src.name, now, now, held=held)
                self._tick(src.name, out[i])
            else:
                todo.append((i, src))
        if not todo:
            return out

        limiter = HostLimiter(self.config.fetch.max_per_host)
        ordered = interleave_by(
            todo, lambda job: polite.host_key(_url_for(job[1], states.get(job[1].name)))
        )
        failures: list[tuple[int, Fetched]] = []
        workers = min(self.config.fetch.max_connections, len(ordered))
        self._client()  # create the shared client before the threads use it
        # Fetches run ahead of storing by at most this many responses: without a bound, fast
        # servers fill memory with bodies waiting for this thread to parse them.
        window = threading.BoundedSemaphore(2 * workers)

        def finish(i: int, got: Fetched, ahead: FetchedParse | None = None) -> None:
            window.release()
            report = None
            if got.error is None:
                report = self._store_fetched(got, states.get(got.source.name), ahead)
            if report is None:
                failures.append((i, got))
            else:
                out[i] = report
            self._tick(got.source.name, report)

        # With many feeds to parse, bodies are parsed (and their dedup values derived) on
        # worker processes while this thread stores; the window still bounds them.
        parsers = self._url_parse_pool(len(ordered))
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="feedsvc-fetch") as pool:
                fetches = {
                    pool.submit(self._fetch_source, src, states.get(src.name), limiter, window): i
                    for i, src in ordered
                }
                parses: dict[Future[FetchedParse], tuple[int, Fetched]] = {}
                pending: set[Future[Any]] = set(fetches)
                while pending:
                    if not any(f.done() for f in pending):
                        self.store.flush()  # not holding the write lock while waiting
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        if fut in parses:
                            i, got = parses.pop(fut)
                            try:
                                ahead = fut.result()
                            except BrokenProcessPool as e:  # killed: parse it here instead
                                log.warning("parse workers failed (%s); parsing here", e)
                                ahead = None
                            finish(i, got, ahead)
                            continue
                        i, got = fetches[fut], fut.result()  # a bug if it raises: let it
                        job = self._parse_ahead(parsers, got, states.get(got.source.name))
                        if job is None:
                            finish(i, got)
                        else:
                            parses[job] = (i, got)
                            pending.add(job)
        finally:
            if parsers is not None:
                parsers.shutdown()
        down = polite.network_down(
            ((got.url, isinstance(got.error, NetworkError)) for _, got in failures), len(todo)
        )
        if down:
            log.error(
                "every source failed without any HTTP response: our network looks down; "
                "the failures are not counted against the sources"
            )
        for i, got in failures:
            out[i] = self._record_url_failure(got, states.get(got.source.name), down)
        return out

    def _parse_ahead(
        self, parsers: ProcessPoolExecutor | None, got: Fetched, state: SourceState | None
    ) -> Future[FetchedParse] | None:
        """Start parsing a fetched body on a worker process, if there are workers and the
        body will be parsed at all; None when :meth:`_store_fetched` is to do it all."""
        result = got.result
        if parsers is None or result is None or got.error is not None:
            return None
        if not self._must_parse(got, state):
            return None
        rules = self.config.dedup.url_rules
        try:
            return parsers.submit(
                parse_fetched, result.body, result.headers, result.url, got.url, rules
            )
        except BrokenProcessPool:
            return None

    def _url_parse_pool(self, feeds: int) -> ProcessPoolExecutor | None:
        """Worker processes to parse fetched bodies on, when there are enough feeds to pay
        for starting them (``[ingest] parse_workers``); None to parse on this thread."""
        workers = workers_for(self.config.ingest.parse_workers, os.cpu_count())
        if workers <= 1 or feeds < MIN_POOL_FEEDS:
            return None
        return parse_pool(workers)

    def _tick(self, name: str, report: IngestReport | None) -> None:
        if self.progress is not None:
            self.progress(name, report.new + report.updated if report else 0)

    def _fetch_source(
        self,
        source: Source,
        state: SourceState | None,
        limiter: HostLimiter,
        window: threading.BoundedSemaphore | None = None,
    ) -> Fetched:
        """The network part of a URL source run (runs on a worker thread; no storage).
        ``window`` is acquired first; the caller releases it once the result is stored."""
        if window is not None:
            window.acquire()
        started = self.clock()
        url = _url_for(source, state)
        same = state is not None and state.location == source.location
        got = Fetched(source, url, started)
        try:
            with limiter.slot(polite.host_key(url)):
                got.result = self._get(
                    url,
                    state.etag if same and state else None,
                    state.last_modified if same and state else None,
                )
            result = got.result
            if polite.classify(result.status) is polite.Verdict.OK and looks_like_html(
                result.headers.get("content-type"), result.body
            ):
                links = feed_links(result.body, result.url)
                if not links:
                    raise FetchError(
                        f"{url}: is an HTML page that links to no feed "
                        '(no <link rel="alternate" type="application/atom+xml" ...>)'
                    )
                got.discovered = links[0]
                log.info("%s: %s is an HTML page; using its feed %s", source.name, url, links[0])
                with limiter.slot(polite.host_key(links[0])):
                    got.result = self._get(links[0], None, None)
        except FetchError as e:
            got.error = e
        return got

    def _get(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        f = self.config.fetch
        return fetch(
            self._client(),
            url,
            user_agent=f.user_agent or DEFAULT_USER_AGENT,
            etag=etag,
            last_modified=last_modified,
            max_bytes=f.max_bytes,
            total_timeout=f.total_timeout,
        )

    @staticmethod
    def _same_bytes(got: Fetched, state: SourceState | None, body_hash: str | None) -> bool:
        """Whether a fetched body is the one parsed last time (so it is not parsed again)."""
        return (
            body_hash is not None
            and state is not None
            and state.body_hash == body_hash
            and state.location == got.source.location
            and got.discovered is None
        )

    def _must_parse(self, got: Fetched, state: SourceState | None) -> bool:
        """Whether :meth:`_store_fetched` will parse this fetch's body."""
        result = got.result
        if result is None or polite.classify(result.status) is not polite.Verdict.OK:
            return False
        return not self._same_bytes(got, state, hashlib.sha256(result.body).hexdigest())

    def _store_fetched(
        self, got: Fetched, state: SourceState | None, ahead: FetchedParse | None = None
    ) -> IngestReport | None:
        """Store a fetch that got an HTTP response. Returns None when the response is a failure
        (an error status, or a body that does not parse): the caller records it. ``ahead`` is
        the body already parsed on a worker process (:func:`feedsvc.localread.parse_fetched`)."""
        source, result = got.source, got.result
        assert result is not None
        verdict = polite.classify(result.status)
        if verdict not in (polite.Verdict.OK, polite.Verdict.NOT_MODIFIED):
            return None
        now = self.clock()
        interval = source.interval_seconds
        body_hash = (
            hashlib.sha256(result.body).hexdigest() if verdict is polite.Verdict.OK else None
        )
        same_bytes = self._same_bytes(got, state, body_hash)
        notes: list[str] = []
        parsed = None
        derived = None
        if verdict is polite.Verdict.NOT_MODIFIED:
            notes.append("HTTP 304")
        elif same_bytes:
            notes.append("same bytes as last time; not parsed")
        elif ahead is not None:
            if ahead.error is not None:
                got.error = ahead.error
                return None
            parsed, derived = ahead.parsed, ahead.derived
        else:
            try:
                parsed = parse_feed(
                    result.body, headers=result.headers, url=result.url, origin=got.url
                )
            except FeedsvcError as e:
                got.error = e
                return None
        ttl = parsed.ttl_seconds if parsed else (state.feed_ttl if state else None)
        sched = polite.schedule_success(
            now,
            interval,
            headers=result.headers,
            ttl_seconds=ttl,
            max_delay=self.config.fetch.max_delay,
        )
        # Redirects: a 301/308 moves the subscription only once confirmed (politeness).
        fetch_state: dict[str, str | int | datetime | None] = {}
        target = polite.permanent_target(result.redirects)
        decision = polite.track_redirect(
            state.redirect_candidate if state else None,
            state.redirect_count if state else 0,
            target,
        )
        fetch_state.update(redirect_candidate=decision.candidate, redirect_count=decision.count)
        if got.discovered is not None:
            fetch_state.update(
                discovered_url=got.discovered,
                fetch_url=got.discovered,
                fetch_url_for=source.location,
            )
            notes.append(f"HTML page; its feed {got.discovered} is fetched from now on")
        if decision.adopt and target is not None:
            fetch_state.update(fetch_url=target, fetch_url_for=source.location)
            notes.append(f"moved permanently to {target}; stored")
            log.warning("%s: %s moved permanently to %s; stored", source.name, got.url, target)
        elif decision.candidate:
            notes.append(f"permanent redirect to {decision.candidate} seen; not stored yet")
        # Validators and state are refreshed on 304 and on same bytes too (a known bug
        # elsewhere is to skip before saving them, so the next request is unconditional).
        fetch_state.update(
            etag=result.etag if result.etag is not None else (state.etag if state else None),
            last_modified=(
                result.last_modified
                if result.last_modified is not None
                else (state.last_modified if state else None)
            ),
            last_status=result.status,
            retry_after_until=None,
            retired=None,
            retired_at=None,
            schedule_reason=sched.reason,
        )
        if body_hash is not None:
            fetch_state["body_hash"] = body_hash
        if parsed is not None:
            fetch_state["feed_ttl"] = parsed.ttl_seconds
        try:
            with self.store.transaction() as run:
                run.ensure_source(source.name, source.kind.value, source.location, now)
                run.set_fetch_state(source.name, **fetch_state)
                counts = None
                if parsed is not None:
                    run.set_feed_info(source.name, parsed.info)
                    counts = self._store_articles(run, source, parsed.articles, now, derived)
                report = IngestReport(
                    source=source.name,
                    started=got.started,
                    finished=self.clock(),
                    new=counts.new if counts else 0,
                    updated=counts.updated if counts else 0,
                    unchanged=counts.unchanged if counts else 0,
                    duplicates=counts.duplicates if counts else 0,
                    not_modified=parsed is None,
                    warnings=parsed.warnings if parsed else (),
                    notes=tuple(notes),
                )
                run.record_run(report, next_due=sched.next_due)
        except FeedsvcError as e:
            got.error = e
            return None
        for warning in report.warnings:
            log.warning("%s: %s", source.name, warning)
        return report

    def _record_url_failure(
        self, got: Fetched, state: SourceState | None, network_down: bool
    ) -> IngestReport:
        """Record a failed URL source run: backoff, Retry-After, or retirement on 410."""
        source, result = got.source, got.result
        now = self.clock()
        interval = source.interval_seconds
        max_delay = self.config.fetch.max_delay
        streak = (state.error_streak if state else 0) + 1
        fetch_state: dict[str, str | int | datetime | None] = {}
        notes: list[str] = []
        if got.error is not None:
            error = str(got.error)
        else:
            assert result is not None
            phrase = _reason(result.status)
            error = f"{got.url}: HTTP {result.status}{' ' + phrase if phrase else ''}"
        if result is not None:
            fetch_state["last_status"] = result.status
        verdict = (
            polite.classify(result.status) if result is not None and got.error is None else None
        )
        retry_after = None
        if verdict is polite.Verdict.RETRY_LATER and result is not None:
            retry_after = polite.parse_retry_after(result.headers.get("retry-after"), now)
            fetch_state["retry_after_until"] = retry_after
            if retry_after is not None:
                error += f" (Retry-After: until {iso(retry_after)})"
        if verdict is polite.Verdict.GONE:
            reason = f"HTTP 410 Gone from {got.url} on {iso(now)}"
            fetch_state.update(retired=reason, retired_at=now, schedule_reason="retired")
            error += "; source retired (`feedsvc ingest --force --source NAME` re-enables it)"
            error = error.replace("NAME", source.name)
            next_due = polite.FAR_FUTURE
        elif network_down:
            sched = polite.schedule_network_down(now, interval)
            fetch_state["schedule_reason"] = sched.reason
            next_due = sched.next_due
            notes.append("network down: not counted against the source")
        else:
            sched = polite.schedule_failure(
                now, interval, streak, self.rand, retry_after=retry_after, max_delay=max_delay
            )
            fetch_state["schedule_reason"] = sched.reason
            next_due = sched.next_due
        report = IngestReport(
            source.name, got.started, self.clock(), errors=(error,), notes=tuple(notes)
        )
        log.error("%s: %s", source.name, error)
        try:
            self.store.record_failure(
                report,
                source.kind.value,
                source.location,
                next_due,
                count_failure=not network_down,
                **fetch_state,
            )
        except FeedsvcError as e:
            log.error("%s: could not record the failure: %s", source.name, e)
        return report

    # --- trying a source without storing (sources add, doctor) ------------------------------

    def probe(self, source: Source, limiter: HostLimiter | None = None) -> Probe:
        """Read or fetch and parse ``source`` as a run would (autodiscovery included), and
        store nothing: what ``sources add`` checks before saving and ``doctor`` reports.

        Never raises for a problem with the source: it is in :attr:`Probe.error`. URL sources
        are fetched without validators, so the answer is never a 304. For URL sources it is
        safe to call from several threads at once (sharing ``limiter``); local sources must be
        probed on the thread that owns the store.
        """
        status: int | None = None
        try:
            if source.kind is SourceKind.DIRECTORY:
                scan = article_files.scan_directory(source.path)
                return Probe(source.location, entries=len(scan.articles), warnings=scan.errors)
            if source.kind is not SourceKind.URL:
                got = self.collect(source)
                return Probe(
                    source.location,
                    title=got.info.title if got.info else None,
                    entries=len(got.articles),
                    warnings=tuple(got.warnings),
                )
            fetched = self._fetch_source(source, None, limiter or HostLimiter(1))
            if fetched.error is not None:
                raise fetched.error
            result = fetched.result
            assert result is not None
            status = result.status
            if polite.classify(result.status) is not polite.Verdict.OK:
                phrase = _reason(result.status)
                raise FetchError(
                    f"{fetched.discovered or fetched.url}: HTTP {result.status}"
                    + (f" {phrase}" if phrase else "")
                )
            parsed = parse_feed(
                result.body, headers=result.headers, url=result.url, origin=fetched.url
            )
        except FeedsvcError as e:
            return Probe(source.location, error=str(e), error_kind=_error_kind(e), status=status)
        return Probe(
            fetched.discovered or source.location,
            title=parsed.info.title,
            entries=len(parsed.articles),
            warnings=parsed.warnings,
            discovered_from=source.location if fetched.discovered else None,
            final_url=result.url,
            status=status,
        )

    # --- publishing --------------------------------------------------------------------------

    def atom_path(self) -> Path:
        return self.config.publish.dir / "atom.xml"

    def publish(self) -> bool:
        """Regenerate every published file from the database (see :meth:`publish_site`).
        True if any file's bytes changed."""
        return self.publish_site().any_changed

    def publish_site(self) -> PublishResult:
        """Regenerate ``atom.xml`` and its archive, ``rss.xml``, ``feed.json``, the
        per-source feeds and ``index.html``; then, when a WebSub hub is configured, announce
        the changed feeds to it. Files whose bytes did not change are not rewritten.

        The hub ping happens after every file is written and never raises: a failing hub is
        logged, and its topics are announced again after the next publish. Raises
        :class:`~feedsvc.errors.PublishError` when the files cannot be rendered or written.
        """
        settings = self.config.feed
        self.last_ping = None
        # The publish lock spans the reads and the writes, so that of two processes publishing
        # at once (the daemon and a CLI ingest) the one that writes last also read last: the
        # files never go back to an older state of the database.
        with publish_lock(publish_lock_path(self.config.storage.path)):
            # Read the change counter before the stories: a change committed meanwhile leaves
            # the publish pending, and the next ingest publishes it (crash consistency).
            generation = self.store.publish_generation()
            remove_stale_temporaries(self.config.publish.dir)  # of a publish that was killed
            result = publish_whole_site(self.store, settings, self.config.publish.dir)
            self.store.mark_published(generation)
        if settings.hub:
            topics = [*self.pending_pings, *result.topics]
            if topics:
                self.last_ping = self._ping(settings.hub, topics)
                self.pending_pings = list(self.last_ping.failed)
        return result

    def publish_main_feed(self) -> PublishResult:
        """Regenerate ``atom.xml`` only (the same bytes :meth:`publish_site` writes there),
        reading only what it shows; no hub ping. What ``bench/run.py`` times as "publishing
        the main feed"."""
        with publish_lock(publish_lock_path(self.config.storage.path)):
            return publish_main_feed(self.store, self.config.feed, self.config.publish.dir)

    def _ping(self, hub: str, topics: list[str]) -> PingResult:
        client = self._client()
        timeout = min(self.config.fetch.timeout, PING_TIMEOUT)

        def post(url: str, data: Sequence[tuple[str, str]]) -> int:
            return post_form(client, url, data, timeout=timeout)

        return ping_hub(post, hub, topics, delays=self.ping_delays)


@dataclass(frozen=True)
class Probe:
    """What :meth:`Pipeline.probe` found: a source read and parsed, or why it could not be."""

    location: str  # the feed to subscribe to: the discovered feed's URL for an HTML page
    title: str | None = None  # the feed's own title (None for a folder of articles)
    entries: int = 0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    discovered_from: str | None = None  # the HTML page given, when autodiscovery was used
    final_url: str | None = None  # where the fetch ended after redirects (URL sources)
    status: int | None = None  # the final HTTP status, when a response arrived
    error_kind: str | None = None  # "network", "fetch" (HTTP, limits), "parse" or "read"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Fetched:
    """What the network part of a URL source run produced (made on a worker thread)."""

    source: Source
    url: str  # the URL requested (configured, or stored after a redirect or discovery)
    started: datetime
    result: FetchResult | None = None
    error: FeedsvcError | None = None
    discovered: str | None = None  # the feed an HTML page linked to, fetched instead


def _error_kind(e: FeedsvcError) -> str:
    if isinstance(e, NetworkError):
        return "network"
    if isinstance(e, FetchError):
        return "fetch"
    if isinstance(e, ParseError):
        return "parse"
    return "read"


def _url_for(source: Source, state: SourceState | None) -> str:
    return state.url_for(source.location) if state else source.location


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def interval(source: Source) -> timedelta:
    """How long after a run the source is due again (the daemon's schedule reads it)."""
    return timedelta(seconds=source.interval_seconds)


def needs_publish(reports: Iterable[IngestReport], atom: Path, store: Store | None = None) -> bool:
    """Publish after a run when anything changed, when there is no output yet, or (given the
    ``store``) when an earlier change was never published (its process died before that)."""
    if any(r.changed for r in reports) or not atom.exists():
        return True
    return store is not None and store.publish_pending()
