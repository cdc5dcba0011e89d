"""Polite fetching end to end: the pipeline and the CLI against scripted servers on loopback,
with a real SQLite file; time and jitter are injected where the test checks schedules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.cli import status_document
from feedsvc.config import Config, load_config
from feedsvc.models import IngestReport
from feedsvc.pipeline import Pipeline
from feedsvc.storage import SourceState, Store

from helpers import rss, run, status_json, write_config
from scripted_server import Gauge, ScriptedServer, serving

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def feed(n: int = 2, tag: str = "a", ttl: str = "") -> bytes:
    items = [
        {"title": f"{tag} story {i}", "link": f"https://{tag}.example/{i}", "guid": f"{tag}-{i}"}
        for i in range(n)
    ]
    doc = rss(items, title=f"Feed {tag}")
    if ttl:
        doc = doc.replace(b"<description>d</description>", f"<ttl>{ttl}</ttl>".encode(), 1)
    return doc


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        yield s


def url_sources(*pairs: tuple[str, str], interval: str = "60s") -> str:
    return "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{url}"\ninterval = "{interval}"\n\n'
        for name, url in pairs
    )


def make_config(tmp_path: Path, sources: str, fetch: str = "") -> Config:
    return load_config(write_config(tmp_path, sources, "[fetch]\ntimeout = 5.0\n" + fetch))


class Harness:
    """A Pipeline on a real database with an injected clock and no jitter."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = Clock()
        self.store = Store(config.storage.path)
        self.pipe = Pipeline(config, self.store, clock=self.clock, rand=lambda: 0.0)

    def ingest(self, *names: str, force: bool = False) -> list[IngestReport]:
        sources = [self.config.source(n) for n in names] or list(self.config.sources)
        return self.pipe.ingest_all(sources, force=force)

    def state(self, name: str) -> SourceState:
        st = self.store.source_state(name)
        assert st is not None
        return st

    def close(self) -> None:
        self.pipe.close()
        self.store.close()


@pytest.fixture
def harness_for(tmp_path: Path) -> Iterator[object]:
    made: list[Harness] = []

    def make(sources: str, fetch: str = "") -> Harness:
        h = Harness(make_config(tmp_path, sources, fetch))
        made.append(h)
        return h

    try:
        yield make
    finally:
        for h in made:
            h.close()


# --- conditional GET -----------------------------------------------------------------------------


def test_validators_are_refreshed_on_304_and_on_identical_bytes(
    server: ScriptedServer, harness_for: object
) -> None:
    script = server.add("/f", body=feed(), etag='"v1"', etag_on_304='"v2"')
    h = harness_for(url_sources(("f", server.url("/f"))))  # type: ignore[operator]
    (first,) = h.ingest()
    assert first.new == 2 and h.state("f").etag == '"v1"' and h.state("f").body_hash

    (second,) = h.ingest()  # 304 carrying a new ETag
    assert script.requests[-1]["if-none-match"] == '"v1"'
    assert second.not_modified and second.notes == ("HTTP 304",) and second.ok
    assert h.state("f").etag == '"v2"' and h.state("f").last_status == 304

    script.etag = '"v3"'  # the server changed its ETag but not the bytes: a 200, same body
    (third,) = h.ingest()
    assert script.requests[-1]["if-none-match"] == '"v2"'
    assert third.not_modified and "same bytes" in third.notes[0]
    assert third.unchanged == 0  # not parsed
    assert h.state("f").etag == '"v3"'  # ...but the new validator was still stored

    h.ingest()
    assert script.requests[-1]["if-none-match"] == '"v3"'


def test_charset_from_content_type_is_honoured(server: ScriptedServer, harness_for: object) -> None:
    doc = (
        "<rss version='2.0'><channel><title>Caf\u00e9</title><link>https://c.example/</link>"
        "<description>d</description><item><title>Cr\u00e8me br\u00fbl\u00e9e</title>"
        "<guid>c1</guid></item></channel></rss>"
    ).encode("iso-8859-1")
    server.add("/f", body=doc, headers={"Content-Type": "application/rss+xml; charset=iso-8859-1"})
    h = harness_for(url_sources(("f", server.url("/f"))))  # type: ignore[operator]
    (report,) = h.ingest()
    assert report.new == 1, report
    (entry,) = h.store.published(5)
    assert entry.title == "Cr\u00e8me br\u00fbl\u00e9e"


# --- when to come back ---------------------------------------------------------------------------


def test_next_due_respects_max_age_and_feed_ttl(
    server: ScriptedServer, harness_for: object
) -> None:
    server.add("/cc", body=feed(tag="cc"), headers={"Cache-Control": "max-age=7200"})
    server.add("/ttl", body=feed(tag="ttl", ttl="180"))
    server.add("/plain", body=feed(tag="plain"))
    h = harness_for(  # type: ignore[operator]
        url_sources(
            ("cc", server.url("/cc")), ("ttl", server.url("/ttl")), ("plain", server.url("/plain"))
        )
    )
    h.ingest()
    assert h.state("cc").next_due == T0 + timedelta(hours=2)
    assert h.state("ttl").next_due == T0 + timedelta(hours=3)
    assert h.state("plain").next_due == T0 + timedelta(seconds=60)
    assert h.state("plain").schedule_reason == "interval"


