"""The whole published site, end to end through the CLI: real feed files in, a real SQLite
file, every file of feeds/ validated; RFC 5005 archive walking; determinism."""

from __future__ import annotations

import json
import shutil
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from feedcheck import (
    check_json_feed,
    output_problems,
    page_problems,
    parse_clean,
    walk_archives,
)
from lxml import etree

from feedsvc.config import load_config
from feedsvc.errors import ConfigError

from helpers import body, db_rows, rss, run, write_config

BASE = "http://127.0.0.1:8080/"
ATOM = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def items(numbers: range | list[int], *, backdate: set[int] | None = None) -> list[dict[str, str]]:
    """RSS items ``n``: distinct text, guid, link; published ``n`` hours after T0, or a year
    before it for the numbers in ``backdate``."""
    out = []
    for n in numbers:
        when = T0 - timedelta(days=365 - n) if n in (backdate or set()) else T0 + timedelta(hours=n)
        out.append(
            {
                "title": f"Story {n}",
                "link": f"https://wire.example/{n}",
                "guid": f"https://wire.example/{n}",
                "description": body(30, f"s{n}x"),
                "pubDate": format_datetime(when, usegmt=True),
            }
        )
    return out


def config_with(tmp_path: Path, feed_keys: str, sources: str = "") -> Path:
    """A config with the source "wire" (``wire.xml``, empty for now) and ``sources``, whose
    [feed] table has the keys of helpers.write_config plus ``feed_keys``."""
    (tmp_path / "wire.xml").write_bytes(rss([]))
    path = write_config(tmp_path, '[[sources]]\nname = "wire"\npath = "wire.xml"\n' + sources)
    text = path.read_text(encoding="utf-8").replace(
        'base_url = "http://127.0.0.1:8080/"\n', f'base_url = "{BASE}"\n{feed_keys}\n', 1
    )
    path.write_text(text, encoding="utf-8")
    return path


def stored_story_ids(tmp_path: Path) -> set[str]:
    rows = db_rows(
        tmp_path / "db/feedsvc.sqlite3", "SELECT atom_id FROM entries WHERE story_id = id"
    )
    return {r[0] for r in rows}


@pytest.fixture
def schema(request: pytest.FixtureRequest) -> Any | None:
    """The Atom schema validator when ../shared is there, else None: these tests check much
    more than the schema, so they run (without it) in a fresh clone too."""
    try:
        return request.getfixturevalue("atom_schema")
    except pytest.skip.Exception:
        return None


def validate_all(feeds: Path, schema: Any | None) -> None:
    """Every file of the site checked by its format's rules (Atom by atom.rng if given)."""
    for path in sorted(feeds.rglob("*.xml")):
        data = path.read_bytes()
        if path.name == "rss.xml":
            parse_clean(data, "rss20")
            continue
        if schema is not None:
            assert schema.validate(etree.fromstring(data)), f"{path}: {schema.error_log}"
        parse_clean(data, "atom10")
    check_json_feed((feeds / "feed.json").read_bytes())
    assert page_problems((feeds / "index.html").read_bytes()) == []
    assert output_problems(feeds) == {}


def test_archive_walking_recovers_every_story_and_complete_pages_never_change(
    tmp_path: Path, schema: Any
) -> None:
    config = config_with(tmp_path, "max_entries = 5\narchive_page_size = 4")
    feed, feeds = tmp_path / "wire.xml", tmp_path / "feeds"
    feed.write_bytes(rss(items(range(10))))
    assert run(config, "ingest").exit_code == 0
    validate_all(feeds, schema)

    current, pages = walk_archives(feeds, BASE)
    assert len(pages) == 2 and all(len(p) == 4 for p in pages)
    archived = [i for page in pages for i in page]
    assert len(archived) == len(set(archived))
    assert set(current) | set(archived) == stored_story_ids(tmp_path)
    # the open page (stories 9 and 10) is written, linked forward, not marked as an archive
    open_page = etree.parse(str(feeds / "archive/3.xml")).getroot()
    assert open_page.find("{http://purl.org/syndication/history/1.0}archive") is None
    assert len(open_page.findall(f"{ATOM}entry")) == 2
    complete = {n: (feeds / f"archive/{n}.xml").stat() for n in (1, 2)}
    snapshot = {n: (feeds / f"archive/{n}.xml").read_bytes() for n in (1, 2)}

    # More stories, two of them backdated by a year: archived stories stay where they are.
    feed.write_bytes(rss(items([*range(10), *range(10, 17)], backdate={13, 15})))
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    validate_all(feeds, schema)
    for n in (1, 2):
        path = feeds / f"archive/{n}.xml"
        assert path.read_bytes() == snapshot[n]
        assert path.stat().st_mtime_ns == complete[n].st_mtime_ns

    current, pages = walk_archives(feeds, BASE)
    assert len(pages) == 4  # 17 stories: 4 complete pages of 4, story 17 on the open page
    archived = [i for page in pages for i in page]
    assert len(archived) == len(set(archived)) == 16
    assert set(current) | set(archived) == stored_story_ids(tmp_path)
    # atom.xml: the 5 newest by date, plus the open page's story even though it is older
    assert len(current) == 5
    assert "https://wire.example/16" in current


