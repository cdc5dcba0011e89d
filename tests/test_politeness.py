"""The pure decisions of polite fetching, without sockets: data and `now` in, decisions out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc import politeness as p
from feedsvc.concurrency import interleave_by
from feedsvc.config import FetchSettings, load_config
from feedsvc.discover import feed_links, looks_like_html
from feedsvc.errors import ConfigError

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_request_headers_identify_honestly_and_are_conditional() -> None:
    h = p.request_headers("feedsvc/1 (+https://x.example)", '"v1"', "Sat, 01 Mar 2026 10:00:00 GMT")
    assert h["User-Agent"] == "feedsvc/1 (+https://x.example)"
    assert "application/atom+xml" in h["Accept"] and "application/rss+xml" in h["Accept"]
    assert h["Accept-Encoding"] == "gzip, deflate, br"
    assert h["If-None-Match"] == '"v1"'
    assert h["If-Modified-Since"] == "Sat, 01 Mar 2026 10:00:00 GMT"
    assert "If-None-Match" not in p.request_headers("ua")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, p.Verdict.OK),
        (203, p.Verdict.OK),
        (304, p.Verdict.NOT_MODIFIED),
        (429, p.Verdict.RETRY_LATER),
        (503, p.Verdict.RETRY_LATER),
        (410, p.Verdict.GONE),
        (404, p.Verdict.FAILED),
        (500, p.Verdict.FAILED),
        (403, p.Verdict.FAILED),
    ],
)
def test_classify(status: int, verdict: p.Verdict) -> None:
    assert p.classify(status) is verdict


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert p.parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert p.parse_retry_after("Sun, 01 Mar 2026 14:30:00 GMT", NOW) == NOW + timedelta(
        hours=2, minutes=30
    )
    # a date in the past means now; garbage or nothing means no hint
    assert p.parse_retry_after("Sun, 01 Mar 2020 14:30:00 GMT", NOW) == NOW
    assert p.parse_retry_after("soon", NOW) is None
    assert p.parse_retry_after(None, NOW) is None


def test_freshness_from_max_age_then_expires() -> None:
    assert p.freshness_seconds({"Cache-Control": "public, max-age=7200"}, NOW) == 7200
    assert p.freshness_seconds({"cache-control": 'max-age="60", must-revalidate'}, NOW) == 60
    # max-age wins over Expires (RFC 9111 §5.3)
    both = {"Cache-Control": "max-age=10", "Expires": "Sun, 01 Mar 2026 18:00:00 GMT"}
    assert p.freshness_seconds(both, NOW) == 10
    # Expires counts from the response's Date, not from our clock
    expires = {"Expires": "Sun, 01 Mar 2026 18:00:00 GMT", "Date": "Sun, 01 Mar 2026 17:00:00 GMT"}
    assert p.freshness_seconds(expires, NOW) == 3600
    assert p.freshness_seconds({"Expires": "Sun, 01 Mar 2026 13:00:00 GMT"}, NOW) == 3600
    assert p.freshness_seconds({"Expires": "0"}, NOW) == 0
    assert p.freshness_seconds({"Cache-Control": "no-cache"}, NOW) is None
    assert p.freshness_seconds({}, NOW) is None


def test_success_schedule_never_polls_faster_than_the_publisher_asks_capped() -> None:
    plain = p.schedule_success(NOW, 600)
    assert plain.next_due == NOW + timedelta(seconds=600) and plain.reason == "interval"
    hint = p.schedule_success(NOW, 600, headers={"Cache-Control": "max-age=3600"})
    assert hint.next_due == NOW + timedelta(hours=1)
    ttl = p.schedule_success(NOW, 600, ttl_seconds=7200)
    assert ttl.next_due == NOW + timedelta(hours=2)
    # a shorter hint does not make us poll faster than the configured interval
    assert p.schedule_success(NOW, 600, ttl_seconds=60).next_due == NOW + timedelta(minutes=10)
    # an absurd hint is capped
    huge = p.schedule_success(NOW, 600, headers={"Cache-Control": "max-age=99999999"})
    assert huge.next_due == NOW + timedelta(seconds=p.DEFAULT_MAX_DELAY)


def test_backoff_grows_exponentially_is_jittered_and_capped() -> None:
    no_jitter = [p.backoff_seconds(n, 60, 3600, lambda: 0.0) for n in range(1, 8)]
    assert no_jitter == [120, 240, 480, 960, 1920, 3600, 3600]
    full_jitter = [p.backoff_seconds(n, 60, 3600, lambda: 0.999999) for n in range(1, 4)]
    assert full_jitter == [90, 180, 360]
    # a source polled less often than the cap is never polled more often because it fails
    assert p.backoff_seconds(1, 2 * 86400, 86400, lambda: 0.0) == 2 * 86400


@given(
    streak=st.integers(min_value=1, max_value=200),
    base=st.integers(min_value=10, max_value=86400 * 7),
    cap=st.integers(min_value=10, max_value=86400 * 7),
    r=st.floats(min_value=0.0, max_value=0.999999),
)
def test_backoff_bounds(streak: int, base: int, cap: int, r: float) -> None:
    delay = p.backoff_seconds(streak, base, cap, lambda: r)
    ceiling = max(base, cap)
    assert 1 <= delay <= ceiling
    assert delay >= (1 - p.JITTER) * min(ceiling, base * 2) - 1


def test_failure_schedule_honours_a_later_retry_after_but_caps_it() -> None:
    backoff = p.schedule_failure(NOW, 60, 1, lambda: 0.0)
    assert backoff.next_due == NOW + timedelta(seconds=120) and "backoff" in backoff.reason
    later = NOW + timedelta(hours=3)
    asked = p.schedule_failure(NOW, 60, 1, lambda: 0.0, retry_after=later)
    assert asked.next_due == later and asked.reason == "Retry-After"
    sooner = p.schedule_failure(NOW, 60, 1, lambda: 0.0, retry_after=NOW + timedelta(seconds=5))
    assert sooner.next_due == NOW + timedelta(seconds=120)
    absurd = p.schedule_failure(NOW, 60, 1, lambda: 0.0, retry_after=NOW + timedelta(days=400))
    assert absurd.next_due == NOW + timedelta(seconds=p.DEFAULT_MAX_DELAY)


def test_permanent_target_only_counts_leading_301_308() -> None:
    assert p.permanent_target([]) is None
    assert p.permanent_target([(301, "http://b/"), (308, "http://c/")]) == "http://c/"
    assert p.permanent_target([(301, "http://b/"), (302, "http://c/")]) == "http://b/"
    assert p.permanent_target([(302, "http://b/"), (301, "http://c/")]) is None
    assert p.permanent_target([(307, "http://b/")]) is None


def test_redirect_adopted_only_after_consecutive_sightings() -> None:
    first = p.track_redirect(None, 0, "http://new/")
    assert first == p.RedirectDecision("http://new/", 1, False)
    second = p.track_redirect(first.candidate, first.count, "http://new/")
    assert second.adopt
    # a different target, or a fetch without the redirect, starts over
    assert p.track_redirect("http://new/", 1, "http://other/") == p.RedirectDecision(
        "http://other/", 1, False
    )
    assert p.track_redirect("http://new/", 1, None) == p.RedirectDecision(None, 0, False)


def test_network_down_needs_every_source_failing_without_a_response_on_two_origins() -> None:
    a, b = "http://a.example/feed", "http://b.example:8080/feed"
    assert p.network_down([(a, True), (b, True)], 2)
    assert not p.network_down([(a, True), (b, True)], 3)  # one source was fine
    assert not p.network_down([(a, True), (b, False)], 2)  # an HTTP response: network works
    assert not p.network_down([(a, True), (a + "2", True)], 2)  # one server down is its problem
    assert not p.network_down([(a, True)], 1)


def test_hold_reason() -> None:
    assert p.hold_reason(NOW, "s", retired=None, retry_after_until=None, force=False) is None
    gone = p.hold_reason(NOW, "s", retired="HTTP 410", retry_after_until=None, force=False)
    assert gone is not None and "retired" in gone and "--force --source s" in gone
    wait = p.hold_reason(
        NOW, "s", retired=None, retry_after_until=NOW + timedelta(hours=1), force=False
    )
    assert wait is not None and "2026-03-01T13:00:00Z" in wait
    past = NOW - timedelta(seconds=1)
    assert p.hold_reason(NOW, "s", retired=None, retry_after_until=past, force=False) is None
    assert p.hold_reason(NOW, "s", retired="x", retry_after_until=None, force=True) is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://a.example/feed", True),
        ("https://a.example/feed", True),
        ("file:///etc/passwd", False),
        ("ftp://a.example/feed", False),
        ("http:///nohost", False),
    ],
)
def test_only_http_and_https(url: str, ok: bool) -> None:
    assert (p.check_url(url) is None) is ok


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("not-an-ip", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert p.is_public_address(address) is public


def test_interleave_spreads_hosts() -> None:
    items = ["a1", "a2", "a3", "b1", "c1", "c2"]
    assert interleave_by(items, lambda s: s[0]) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_autodiscovery_reads_alternate_links() -> None:
    page = b"""<!DOCTYPE html><html><head><title>Blog</title>
    <link rel="stylesheet" href="/s.css">
    <link rel="alternate" type="text/html" href="/other">
    <link rel="Alternate home" type="application/rss+xml; charset=utf-8" href="feed.xml">
    <link rel="alternate" type="application/atom+xml" href="https://cdn.example/atom">
    <link rel="alternate" type="application/rss+xml" href="feed.xml">
    </head><body>hi</body></html>"""
    assert feed_links(page, "https://blog.example/posts/") == [
        "https://blog.example/posts/feed.xml",
        "https://cdn.example/atom",
    ]
    based = (
        b'<html><head><base href="/x/">'
        b"<link rel=alternate type=application/feed+json href=f.json></head></html>"
    )
    assert feed_links(based, "https://b.example/a/b") == ["https://b.example/x/f.json"]
    assert feed_links(b"<html><body>no links</body></html>", "https://b.example/") == []


@pytest.mark.parametrize(
    ("ctype", "body", "html"),
    [
        ("text/html; charset=utf-8", b"<rss/>", True),
        ("application/rss+xml", b"<!DOCTYPE html>", False),
        (None, b"\n  <!doctype HTML><html>", True),
        ("application/octet-stream", b"<html><head>", True),
        (None, b"<?xml version='1.0'?><rss/>", False),
    ],
)
def test_looks_like_html(ctype: str | None, body: bytes, html: bool) -> None:
    assert looks_like_html(ctype, body) is html


def test_fetch_config_keys_are_validated(tmp_path: Path) -> None:
    def load(fetch: str) -> FetchSettings:
        path = tmp_path / "config.toml"
        path.write_text(f"[fetch]\n{fetch}\n", encoding="utf-8")
        return load_config(path).fetch

    got = load('max_connections = 4\nmax_per_host = 1\nmax_delay = "6h"\ntotal_timeout = 30')
    assert (got.max_connections, got.max_per_host, got.max_delay) == (4, 1, 6 * 3600)
    assert load("").refuse_private_addresses is False
    with pytest.raises(ConfigError, match=r"fetch\.max_per_host: expected a whole number"):
        load("max_per_host = 0")
    with pytest.raises(ConfigError, match=r"fetch\.max_delay"):
        load('max_delay = "soon"')
    with pytest.raises(ConfigError, match="did you mean 'max_connections'"):
        load("max_connection = 3")
