"""The alternates of the main feed: RSS 2.0, JSON Feed 1.1 and the index.html page, rendered
from the same entries as Atom and checked against each format's own rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from feedcheck import check_json_feed, page_problems, parse_clean
from lxml import etree

from feedsvc.models import Enclosure, FeedInfo, FeedSettings, Person, PublishedEntry
from feedsvc.publish.atom import render_atom
from feedsvc.publish.common import Head, Link, plain, public_id
from feedsvc.publish.jsonfeed import render_json_feed
from feedsvc.publish.page import excerpt, render_page
from feedsvc.publish.rss import render_rss

SETTINGS = FeedSettings(
    title="Test feed",
    id="tag:test.example,2024:feed",
    author="Feed Author",
    base_url="http://example.org/feeds/",
    subtitle="All the news",
    hub="http://hub.example/",
)
HTML = Link("alternate", "http://example.org/feeds/", "text/html")
HUB = Link("hub", "http://hub.example/")
RSS_HEAD = Head(SETTINGS.id, SETTINGS.title, "http://example.org/feeds/rss.xml", (HTML, HUB))
JSON_HEAD = Head(SETTINGS.id, SETTINGS.title, "http://example.org/feeds/feed.json", (HTML, HUB))


def dt(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 5, day, hour, 0, 0, tzinfo=UTC)


PERMALINKED = PublishedEntry(
    atom_id="http://blog.example.com/posts/42",
    title="Republished “post”",
    content_html="<p>Original text</p>",
    summary_html="<p>A <b>short</b> summary</p>",
    published=dt(2),
    updated=dt(4, 8),
    link="http://blog.example.com/posts/42",
    authors=(Person("Jane Doe", email="jane@example.com", uri="http://jane.example.com/"),),
    lang="en_GB",
    rights="© Jane Doe",
    source_info=FeedInfo(
        title="Jane's blog",
        id="tag:blog.example.com,2024:feed",
        link="http://blog.example.com/",
        self_link="http://blog.example.com/atom.xml",
    ),
    source_name="jane",
)
PODCAST = PublishedEntry(
    atom_id="tag:podcast.example.net,2024:ep-7",
    title="Episode 7",
    content_html="<p>Show notes</p>",
    published=dt(1),
    updated=dt(1),
    link="http://podcast.example.net/7",
    authors=(Person("Host One"), Person("Host Two")),
    categories=("audio", "talk"),
    enclosures=(
        Enclosure("http://podcast.example.net/7.mp3", length=12345, type="audio/mpeg"),
        Enclosure("http://podcast.example.net/7.ogg"),
    ),
    source_name="podcast",
)
ARTICLE = PublishedEntry(
    atom_id="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    title="Hello “world”",
    content_html="<p>He said “hi” — and &lt;b&gt;left&lt;/b&gt;.</p>",
    published=dt(3),
    updated=dt(3),
    source_name="articles",
)
ENTRIES = (ARTICLE, PERMALINKED, PODCAST)  # newest published first


# --- RSS 2.0 --------------------------------------------------------------------------------


def test_rss_round_trips_with_the_same_entries_as_atom() -> None:
    rss = parse_clean(render_rss(ENTRIES, SETTINGS, RSS_HEAD), "rss20")
    atom = parse_clean(render_atom(ENTRIES, SETTINGS), "atom10")
    assert [e.id for e in rss.entries] == [e.id for e in atom.entries]
    assert [e.title for e in rss.entries] == [e.title for e in atom.entries]
    # (feedparser makes an Atom id the link of an entry without one; compare real links)
    assert [e.get("link") for e in rss.entries] == [None, PERMALINKED.link, PODCAST.link]
    assert [e.get("link") for e in atom.entries][1:] == [PERMALINKED.link, PODCAST.link]
    assert [e.published_parsed for e in rss.entries] == [e.published_parsed for e in atom.entries]
    assert rss.feed.title == "Test feed"


def test_rss_channel_links_and_dates() -> None:
    root = etree.fromstring(render_rss(ENTRIES, SETTINGS, RSS_HEAD))
    atom_links = {e.get("rel"): e.attrib for e in root.iter("{http://www.w3.org/2005/Atom}link")}
    assert atom_links["self"]["href"] == "http://example.org/feeds/rss.xml"
    assert atom_links["self"]["type"] == "application/rss+xml"
    assert atom_links["hub"]["href"] == "http://hub.example/"
    assert root.findtext("channel/link") == "http://example.org/feeds/"
    # never the clock: the newest entry's updated
    assert root.findtext("channel/lastBuildDate") == "Sat, 04 May 2024 08:00:00 GMT"


def test_rss_guid_is_permalink_only_when_it_is_the_link() -> None:
    root = etree.fromstring(render_rss(ENTRIES, SETTINGS, RSS_HEAD))
    guids = {g.text: g.get("isPermaLink") for g in root.iter("guid")}
    assert guids == {
        ARTICLE.atom_id: "false",
        PERMALINKED.atom_id: "true",
        PODCAST.atom_id: "false",
    }


def test_rss_items_are_faithful() -> None:
    parsed = parse_clean(render_rss(ENTRIES, SETTINGS, RSS_HEAD), "rss20")
    by_id = {e.id: e for e in parsed.entries}
    podcast = by_id[PODCAST.atom_id]
    assert [t.term for t in podcast.tags] == ["audio", "talk"]
    # RSS carries one enclosure per item, with its required length and type
    assert [(e.href, e.length, e.type) for e in podcast.enclosures] == [
        ("http://podcast.example.net/7.mp3", "12345", "audio/mpeg")
    ]
    root = etree.fromstring(render_rss(ENTRIES, SETTINGS, RSS_HEAD))
    creators = root.findall(".//{http://purl.org/dc/elements/1.1/}creator")
    assert [c.text for c in creators] == ["Host One", "Host Two"]
    jane = by_id[PERMALINKED.atom_id]
    assert jane.author == "jane@example.com (Jane Doe)"
    # description carries the summary, content:encoded the whole content
    assert jane.summary == "<p>A <b>short</b> summary</p>"
    assert jane.content[0].value == "<p>Original text</p>"
    assert jane.source == {"href": "http://blog.example.com/atom.xml", "title": "Jane's blog"}


def test_rss_enclosure_without_length_or_type_gets_the_required_defaults() -> None:
    entry = PublishedEntry(
        atom_id="urn:x:1",
        title="t",
        content_html="",
        published=dt(1),
        updated=dt(1),
        enclosures=(Enclosure("http://x.example/a.bin"),),
    )
    root = etree.fromstring(render_rss([entry], SETTINGS, RSS_HEAD))
    enclosure = root.find("channel/item/enclosure")
    assert enclosure is not None
    assert enclosure.attrib == {
        "url": "http://x.example/a.bin",
        "length": "0",
        "type": "application/octet-stream",
    }


# --- JSON Feed 1.1 --------------------------------------------------------------------------


def test_json_feed_follows_the_1_1_rules_and_has_the_same_entries() -> None:
    doc = check_json_feed(render_json_feed(ENTRIES, SETTINGS, JSON_HEAD))
    assert doc["feed_url"] == "http://example.org/feeds/feed.json"
    assert doc["home_page_url"] == "http://example.org/feeds/"
    assert doc["hubs"] == [{"type": "WebSub", "url": "http://hub.example/"}]
    assert doc["description"] == "All the news"
    atom = parse_clean(render_atom(ENTRIES, SETTINGS), "atom10")
    assert [i["id"] for i in doc["items"]] == [e.id for e in atom.entries]
    assert [i["title"] for i in doc["items"]] == [e.title for e in atom.entries]


def test_json_feed_items_are_faithful() -> None:
    doc = check_json_feed(render_json_feed(ENTRIES, SETTINGS, JSON_HEAD))
    items = {i["id"]: i for i in doc["items"]}
    jane = items[PERMALINKED.atom_id]
    assert jane == {
        "id": "http://blog.example.com/posts/42",
        "url": "http://blog.example.com/posts/42",
        "title": "Republished “post”",
        "content_html": "<p>Original text</p>",
        "summary": "A short summary",  # plain text, as the specification says
        "date_published": "2024-05-02T12:00:00Z",
        "date_modified": "2024-05-04T08:00:00Z",
        "authors": [{"name": "Jane Doe", "url": "http://jane.example.com/"}],
        "language": "en-GB",
    }
    podcast = items[PODCAST.atom_id]
    assert podcast["tags"] == ["audio", "talk"]
    assert podcast["attachments"] == [
        {
            "url": "http://podcast.example.net/7.mp3",
            "mime_type": "audio/mpeg",
            "size_in_bytes": 12345,
        },
        {"url": "http://podcast.example.net/7.ogg", "mime_type": "application/octet-stream"},
    ]
    assert items[ARTICLE.atom_id]["content_html"] == ARTICLE.content_html


def test_json_feed_keeps_non_ascii_readable() -> None:
    data = render_json_feed([ARTICLE], SETTINGS, JSON_HEAD)
    assert "Hello “world”".encode() in data
    assert json.loads(data)["items"][0]["title"] == "Hello “world”"


def test_empty_feeds_are_valid_in_every_format(atom_schema: Any) -> None:
    check_json_feed(render_json_feed([], SETTINGS, JSON_HEAD))
    parse_clean(render_rss([], SETTINGS, RSS_HEAD), "rss20")
    assert atom_schema.validate(etree.fromstring(render_atom([], SETTINGS)))


# --- shared behaviour ------------------------------------------------------------------------


def test_every_format_is_deterministic_and_independent_of_input_order() -> None:
    shuffled = (PODCAST, ARTICLE, PERMALINKED)
    assert render_rss(ENTRIES, SETTINGS, RSS_HEAD) == render_rss(shuffled, SETTINGS, RSS_HEAD)
    assert render_json_feed(ENTRIES, SETTINGS, JSON_HEAD) == render_json_feed(
        shuffled, SETTINGS, JSON_HEAD
    )
    assert render_page(ENTRIES, SETTINGS) == render_page(shuffled, SETTINGS)


def test_hostile_ids_get_the_same_derived_id_in_every_format() -> None:
    entry = PublishedEntry(
        atom_id="javascript:alert(1)", title="t", content_html="", published=dt(1), updated=dt(1)
    )
    derived = public_id("javascript:alert(1)")
    assert derived.startswith("urn:uuid:") and derived == public_id(" javascript:alert(1)")
    assert public_id("JavaScript:alert(1)") != derived  # distinct ids stay distinct
    assert public_id("tag:x,2024:1") == "tag:x,2024:1"
    assert parse_clean(render_atom([entry], SETTINGS), "atom10").entries[0].id == derived
    assert parse_clean(render_rss([entry], SETTINGS, RSS_HEAD), "rss20").entries[0].id == derived
    assert json.loads(render_json_feed([entry], SETTINGS, JSON_HEAD))["items"][0]["id"] == derived


@pytest.mark.parametrize(
    ("raw", "published"),
    [
        ("Plain title", "Plain title"),
        ("3 < 5 & 7 > 2", "3 < 5 & 7 > 2"),
        ("<b>Big</b> news", "Big news"),
        ("<script>alert(1)</script>Hello", "Hello"),
        ("  spaced\x0b  ", "spaced"),
    ],
)
def test_titles_are_text_without_stray_markup(raw: str, published: str) -> None:
    assert plain(raw) == published


# --- index.html ------------------------------------------------------------------------------


def test_page_has_autodiscovery_for_every_format_and_subscribe_help() -> None:
    page = render_page(ENTRIES, SETTINGS).decode()
    for kind, name in (
        ("application/atom+xml", "atom.xml"),
        ("application/rss+xml", "rss.xml"),
        ("application/feed+json", "feed.json"),
    ):
        assert f'<link rel="alternate" type="{kind}" title="Test feed' in page
        assert f'href="http://example.org/feeds/{name}">' in page
    assert "How to subscribe" in page
    assert "<code>http://example.org/feeds/atom.xml</code>" in page
    assert "Content-Security-Policy" in page
    # newest first, linked where the entry has a link
    assert page.index("Hello “world”") < page.index("Republished “post”") < page.index("Episode")
    assert '<a href="http://podcast.example.net/7">Episode 7</a>' in page
    assert page_problems(page.encode()) == []


def test_page_escapes_everything_and_drops_unsafe_links() -> None:
    hostile = PublishedEntry(
        atom_id="urn:x:h",
        title='"><img src=x onerror=alert(1)> & co',
        content_html="<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
        published=dt(1),
        updated=dt(1),
        link="javascript:alert(1)",
        authors=(Person('<b onmouseover="x">Eve</b>'),),
    )
    settings = FeedSettings(title='Tom & Jerry\'s <3 "quotes"', base_url="http://example.org/")
    page = render_page([hostile], settings)
    text = page.decode()
    assert "<title>Tom &amp; Jerry&#x27;s &lt;3 &quot;quotes&quot;</title>" in text
    assert "javascript:" not in text
    assert "<img" not in text and "<script" not in text
    assert page_problems(page) == []


def test_excerpt_is_plain_text_cut_at_a_word() -> None:
    entry = PublishedEntry(
        atom_id="urn:x:e",
        title="t",
        content_html="<p>" + "word " * 100 + "</p>",
        published=dt(1),
        updated=dt(1),
    )
    text = excerpt(entry, limit=32)
    assert text == "word word word word word word…"
