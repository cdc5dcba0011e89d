"""The lxml fast path gives exactly what the feedparser path gives, document by document.

``parse_feed(..., fast=False)`` forces feedparser; the default takes the fast path for plain
RSS 2.0 / Atom 1.0. Both must return equal :class:`ParsedFeed` values (same keys, titles, links,
dates, content after sanitizing, authors, categories, enclosures, warnings) on the whole
feedparser corpus (``../shared``) and on the benchmark's generated corpus, as a local file and
as if fetched from a URL. Hostile documents must neither expand entities nor fetch anything.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_corpus import corpus_files

from feedsvc.errors import ParseError
from feedsvc.fastparse import read_simple_feed
from feedsvc.models import ParsedFeed
from feedsvc.parse import parse_feed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import corpus as bench_corpus

URL = "http://feeds.example.com/news/feed.xml"


def both(
    data: bytes, url: str | None, headers: dict[str, str] | None = None
) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    out: list[ParsedFeed | str] = []
    for fast in (True, False):
        try:
            out.append(parse_feed(data, url=url, headers=headers, origin="doc", fast=fast))
        except ParseError as e:
            out.append(str(e))
    return out[0], out[1]


def took_fast_path(data: bytes, url: str | None) -> bool:
    return read_simple_feed(data, content_type="application/xml", base=url) is not None


def test_the_whole_feedparser_corpus_parses_the_same(shared_dir: Path) -> None:
    fast = 0
    for path in corpus_files(shared_dir):
        data = path.read_bytes()
        for url in (None, URL):
            a, b = both(data, url)
            assert a == b, f"{path} (url={url}) differs between the fast path and feedparser"
            fast += took_fast_path(data, url)
    # The comparison means something only if the fast path took a good share of documents.
    assert fast > 1000, fast


def test_the_benchmark_corpus_parses_the_same_and_all_of_it_fast(tmp_path: Path) -> None:
    info = bench_corpus.generate(tmp_path, feeds=6, entries=25, seed=3)
    for path in info.files:
        data = path.read_bytes()
        for url in (None, URL):
            assert took_fast_path(data, url), path
            a, b = both(data, url)
            assert isinstance(a, ParsedFeed)
            assert a == b, f"{path} (url={url})"
            assert len(a.articles) == 25
    # and over HTTP, with the Content-Type a server sends
    data = info.files[1].read_bytes()
    headers = {"Content-Type": "application/atom+xml; charset=utf-8"}
    a, b = both(data, URL, headers)
    assert a == b and isinstance(a, ParsedFeed) and a.articles


RSS_ITEM = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>T</title><link>https://site.example/</link><description>d</description>
<item>{item}</item></channel></rss>"""

# Documents inside the fast path's subset that exercise feedparser's quirks.
QUIRKS = [
    "<title>A &amp; B &lt;3 &gt; 2</title><guid>relative/id</guid>",
    "<guid isPermaLink='false'>x1</guid><title>plain</title><link>/rel?a=1&amp;b=2</link>",
    "<title>mojibake Ã©tÃ©</title><guid isPermaLink='false'>x2</guid>",
    "<title>C1 \u0080 \u0093quoted\u0094</title><guid isPermaLink='false'>x3</guid>",
    "<title>tags</title><category>a</category><category domain='d'>b</category>"
    "<category domain='d'></category><category>a</category>",
    "<title>auth</title><dc:creator>Ann</dc:creator><author>Bob</author><dc:creator/>",
    "<content:encoded><![CDATA[<p>full <a href='/x'>x</a></p>]]></content:encoded>"
    "<description>sum</description>",
    "<description>sum first</description>"
    "<content:encoded>&lt;p&gt;body&lt;/p&gt;</content:encoded>",
    "<title>dated</title><pubDate>Sun, 06 Sep 2026 16:20:00 -0530</pubDate>",
    "<title>dated</title><pubDate>6 Sep 2026 16:20:00 GMT</pubDate>",
    "<enclosure url='https://m.example/a.mp3' length='12' type='Audio/MPEG'/>"
    "<enclosure url='https://m.example/a.mp3' length='12' type='audio/mpeg'/>",
    "<link>  https://site.example/a?x=1&amp;amp;y=2&amp;z;  </link><guid>https://g/1</guid>",
]


