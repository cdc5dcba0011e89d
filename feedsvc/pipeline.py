"""``ingest(source)`` = read or fetch → parse → plan → store, and ``publish``.

This module only sequences calls: reading is in :mod:`feedsvc.articles` and
:mod:`feedsvc.fetch`, parsing in :mod:`feedsvc.parse`, decisions in :mod:`feedsvc.dedup`,
writes in :mod:`feedsvc.storage` and :mod:`feedsvc.publish`. A failing source is returned as an
:class:`~feedsvc.models.IngestReport` with errors (and recorded in the database), never raised:
one broken source never stops the others. Anything that is not a
:class:`~feedsvc.errors.FeedsvcError` is a bug and propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from feedsvc import articles as article_files
from feedsvc.config import Config
from feedsvc.dedup import lookup_for, plan
from feedsvc.errors import FeedsvcError, SourceError
from feedsvc.fetch import DEFAULT_USER_AGENT, FetchOptions, fetch, make_client
from feedsvc.models import Article, FeedInfo, IngestReport, Source, SourceKind
from feedsvc.parse import parse_feed
from feedsvc.publish import publish_feed
from feedsvc.storage import Store

log = logging.getLogger("feedsvc.pipeline")

Clock = Callable[[], datetime]


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


@dataclass
class Pipeline:
    """Everything a source run needs: the config, an open store, an HTTP client, a clock."""

    config: Config
    store: Store
    clock: Clock = utc_now
    client: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self.client is None:
            f = self.config.fetch
            self.client = make_client(
                FetchOptions(f.timeout, f.max_bytes, f.user_agent or DEFAULT_USER_AGENT)
            )
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    # --- reading -----------------------------------------------------------------------------

    def collect(self, source: Source) -> Collected:
        """Read or fetch and parse one source. Raises SourceError if nothing could be read."""
        out = Collected()
        if source.kind is SourceKind.DIRECTORY:
            scan = article_files.scan_directory(source.path)
            out.articles.extend(scan.articles)
            out.errors.extend(scan.errors)
            out.warnings.extend(scan.skipped)
            out.skipped = len(scan.skipped)
        elif source.kind is SourceKind.ARTICLE:
            out.articles.append(article_files.read_article_file(source.path, source.path.parent))
        elif source.kind is SourceKind.FILE:
            try:
                data = source.path.read_bytes()
            except OSError as e:
                raise SourceError(f"{source.path}: cannot read feed file: {e.strerror or e}") from e
            self._parsed(out, data, {}, None, str(source.path))
        else:
            state = self.store.source_state(source.name)
            same_url = state is not None and state.location == source.location
            result = fetch(
                self._client(),
                source.location,
                etag=state.etag if same_url and state else None,
                last_modified=state.last_modified if same_url and state else None,
                max_bytes=self.config.fetch.max_bytes,
            )
            out.etag, out.last_modified = result.etag, result.last_modified
            if result.not_modified:
                out.not_modified = True
            else:
                self._parsed(out, result.body, result.headers, result.url, source.location)
        return out

    @staticmethod
    def _parsed(
        out: Collected, data: bytes, headers: dict[str, str], url: str | None, origin: str
    ) -> None:
        parsed = parse_feed(data, headers=headers, url=url, origin=origin)
        out.articles.extend(parsed.articles)
        out.info = parsed.info
        out.warnings.extend(parsed.warnings)

    # --- one source --------------------------------------------------------------------------

    def ingest(self, source: Source) -> IngestReport:
        """Run one source: collect, plan and store in one transaction. Never raises for a
        problem with the source; the report carries the error and is recorded."""
        started = self.clock()
        try:
            got = self.collect(source)
        except FeedsvcError as e:
            report = IngestReport(source.name, started, self.clock(), errors=(str(e),))
            self._record_failure(source, report)
            return report

        try:
            with self.store.transaction() as run:
                now = self.clock()
                run.ensure_source(source.name, source.kind.value, source.location, now)
                if source.kind in (SourceKind.URL, SourceKind.FILE) and not got.not_modified:
                    run.set_feed_info(source.name, got.info)
                if source.kind is SourceKind.URL:
                    run.set_validators(source.name, got.etag, got.last_modified)
                rules = self.config.dedup.url_rules
                existing = run.existing(source.name, lookup_for(got.articles, rules))
                intents = plan(
                    source.name,
                    got.articles,
                    existing,
                    now,
                    feed_id=self.config.feed.id,
                    rules=rules,
                    priorities=self.config.priorities(),
                )
                counts = run.apply(source.name, intents, now)
                report = IngestReport(
                    source=source.name,
                    started=started,
                    finished=self.clock(),
                    new=counts.new,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
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
        for warning in report.warnings:
            log.warning("%s: %s", source.name, warning)
        for error in report.errors:
            log.error("%s: %s", source.name, error)
        return report

    def _record_failure(self, source: Source, report: IngestReport) -> None:
        log.error("%s: %s", source.name, "; ".join(report.errors))
        try:
            self.store.record_failure(
                report, source.kind.value, source.location, report.finished + interval(source)
            )
        except FeedsvcError as e:  # the database itself is failing; the report still says why
            log.error("%s: could not record the failure: %s", source.name, e)

    def ingest_all(self, sources: Iterable[Source]) -> list[IngestReport]:
        return [self.ingest(s) for s in sources]

    # --- publishing --------------------------------------------------------------------------

    def atom_path(self) -> Path:
        return self.config.publish.dir / "atom.xml"

    def publish(self) -> bool:
        """Regenerate ``feeds/atom.xml`` from the database. True if its bytes changed."""
        settings = self.config.feed
        entries = self.store.published(settings.max_entries)
        return publish_feed(entries, settings, self.config.publish.dir)


def interval(source: Source) -> timedelta:
    """How long after a run the source is due again (the daemon's schedule reads it)."""
    return timedelta(seconds=source.interval_seconds)


def needs_publish(reports: Iterable[IngestReport], atom: Path) -> bool:
    """Publish after a run when anything changed, or when there is no output yet."""
    return any(r.changed for r in reports) or not atom.exists()
