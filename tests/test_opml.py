"""OPML: reading what feed readers export, writing it back, and the import/export commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedsvc.config import load_config
from feedsvc.opml import OpmlError, Subscription, parse_opml, render_opml

from conftest import DATA, FeedServer
from helpers import rss, run, write_config

OPML = DATA / "opml"


def test_nested_folders_and_categories_become_tags() -> None:
    subs = parse_opml((OPML / "folders.opml").read_bytes())
    assert subs == [
        Subscription(
            "https://river.example/feed.xml", "River Report", "https://river.example/", ("News",)
        ),
        Subscription("https://wire.example/rss", "Valley Wire", None, ("News", "Local", "wire")),
        Subscription("https://cafe.example/atom.xml", "Café Programmé", None, ("Tech",)),
        Subscription("HTTPS://RIVER.example/feed.xml/", "River again", None, ("Tech",)),
        Subscription("gopher://old.example/feed", "Gopher", None, ()),
        Subscription("https://plain.example/index.rss", "No folder", None, ()),
    ]


def test_render_then_parse_gives_the_same_subscriptions() -> None:
    subs = [
        Subscription("https://a.example/feed", "A & B <news>", "https://a.example/", ("x", "y")),
        Subscription("https://b.example/rss", "B", None, ()),
        Subscription("https://c.example/atom", "C", None, ("y",)),
        Subscription("https://d.example/atom", "D", None, ("x/deep",)),
    ]
    data = render_opml(subs, "My feeds", "Mon, 02 Mar 2026 10:00:00 GMT")
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml version=\"2.0\">")
    assert sorted(parse_opml(data), key=lambda s: s.url) == subs


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline", "not well-formed XML"),
        (b"<rss version='2.0'><channel/></rss>", "not an OPML document"),
        (b"<opml version='2.0'><head/></opml>", "an OPML document without <body>"),
    ],
)
def test_not_opml_is_an_error_naming_the_file(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=f"subs.opml: {message}"):
        parse_opml(data, "subs.opml")


def test_external_entities_are_refused_not_loaded() -> None:
    data = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/f"/></body></opml>"""
    with pytest.raises(OpmlError, match="external entity"):
        parse_opml(data)


def _newsboat(tmp_path: Path, server: FeedServer) -> Path:
    port = server.base.rsplit(":", 1)[1]
    path = tmp_path / "newsboat.opml"
    path.write_text((OPML / "newsboat.opml").read_text().replace("PORT", port))
    return path


def _subscriptions(data: bytes) -> set[tuple[str, str | None, tuple[str, ...]]]:
    return {(s.url, s.title, s.tags) for s in parse_opml(data)}


def test_import_then_export_round_trips_a_newsboat_list(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, "")
    exported_by_newsboat = _newsboat(tmp_path, feed_server)
    for path, title in (("/river.xml", "River Report"), ("/lab.atom", "The Lab Notebook")):
        feed_server.add(path, rss([{"title": "t", "guid": path}], title=title))
    feed_server.add("/plain.xml", rss([{"title": "t", "guid": "p"}], title="Plain"))
    result = run(config, "opml", "import", str(exported_by_newsboat))
    assert result.exit_code == 0, result.output
    assert "3 added, 0 skipped" in result.output
    loaded = load_config(config)
    assert [(s.name, s.tags) for s in loaded.sources] == [
        ("river-report", ("news", "local")),
        ("the-lab-notebook", ("tech",)),
        ("plain", ()),
    ]
    # Titles come from the feeds themselves once they have been fetched.
    assert run(config, "ingest").exit_code == 0
    out = tmp_path / "out.opml"
    result = run(config, "opml", "export", "-o", str(out))
    assert result.exit_code == 0, result.output
    original = exported_by_newsboat.read_bytes()
    assert _subscriptions(out.read_bytes()) == _subscriptions(original)
    # To stdout by default, the same document.
    stdout = run(config, "opml", "export")
    assert _subscriptions(stdout.stdout_bytes) == _subscriptions(original)
    # Importing the export again adds nothing: every feed is skipped as configured.
    again = run(config, "opml", "import", str(out), "--json")
    doc = json.loads(again.output)
    assert doc["added"] == []
    assert {s["reason"] for s in doc["skipped"]} == {
        "already configured as 'river-report'",
        "already configured as 'the-lab-notebook'",
        "already configured as 'plain'",
    }


def test_export_uses_the_stored_feed_title_and_site(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.add(
        "/f.xml",
        rss([{"title": "t", "guid": "g1", "description": "d"}], title="Stored Title"),
        headers={"Content-Type": "application/rss+xml"},
    )
    config = write_config(
        tmp_path,
        f"""
        [[sources]]
        name = "f"
        url = "{feed_server.url("/f.xml")}"
        [[sources]]
        name = "local"
        path = "articles"
        """,
    )
    (tmp_path / "articles").mkdir()
    assert run(config, "ingest").exit_code == 0
    result = run(config, "opml", "export")
    (sub,) = parse_opml(result.stdout_bytes)
    assert (sub.title, sub.html_url) == ("Stored Title", "https://a.example/")
    assert "1 folder or file source(s) not exported" in result.stderr


def test_import_skips_duplicates_and_non_http_and_keeps_folders(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        [[sources]]
        name = "no-folder"
        url = "https://plain.example/index.rss"
        """,
    )
    before = config.read_text()
    dry = run(config, "opml", "import", "--dry-run", str(OPML / "folders.opml"))
    assert dry.exit_code == 0, dry.output
    assert "3 would add, 3 skipped" in dry.output
    assert config.read_text() == before
    result = run(config, "opml", "import", "--interval", "2h", str(OPML / "folders.opml"))
    assert result.exit_code == 0, result.output
    assert "skipped HTTPS://RIVER.example/feed.xml/: listed twice in the file" in result.output
    assert "skipped gopher://old.example/feed: not an http(s) URL" in result.output
    assert "already configured as 'no-folder'" in result.output
    loaded = load_config(config)
    assert [(s.name, s.tags, s.interval_seconds) for s in loaded.sources[1:]] == [
        ("river-report", ("News",), 7200),
        ("valley-wire", ("News", "Local", "wire"), 7200),
        ("cafe-programme", ("Tech",), 7200),
    ]
    text = config.read_text()
    assert text.startswith(before)
    assert "# Café Programmé\n" in text  # the title, where the name had to simplify it


def test_import_of_a_broken_file_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    bad = tmp_path / "bad.opml"
    bad.write_text("<html>nope</html>")
    result = run(config, "opml", "import", str(bad))
    assert result.exit_code == 2
    assert "bad.opml: not an OPML document" in result.output