def test_a_backdated_story_on_the_open_page_is_still_in_atom_xml(tmp_path: Path) -> None:
    config = config_with(tmp_path, "max_entries = 2\narchive_page_size = 3")
    (tmp_path / "wire.xml").write_bytes(rss(items(range(4), backdate={3})))
    assert run(config, "ingest").exit_code == 0
    current, pages = walk_archives(tmp_path / "feeds", BASE)
    assert "https://wire.example/3" in current  # old by date, but not archived yet
    assert len(current) == 3 and len(pages) == 1


def test_output_is_deterministic_and_unchanged_files_are_left_alone(
    tmp_path: Path, schema: Any
) -> None:
    config = config_with(tmp_path, "archive_page_size = 3")
    (tmp_path / "wire.xml").write_bytes(rss(items(range(7))))
    assert run(config, "ingest").exit_code == 0
    feeds = tmp_path / "feeds"
    files = sorted(p for p in feeds.rglob("*") if p.is_file())
    names = [str(p.relative_to(feeds)) for p in files]
    assert names == [
        "archive/1.xml",
        "archive/2.xml",
        "archive/3.xml",
        "atom.xml",
        "feed.json",
        "index.html",
        "rss.xml",
        "sources/wire.xml",
        "style.css",
    ]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in files}

    result = run(config, "publish")
    assert result.exit_code == 0
    assert "unchanged" in result.output and "0 of 9 files changed" in result.output
    for path, (data, mtime, inode) in before.items():
        assert (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino) == (
            data,
            mtime,
            inode,
        )

    # the same database state gives the same bytes from scratch
    shutil.rmtree(feeds)
    assert "9 of 9 files changed" in run(config, "publish").output
    for path, (data, _, _) in before.items():
        assert path.read_bytes() == data, path
    # the feed's updated is the newest entry's updated, never "now"
    root = etree.parse(str(feeds / "atom.xml")).getroot()
    newest = max(e.findtext(f"{ATOM}updated") or "" for e in root.iter(f"{ATOM}entry"))
    assert root.findtext(f"{ATOM}updated") == newest == "2024-03-01T15:00:00+00:00"


def test_alternates_carry_the_same_entries_and_advertise_each_other(tmp_path: Path) -> None:
    config = config_with(tmp_path, "")
    (tmp_path / "wire.xml").write_bytes(rss(items(range(3))))
    assert run(config, "ingest").exit_code == 0
    feeds = tmp_path / "feeds"
    atom = parse_clean((feeds / "atom.xml").read_bytes(), "atom10")
    rss_doc = parse_clean((feeds / "rss.xml").read_bytes(), "rss20")
    json_doc = check_json_feed((feeds / "feed.json").read_bytes())
    ids = [e.id for e in atom.entries]
    assert len(ids) == 3
    assert [e.id for e in rss_doc.entries] == ids
    assert [i["id"] for i in json_doc["items"]] == ids
    assert [e.title for e in rss_doc.entries] == [e.title for e in atom.entries]
    assert [i["title"] for i in json_doc["items"]] == [e.title for e in atom.entries]

    atom_links = {(link.rel, link.get("type")): link.href for link in atom.feed.links}
    assert atom_links[("alternate", "application/rss+xml")] == BASE + "rss.xml"
    assert atom_links[("alternate", "application/feed+json")] == BASE + "feed.json"
    assert atom_links[("alternate", "text/html")] == BASE
    assert atom_links[("self", "application/atom+xml")] == BASE + "atom.xml"
    rss_links = {(link.rel, link.get("type")): link.href for link in rss_doc.feed.links}
    assert rss_links[("self", "application/rss+xml")] == BASE + "rss.xml"
    assert rss_links[("alternate", "application/atom+xml")] == BASE + "atom.xml"
    assert json_doc["feed_url"] == BASE + "feed.json" and json_doc["home_page_url"] == BASE
    page = (feeds / "index.html").read_text(encoding="utf-8")
    for name in ("atom.xml", "rss.xml", "feed.json", "sources/wire.xml"):
        assert f'href="{BASE}{name}"' in page
    assert "Story 2" in page


