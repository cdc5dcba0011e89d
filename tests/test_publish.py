"""Tests for feedsvc.publish: Atom rendering (schema-valid, deterministic) and atomic writes."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from feedsvc import __version__
from feedsvc.errors import PublishError
from feedsvc.models import Enclosure, FeedInfo, FeedSettings, Person, PublishedEntry
from feedsvc.publish import is_valid_iri, publish_feed, render_atom, write_atomic

ATOM = "{http://www.w3.org/2005/Atom}"

SETTINGS = FeedSettings(
    title="Test feed",
    id="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    author="Feed Author",
    base_url="http://example.org/feeds/",
    subtitle="All the news",
)


def dt(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 5, day, hour, 0, 0, tzinfo=UTC)


ARTICLE = PublishedEntry(
    atom_id="urn:feedsvc:articles:notes/hello.txt",
    title="Hello “world”",
    content_html="<p>He said “hi” — and &lt;b&gt;left&lt;/b&gt; &amp; went.</p>",
    published=dt(3),
    updated=dt(3),
    source_name="articles",
)
REPUBLISHED = PublishedEntry(
    atom_id="http://blog.example.com/posts/42",
    title="Republished post",
    content_html="<p>Original text</p>",
    published=dt(2),
    updated=dt(4, 8),  # the latest `updated` of all, though not the newest published
    link="http://blog.example.com/posts/42.html",
    authors=(Person("Jane Doe", email="jane@example.com", uri="http://jane.example.com/"),),
    lang="en_GB",
    rights="© Jane Doe",
    source_info=FeedInfo(
        title="Jane's blog",
        id="tag:blog.example.com,2024:feed",
        link="http://blog.example.com/",
        self_link="http://blog.example.com/atom.xml",
        updated=dt(4, 7),
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
    summary_html="<b>Short</b> summary",
    categories=("audio", "talk"),
    enclosures=(
        Enclosure("http://podcast.example.net/7.mp3", length=12345, type="audio/mpeg"),
        Enclosure("http://podcast.example.net/7.ogg"),
    ),
    source_name="podcast",
)
ENTRIES = (ARTICLE, REPUBLISHED, PODCAST)  # newest published first


def assert_valid(schema: Any, data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    ok = schema.validate(root)
    assert ok, str(schema.error_log)
    return root


def parse(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


# --- render_atom ------------------------------------------------------------------------


def test_render_is_valid_atom(atom_schema: Any) -> None:
    data = render_atom(ENTRIES, SETTINGS)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert_valid(atom_schema, data)


def test_render_round_trips_through_feedparser() -> None:
    parsed = parse(render_atom(ENTRIES, SETTINGS))
    feed = parsed.feed
    assert feed.title == "Test feed"
    assert feed.id == SETTINGS.id
    assert feed.subtitle == "All the news"
    assert feed.author == "Feed Author"
    assert feed.generator == "feedsvc"
    assert feed.generator_detail.version == __version__
    links = {link.rel: link.href for link in feed.links}
    assert links == {"self": "http://example.org/feeds/atom.xml", "alternate": SETTINGS.base_url}

    assert [e.id for e in parsed.entries] == [e.atom_id for e in ENTRIES]
    assert [e.title for e in parsed.entries] == [e.title for e in ENTRIES]
    alternates = [
        [link.href for link in e.get("links", ()) if link.rel == "alternate"]
        for e in parsed.entries
    ]
    assert alternates == [[e.link] if e.link else [] for e in ENTRIES]
    for got, want in zip(parsed.entries, ENTRIES, strict=True):
        assert got.content[0].type == "text/html"
        assert got.content[0].value == want.content_html
        assert got.published_parsed[:6] == want.published.timetuple()[:6]
        assert got.updated_parsed[:6] == want.updated.timetuple()[:6]

    article, republished, podcast = parsed.entries
    assert "“hi” — and" in article.content[0].value
    # No link and no author of its own: it inherits the feed's author.
    assert "links" not in article or not article.links
    assert "authors" not in article

    assert republished.author_detail.name == "Jane Doe"
    assert republished.author_detail.email == "jane@example.com"
    assert republished.rights == "© Jane Doe"
    assert republished.source.title == "Jane's blog"
    assert republished.source.id == "tag:blog.example.com,2024:feed"

    assert podcast.summary == "<b>Short</b> summary"
    assert [t.term for t in podcast.tags] == ["audio", "talk"]
    assert podcast.link == "http://podcast.example.net/7"
    mp3, ogg = podcast.enclosures
    assert (mp3.href, mp3.length, mp3.type) == (
        "http://podcast.example.net/7.mp3",
        "12345",
        "audio/mpeg",
    )
    assert ogg.href == "http://podcast.example.net/7.ogg"
    assert "length" not in ogg  # (feedparser defaults a missing type to text/html)


def test_atom_source_and_lang(atom_schema: Any) -> None:
    root = assert_valid(atom_schema, render_atom([REPUBLISHED], SETTINGS))
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-GB"
    sources = entry.findall(f"{ATOM}source")
    assert len(sources) == 1
    source = sources[0]
    assert source.findtext(f"{ATOM}id") == "tag:blog.example.com,2024:feed"
    assert source.findtext(f"{ATOM}title") == "Jane's blog"
    assert source.findtext(f"{ATOM}updated") == "2024-05-04T07:00:00+00:00"
    links = {link.get("rel"): link.get("href") for link in source.findall(f"{ATOM}link")}
    assert links == {
        "alternate": "http://blog.example.com/",
        "self": "http://blog.example.com/atom.xml",
    }


def test_atom_source_omits_unknown_and_invalid_parts(atom_schema: Any) -> None:
    entry = PublishedEntry(
        atom_id="urn:feedsvc:x",
        title="x",
        content_html="",
        published=dt(1),
        updated=dt(1),
        source_info=FeedInfo(title="Some RSS feed", id="12345", link="http://rss.example/"),
    )
    root = assert_valid(atom_schema, render_atom([entry], SETTINGS))
    source = root.find(f"{ATOM}entry/{ATOM}source")
    assert source is not None
    assert [child.tag.removeprefix(ATOM) for child in source] == ["title", "link"]


def test_empty_source_info_is_still_valid(atom_schema: Any) -> None:
    entry = PublishedEntry(
        atom_id="urn:feedsvc:y",
        title="y",
        content_html="<p>y</p>",
        published=dt(1),
        updated=dt(1),
        source_info=FeedInfo(),
    )
    root = assert_valid(atom_schema, render_atom([entry], SETTINGS))
    source = root.find(f"{ATOM}entry/{ATOM}source")
    assert source is not None
    assert len(source) == 0


def test_feed_updated_is_the_latest_entry_updated() -> None:
    parsed = parse(render_atom(ENTRIES, SETTINGS))
    assert parsed.feed.updated == "2024-05-04T08:00:00+00:00"
    newest = max(e.updated for e in ENTRIES)
    assert parsed.feed.updated_parsed[:6] == newest.timetuple()[:6]


def test_zero_entries_is_valid_and_fixed_in_time(atom_schema: Any) -> None:
    data = render_atom([], SETTINGS)
    root = assert_valid(atom_schema, data)
    assert root.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00+00:00"
    assert root.find(f"{ATOM}entry") is None
    assert parse(data).entries == []
    assert render_atom([], SETTINGS) == data


def test_render_is_deterministic_and_sorts_itself() -> None:
    first = render_atom(ENTRIES, SETTINGS)
    assert render_atom(ENTRIES, SETTINGS) == first
    assert render_atom(list(reversed(ENTRIES)), SETTINGS) == first


def test_ties_on_published_are_broken_by_atom_id() -> None:
    same = [
        PublishedEntry(
            atom_id=f"urn:x:{c}", title=c, content_html="", published=dt(1), updated=dt(1)
        )
        for c in "cab"
    ]
    parsed = parse(render_atom(same, SETTINGS))
    assert [e.id for e in parsed.entries] == ["urn:x:a", "urn:x:b", "urn:x:c"]


def test_dates_are_published_in_utc(atom_schema: Any) -> None:
    cest = timezone(timedelta(hours=2))
    entry = PublishedEntry(
        atom_id="urn:x:tz",
        title="tz",
        content_html="",
        published=datetime(2024, 5, 1, 14, 0, tzinfo=cest),
        updated=datetime(2024, 5, 1, 15, 30, tzinfo=cest),
    )
    root = assert_valid(atom_schema, render_atom([entry], SETTINGS))
    assert root.findtext(f"{ATOM}entry/{ATOM}published") == "2024-05-01T12:00:00+00:00"
    assert root.findtext(f"{ATOM}updated") == "2024-05-01T13:30:00+00:00"


def test_self_url_override() -> None:
    parsed = parse(render_atom([], SETTINGS, self_url="https://news.example/atom.xml"))
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == "https://news.example/atom.xml"


def test_base_url_without_trailing_slash_keeps_its_folder() -> None:
    settings = FeedSettings(base_url="http://example.org/feeds")
    parsed = parse(render_atom([], settings))
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == "http://example.org/feeds/atom.xml"


def test_empty_title_becomes_untitled(atom_schema: Any) -> None:
    entry = PublishedEntry(
        atom_id="urn:x:t", title=" \x00 ", content_html="", published=dt(1), updated=dt(1)
    )
    data = render_atom([entry], SETTINGS)
    assert_valid(atom_schema, data)
    assert parse(data).entries[0].title == "(untitled)"


HOSTILE = "\x00\x01\x08\x0b\x0c\x0e\x1f\ufffe\uffff\ud800"


def test_xml_illegal_characters_are_stripped(atom_schema: Any) -> None:
    entry = PublishedEntry(
        atom_id=f"urn:x:{HOSTILE}hostile",
        title=f"Bad{HOSTILE} title\tkept",
        content_html=f"<p>bad{HOSTILE} content</p>",
        published=dt(1),
        updated=dt(1),
        link=f"http://evil.example/{HOSTILE}",
        summary_html=f"sum{HOSTILE}mary",
        authors=(Person(f"Eve{HOSTILE}", email=f"eve{HOSTILE}@evil.example", uri=HOSTILE),),
        categories=(f"cat{HOSTILE}", HOSTILE),
        enclosures=(Enclosure(f"http://evil.example/a{HOSTILE}.mp3", type=f"audio/{HOSTILE}"),),
        lang=f"en{HOSTILE}",
        rights=f"rights{HOSTILE}",
        source_info=FeedInfo(
            title=f"src{HOSTILE}", id=f"http://evil.example/{HOSTILE}", link=HOSTILE
        ),
    )
    settings = FeedSettings(title=f"T{HOSTILE}", subtitle=f"S{HOSTILE}", author=f"A{HOSTILE}")
    data = render_atom([entry], settings)
    assert_valid(atom_schema, data)
    text = data.decode("utf-8")
    for ch in HOSTILE:
        assert ch not in text
        assert f"&#{ord(ch)};" not in text
    got = parse(data).entries[0]
    assert got.id == "urn:x:hostile"
    assert got.title == "Bad title\tkept"
    assert got.content[0].value == "<p>bad content</p>"
    assert [t.term for t in got.tags] == ["cat"]


def test_values_the_schema_would_reject_are_dropped(atom_schema: Any) -> None:
    entry = PublishedEntry(
        atom_id="urn:x:drop",
        title="drop",
        content_html="",
        published=dt(1),
        updated=dt(1),
        authors=(Person("No Mail", email="not-an-address"), Person("  ")),
        enclosures=(Enclosure("http://x.example/a", length=-1, type="mpeg"),),
        lang="not a language",
    )
    root = assert_valid(atom_schema, render_atom([entry], SETTINGS))
    got = root.find(f"{ATOM}entry")
    assert got is not None
    assert got.get("{http://www.w3.org/XML/1998/namespace}lang") is None
    authors = got.findall(f"{ATOM}author")
    assert len(authors) == 1
    assert authors[0].findtext(f"{ATOM}name") == "No Mail"
    assert authors[0].find(f"{ATOM}email") is None
    enclosure = got.find(f"{ATOM}link[@rel='enclosure']")
    assert enclosure is not None
    assert enclosure.get("length") is None
    assert enclosure.get("type") is None


def test_render_errors_are_publish_errors() -> None:
    with pytest.raises(PublishError, match="cannot render"):
        render_atom([], FeedSettings(id=""))
    blank = PublishedEntry(
        atom_id="", title="t", content_html="", published=dt(1), updated=dt(1), source_name="s"
    )
    with pytest.raises(PublishError, match="atom:id"):
        render_atom([blank], SETTINGS)


# --- is_valid_iri -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "tag:example.org,2024:entry-1",
        "http://example.org/posts/1?a=b#c",
        "https://例え.jp/パス",
        "http://example.org/caf%C3%A9",
        "mailto:someone@example.org",
    ],
)
def test_valid_iris(value: str) -> None:
    assert is_valid_iri(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "12345",
        "foo bar",
        "http://example.org/a b",
        " http://example.org/",
        "http:",
        ":nothing",
        "1http://example.org/",
        "/relative/path",
        "http://example.org/<script>",
        'http://example.org/"q"',
        "http://example.org/{x}",
        "http://example.org/a|b",
        "http://example.org/a\\b",
        "http://example.org/a^b",
        "http://example.org/a`b",
        "http://example.org/\x00",
        "http://example.org/\x7f",
        "http://example.org/\u0085",
        "http://example.org/\u3000",
        "http://example.org/100%",
        "http://example.org/%zz",
    ],
)
def test_invalid_iris(value: str) -> None:
    assert not is_valid_iri(value)


# --- write_atomic / publish_feed ----------------------------------------------------------


def test_write_atomic_creates_file_and_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "atom.xml"
    assert write_atomic(path, b"one") is True
    assert path.read_bytes() == b"one"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["atom.xml"]


def test_write_atomic_leaves_identical_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "atom.xml"
    write_atomic(path, b"same")
    old_time = 1_000_000_000_000_000_000
    os.utime(path, ns=(old_time, old_time))
    before = path.stat()
    assert write_atomic(path, b"same") is False
    after = path.stat()
    assert after.st_mtime_ns == before.st_mtime_ns == old_time
    assert after.st_ino == before.st_ino


def test_write_atomic_replaces_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "atom.xml"
    write_atomic(path, b"old")
    before = path.stat()
    for data in (b"new", b"newer but longer", b""):
        assert write_atomic(path, data) is True
        assert path.read_bytes() == data
    assert path.stat().st_ino != before.st_ino  # renamed over, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["atom.xml"]


def test_write_atomic_error_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    path = blocker / "atom.xml"  # its parent is a regular file: fails even for root
    with pytest.raises(PublishError, match=r"not-a-dir/atom\.xml"):
        write_atomic(path, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-dir"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions"
)
def test_write_atomic_unwritable_dir(tmp_path: Path) -> None:  # pragma: no cover - non-root
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PublishError, match=r"ro/atom\.xml"):
            write_atomic(folder / "atom.xml", b"data")
    finally:
        folder.chmod(0o755)


def test_write_atomic_removes_temp_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    path = tmp_path / "atom.xml"
    with pytest.raises(PublishError, match="No space left") as info:
        write_atomic(path, b"data")
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert list(tmp_path.iterdir()) == []


def test_publish_feed_writes_atom_xml_once(tmp_path: Path, atom_schema: Any) -> None:
    out = tmp_path / "feeds"
    assert publish_feed(ENTRIES, SETTINGS, out) is True
    data = (out / "atom.xml").read_bytes()
    assert data == render_atom(ENTRIES, SETTINGS)
    assert_valid(atom_schema, data)
    assert publish_feed(list(reversed(ENTRIES)), SETTINGS, out) is False
    assert publish_feed(ENTRIES[:1], SETTINGS, out) is True
    assert [p.name for p in out.iterdir()] == ["atom.xml"]


def test_publish_feed_wraps_render_errors(tmp_path: Path) -> None:
    with pytest.raises(PublishError):
        publish_feed([], FeedSettings(title=""), tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- the validator fixture itself ---------------------------------------------------------


def test_schema_accepts_the_valid_fixture(shared_dir: Path, atom_schema: Any) -> None:
    assert_valid(atom_schema, (shared_dir / "fixtures/atom/valid-feed.atom").read_bytes())


def test_schema_rejects_the_invalid_fixtures(shared_dir: Path, atom_schema: Any) -> None:
    invalid = sorted((shared_dir / "fixtures/atom").glob("invalid-*.atom"))
    assert len(invalid) >= 3
    for path in invalid:
        doc = etree.parse(str(path))
        assert not atom_schema.validate(doc), f"{path.name} should fail the schema"
