"""Tests for feedsvc.parse: feed bytes + headers → ParsedFeed.

Fixtures in tests/data/feeds/ are small feeds written for these tests; the corpus tests use
the feedparser test-suite files in ../shared/corpus (skipped when ../shared is absent).
"""

from __future__ import annotations

import ast
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import feedsvc.parse as parse_module
from feedsvc.dedup import hash_key
from feedsvc.errors import ParseError
from feedsvc.models import Enclosure, FeedInfo, ParsedFeed, Person
from feedsvc.parse import parse_feed
from feedsvc.sanitize import html_to_text

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"


def load(name: str, **kwargs: object) -> ParsedFeed:
    return parse_feed((FEEDS / name).read_bytes(), origin=name, **kwargs)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- identity ----------------------------------------------------------------------------------


def test_rss_keys_guid_then_link_then_hash() -> None:
    first, second, third = load("rss20.xml").articles
    assert first.key == "urn:example:post-1"  # the guid, stripped of its whitespace
    assert first.original_id == "urn:example:post-1"
    assert second.key == "https://example.org/posts/2"  # no guid: the link
    assert second.original_id is None
    assert third.key == hash_key("Third post, nothing to identify it", utc(2024, 1, 3, 13, 30))
    assert third.key.startswith("sha256:")
    assert third.link is None


def test_hash_key_without_any_date() -> None:
    data = b"<rss version='2.0'><channel><title>t</title><item><title>Lone</title></item>"
    data += b"</channel></rss>"
    (article,) = parse_feed(data, origin="mem").articles
    assert article.key == hash_key("Lone", None)
    assert article.published is None and article.updated is None


def test_atom_id_is_not_mistaken_for_a_link() -> None:
    # feedparser copies a "tag:" id into entry.link when there is no <link>; it is no link.
    third = load("atom10.xml").articles[2]
    assert third.key == third.original_id == "tag:example.com,2024:entry-3"
    assert third.link is None


def test_duplicate_keys_are_reported() -> None:
    item = "<item><guid>same</guid><title>{}</title></item>"
    data = f"<rss version='2.0'><channel><title>t</title>{item.format('a')}{item.format('b')}"
    parsed = parse_feed((data + "</channel></rss>").encode(), origin="dup.xml")
    assert [a.key for a in parsed.articles] == ["same", "same"]
    assert any("dup.xml" in w and "'same'" in w for w in parsed.warnings)


# --- dates -------------------------------------------------------------------------------------


def test_dates_are_aware_utc() -> None:
    first, second, third = load("rss20.xml").articles
    # Mon, 01 Jan 2024 12:00:00 +0200
    assert first.published == utc(2024, 1, 1, 10, 0)
    assert first.published is not None and first.published.utcoffset() is not None
    assert first.updated is None  # only pubDate: the pipeline decides, not the parser
    assert second.published is None
    assert third.published == utc(2024, 1, 3, 13, 30)  # -0500


def test_atom_dates_cross_midnight() -> None:
    entry = load("atom10.xml").articles[0]
    assert entry.published == utc(2024, 2, 1, 1, 30)  # 2024-01-31T23:30:00-02:00
    assert entry.updated == utc(2024, 2, 1, 7, 0)  # 2024-02-01T08:00:00+01:00


def test_rdf_dc_date() -> None:
    (item,) = load("rss10.rdf").articles
    assert item.updated == utc(2024, 3, 4, 5, 6, 7)


@pytest.mark.parametrize(
    "value",
    [
        time.struct_time((0, 1, 1, 0, 0, 0, 0, 1, 0)),  # year 0
        time.struct_time((2024, 13, 1, 0, 0, 0, 0, 1, 0)),  # month 13
        time.struct_time((2024, 2, 30, 0, 0, 0, 0, 1, 0)),
        None,
        "2024-01-01",
    ],
)
def test_out_of_range_dates_become_none(value: object) -> None:
    assert parse_module._utc(value) is None


def test_leap_second_is_clamped() -> None:
    leap = time.struct_time((2016, 12, 31, 23, 59, 60, 5, 366, 0))
    assert parse_module._utc(leap) == utc(2016, 12, 31, 23, 59, 59)


def test_garbage_date_is_none() -> None:
    data = (
        b"<rss version='2.0'><channel><title>t</title><item><guid>g</guid>"
        b"<pubDate>the day after tomorrow</pubDate></item></channel></rss>"
    )
    (article,) = parse_feed(data, origin="mem").articles
    assert article.published is None


# --- text and HTML -----------------------------------------------------------------------------


