"""End-to-end ingest through the CLI: real files, a real SQLite file, real published feeds."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import FeedServer
from helpers import body, check_feed, db_rows, entry_ids, rss, run, status_json, write_config

SAMPLE_TITLE = "US and Ecuador Launch Joint Operations Against “Narco-Terrorist” Groups"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    d = tmp_path / "articles"
    d.mkdir()
    return d


def dir_config(tmp_path: Path, extra_sources: str = "") -> Path:
    return write_config(
        tmp_path,
        '[[sources]]\nname = "inbox"\npath = "articles"\n' + extra_sources,
    )


def test_users_sample_article(
    tmp_path: Path, inbox: Path, shared_dir: Path, atom_schema: Any
) -> None:
    for f in (shared_dir / "examples" / "articles").glob("*.txt"):
        shutil.copy(f, inbox / f.name)
    config = dir_config(tmp_path)
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output

    ((title, content),) = db_rows(
        tmp_path / "db/feedsvc.sqlite3", "SELECT title, content_html FROM entries"
    )
    assert title == SAMPLE_TITLE
    paragraphs = content.split("\n")
    assert len(paragraphs) == 9  # 10 non-empty lines: the title, then 9 paragraphs
    assert all(p.startswith("<p>") and p.endswith("</p>") for p in paragraphs)
    assert paragraphs[0].startswith("<p>Kathmandu — The United States Department of Defense")

    feed = check_feed(tmp_path / "feeds/atom.xml", atom_schema)
    assert feed.entries[0].title == SAMPLE_TITLE
    # Curly quotes and dashes survive byte-exact into the published file.
    raw = (tmp_path / "feeds/atom.xml").read_bytes()
    assert SAMPLE_TITLE.encode("utf-8") in raw
    assert "“Together, we are taking necessary action".encode() in raw


def write_article(inbox: Path, name: str, title: str, n: int = 40, seed: str = "") -> Path:
    path = inbox / name
    words = " ".join(f"{seed or name}{i}" for i in range(n))
    path.write_text(
        f"{title}\nTown — {words}.\nSecond paragraph of {title}.\n\n\n", encoding="utf-8"
    )
    return path


def test_reingest_is_idempotent_and_leaves_the_feed_untouched(
    tmp_path: Path, inbox: Path, atom_schema: Any
) -> None:
    write_article(inbox, "a.txt", "Alpha")
    write_article(inbox, "b.md", "Beta")
    config = dir_config(tmp_path)
    assert run(config, "ingest").exit_code == 0
    atom = tmp_path / "feeds/atom.xml"
    first, stat = atom.read_bytes(), atom.stat()
    check_feed(atom, atom_schema)

    result = run(config, "ingest")
    assert result.exit_code == 0
    assert "0 new, 0 updated, 2 unchanged" in result.output
    assert atom.read_bytes() == first
    assert atom.stat().st_mtime_ns == stat.st_mtime_ns and atom.stat().st_ino == stat.st_ino
    assert db_rows(tmp_path / "db/feedsvc.sqlite3", "SELECT count(*) FROM entries") == [(2,)]
    # publish regenerates the same bytes from the database
    assert run(config, "publish").exit_code == 0
    assert atom.read_bytes() == first


def test_edit_updates_in_place_and_touch_changes_nothing(
    tmp_path: Path, inbox: Path, atom_schema: Any
) -> None:
    path = write_article(inbox, "a.txt", "Alpha")
    config = dir_config(tmp_path)
    assert run(config, "ingest").exit_code == 0
    atom = tmp_path / "feeds/atom.xml"
    before = check_feed(atom, atom_schema).entries[0]

    os.utime(path, (time.time() + 100, time.time() + 100))  # touched, not edited
    assert "1 unchanged" in run(config, "ingest").output

    path.write_text("Alpha, revised\nTown — new text entirely.\n", encoding="utf-8")
    result = run(config, "ingest")
    assert "0 new, 1 updated" in result.output
    after = check_feed(atom, atom_schema).entries
    assert len(after) == 1
    assert after[0].id == before.id
    assert after[0].title == "Alpha, revised"
    assert after[0].published == before.published
    assert after[0].updated_parsed > before.updated_parsed


def test_rename_and_copy_do_not_make_a_second_story(
    tmp_path: Path, inbox: Path, atom_schema: Any
) -> None:
    path = write_article(inbox, "a.txt", "Alpha")
    config = dir_config(tmp_path)
    run(config, "ingest")
    atom = tmp_path / "feeds/atom.xml"
    ids = entry_ids(atom)

    path.rename(inbox / "renamed.txt")
    shutil.copy(inbox / "renamed.txt", inbox / "copy.txt")
    result = run(config, "ingest")
    assert "0 new" in result.output and "2 duplicate" in result.output
    assert entry_ids(atom) == ids
    check_feed(atom, atom_schema)
    rows = db_rows(tmp_path / "db/feedsvc.sqlite3", "SELECT key, dup_rule FROM entries ORDER BY id")
    assert rows == [("a.txt", None), ("copy.txt", "same-text"), ("renamed.txt", "same-text")]


def test_cross_source_duplicates_by_link_and_by_text(
    tmp_path: Path, inbox: Path, atom_schema: Any
) -> None:
    story = body(60, "story")
    (tmp_path / "one.xml").write_bytes(
        rss(
            [
                {
                    "title": "Original",
                    "link": "https://News.example/a/1",
                    "guid": "one-1",
                    "description": body(50, "one"),
                },
                {
                    "title": "Wire copy",
                    "link": "https://news.example/wire/9",
                    "guid": "one-2",
                    "description": story,
                },
            ]
        )
    )
    (tmp_path / "two.xml").write_bytes(
        rss(
            [
                # same canonical link (case, default port, tracking params, fragment), new text
                {
                    "title": "Re-titled",
                    "guid": "two-1",
                    "description": body(50, "two"),
                    "link": "http://news.example:80/a/1?utm_source=x&amp;fbclid=y#top",
                },
                # same text as one-2, different link and title
                {
                    "title": "Another headline",
                    "link": "https://other.example/x",
                    "guid": "two-2",
                    "description": story.replace("<p>", "<p> ").upper(),
                },
            ]
        )
    )
    config = write_config(
        tmp_path,
        '[[sources]]\nname = "one"\npath = "one.xml"\n'
        '[[sources]]\nname = "two"\npath = "two.xml"\n',
    )
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    feed = check_feed(tmp_path / "feeds/atom.xml", atom_schema)
    assert sorted(e.title for e in feed.entries) == ["Original", "Wire copy"]
    rules = db_rows(
        tmp_path / "db/feedsvc.sqlite3",
        "SELECT e.key, e.dup_rule, s.key FROM entries e JOIN entries s ON s.id = e.story_id "
        "ORDER BY e.key",
    )
    assert rules == [
        ("one-1", None, "one-1"),
        ("one-2", None, "one-2"),
        ("two-1", "same-link", "one-1"),
        ("two-2", "same-text", "one-2"),
    ]
    # republished entries carry atom:source naming the feed they came from
    assert all(e.source.title == "A feed" for e in feed.entries)


def test_a_broken_source_does_not_stop_the_others(
    tmp_path: Path, inbox: Path, atom_schema: Any
) -> None:
    write_article(inbox, "a.txt", "Alpha")
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss([{"title": "F1", "guid": "f1", "description": body(30, "f")}]))
    config = dir_config(tmp_path, '[[sources]]\nname = "feed"\npath = "feed.xml"\n')
    assert run(config, "ingest").exit_code == 0
    atom = tmp_path / "feeds/atom.xml"
    published = atom.read_bytes()

    feed.write_bytes(b"\x00\x01 this is not a feed at all")
    write_article(inbox, "b.txt", "Beta")
    result = run(config, "ingest")
    assert result.exit_code == 1
    assert "feed.xml" in result.output and "FAILED" in result.output
    assert "1 new" in result.output  # the inbox still ran
    # nothing stored was lost: the feed's entry is still published
    titles = [e.title for e in check_feed(atom, atom_schema).entries]
    assert sorted(titles) == ["Alpha", "Beta", "F1"]
    assert atom.read_bytes() != published

    doc = status_json(config)
    by_name = {s["name"]: s for s in doc["sources"]}
    assert by_name["feed"]["entries"] == 1
    assert "feed.xml" in by_name["feed"]["last_error"]
    assert by_name["inbox"]["last_error"] is None


def test_undecodable_article_is_a_per_file_error(tmp_path: Path, inbox: Path) -> None:
    write_article(inbox, "good.txt", "Good")
    (inbox / "bad.txt").write_bytes(b"Title\n\xff\xfe\xfa broken bytes\n")
    (inbox / ".hidden.txt").write_text("Hidden\nbody\n")
    (inbox / "notes.txt~").write_text("Backup\nbody\n")
    config = dir_config(tmp_path)
    result = run(config, "ingest")
    assert result.exit_code == 1
    assert "bad.txt" in result.output
    assert "1 new" in result.output and "2 skipped" in result.output
    assert db_rows(tmp_path / "db/feedsvc.sqlite3", "SELECT key FROM entries") == [("good.txt",)]


def test_ingest_paths_from_the_command_line(tmp_path: Path, inbox: Path, atom_schema: Any) -> None:
    config = dir_config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    one = write_article(elsewhere, "one.txt", "One")
    feed = elsewhere / "feed.rss"
    feed.write_bytes(rss([{"title": "From a file", "guid": "x1", "description": body(30, "x")}]))
    result = run(config, "ingest", str(one), str(feed))
    assert result.exit_code == 0, result.output
    titles = sorted(e.title for e in check_feed(tmp_path / "feeds/atom.xml", atom_schema).entries)
    assert titles == ["From a file", "One"]
    # a configured folder named on the command line is that source, not a second copy
    write_article(inbox, "a.txt", "Alpha")
    result = run(config, "ingest", str(inbox))
    assert result.output.startswith("inbox ")
    result = run(config, "ingest", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "missing" in result.output


def test_source_selection(tmp_path: Path, inbox: Path) -> None:
    write_article(inbox, "a.txt", "Alpha")
    (tmp_path / "f.xml").write_bytes(rss([{"title": "F", "guid": "g"}]))
    config = dir_config(tmp_path, '[[sources]]\nname = "feed"\npath = "f.xml"\nenabled = false\n')
    result = run(config, "ingest")
    assert [line.split()[0] for line in result.output.splitlines()] == ["inbox", "published"]
    result = run(config, "ingest", "--source", "feed")
    assert result.exit_code == 0 and result.output.startswith("feed ")
    result = run(config, "ingest", "--source", "inbx")
    assert result.exit_code == 2
    assert "did you mean 'inbox'" in result.output


def test_url_source_with_conditional_get(
    tmp_path: Path, inbox: Path, feed_server: FeedServer, atom_schema: Any
) -> None:
    route = feed_server.add(
        "/feed.xml",
        rss(
            [
                {
                    "title": "Remote",
                    "guid": "r1",
                    "link": "https://r.example/1",
                    "description": body(30, "r"),
                }
            ]
        ),
        headers={"Content-Type": "application/rss+xml; charset=utf-8"},
    )
    route.etag = '"v1"'
    config = dir_config(
        tmp_path, f'[[sources]]\nname = "remote"\nurl = "{feed_server.url("/feed.xml")}"\n'
    )
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    assert "remote" in result.output and "1 new" in result.output
    assert route.requests[0]["user-agent"].startswith("feedsvc/")
    assert "if-none-match" not in route.requests[0]

    result = run(config, "ingest", "-s", "remote")
    assert "not modified" in result.output
    assert route.requests[1]["if-none-match"] == '"v1"'
    feed = check_feed(tmp_path / "feeds/atom.xml", atom_schema)
    assert [e.title for e in feed.entries] == ["Remote"]
    assert feed.entries[0].link == "https://r.example/1"


def test_unreachable_and_failing_urls(tmp_path: Path, inbox: Path, feed_server: FeedServer) -> None:
    write_article(inbox, "a.txt", "Alpha")
    feed_server.add("/gone", b"nope", status=500)
    config = dir_config(
        tmp_path,
        f'[[sources]]\nname = "e500"\nurl = "{feed_server.url("/gone")}"\n'
        '[[sources]]\nname = "closed"\nurl = "http://127.0.0.1:9/feed"\n',
    )
    result = run(config, "ingest")
    assert result.exit_code == 1
    assert "HTTP 500" in result.output and "127.0.0.1:9" in result.output
    assert "1 new" in result.output
    by_name = {s["name"]: s for s in status_json(config)["sources"]}
    assert by_name["e500"]["error_streak"] == 1 and by_name["closed"]["last_error"]


def test_status_json_shape(tmp_path: Path, inbox: Path) -> None:
    write_article(inbox, "a.txt", "Alpha")
    config = dir_config(tmp_path)
    before = status_json(config)
    assert before["sources"][0]["entries"] == 0 and before["sources"][0]["last_run"] is None
    run(config, "ingest")
    doc = status_json(config)
    assert {"database", "feed", "totals", "sources"} <= set(doc)
    (src,) = doc["sources"]
    assert set(src) == {
        "name",
        "kind",
        "location",
        "enabled",
        "configured",
        "entries",
        "last_run",
        "last_success",
        "last_error",
        "error_streak",
        # issue 4 (polite fetching), additive
        "next_attempt",
        "next_attempt_reason",
        "url",
        "discovered_url",
        "redirect_pending",
        "last_status",
        "retry_after_until",
        "retired",
    }
    assert src["name"] == "inbox" and src["entries"] == 1 and src["kind"] == "directory"
    assert src["last_run"].endswith("Z") and src["last_error"] is None
    assert doc["totals"] == {"entries": 1, "stories": 1, "duplicates": 0}
    text = run(config, "status").output
    assert "inbox" in text and "1 entries stored" in text