@pytest.mark.parametrize("item", QUIRKS)
def test_feedparser_quirks_are_reproduced(item: str) -> None:
    data = RSS_ITEM.format(item=item).encode("utf-8")
    for url in (None, URL):
        assert took_fast_path(data, url), item
        a, b = both(data, url)
        assert a == b, item


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}"><title type="html">F &amp;amp; G</title>
<id>tag:f.example,2026:feed</id><updated>2026-03-01T10:00:00.123+01:00</updated>
<link href="/"/><link rel="self" href="https://f.example/atom.xml"/>
<entry>{entry}</entry></feed>"""

ATOM_QUIRKS = [
    "<id>urn:x:1</id><title>t</title><content type='html'>&lt;b&gt;b&lt;/b&gt;</content>"
    "<summary>s</summary>",
    "<id>relative</id><title type='text'>a &lt;b&gt;</title><summary type='html'>x</summary>"
    "<content>plain\n\ntext</content>",
    "<id>https://f.example/1</id><link rel='alternate' type='application/pdf' href='/a.pdf'/>"
    "<link rel='enclosure' href='/e.mp3' length='5' type='audio/mpeg'/>",
    "<id>tag:x</id><link rel='' href='/empty-rel'/><link type='' href='/empty-type'/>",
    "<id>tag:y</id><author><name>N</name><email>n@x.example</email><uri>/me</uri></author>"
    "<category term='t' label='L'/><category label='only'/><category term='t'/>",
    "<id>tag:z</id><published>2026-01-01T00:00:00Z</published>"
    "<updated>2026-01-02T00:00:00-00:30</updated><rights>© me</rights>",
]


@pytest.mark.parametrize("entry", ATOM_QUIRKS)
@pytest.mark.parametrize("lang", ["en-GB", "en_US"])
def test_atom_quirks_are_reproduced(entry: str, lang: str) -> None:
    data = ATOM.format(entry=entry, lang=lang).encode("utf-8")
    for url in (None, URL):
        assert took_fast_path(data, url), entry
        a, b = both(data, url)
        assert a == b, entry


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        (RSS_ITEM.format(item="<title>x</title>").replace("utf-8", "iso-8859-1"), None),
        (RSS_ITEM.format(item="<title>x</title><foo>y</foo>"), None),  # unknown element
        (RSS_ITEM.format(item="<title>x</title><title>y</title>"), None),  # repeated
        (RSS_ITEM.format(item="<title>a <b>bold</b></title>"), None),  # markup in text
        (RSS_ITEM.format(item="<title>a</b>bold</title>".replace("</b>", "&lt;/b&gt;")), None),
        (RSS_ITEM.format(item="<pubDate>yesterday</pubDate>"), None),  # not a strict date
        (RSS_ITEM.format(item="<author>a@b.example (A)</author>"), None),  # email form
        (RSS_ITEM.format(item="<title xml:base='http://x/'>x</title>"), None),
        (RSS_ITEM.format(item="<title>x</title>"), {"Content-Type": "text/xml"}),
        (RSS_ITEM.format(item="<title>x</title>"), {"Content-Language": "fr"}),
        (RSS_ITEM.format(item="<title>x</title>").replace('"2.0"', '"0.91"'), None),
        (ATOM.format(entry="<title type='xhtml'><div>x</div></title>", lang="en"), None),
        (
            ATOM.format(
                entry="<author><name>A</name></author><author><name>B</name></author>", lang="en"
            ),
            None,
        ),
    ],
)
def test_documents_outside_the_subset_go_to_feedparser(
    data: str, headers: dict[str, str] | None
) -> None:
    raw = data.encode("utf-8")
    ctype = (headers or {}).get("Content-Type", "application/xml")
    if headers and "Content-Language" in headers:
        ctype = "application/xml"
    else:
        assert read_simple_feed(raw, content_type=ctype, base=None) is None
    a, b = both(raw, None, headers)
    assert a == b


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<rss version="2.0"><channel><title>t</title><item><title>&f;</title>
<guid isPermaLink="false">1</guid></item></channel></rss>"""


def test_billion_laughs_is_not_expanded() -> None:
    assert read_simple_feed(BILLION_LAUGHS, content_type=None, base=None) is None
    started = time.monotonic()
    try:
        parsed = parse_feed(BILLION_LAUGHS, origin="laughs")
    except ParseError:
        return
    # feedparser's fallback must not have expanded it either (24**5 * 74 bytes would be 590 MB)
    assert all(len(a.title) < 100_000 for a in parsed.articles)
    assert time.monotonic() - started < 60


def test_external_entities_are_never_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">'
        '<!ENTITY y SYSTEM "http://127.0.0.1:9/evil.dtd">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>&x;&y;</title>'
        '<guid isPermaLink="false">1</guid></item></channel></rss>'
    ).encode()
    assert read_simple_feed(doc, content_type=None, base=None) is None
    try:
        parsed = parse_feed(doc, origin="xxe")
    except ParseError:
        return
    assert all("TOP-SECRET" not in a.title for a in parsed.articles)


# --- the strict date forms agree with feedparser's own date parser --------------------------

dates = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)


@settings(max_examples=300, deadline=None)
@given(when=dates, offset=offsets, rfc822=st.booleans())
def test_strict_dates_match_feedparser(when: datetime, offset: int, rfc822: bool) -> None:
    from datetime import timezone

    local = when.replace(microsecond=0).astimezone(timezone(timedelta(minutes=offset)))
    if rfc822:
        text = format_datetime(local)
        item = f"<title>d</title><pubDate>{text}</pubDate>"
        data = RSS_ITEM.format(item=item).encode()
    else:
        text = local.isoformat()
        data = ATOM.format(entry=f"<id>tag:d</id><updated>{text}</updated>", lang="en").encode()
    a, b = both(data, None)
    assert a == b, text
    assert isinstance(a, ParsedFeed)
    expected = feedparser.datetimes._parse_date(text)
    assert expected is not None
    got = a.articles[0].published if rfc822 else a.articles[0].updated
    assert got == datetime(*expected[:6], tzinfo=UTC)