def test_backoff_grows_with_each_failure_and_resets_on_success(
    server: ScriptedServer, harness_for: object, tmp_path: Path
) -> None:
    script = server.add("/f", status=500, body=b"oops")
    h = harness_for(url_sources(("f", server.url("/f"))))  # type: ignore[operator]
    delays = []
    for _ in range(4):
        (report,) = h.ingest()
        assert not report.ok and "HTTP 500 Internal Server Error" in report.errors[0]
        delays.append((h.state("f").next_due - h.clock.now).total_seconds())  # type: ignore[operator]
        h.clock.advance(10)
    assert delays == [120, 240, 480, 960]
    assert h.state("f").error_streak == 4

    doc = status_document(h.config, h.store)
    (rec,) = doc["sources"]
    assert rec["error_streak"] == 4 and rec["last_status"] == 500
    assert rec["next_attempt"] == (h.state("f").next_due).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rec["next_attempt_reason"] == "backoff after 4 failures"

    script.status, script.body = 404, b"missing"  # 404 backs off the same way
    h.ingest()
    assert h.state("f").error_streak == 5

    script.status, script.body = 200, feed()
    (ok,) = h.ingest()
    assert ok.ok and h.state("f").error_streak == 0
    assert h.state("f").next_due == h.clock.now + timedelta(seconds=60)


def test_retry_after_http_date_schedules_and_holds_the_source(
    server: ScriptedServer, harness_for: object
) -> None:
    script = server.add("/f", status=503, headers={"Retry-After": "Sun, 01 Mar 2026 15:00:00 GMT"})
    h = harness_for(url_sources(("f", server.url("/f"))))  # type: ignore[operator]
    (report,) = h.ingest()
    until = datetime(2026, 3, 1, 15, 0, 0, tzinfo=UTC)
    assert "Retry-After: until 2026-03-01T15:00:00Z" in report.errors[0]
    assert h.state("f").retry_after_until == until and h.state("f").next_due == until

    h.clock.advance(3600)
    (held,) = h.ingest()
    assert held.held and "until 2026-03-01T15:00:00Z" in held.held and held.ok
    assert len(script.requests) == 1  # not asked again

    h.clock.now = until + timedelta(seconds=1)
    script.status, script.headers, script.body = 200, {}, feed()
    (ok,) = h.ingest()
    assert ok.new == 2 and h.state("f").retry_after_until is None


def test_retry_after_seconds_through_the_cli_with_force(
    server: ScriptedServer, tmp_path: Path
) -> None:
    script = server.add("/f", status=429, headers={"Retry-After": "3600"})
    config = write_config(tmp_path, url_sources(("f", server.url("/f"))))
    first = run(config, "ingest")
    assert first.exit_code == 1 and "HTTP 429" in first.output
    rec = status_json(config)["sources"][0]
    assert rec["retry_after_until"] is not None and rec["error_streak"] == 1

    second = run(config, "ingest")
    assert second.exit_code == 0, second.output
    assert "skipped" in second.output and rec["retry_after_until"] in second.output
    assert len(script.requests) == 1

    script.status, script.headers, script.body = 200, {}, feed()
    forced = run(config, "ingest", "--force")
    assert forced.exit_code == 0 and "2 new" in forced.output
    assert len(script.requests) == 2


# --- redirects and retirement --------------------------------------------------------------------


def test_301_is_stored_only_after_consecutive_sightings_then_used(
    server: ScriptedServer, harness_for: object
) -> None:
    old = server.add("/old", status=301, location="/new")
    new = server.add("/new", body=feed())
    h = harness_for(url_sources(("f", server.url("/old"))))  # type: ignore[operator]
    (one,) = h.ingest()
    assert one.new == 2 and h.state("f").fetch_url is None
    assert h.state("f").redirect_candidate == server.url("/new")
    assert any("not stored yet" in n for n in one.notes)

    (two,) = h.ingest()
    assert h.state("f").url_for(server.url("/old")) == server.url("/new")
    assert any("moved permanently" in n for n in two.notes)
    rec = status_document(h.config, h.store)["sources"][0]
    assert rec["url"] == server.url("/new") and rec["location"] == server.url("/old")

    h.ingest()
    assert len(old.requests) == 2 and len(new.requests) == 3  # the third went straight to /new


def test_temporary_redirects_never_move_the_source(
    server: ScriptedServer, harness_for: object
) -> None:
    for status in (302, 307):
        server.add(f"/t{status}", status=status, location="/feed")
    server.add("/feed", body=feed())
    h = harness_for(  # type: ignore[operator]
        url_sources(("a", server.url("/t302")), ("b", server.url("/t307")))
    )
    for _ in range(3):
        h.ingest()
    for name in ("a", "b"):
        assert h.state(name).fetch_url is None and h.state(name).redirect_candidate is None


