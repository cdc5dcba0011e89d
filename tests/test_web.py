"""The HTTP layer in-process: the ASGI app driven by httpx.ASGITransport (no socket), over a
real publish folder and a real database filled by the real CLI. The same app served by the
real daemon over a socket is tested in test_daemon.py."""

from __future__ import annotations

import asyncio
import gzip
import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

import feedparser
import httpx
import lxml.html
import pytest

from feedsvc.config import load_config
from feedsvc.publish import write_atomic
from feedsvc.web import (
    WebApp,
    accepts_gzip,
    content_type,
    etag_matches,
    make_entity,
    safe_relpath,
)

from helpers import run, write_config


def _site(tmp_path: Path, sources: str | None = None, extra: str = "") -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "first.txt").write_text("First story\nTown — it happened.\n", encoding="utf-8")
    (inbox / "second.md").write_text(
        "---\ntitle: Second story\nlink: https://news.example/second\n---\nBody.\n",
        encoding="utf-8",
    )
    if sources is None:
        sources = '[[sources]]\nname = "inbox"\npath = "inbox"\n'
    return write_config(tmp_path, sources, extra)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A config whose inbox was ingested by the CLI: feeds/atom.xml and a database exist."""
    config = _site(tmp_path, extra="[server]\nmax_age = 123\n")
    assert run(config, "ingest").exit_code == 0
    return config


def request(
    app: WebApp, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(go())


def respond(app: WebApp, path: str, method: str = "GET") -> int:
    """Status for a raw, already-decoded path (httpx would normalize dot segments away)."""
    return asyncio.run(app.respond(method, path, None, None, None)).status


def test_feed_is_served_with_type_validators_and_max_age(site: Path) -> None:
    app = WebApp(load_config(site))
    atom = site.parent / "feeds/atom.xml"
    r = request(app, "/atom.xml", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert r.content == atom.read_bytes()
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert r.headers["last-modified"] == formatdate(int(atom.stat().st_mtime), usegmt=True)
    assert r.headers["cache-control"] == "max-age=123"
    assert r.headers["content-length"] == str(len(r.content))
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0
    assert sorted(e.title for e in parsed.entries) == ["First story", "Second story"]


def test_conditional_requests(site: Path) -> None:
    app = WebApp(load_config(site))
    first = request(app, "/atom.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = request(app, "/atom.xml", headers={"If-None-Match": inm})
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["etag"] == etag
    assert request(app, "/atom.xml", headers={"If-None-Match": '"x"'}).status_code == 200
    assert request(app, "/atom.xml", headers={"If-Modified-Since": modified}).status_code == 304
    later = formatdate(int((site.parent / "feeds/atom.xml").stat().st_mtime) + 60, usegmt=True)
    assert request(app, "/atom.xml", headers={"If-Modified-Since": later}).status_code == 304
    earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert request(app, "/atom.xml", headers={"If-Modified-Since": earlier}).status_code == 200
    assert request(app, "/atom.xml", headers={"If-Modified-Since": "garbage"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    both = {"If-None-Match": '"x"', "If-Modified-Since": later}
    assert request(app, "/atom.xml", headers=both).status_code == 200


def test_gzip_variant(site: Path) -> None:
    app = WebApp(load_config(site))
    atom = (site.parent / "feeds/atom.xml").read_bytes()
    plain = request(app, "/atom.xml", headers={"Accept-Encoding": "identity"})
    zipped = request(app, "/atom.xml", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == atom  # httpx decompressed it
    assert int(zipped.headers["content-length"]) < len(atom)
    assert zipped.headers["vary"] == plain.headers["vary"] == "accept-encoding"
    assert zipped.headers["etag"] != plain.headers["etag"]
    refused = request(app, "/atom.xml", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    again = request(
        app,
        "/atom.xml",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.headers["etag"] == zipped.headers["etag"]


def test_head_has_headers_but_no_body(site: Path) -> None:
    app = WebApp(load_config(site))
    for encoding in ("identity", "gzip"):
        headers = {"Accept-Encoding": encoding}
        get = request(app, "/atom.xml", headers=headers)
        head = request(app, "/atom.xml", method="HEAD", headers=headers)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == get.headers["content-length"]
        assert head.headers["etag"] == get.headers["etag"]


def test_other_methods_are_405(site: Path) -> None:
    app = WebApp(load_config(site))
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = request(app, "/atom.xml", method=method)
        assert r.status_code == 405, method
        assert r.headers["allow"] == "GET, HEAD"


def test_paths_cannot_escape_the_publish_folder(site: Path, tmp_path: Path) -> None:
    app = WebApp(load_config(site))
    feeds = tmp_path / "feeds"
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    (feeds / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (feeds / "leakdir").symlink_to(tmp_path)
    (feeds / "inside.txt").symlink_to(feeds / "atom.xml")
    (feeds / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (feeds / ".atom.xml.x1y2.tmp").write_text("half", encoding="utf-8")
    (feeds / "sub").mkdir()
    for path in (
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/./atom.xml",
        "//atom.xml",
        "/sub//x",
        str(tmp_path / "secret.txt"),  # an absolute file system path is just a URL path here
        "/..\\secret.txt",
        "/atom.xml\x00",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/.hidden.txt",
        "/.atom.xml.x1y2.tmp",  # a temporary file of an atomic write
        "/sub",
        "/sub/",
        "/nope.xml",
        "atom.xml",
    ):
        assert respond(app, path) == 404, path
    assert respond(app, "/inside.txt") == 200  # a symlink that stays inside is fine
    # Through the ASGI layer too (httpx keeps percent-encoded dots; the server decodes).
    assert request(app, "/%2e%2e/secret.txt").status_code == 404
    assert request(app, "/leak.txt").status_code == 404


def test_content_types(site: Path, tmp_path: Path) -> None:
    app = WebApp(load_config(site))
    feeds = tmp_path / "feeds"
    atom = (feeds / "atom.xml").read_bytes()
    (feeds / "archive").mkdir()
    (feeds / "archive/2026-11.xml").write_bytes(atom)
    (feeds / "rss.xml").write_bytes(b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    (feeds / "feed.json").write_text('{"version": "https://jsonfeed.org/version/1.1"}')
    (feeds / "page.html").write_text("<p>hi</p>")
    (feeds / "data.bin").write_bytes(b"\x00\x01")
    (feeds / "sub").mkdir()
    (feeds / "sub/index.html").write_text("<p>sub</p>")
    expected = {
        "/atom.xml": "application/atom+xml; charset=utf-8",
        "/archive/2026-11.xml": "application/atom+xml; charset=utf-8",
        "/rss.xml": "application/rss+xml; charset=utf-8",
        "/feed.json": "application/feed+json; charset=utf-8",
        "/page.html": "text/html; charset=utf-8",
        "/sub/": "text/html; charset=utf-8",
        "/data.bin": "application/octet-stream",
    }
    for path, media_type in expected.items():
        r = request(app, path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == media_type, path


def test_index_page_from_the_database_when_no_index_html(site: Path, tmp_path: Path) -> None:
    (tmp_path / "feeds/index.html").unlink()  # publishing writes one; without it, a fallback
    app = WebApp(load_config(site))
    r = request(app, "/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    doc = lxml.html.fromstring(r.content)
    assert doc.findtext(".//title") == "Test feed"
    assert doc.findtext(".//h1") == "Test feed"
    (alternate,) = doc.xpath('//link[@rel="alternate"]')
    assert alternate.get("type") == "application/atom+xml"
    assert alternate.get("href") == "atom.xml"
    items = [li.text_content() for li in doc.iter("li")]
    assert any("First story" in t for t in items) and any("Second story" in t for t in items)
    links = [a.get("href") for a in doc.iter("a")]
    assert "https://news.example/second" in links
    assert request(app, "/", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_index_html_in_the_publish_folder_wins(site: Path, tmp_path: Path) -> None:
    app = WebApp(load_config(site))
    (tmp_path / "feeds/index.html").write_text("<!DOCTYPE html><title>Mine</title>")  # replaced
    r = request(app, "/")
    assert r.status_code == 200
    assert r.text == "<!DOCTYPE html><title>Mine</title>"
    assert request(app, "/index.html").text == r.text


def test_healthz_ok_then_degraded(tmp_path: Path) -> None:
    config = _site(
        tmp_path,
        '[[sources]]\nname = "inbox"\npath = "inbox"\n'
        '[[sources]]\nname = "later"\npath = "later"\n'
        '[[sources]]\nname = "off"\npath = "inbox"\nenabled = false\n',
    )
    assert run(config, "ingest", "--source", "inbox").exit_code == 0
    app = WebApp(load_config(config))
    r = request(app, "/healthz")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    assert doc["status"] == "ok"
    by_name = {s["name"]: s for s in doc["sources"]}
    assert by_name["inbox"]["status"] == "ok"
    assert by_name["inbox"]["last_success"] is not None
    assert by_name["inbox"]["next_due"] is not None
    assert by_name["later"]["status"] == "pending"
    assert by_name["off"]["status"] == "disabled"
    assert r.headers["cache-control"] == "no-store"

    assert run(config, "ingest", "--source", "later").exit_code == 1  # no such folder
    r = request(app, "/healthz")
    assert r.status_code == 503
    doc = r.json()
    assert doc["status"] == "degraded"
    later = {s["name"]: s for s in doc["sources"]}["later"]
    assert later["status"] == "failing"
    assert "does not exist" in later["last_error"]
    assert later["error_streak"] == 1
    assert request(app, "/healthz", method="HEAD").content == b""


def test_a_replaced_file_is_served_at_once_and_never_half(site: Path, tmp_path: Path) -> None:
    app = WebApp(load_config(site))
    atom = tmp_path / "feeds/atom.xml"
    old = request(app, "/atom.xml")
    new_bytes = atom.read_bytes().replace(b"First story", b"First story, revised")
    assert write_atomic(atom, new_bytes)
    new = request(app, "/atom.xml")
    assert new.content == new_bytes
    assert new.headers["etag"] != old.headers["etag"]
    assert (
        request(app, "/atom.xml", headers={"If-None-Match": old.headers["etag"]}).status_code == 200
    )
    atom.unlink()
    assert request(app, "/atom.xml").status_code == 404


def test_same_size_same_second_rewrite_is_noticed(site: Path, tmp_path: Path) -> None:
    # The cache key includes the inode and the mtime in nanoseconds, so even a rewrite that
    # keeps size and whole-second mtime is seen.
    app = WebApp(load_config(site))
    atom = tmp_path / "feeds/atom.xml"
    data = atom.read_bytes()
    request(app, "/atom.xml")
    flipped = data.replace(b"First story", b"First Story")
    assert len(flipped) == len(data)
    assert write_atomic(atom, flipped)
    st = atom.stat()
    os.utime(atom, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert request(app, "/atom.xml").content == flipped


# --- pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/atom.xml", "atom.xml"),
        ("/archive/2026.xml", "archive/2026.xml"),
        ("/archive/", "archive/index.html"),
        ("/", "index.html"),
        ("/../x", None),
        ("/a/./b", None),
        ("/a//b", None),
        ("/.git/config", None),
        ("/a/.hidden", None),
        ("x", None),
        ("/a\\b", None),
        ("/a\x00", None),
    ],
)
def test_safe_relpath(path: str, expected: str | None) -> None:
    assert safe_relpath(path) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("br", False),
        ("*", True),
        ("*;q=0", False),
        ("br, *;q=0.1", True),
        ("gzip;q=0, *", False),
        ("x-gzip", True),
        ("gzip;q=bogus", False),
        ("", False),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_etag_matches() -> None:
    tags = ('"abc"', '"abc-gz"')
    assert etag_matches('"abc"', tags)
    assert etag_matches('W/"abc-gz"', tags)
    assert etag_matches(' "zzz" , "abc" ', tags)
    assert etag_matches("*", tags)
    assert not etag_matches('"ab"', tags)
    assert not etag_matches("abc", tags)


def test_content_type_sniffs_xml_roots() -> None:
    atom = b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    assert content_type("x/page-2.xml", atom).startswith("application/atom+xml")
    assert content_type("rss.xml", b"<rss version='2.0'>").startswith("application/rss+xml")
    assert content_type("a.xml", b"<rdf:RDF>").startswith("application/rss+xml")
    assert content_type("sitemap.xml", b"<urlset>") == "application/xml; charset=utf-8"
    assert content_type("README", b"") == "application/octet-stream"


def test_entity_gzip_is_deterministic_and_skipped_when_useless() -> None:
    body = b"<feed>" + b"entry " * 500 + b"</feed>"
    one = make_entity(body, "application/atom+xml; charset=utf-8", 0, "max-age=1")
    two = make_entity(body, "application/atom+xml; charset=utf-8", 0, "max-age=1")
    assert one.gz is not None and gzip.decompress(one.gz) == body
    assert one.gz == two.gz and one.etags == two.etags
    assert make_entity(b"tiny", "text/plain; charset=utf-8", 0, "max-age=1").gz is None
    assert make_entity(os.urandom(4096), "image/png", 0, "max-age=1").gz is None