def test_titles_are_plain_text() -> None:
    parsed = load("rss20.xml")
    assert parsed.info.title == "Example & Co <News>"  # a plain-text title keeps its "<"
    assert parsed.articles[0].title == "First bold post"  # an HTML title loses its markup
    atom = load("atom10.xml")
    assert atom.info.title == "Le blog"
    assert atom.articles[1].title == "Entry two & more"


def test_missing_title_is_empty() -> None:
    data = (
        b"<rss version='2.0'><channel><title>t</title><item><guid>g</guid></item></channel></rss>"
    )
    (article,) = parse_feed(data, origin="mem").articles
    assert article.title == ""
    assert article.content_html == ""


def test_content_preferred_over_summary() -> None:
    first, second, _ = load("rss20.xml").articles
    assert "<em>full</em>" in first.content_html
    assert first.summary_html == "Short summary of the first post."
    assert second.content_html == "<p>Only a summary here.</p>"  # no content: the summary
    assert second.summary_html is None
    xhtml = load("atom10.xml").articles[2]
    assert "<strong>three</strong>" in xhtml.content_html
    assert xhtml.summary_html == "<p>Summary of three</p>"


def test_longest_content_wins() -> None:
    data = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>urn:x</id><title>x</title>
        <content type="html">short</content>
      </entry></feed>"""
    (article,) = parse_feed(data, origin="mem").articles
    assert article.content_html == "short"
    assert article.summary_html is None  # feedparser copies content into summary: not distinct


def test_text_plain_content_is_escaped_not_markup() -> None:
    entry = load("atom10.xml").articles[0]
    assert entry.content_html == (
        "<p>Line one &amp; more &lt;b&gt;not bold&lt;/b&gt;<br>second line</p>"
        "<p>Second paragraph.</p>"
    )
    assert entry.summary_html == "<p>A summary &lt;not markup&gt;</p>"


def test_scripts_and_handlers_are_removed() -> None:
    html = load("rss20.xml").articles[0].content_html
    assert "<script" not in html and "alert" not in html
    assert "onclick" not in html and "evil" not in html
    assert "Click" in html


# --- people, tags, media, links ----------------------------------------------------------------


def test_authors_categories_enclosures_rss() -> None:
    first, second, _ = load("rss20.xml").articles
    assert first.authors == (Person(name="Jane Doe", email="jane@example.org"),)
    assert second.authors == (Person(name="John Roe"),)
    assert first.categories == ("news", "python")  # deduplicated, order kept
    assert first.enclosures == (
        Enclosure(href="https://example.org/media/ep1.mp3", length=12345, type="audio/mpeg"),
        Enclosure(href="https://example.org/media/ep1.ogg", length=None, type="audio/ogg"),
    )
    assert first.lang == "en-gb"  # the channel's <language>


def test_atom_metadata() -> None:
    parsed = load("atom10.xml")
    assert parsed.info == FeedInfo(
        title="Le blog",
        id="tag:example.com,2024:blog",
        link="https://blog.example.com/",
        self_link="https://blog.example.com/atom.xml",
        updated=utc(2024, 2, 1, 9, 0),
    )
    first, second, _ = parsed.articles
    assert first.authors == (
        Person(name="Alice", email="alice@example.com", uri="https://alice.example.com/"),
    )
    assert first.categories == ("atom", "tests")
    assert first.rights == "© 2024 Alice"
    assert first.lang == "fr"  # inherited xml:lang
    assert second.lang == "de"
    assert first.origin == "atom10.xml"


def test_relative_uris_resolve_against_xml_base() -> None:
    first, second, _ = load("atom10.xml").articles
    assert first.link == "https://blog.example.com/base/entries/1.html"
    assert first.enclosures[0].href == "https://blog.example.com/base/files/doc.pdf"
    # the content's own xml:base wins over the feed's
    assert 'href="https://other.example.net/dir/page.html"' in second.content_html


def test_relative_uris_resolve_against_the_feed_url() -> None:
    parsed = load("relative.xml", url="https://rel.example.org/feeds/rss.xml")
    (article,) = parsed.articles
    assert parsed.info.link == "https://rel.example.org/"
    assert article.link == article.key == "https://rel.example.org/posts/rel"
    assert 'href="https://rel.example.org/other"' in article.content_html
    assert 'src="https://rel.example.org/feeds/pic.jpg"' in article.content_html
    assert parsed.warnings == ()  # giving a url must not make feedparser complain


def test_content_location_header_beats_url() -> None:
    parsed = load(
        "relative.xml",
        url="https://ignored.example.org/x.xml",
        headers={"Content-Location": "https://cl.example.org/a/feed.xml"},
    )
    assert parsed.articles[0].link == "https://cl.example.org/posts/rel"


def test_url_does_not_change_the_default_encoding() -> None:
    # No XML declaration, UTF-8 bytes: with headers but no Content-Type feedparser would
    # guess iso-8859-1 and garble the title.
    title = "Caf\u00e9 \u2013 na\u00efve"
    data = f"<rss version='2.0'><channel><title>{title}</title></channel></rss>".encode()
    parsed = parse_feed(data, url="https://example.org/feed", origin="mem")
    assert parsed.info.title == title
    assert parsed.warnings == ()


def test_header_names_are_case_insensitive() -> None:
    data = "<rss version='2.0'><channel><title>£1</title></channel></rss>".encode("cp1252")
    parsed = parse_feed(
        data, headers={"Content-Type": "application/rss+xml; charset=windows-1252"}, origin="m"
    )
    assert parsed.info.title == "£1"


# --- ttl ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("<ttl>90</ttl>", 5400),
        ("<ttl> 15 </ttl>", 900),
        ("<ttl>soon</ttl>", None),
        ("<ttl>-5</ttl>", None),
        ("<ttl>0</ttl>", None),
        ("<sy:updatePeriod>hourly</sy:updatePeriod>", 3600),
        (
            "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>",
            21600,
        ),
        ("<sy:updatePeriod>fortnightly</sy:updatePeriod>", None),
        (
            "<sy:updatePeriod>weekly</sy:updatePeriod><sy:updateFrequency>x</sy:updateFrequency>",
            604800,
        ),
        ("", None),
    ],
)
def test_ttl(channel: str, expected: int | None) -> None:
    data = (
        "<rss version='2.0' xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'>"
        f"<channel><title>t</title>{channel}</channel></rss>"
    )
    assert parse_feed(data.encode(), origin="mem").ttl_seconds == expected


def test_ttl_from_fixtures() -> None:
    assert load("rss20.xml").ttl_seconds == 90 * 60
    assert load("rss10.rdf").ttl_seconds == 86400 // 4
    assert load("atom10.xml").ttl_seconds is None


# --- malformed input ---------------------------------------------------------------------------


def test_bozo_feed_with_entries_warns() -> None:
    parsed = load("bozo.xml")
    assert [a.title for a in parsed.articles] == ["Tom & Jerry"]
    assert parsed.info.title == "Broken but readable"
    (warning,) = parsed.warnings
    assert warning.startswith("bozo.xml: not well-formed XML (line 7")


def test_garbage_is_a_parse_error_naming_origin() -> None:
    with pytest.raises(ParseError, match=r"^garbage\.bin: not a feed"):
        load("garbage.bin")


@pytest.mark.parametrize("data", [b"", b"  \n\t "])
def test_empty_input_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^/srv/empty\.xml: empty document"):
        parse_feed(data, origin="/srv/empty.xml")


def test_empty_fixture_file() -> None:
    with pytest.raises(ParseError, match=r"^empty\.xml: "):
        load("empty.xml")


def test_html_page_is_not_a_feed() -> None:
    page = b"<html><head><title>Home</title></head><body><p>hi</p></body></html>"
    with pytest.raises(ParseError, match=r"^https://x\.example/: not a feed"):
        parse_feed(page, headers={"content-type": "text/html"}, origin="https://x.example/")


def test_well_formed_feed_without_entries_is_fine() -> None:
    parsed = load("empty_channel.xml")
    assert parsed.articles == ()
    assert parsed.warnings == ()
    assert parsed.info.title == "Nothing yet"


def test_feedparser_crash_becomes_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    boom = RuntimeError("boom")

    def explode(*args: object, **kwargs: object) -> object:
        raise boom

    monkeypatch.setattr(parse_module.feedparser, "parse", explode)
    with pytest.raises(
        ParseError, match=r"^feed\.xml: feedparser failed: RuntimeError: boom"
    ) as info:
        parse_feed(b"<rss/>", origin="feed.xml")
    assert info.value.__cause__ is boom


def test_bytes_are_never_taken_for_a_path(tmp_path: Path) -> None:
    # feedparser.parse(bytes) first tries open(bytes): a body that names a file must not be
    # read from disk.
    secret = tmp_path / "secret.xml"
    secret.write_text("<rss version='2.0'><channel><title>secret</title></channel></rss>")
    with pytest.raises(ParseError):
        parse_feed(str(secret).encode(), origin="mem")


# --- JSON Feed ---------------------------------------------------------------------------------


def test_json_feed() -> None:
    parsed = load("jsonfeed.json", url="https://json.example.org/feed.json")
    assert parsed.info == FeedInfo(
        title="JSON <Example>",
        link="https://json.example.org/",
        self_link="https://json.example.org/feed.json",
    )
    first, second = parsed.articles
    assert first.key == "https://json.example.org/p/1"
    assert first.link == "https://json.example.org/p/1"
    assert first.published == utc(2024, 5, 1, 10, 0)
    assert first.updated == utc(2024, 5, 2)
    assert 'href="https://json.example.org/p/rel"' in first.content_html
    assert "script" not in first.content_html
    assert first.summary_html == "<p>Say hi</p>"
    assert first.authors == (Person(name="Dana", uri="https://dana.example.org/"),)
    assert first.categories == ("a", "b")
    assert first.enclosures == (Enclosure("https://json.example.org/a.mp3", 10, "audio/mpeg"),)
    assert first.lang == "en"
    assert second.key == second.original_id == "7"
    assert second.content_html == "<p>Plain &lt;text&gt; &amp; more</p>"
    assert any("item 2" in w for w in parsed.warnings)


@pytest.mark.parametrize("data", [b"{not json", b'{"title": "no version"}', b"\xef\xbb\xbf{[]"])
def test_bad_json_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^j\.json: not a feed"):
        parse_feed(data, origin="j.json")


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["rss20.xml", "atom10.xml", "rss10.rdf", "bozo.xml", "jsonfeed.json"]
)
def test_same_bytes_same_result(name: str) -> None:
    assert load(name) == load(name)


# --- the feedparser corpus (../shared/corpus/feedparser) ---------------------------------------

_HEADER = re.compile(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)


def _comment_headers(data: bytes) -> dict[str, str]:
    """The ``Header:`` lines of a corpus file's leading comment (ASCII-compatible files only)."""
    head = data[:2048].decode("latin-1")
    return {name: value for name, value in _HEADER.findall(head)}


