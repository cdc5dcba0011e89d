"""`feedsvc init` and `feedsvc sources ...`: real config files, a real loopback server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedsvc.cli import cli
from feedsvc.config import documented_keys, load_config
from feedsvc.manage import derive_name, same_url, slugify
from feedsvc.scaffold import template

from conftest import FeedServer
from helpers import rss, run, status_json, write_config

PAGE = b"""<!DOCTYPE html><html><head><title>River</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
</head><body>hello</body></html>"""


def _feed(title: str = "The River Report") -> bytes:
    return rss(
        [
            {"title": "One", "guid": "r1", "description": "first"},
            {"title": "Two", "guid": "r2", "description": "second"},
        ],
        title=title,
    )


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "location", "taken", "expected"),
    [
        ("Ars Technica — All content", "https://x/", [], "ars-technica-all-content"),
        ("Café Programmé", "https://x/", [], "cafe-programme"),
        ("Blog", "https://x/", ["blog", "blog-2"], "blog-3"),
        (None, "https://www.river.example/news/feed.xml", [], "river-example-news-feed-xml"),
        ("日本語", "https://jp.example/", [], "jp-example"),
        (None, "/srv/inbox/wire.xml", [], "wire"),
        ("x" * 80, "https://x/", ["x" * 48], "x" * 46 + "-2"),
    ],
)
def test_derive_name(title: str | None, location: str, taken: list[str], expected: str) -> None:
    assert derive_name(title, location, taken) == expected


def test_slugify_and_same_url() -> None:
    assert slugify("  --Hello,  World!-- ") == "hello-world"
    assert same_url("HTTPS://Example.org/feed/", "https://example.org/feed")
    assert not same_url("https://example.org/feed?a=1", "https://example.org/feed")


# --- init --------------------------------------------------------------------------------------


def test_init_scaffolds_a_working_folder(tmp_path: Path) -> None:
    target = tmp_path / "site"
    result = CliRunner().invoke(cli, ["init", str(target), "--title", 'My "quoted" feed'])
    assert result.exit_code == 0, result.output
    assert {p.name for p in target.iterdir()} == {"config.toml", "articles", "feeds", "db"}
    config = load_config(target / "config.toml")
    assert config.feed.title == 'My "quoted" feed'
    assert config.feed.id.startswith("urn:uuid:")
    assert [(s.name, s.location) for s in config.sources] == [
        ("inbox", str((target / "articles").resolve()))
    ]
    (target / "articles" / "hello.txt").write_text("Hello\n\nFirst paragraph.\n")
    ingest = run(target / "config.toml", "ingest")
    assert ingest.exit_code == 0, ingest.output
    assert "inbox            ok      1 new" in ingest.output
    assert (target / "feeds" / "atom.xml").is_file()
    # Never overwrites; a second init exits 2 and leaves the file alone.
    before = (target / "config.toml").read_bytes()
    again = CliRunner().invoke(cli, ["init", str(target)])
    assert again.exit_code == 2
    assert "already exists; not overwritten" in again.output
    assert (target / "config.toml").read_bytes() == before


def test_two_inits_get_different_feed_ids(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert CliRunner().invoke(cli, ["init", str(tmp_path / name)]).exit_code == 0
    ids = {load_config(tmp_path / n / "config.toml").feed.id for n in ("a", "b")}
    assert len(ids) == 2


@pytest.mark.parametrize("key", documented_keys())
def test_the_init_template_documents_every_key(key: str) -> None:
    name = key.rsplit(".", 1)[-1]
    assert f"{name} =" in template() or f"`{name}`" in template(), key


# --- sources add -------------------------------------------------------------------------------


def test_add_a_web_page_subscribes_to_the_feed_it_links(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.add("/", PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    feed_server.add("/feed.xml", _feed(), headers={"Content-Type": "application/rss+xml"})
    config = write_config(tmp_path, "")
    result = run(config, "sources", "add", feed_server.url("/"), "--tag", "news")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        f"added source the-river-report (url {feed_server.url('/feed.xml')}: 2 entries, "
        '"The River Report")',
        f"  {feed_server.url('/')} is a web page; subscribed to the feed it links",
    ]
    assert "no daemon is running" in result.output
    src = load_config(config).source("the-river-report")
    assert (src.location, src.tags) == (feed_server.url("/feed.xml"), ("news",))
    assert config.read_text().endswith(
        '[[sources]]\n# The River Report\nname = "the-river-report"\n'
        f'url = "{feed_server.url("/feed.xml")}"\ntags = ["news"]\n'
    )
    # The page and the feed are now both "already configured".
    for target in (feed_server.url("/feed.xml"), feed_server.url("/")):
        again = run(config, "sources", "add", target)
        assert again.exit_code == 2, again.output
        assert "already configured as source 'the-river-report'" in again.output


def test_add_refuses_a_source_that_does_not_work(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.add("/broken.xml", b"<html><body>not a feed", headers={"Content-Type": "text/xml"})
    config = write_config(tmp_path, "")
    before = config.read_text()
    missing = run(config, "sources", "add", feed_server.url("/missing.xml"))
    assert missing.exit_code == 1
    assert f"{feed_server.url('/missing.xml')}: HTTP 404 Not Found; not added" in missing.output
    broken = run(config, "sources", "add", feed_server.url("/broken.xml"))
    assert broken.exit_code == 1, broken.output
    assert "not added (--no-check adds it without trying)" in broken.output
    assert config.read_text() == before
    # --no-check saves it anyway, named from the URL.
    forced = run(config, "sources", "add", "--no-check", feed_server.url("/missing.xml"))
    assert forced.exit_code == 0, forced.output
    assert [s.name for s in load_config(config).sources] == ["127-0-0-1-missing-xml"]


def test_add_paths_and_names(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text("Title\n\nBody.\n")
    feed = tmp_path / "feeds-in" / "wire.xml"
    feed.parent.mkdir()
    feed.write_bytes(_feed("Valley Wire"))
    r1 = run(config, "sources", "add", str(tmp_path / "inbox"), "--interval", "5m")
    assert r1.exit_code == 0, r1.output
    assert "added source inbox (directory inbox: 1 entries)" in r1.output
    r2 = run(config, "sources", "add", str(feed), "--name", "wire")
    assert r2.exit_code == 0, r2.output
    text = config.read_text()
    assert 'name = "inbox"\npath = "inbox"\ninterval = "5m"\n' in text  # relative to the config
    assert '# Valley Wire\nname = "wire"\npath = "feeds-in/wire.xml"\n' in text
    bad = run(config, "sources", "add", str(feed), "--name", "other")
    assert bad.exit_code == 2 and "already configured as source 'wire'" in bad.output
    taken = run(config, "sources", "add", str(tmp_path / "feeds-in"), "--name", "wire")
    assert taken.exit_code == 2 and "a source named 'wire' already exists" in taken.output
    invalid = run(config, "sources", "add", str(tmp_path / "feeds-in"), "--name", "no spaces")
    assert invalid.exit_code == 2 and "--name: 'no spaces' must start" in invalid.output
    nothing = run(config, "sources", "add", str(tmp_path / "nope"))
    assert nothing.exit_code == 2 and "no such file or directory" in nothing.output
    interval = run(config, "sources", "add", str(tmp_path / "feeds-in"), "--interval", "soon")
    assert interval.exit_code == 2 and "--interval: expected a duration" in interval.output


# --- list, enable, disable, remove -------------------------------------------------------------


def test_list_enable_disable_remove(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", _feed())
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "a.txt").write_text("Title\n\nBody.\n")
    config = write_config(
        tmp_path,
        f"""
        # my inbox
        [[sources]]
        name = "inbox"
        path = "articles"
        interval = "5m"

        [[sources]]
        name = "river"  # the river feed
        url = "{feed_server.url("/feed.xml")}"
        tags = ["news"]

        [[sources]]
        name = "gone"
        url = "{feed_server.url("/gone.xml")}"
        """,
    )
    assert run(config, "ingest").exit_code == 1  # gone.xml is a 404
    doc = json.loads(run(config, "sources", "list", "--json").output)
    by_name = {r["name"]: r for r in doc["sources"]}
    assert set(by_name) == {"inbox", "river", "gone"}
    assert set(by_name["river"]) == {
        "name",
        "kind",
        "location",
        "enabled",
        "interval_seconds",
        "tags",
        "status",
        "entries",
        "last_run",
        "last_success",
        "last_error",
        "error_streak",
        "next_due",
    }
    assert (by_name["river"]["status"], by_name["river"]["entries"]) == ("ok", 2)
    assert by_name["river"]["tags"] == ["news"]
    assert by_name["inbox"]["interval_seconds"] == 300
    assert by_name["gone"]["status"] == "failing"
    assert "HTTP 404" in by_name["gone"]["last_error"]
    assert by_name["gone"]["last_success"] is None and by_name["gone"]["next_due"]
    table = run(config, "sources", "list").output.splitlines()
    assert table[0].split() == [
        "NAME",
        "STATUS",
        "ENTRIES",
        "LAST",
        "SUCCESS",
        "NEXT",
        "DUE",
        "LOCATION",
    ]
    assert table[1].split()[:3] == ["inbox", "ok", "1"]
    assert any(line.strip().startswith("error: ") and "HTTP 404" in line for line in table)

    assert run(config, "sources", "disable", "river").output.startswith("disabled source river")
    assert "already disabled" in run(config, "sources", "disable", "river").output
    assert "# the river feed" in config.read_text()
    river = json.loads(run(config, "sources", "list", "--json").output)["sources"][1]
    assert (river["status"], river["enabled"], river["next_due"]) == ("disabled", False, None)
    assert run(config, "sources", "enable", "river").exit_code == 0
    assert load_config(config).source("river").enabled

    unknown = run(config, "sources", "remove", "rivr")
    assert unknown.exit_code == 2 and "did you mean 'river'" in unknown.output
    removed = run(config, "sources", "remove", "river")
    assert removed.exit_code == 0, removed.output
    assert [s.name for s in load_config(config).sources] == ["inbox", "gone"]
    assert "# my inbox" in config.read_text()
    # Its entries stay stored (status lists it as no longer configured).
    status = {r["name"]: r for r in status_json(config)["sources"]}
    assert (status["river"]["configured"], status["river"]["entries"]) == (False, 2)


def test_an_edit_tells_a_running_daemon_to_reload(tmp_path: Path) -> None:
    """A real process holds the daemon's lock (as `feedsvc run` does) and counts SIGHUPs."""
    (tmp_path / "articles").mkdir()
    config = write_config(
        tmp_path,
        """
        [[sources]]
        name = "inbox"
        path = "articles"
        """,
    )
    db = tmp_path / "db" / "feedsvc.sqlite3"
    marker = tmp_path / "hups"
    child = textwrap.dedent(
        f"""
        import signal, sys, time
        from pathlib import Path
        from feedsvc.locks import InstanceLock, lock_path_for
        marker = Path({str(marker)!r})
        signal.signal(signal.SIGHUP, lambda *a: marker.write_text(marker.read_text() + "hup\\n"))
        marker.write_text("")
        with InstanceLock(lock_path_for(Path({str(db)!r}))):
            print("ready", flush=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "hup" not in marker.read_text():
                time.sleep(0.05)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        result = run(config, "sources", "disable", "inbox")
        assert result.exit_code == 0, result.output
        assert f"told the running daemon (pid {proc.pid}) to reload" in result.output
        proc.wait(timeout=30)
        assert marker.read_text() == "hup\n"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    # With the holder gone, the lock file is still there but nobody is told anything.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        result = run(config, "sources", "enable", "inbox")
        if "no daemon is running" in result.output:
            break
    assert "no daemon is running" in result.output


def test_the_init_template_keeps_step_with_the_bundled_config() -> None:
    """Between [feed] and the sources, the template is the bundled config.toml but for the
    feed's own title, id, author and subtitle (a drift here fails: copy the change over)."""

    def middle(text: str) -> list[str]:
        start, end = text.index("[feed]"), text.index("# Each [[sources]] table")
        return text[start:end].splitlines()

    bundled = middle((Path(__file__).resolve().parents[1] / "config.toml").read_text())
    ours = middle(template())
    assert len(bundled) == len(ours)
    differ = [(a, b) for a, b in zip(bundled, ours, strict=True) if a != b]
    assert [a.split("=")[0].strip() for a, _ in differ] == ["title", "id", "author", "subtitle"]
