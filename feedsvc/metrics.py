"""``/metrics``: the Prometheus text format (prometheus-client), for the daemon's web app.

The only prometheus-client user. Two kinds of figures:

- events counted by *this process* (reset when it restarts, as Prometheus counters may be):
  source runs and URL fetches by result, entries stored by change, failures per source, and
  the publish duration. The daemon calls :meth:`Metrics.observe_run` and
  :meth:`Metrics.observe_publish`; ``feedsvc serve`` and CLI ingests count nothing here.
- what is *stored*, read from the database at each scrape (:class:`Stored`), so it is right
  whichever process did the work: entries and the last success time per source, stories,
  and duplicates by the dedup rule that matched them.

Each :class:`Metrics` has its own registry (no process-global state), so tests and several
apps in one process do not share counters. It does no I/O itself: the web app reads the
database and hands a :class:`Stored` snapshot to :meth:`Metrics.render`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from feedsvc.models import IngestReport, Source, SourceKind

# The classic text exposition format (version 0.0.4), which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUBLISH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class SourceFigures:
    """What is stored about one source."""

    name: str
    entries: int
    last_success: datetime | None
    error_streak: int


@dataclass(frozen=True)
class Stored:
    """A snapshot of the database for one scrape."""

    sources: Sequence[SourceFigures] = ()
    stories: int = 0
    duplicates_by_rule: dict[str, int] = field(default_factory=dict)


def result_of(report: IngestReport) -> str:
    """The ``result`` label of a run: ok, not_modified, held or error."""
    if report.held:
        return "held"
    if report.not_modified:
        return "not_modified"
    return "ok" if report.ok else "error"


class _StoredCollector(Collector):
    def __init__(self) -> None:
        self.snapshot = Stored()

    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot
        entries = GaugeMetricFamily(
            "feedsvc_source_entries", "Entries stored from each source.", labels=["source"]
        )
        last = GaugeMetricFamily(
            "feedsvc_source_last_success_timestamp_seconds",
            "When each source last ran without an error (Unix time).",
            labels=["source"],
        )
        streak = GaugeMetricFamily(
            "feedsvc_source_error_streak",
            "Failed runs in a row of each source (0 when its last run succeeded).",
            labels=["source"],
        )
        for src in snap.sources:
            entries.add_metric([src.name], src.entries)
            streak.add_metric([src.name], src.error_streak)
            if src.last_success is not None:
                last.add_metric([src.name], src.last_success.timestamp())
        dupes = GaugeMetricFamily(
            "feedsvc_duplicates",
            "Stored entries (not deleted) attached to an existing story, by the dedup rule "
            "that matched.",
            labels=["rule"],
        )
        for rule, n in sorted(snap.duplicates_by_rule.items()):
            dupes.add_metric([rule], n)
        stories = GaugeMetricFamily("feedsvc_stories", "Stories stored (each published once).")
        stories.add_metric([], snap.stories)
        return iter([entries, last, streak, dupes, stories])


class Metrics:
    """The counters of one process and the stored figures, rendered for Prometheus."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Counter(
            "feedsvc_source_runs",
            "Source runs by this process, by source and result (ok, not_modified, held, error).",
            ["source", "result"],
            registry=self.registry,
        )
        self.fetches = Counter(
            "feedsvc_fetches",
            "URL source fetches by this process, by result (ok, not_modified, held, error).",
            ["result"],
            registry=self.registry,
        )
        self.entries = Counter(
            "feedsvc_entries_ingested",
            "Entries stored by this process, by source and change (new, updated, duplicate).",
            ["source", "change"],
            registry=self.registry,
        )
        self.errors = Counter(
            "feedsvc_source_errors",
            "Failed source runs of this process, by source.",
            ["source"],
            registry=self.registry,
        )
        self.publish = Histogram(
            "feedsvc_publish_duration_seconds",
            "How long regenerating the published files took.",
            buckets=PUBLISH_BUCKETS,
            registry=self.registry,
        )
        self._stored = _StoredCollector()
        self.registry.register(self._stored)
        self._render_lock = threading.Lock()

    def observe_run(self, source: Source, report: IngestReport) -> None:
        """Count one finished source run."""
        result = result_of(report)
        self.runs.labels(source.name, result).inc()
        if source.kind is SourceKind.URL:
            self.fetches.labels(result).inc()
        for change, n in (
            ("new", report.new),
            ("updated", report.updated),
            ("duplicate", report.duplicates),
        ):
            if n:
                self.entries.labels(source.name, change).inc(n)
        if result == "error":
            self.errors.labels(source.name).inc()

    def observe_publish(self, seconds: float) -> None:
        self.publish.observe(seconds)

    def render(self, stored: Stored) -> bytes:
        """The text exposition of every metric, with ``stored`` as the stored figures."""
        with self._render_lock:
            self._stored.snapshot = stored
            return generate_latest(self.registry)
