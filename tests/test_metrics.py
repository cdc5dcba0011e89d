"""/metrics: counters fed by a real Daemon run in-process, stored figures from a real database,
served by the web app through httpx.ASGITransport, read back with prometheus-client's parser."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.config import load_config
from feedsvc.daemon import Daemon
from feedsvc.metrics import Metrics, SourceFigures, Stored
from feedsvc.models import IngestReport, Source, SourceKind
from feedsvc.web import WebApp

from conftest import FeedServer
from helpers import rss, write_config

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def wait_until(what: str, check: Callable[[], bool], deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_counters_and_stored_figures_render() -> None:
    m = Metrics()
    url = Source("wire", SourceKind.URL, "https://wire.example/rss")
    local = Source("inbox", SourceKind.DIRECTORY, "/srv/inbox")
    m.observe_run(url, IngestReport("wire", NOW, NOW, new=3, duplicates=1))
    m.observe_run(url, IngestReport("wire", NOW, NOW, not_modified=True))
    m.observe_run(url, IngestReport("wire", NOW, NOW, errors=("x: HTTP 500",)))
    m.observe_run(local, IngestReport("inbox", NOW, NOW, updated=2))
    m.observe_publish(0.2)
    stored = Stored(
        sources=[SourceFigures("wire", 4, NOW, 1), SourceFigures("inbox", 2, None, 0)],
        stories=5,
        duplicates_by_rule={"same-link": 1, "same-text": 2},
    )
    got = samples(m.render(stored).decode())
    assert got[("feedsvc_fetches_total", (("result", "ok"),))] == 1
    assert got[("feedsvc_fetches_total", (("result", "not_modified"),))] == 1
    assert got[("feedsvc_fetches_total", (("result", "error"),))] == 1
    assert ("feedsvc_fetches_total", (("result", "held"),)) not in got  # local runs: no fetch
    assert got[("feedsvc_source_runs_total", (("result", "ok"), ("source", "inbox")))] == 1
    assert got[("feedsvc_entries_ingested_total", (("change", "new"), ("source", "wire")))] == 3
    assert (
        got[("feedsvc_entries_ingested_total", (("change", "duplicate"), ("source", "wire")))] == 1
    )
    assert (
        got[("feedsvc_entries_ingested_total", (("change", "updated"), ("source", "inbox")))] == 2
    )
    assert got[("feedsvc_source_errors_total", (("source", "wire"),))] == 1
    assert got[("feedsvc_publish_duration_seconds_count", ())] == 1
    assert got[("feedsvc_publish_duration_seconds_bucket", (("le", "0.25"),))] == 1
    assert got[("feedsvc_publish_duration_seconds_bucket", (("le", "0.1"),))] == 0
    assert got[("feedsvc_source_entries", (("source", "wire"),))] == 4
    assert got[("feedsvc_source_last_success_timestamp_seconds", (("source", "wire"),))] == (
        NOW.timestamp()
    )
    assert ("feedsvc_source_last_success_timestamp_seconds", (("source", "inbox"),)) not in got
    assert got[("feedsvc_source_error_streak", (("source", "wire"),))] == 1
    assert got[("feedsvc_duplicates", (("rule", "same-text"),))] == 2
    assert got[("feedsvc_stories", ())] == 5
    # Two Metrics never share counters (no process-global registry).
    assert ("feedsvc_fetches_total", (("result", "ok"),)) not in samples(
        Metrics().render(Stored()).decode()
    )


def test_the_daemons_runs_show_on_metrics(tmp_path: Path, feed_server: FeedServer) -> None:
    text = (
        "The mill on the river reopened on Monday after a long winter of repairs, and the "
        "town came out to watch the wheel turn again for the first time since the floods."
    )
    feed_server.add(
        "/wire.xml",
        rss([{"title": "The mill reopens", "guid": "w1", "description": text}], title="Wire"),
    )
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "mill.txt").write_text(f"The mill reopens\n\n{text}\n")
    path = write_config(
        tmp_path,
        f"""
        [[sources]]
        name = "inbox"
        path = "inbox"
        [[sources]]
        name = "wire"
        url = "{feed_server.url("/wire.xml")}"
        """,
        "[daemon]\nwatch = false\n",
    )
    config = load_config(path)
    metrics = Metrics()
    daemon = Daemon(config, metrics=metrics, publish_delay=0.05)
    daemon.start()
    try:
        wait_until("both sources ran and a publish", lambda: daemon.runs >= 2)
        wait_until("a publish", lambda: daemon.publishes >= 1)
    finally:
        daemon.stop(grace=20)

    async def scrape() -> httpx.Response:
        app = WebApp(config, metrics=metrics)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/metrics")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    got = samples(response.text)
    assert got[("feedsvc_fetches_total", (("result", "ok"),))] == 1
    assert got[("feedsvc_source_runs_total", (("result", "ok"), ("source", "inbox")))] == 1
    ingested = {
        labels: v for (name, labels), v in got.items() if name == "feedsvc_entries_ingested_total"
    }
    # The same story from two sources: one is new, the other its duplicate (either order).
    assert sorted(ingested.values()) == [1, 1]
    assert {dict(labels)["change"] for labels in ingested} == {"new", "duplicate"}
    assert got[("feedsvc_duplicates", (("rule", "same-text"),))] == 1
    assert got[("feedsvc_stories", ())] == 1
    for name in ("inbox", "wire"):
        stamp = got[("feedsvc_source_last_success_timestamp_seconds", (("source", name),))]
        assert abs(stamp - time.time()) < 600
    assert got[("feedsvc_publish_duration_seconds_count", ())] >= 1


def test_serve_has_metrics_with_stored_figures_only(tmp_path: Path) -> None:
    """`feedsvc serve` (a WebApp without the daemon's Metrics) still reports what is stored."""
    config = load_config(write_config(tmp_path, ""))
    response = asyncio.run(WebApp(config).respond("GET", "/metrics", None, None, None))
    got = samples(response.body.decode())
    assert got[("feedsvc_stories", ())] == 0
    assert not any(name == "feedsvc_fetches_total" for name, _ in got)
    head = asyncio.run(WebApp(config).respond("HEAD", "/metrics", None, None, None))
    assert head.head and head.status == 200