def test_corpus_never_crashes(shared_dir: Path) -> None:
    root = shared_dir / "corpus" / "feedparser"
    files = [
        p for p in sorted(root.rglob("*")) if p.is_file() and p.name not in ("LICENSE", "README.md")
    ]
    if not files:
        pytest.skip(f"no corpus under {root}")
    started = time.monotonic()
    parsed = rejected = 0
    for path in files:
        data = path.read_bytes()
        try:
            result = parse_feed(data, headers=_comment_headers(data), origin=str(path))
        except ParseError as e:
            assert str(path) in str(e)
            rejected += 1
        else:
            assert isinstance(result, ParsedFeed)
            for article in result.articles:
                assert article.key
                for d in (article.published, article.updated):
                    assert d is None or d.tzinfo == UTC
            parsed += 1
    elapsed = time.monotonic() - started
    print(f"corpus: {parsed} parsed, {rejected} ParseError, {elapsed:.1f} s")
    assert parsed > 10 * rejected  # the corpus is almost all feeds
    assert elapsed < 30


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("euc-kr.xml", "feed title", "\ub144"),
        ("euc-kr-item.xml", "entry text", "\ub144"),
        ("http_text_xml_charset_2.xml", "entry text", "This is a \xa3\u201ctest.\u201d"),
        ("demoronize-1.xml", "entry text", "don\u2019t"),
    ],
)
def test_corpus_encodings(shared_dir: Path, name: str, field: str, expected: str) -> None:
    path = shared_dir / "corpus" / "feedparser" / "encoding" / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    data = path.read_bytes()
    # Keep the test honest: the expectation is the one the file itself states.
    expect = re.search(rb"Expect:\s*(.*)", data)
    assert expect is not None
    literal = expect.group(1).decode("ascii").rsplit("==", 1)[1].strip()
    assert ast.literal_eval(literal) == expected

    parsed = parse_feed(data, headers=_comment_headers(data), origin=name)
    if field == "feed title":
        assert parsed.info.title == expected
    else:
        assert html_to_text(parsed.articles[0].content_html) == expected
    assert parsed.warnings == ()  # each of these says "not bozo"


def test_anonymous_undated_items_keep_distinct_identities() -> None:
    data = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><description>first</description></item>"
        b"<item><description>second</description></item></channel></rss>"
    )
    keys = [a.key for a in parse_feed(data, origin="anon.xml").articles]
    assert len(set(keys)) == 2 and all(k.startswith("sha256:") for k in keys)
