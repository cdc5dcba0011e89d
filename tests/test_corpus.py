"""The whole feedparser corpus (2,107 real test feeds) through the real ingest path.

Every file becomes a feed source of one database: each must end as stored entries or a recorded,
human-readable error on its source, never an exception; the database stays consistent; and the
feed published from all of it is still valid Atom. Text from legacy encodings with no declared
charset must come out right (feedparser detects those with chardet).
"""

from __future__ import annotations

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
from feedsvc.sanitize import html_to_text
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