def test_410_retires_the_source_until_forced(server: ScriptedServer, tmp_path: Path) -> None:
    script = server.add("/f", status=410)
    config = write_config(tmp_path, url_sources(("gone", server.url("/f"))))
    first = run(config, "ingest")
    assert first.exit_code == 1 and "retired" in first.output
    rec = status_json(config)["sources"][0]
    assert rec["retired"].startswith("HTTP 410 Gone") and rec["next_attempt"].startswith("9999")
    assert "retired: HTTP 410" in run(config, "status").output

    second = run(config, "ingest")
    assert second.exit_code == 0 and "skipped" in second.output
    assert "ingest --force --source gone" in second.output
    assert len(script.requests) == 1

    script.status, script.body = 200, feed()
    assert run(config, "ingest", "--force", "--source", "gone").exit_code == 0
    assert status_json(config)["sources"][0]["retired"] is None
    assert run(config, "ingest").exit_code == 0 and len(script.requests) == 3


# --- run-level rule: our network is down ---------------------------------------------------------


def _closed_port_url() -> str:
    with serving() as s:
        return s.url("/feed")


def test_every_source_failing_without_response_is_not_counted(harness_for: object) -> None:
    a, b = _closed_port_url(), _closed_port_url().replace("127.0.0.1", "localhost")
    h = harness_for(url_sources(("a", a), ("b", b)))  # type: ignore[operator]
    reports = h.ingest()
    assert all(not r.ok for r in reports)
    assert all("network down" in r.notes[0] for r in reports)
    assert h.state("a").error_streak == 0 and h.state("b").error_streak == 0
    assert h.state("a").next_due == T0 + timedelta(seconds=60)
    assert h.state("a").last_error  # still reported


def test_one_server_answering_means_failures_count(
    server: ScriptedServer, harness_for: object
) -> None:
    server.add("/err", status=500)
    h = harness_for(  # type: ignore[operator]
        url_sources(("a", _closed_port_url()), ("b", server.url("/err")))
    )
    h.ingest()
    assert h.state("a").error_streak == 1 and h.state("b").error_streak == 1


# --- concurrency limits --------------------------------------------------------------------------


def test_per_host_limit_is_observed_by_the_server(
    server: ScriptedServer, harness_for: object
) -> None:
    pairs = []
    for i in range(8):
        server.add(f"/f{i}", body=feed(tag=f"h{i}"), delay=0.3)
        pairs.append((f"f{i}", server.url(f"/f{i}")))
    h = harness_for(  # type: ignore[operator]
        url_sources(*pairs), "max_connections = 10\nmax_per_host = 2\n"
    )
    reports = h.ingest()
    assert all(r.ok and r.new == 2 for r in reports)
    assert server.gauge.total == 8
    assert server.gauge.max == 2  # never more than 2, and the pool did run 2 at once


def test_total_limit_across_hosts(harness_for: object) -> None:
    total = Gauge()
    with ExitStack() as stack:
        servers = [stack.enter_context(serving(f"127.0.0.{k}", total)) for k in range(1, 5)]
        pairs = []
        for k, s in enumerate(servers):
            for i in range(3):
                s.add(f"/f{i}", body=feed(tag=f"s{k}x{i}"), delay=0.3)
                pairs.append((f"s{k}-{i}", s.url(f"/f{i}")))
        h = harness_for(  # type: ignore[operator]
            url_sources(*pairs), "max_connections = 3\nmax_per_host = 2\n"
        )
        reports = h.ingest()
    assert all(r.ok for r in reports), [r.errors for r in reports]
    assert total.total == 12
    assert total.max == 3
    assert all(s.gauge.max <= 2 for s in servers)


# --- autodiscovery -------------------------------------------------------------------------------


def test_html_page_is_resolved_to_its_feed_and_remembered(
    server: ScriptedServer, harness_for: object
) -> None:
    page = server.add(
        "/blog/",
        body=b'<!DOCTYPE html><html><head><link rel="alternate" '
        b'type="application/rss+xml" href="feed.xml"></head><body>Blog</body></html>',
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    feed_script = server.add("/blog/feed.xml", body=feed())
    h = harness_for(url_sources(("blog", server.url("/blog/"))))  # type: ignore[operator]
    (first,) = h.ingest()
    assert first.new == 2, first
    assert any("its feed" in n for n in first.notes)
    rec = status_document(h.config, h.store)["sources"][0]
    assert rec["discovered_url"] == server.url("/blog/feed.xml")
    assert rec["url"] == server.url("/blog/feed.xml")

    (second,) = h.ingest()
    assert second.ok
    assert len(page.requests) == 1 and len(feed_script.requests) == 2


def test_html_page_without_a_feed_link_is_a_clear_error(
    server: ScriptedServer, harness_for: object
) -> None:
    server.add("/p", body=b"<html><body>hi</body></html>", headers={"Content-Type": "text/html"})
    h = harness_for(url_sources(("p", server.url("/p"))))  # type: ignore[operator]
    (report,) = h.ingest()
    assert "HTML page that links to no feed" in report.errors[0]
