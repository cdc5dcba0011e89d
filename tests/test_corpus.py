"""The whole feedparser corpus (2,107 real test feeds) through the real ingest path.

Every file becomes a feed source of one database: each must end as stored entries or a recorded,
human-readable error on its source, never an exception; the database stays consistent; and the
feed published from all of it is still valid Atom. Text from legacy encodings with no declared
charset must come out right (feedparser detects those with chardet).
"""

from __future__ import annotations

import ast
import html
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedsvc.config import Config, parse_config
from feedsvc.models import Source, SourceKind
from feedsvc.pipeline import Pipeline
from feedsvc.sanitize import clean_html, html_to_text
from feedsvc.storage import Store

from helpers import check_feed

SKIP_NAMES = {"LICENSE", "README.md"}


def corpus_files(shared_dir: Path) -> list[Path]:
    root = shared_dir / "corpus" / "feedparser"
    if not root.is_dir():
        pytest.skip(f"{root} is missing")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)


def make_config(tmp_path: Path) -> Config:
    return parse_config(
        {"feed": {"max_entries": 10_000, "id": "tag:test.example,2026:corpus"}}, tmp_path
    )


def test_every_corpus_file_is_stored_or_cleanly_rejected(
    tmp_path: Path, shared_dir: Path, atom_schema: Any
) -> None:
    files = corpus_files(shared_dir)
    assert len(files) == 2107
    config = make_config(tmp_path)
    stored = rejected = 0
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store)
        for i, path in enumerate(files):
            source = Source(f"c{i}", SourceKind.FILE, str(path))
            report = pipe.ingest(source)  # must not raise
            if report.ok:
                stored += 1
            else:
                rejected += 1
                (error,) = report.errors
                # a human-readable message naming the file, not a traceback
                assert str(path) in error and "Traceback" not in error, error
        assert pipe.publish()
        counts = store.counts()
    print(f"\ncorpus: {stored} files stored, {rejected} rejected, {counts}")
    assert stored > 2000
    conn = sqlite3.connect(config.storage.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        errors = conn.execute(
            "SELECT count(*) FROM sources WHERE last_error IS NOT NULL"
        ).fetchone()[0]
        assert errors == rejected
        runs = conn.execute("SELECT count(DISTINCT source) FROM runs").fetchone()[0]
        assert runs == len(files)
    finally:
        conn.close()
    # The feed published from the whole corpus (hostile markup, every encoding) is valid Atom.
    feed = check_feed(config.publish.dir / "atom.xml", atom_schema)
    assert len(feed.entries) == counts["stories"]
    raw = (config.publish.dir / "atom.xml").read_bytes().lower()
    for needle in (b"&lt;script", b"javascript:", b"&lt;iframe", b" onerror=", b" onclick="):
        assert needle not in raw, needle


ENCODING_RE = re.compile(r"encoding == '([^']+)'")
TITLE_RE = re.compile(r"<item>.*?<title>(.*?)</title>", re.S)
DESC_RE = re.compile(r"<item>.*?<description>(.*?)</description>", re.S)


@pytest.mark.parametrize(
    "name", ["big5", "eucjp", "euckr", "gb2312", "koi8r", "shiftjis", "tis620", "windows1255"]
)
def test_undeclared_legacy_encodings_decode_correctly(
    tmp_path: Path, shared_dir: Path, name: str
) -> None:
    path = shared_dir / "corpus" / "feedparser" / "illformed" / "chardet" / f"{name}.xml"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    raw = path.read_bytes()
    expect = ENCODING_RE.search(raw.decode("ascii", "replace"))
    assert expect, "the file states its encoding in its Expect: line"
    text = raw.decode(expect.group(1))
    title, desc = TITLE_RE.search(text), DESC_RE.search(text)
    config = make_config(tmp_path)
    with Store(config.storage.path) as store:
        report = Pipeline(config, store).ingest(Source("legacy", SourceKind.FILE, str(path)))
        assert report.ok, report
        entries = store.published(10)
    if not entries:  # a feed with a title and no entries: the feed's own title is stored
        feed_title = re.search(r"<title>(.*?)</title>", text)
        assert feed_title
        conn = sqlite3.connect(config.storage.path)
        try:
            (info,) = conn.execute("SELECT feed_info FROM sources").fetchall()
        finally:
            conn.close()
        assert json.loads(info[0])["title"] == feed_title.group(1)
        return
    (entry,) = entries
    if title and title.group(1).strip():
        assert entry.title == " ".join(title.group(1).split())
    if desc:
        markup = str(etree.fromstring(f"<d>{desc.group(1)}</d>").xpath("string()"))
        expected = " ".join(html_to_text(markup).split())
        assert " ".join(html_to_text(entry.content_html).split()) == expected


# --- encoding/ files whose Expect: line states decoded text, fetched over real HTTP ------------

_EXPECT_TEXT = re.compile(
    r"^Expect:\s*(?:not\s+)?bozo\s+and\s+"
    r"(?P<expr>ord\(entries\[0\]\['description'\]\)|entries\[0\]\['description'\]"
    r"|entries\[0\]\.summary|feed\['title'\])\s*==\s*(?P<value>.+?)\s*$",
    re.M,
)
_HEADER_LINE = re.compile(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)


def expect_text_files(shared_dir: Path) -> list[tuple[Path, str, object, dict[str, str]]]:
    """(file, what, expected value, HTTP headers) for every encoding/ file whose ``Expect:``
    compares decoded text; its ``Header:`` lines are the response headers to serve it with."""
    out = []
    for path in sorted((shared_dir / "corpus" / "feedparser" / "encoding").glob("*.xml")):
        head = path.read_bytes()[:2048].decode("latin-1")
        match = _EXPECT_TEXT.search(head)
        if match:
            headers = {name: value for name, value in _HEADER_LINE.findall(head)}
            value = ast.literal_eval(match.group("value"))
            out.append((path, match.group("expr"), value, headers))
    return out


def non_ascii(markup: str) -> str:
    """The characters outside ASCII in ``markup`` once its character references are read."""
    return "".join(c for c in html.unescape(markup) if ord(c) > 127)


def test_expected_text_of_encoding_files_over_http(
    tmp_path: Path, shared_dir: Path, feed_server: Any
) -> None:
    """Each file is served by a loopback HTTP server with the headers its Header: lines give
    (so a Content-Type charset goes fetch → parse → store), and the stored text must be what
    the file's Expect: line says it decodes to. A control serves one of them with a wrong
    charset, and must come out different: the header really reaches the parser."""
    cases = expect_text_files(shared_dir)
    assert len(cases) >= 10, "the corpus states decoded text for at least ten encoding files"
    sources = []
    for path, _, _, headers in cases:
        feed_server.add(f"/{path.name}", path.read_bytes(), headers=headers)
        sources.append({"name": path.stem, "url": feed_server.url(f"/{path.name}")})
    charset_case = next(c for c in cases if "charset=" in c[3].get("Content-type", ""))
    feed_server.add(
        "/wrong-charset.xml",
        charset_case[0].read_bytes(),
        headers={"Content-Type": "text/xml; charset=koi8-r"},
    )
    sources.append({"name": "wrong-charset", "url": feed_server.url("/wrong-charset.xml")})
    config = parse_config(
        {"feed": {"id": "tag:test.example,2026:encodings"}, "sources": sources}, tmp_path
    )
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store)
        try:
            reports = pipe.ingest_all(config.sources)
        finally:
            pipe.close()
        assert [r.errors for r in reports] == [()] * len(sources)
        stored = {s["name"]: store.source_entries(s["name"], 1) for s in sources}
        infos = dict(store.db.execute("SELECT name, feed_info FROM sources").fetchall())
    for path, expr, value, headers in cases:
        assert feed_server.routes[f"/{path.name}"].requests, f"{path.name} was not fetched"
        if expr == "feed['title']":
            assert json.loads(infos[path.stem])["title"] == value, path.name
            continue
        (entry,) = stored[path.stem]  # copies of one another are stored once per source
        if expr.startswith("ord("):
            assert isinstance(value, int)
            assert html_to_text(entry.content_html) == chr(value), path.name
        else:
            # What feedparser decodes is HTML; what is stored is that HTML, sanitized.
            url = feed_server.url(f"/{path.name}")
            expected = clean_html(str(value), base_url=url)
            if path.name.startswith("bozo"):
                # A broken document's markup may be repaired differently ("<>" is text to an
                # HTML5 parser, an empty tag to feedparser's); its decoded characters may not.
                assert non_ascii(entry.content_html) == non_ascii(expected), path.name
            else:
                assert entry.content_html == expected, (path.name, headers, entry.content_html)
    (control,) = stored["wrong-charset"]
    assert control.content_html != clean_html(str(charset_case[2]))
    print(
        f"\nencoding files stating their decoded text, fetched over HTTP: {len(cases)}, all right"
    )