def test_per_source_feeds(tmp_path: Path, schema: Any) -> None:
    other = tmp_path / "other.xml"
    # story 1 again (same link): a duplicate, stored as a copy of wire's story
    other.write_bytes(
        rss(
            [
                {"title": "Story 1", "link": "https://wire.example/1", "guid": "o1"},
                {"title": "Own", "link": "https://other.example/x", "guid": "o2"},
            ]
        )
    )
    config = config_with(tmp_path, "", '[[sources]]\nname = "other"\npath = "other.xml"\n')
    (tmp_path / "wire.xml").write_bytes(rss(items(range(3))))
    loose = tmp_path / "loose.xml"
    loose.write_bytes(rss([{"title": "Loose", "link": "https://loose.example/", "guid": "l"}]))
    assert run(config, "ingest").exit_code == 0
    assert run(config, "ingest", str(loose)).exit_code == 0
    feeds = tmp_path / "feeds"
    validate_all(feeds, schema)
    # an ad-hoc "cli:/path" source gets no file of its own
    assert sorted(p.name for p in (feeds / "sources").iterdir()) == ["other.xml", "wire.xml"]

    wire = parse_clean((feeds / "sources/wire.xml").read_bytes(), "atom10")
    assert sorted(e.title for e in wire.entries) == ["Story 0", "Story 1", "Story 2"]
    mine = parse_clean((feeds / "sources/other.xml").read_bytes(), "atom10")
    assert sorted(e.title for e in mine.entries) == ["Own", "Story 1"]  # its copy included
    assert (
        mine.feed.id
        != wire.feed.id
        != parse_clean((feeds / "atom.xml").read_bytes(), "atom10").feed.get("id")
    )
    assert mine.feed.title == "Test feed — other"
    links = {link.rel: link.href for link in mine.feed.links}
    assert links["self"] == BASE + "sources/other.xml"
    main = parse_clean((feeds / "atom.xml").read_bytes(), "atom10")
    assert [e.title for e in main.entries].count("Story 1") == 1  # published once


def closed_port() -> int:
    """A loopback port nothing listens on (it was just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_hub_is_advertised_in_every_subscription_document(tmp_path: Path) -> None:
    hub = f"http://127.0.0.1:{closed_port()}/hub"
    config = config_with(tmp_path, f'hub = "{hub}"\narchive_page_size = 2')
    (tmp_path / "wire.xml").write_bytes(rss(items(range(5))))
    result = run(config, "ingest")  # nobody listens: the ping fails, publishing does not
    assert result.exit_code == 0, result.output
    assert "not notified" in result.output
    feeds = tmp_path / "feeds"
    for name in ("atom.xml", "sources/wire.xml", "rss.xml"):
        root = etree.parse(str(feeds / name)).getroot()
        hubs = [e.get("href") for e in root.iter(f"{ATOM}link") if e.get("rel") == "hub"]
        assert hubs == [hub], name
    assert json.loads((feeds / "feed.json").read_bytes())["hubs"] == [
        {"type": "WebSub", "url": hub}
    ]
    archive = etree.parse(str(feeds / "archive/1.xml")).getroot()
    assert not [e for e in archive.iter(f"{ATOM}link") if e.get("rel") == "hub"]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('hub = "ftp://hub.example/"', "feed.hub: expected an http:// or https:// URL"),
        ("hub = 3", "feed.hub: expected a non-empty string"),
        ("archive_page_size = 0", "feed.archive_page_size: expected a whole number from 1"),
        ("archive_page_sise = 10", "did you mean 'archive_page_size'"),
    ],
)
def test_publishing_config_errors_name_the_key(tmp_path: Path, keys: str, message: str) -> None:
    config = config_with(tmp_path, keys)
    with pytest.raises(ConfigError, match=message):
        load_config(config)
    result = run(config, "publish")
    assert result.exit_code == 2 and message in result.output


def test_publishing_config_defaults(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, ""))
    assert config.feed.hub is None and config.feed.archive_page_size == 50
    config = load_config(
        config_with(tmp_path, 'hub = "https://hub.example/"\narchive_page_size = 7')
    )
    assert config.feed.hub == "https://hub.example/" and config.feed.archive_page_size == 7


PODCAST_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de-AT">
  <id>tag:pod.example,2024:feed</id><title>Pod</title><updated>2024-05-02T10:00:00Z</updated>
  <link rel="self" href="https://pod.example/feed.atom"/>
  <entry>
    <id>tag:pod.example,2024:ep1</id>
    <title type="html">Episode &lt;b&gt;one&lt;/b&gt; &amp;amp; more</title>
    <published>2024-05-01T08:00:00+02:00</published>
    <updated>2024-05-02T10:00:00Z</updated>
    <author><name>Ben Guest</name><uri>https://ben.example/</uri></author>
    <author><name>Anna Host</name><email>anna@pod.example</email></author>
    <category term="audio"/><category term="talk"/>
    <rights>CC BY 4.0</rights>
    <link rel="alternate" href="https://pod.example/ep1"/>
    <link rel="enclosure" href="https://pod.example/ep1.mp3" length="31415926" type="audio/mpeg"/>
    <content type="html">&lt;p&gt;Show notes&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_entries_are_faithful_in_every_format(tmp_path: Path, schema: Any) -> None:
    (tmp_path / "pod.atom").write_bytes(PODCAST_ATOM)
    config = config_with(tmp_path, "", '[[sources]]\nname = "pod"\npath = "pod.atom"\n')
    assert run(config, "ingest").exit_code == 0
    feeds = tmp_path / "feeds"
    validate_all(feeds, schema)

    atom = parse_clean((feeds / "atom.xml").read_bytes(), "atom10").entries[0]
    assert atom.id == "tag:pod.example,2024:ep1"  # the original id, a valid IRI, is kept
    assert atom.title == "Episode one & more" and atom.title_detail.type == "text/plain"
    assert atom.published == "2024-05-01T06:00:00+00:00"
    assert atom.updated == "2024-05-02T10:00:00+00:00"
    # (Ben first: feedparser 6.0.14 copies an earlier author's e-mail, truncated, into a
    # later author that has none)
    assert [(a.get("name"), a.get("email"), a.get("href")) for a in atom.authors] == [
        ("Ben Guest", None, "https://ben.example/"),
        ("Anna Host", "anna@pod.example", None),
    ]
    assert [t.term for t in atom.tags] == ["audio", "talk"]
    assert atom.rights == "CC BY 4.0"
    assert atom.content[0].language == "de-AT"
    assert [(e.href, e.length, e.type) for e in atom.enclosures] == [
        ("https://pod.example/ep1.mp3", "31415926", "audio/mpeg")
    ]
    assert atom.source.title == "Pod"

    item = parse_clean((feeds / "rss.xml").read_bytes(), "rss20").entries[0]
    assert (item.title, item.link, item.id) == (atom.title, atom.link, atom.id)
    assert item.published_parsed == atom.published_parsed
    assert [(e.href, e.length, e.type) for e in item.enclosures] == [
        ("https://pod.example/ep1.mp3", "31415926", "audio/mpeg")
    ]
    assert [t.term for t in item.tags] == ["audio", "talk"]

    doc = check_json_feed((feeds / "feed.json").read_bytes())
    (entry,) = doc["items"]
    assert entry["title"] == atom.title and entry["url"] == "https://pod.example/ep1"
    assert entry["date_published"] == "2024-05-01T06:00:00Z"
    assert entry["date_modified"] == "2024-05-02T10:00:00Z"
    assert entry["language"] == "de-AT"
    assert entry["authors"] == [
        {"name": "Ben Guest", "url": "https://ben.example/"},
        {"name": "Anna Host"},
    ]
    assert entry["attachments"] == [
        {"url": "https://pod.example/ep1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 31415926}
    ]
