"""Four `feedsvc ingest` processes at once against one database, plus a running daemon, for 25
rounds: zero errors, zero lost or duplicated entries, the served feed always valid.

Every round adds work for everybody: two plain articles and one Markdown article (whose link is
also a new wire item's link: a cross-source duplicate that must stay one story) in a folder
the daemon watches, two items on a feed file, two items on a feed served over loopback HTTP.
Then four CLI ingests start together (all sources, all sources, one source, another source)
while the daemon's watcher and scheduler run the same sources. A reader thread fetches the
served feed the whole time; between rounds the test fetches it too.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from conftest import FeedServer
from robust import ATOM_NS, feedsvc, free_port, integrity, rows, wait_for, write_config

ROUNDS = 25
PROCESSES = 4


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def rss(items: list[tuple[str, str, str]], title: str) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{d}</description></item>"
        for t, link, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
        f"</title><link>https://{title}.example/</link><description>d</description>{body}"
        "</channel></rss>"
    )


def fetch(port: int, path: str = "/atom.xml") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def check_served(data: bytes) -> list[str]:
    """The served feed is complete, valid Atom without a repeated id or story link."""
    root = etree.fromstring(data)
    assert root.tag == f"{{{ATOM_NS}}}feed"
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    ids = [e.id for e in parsed.entries]
    assert len(ids) == len(set(ids)), "an atom:id is published twice"
    links = [e.link for e in parsed.entries if e.get("link")]
    assert len(links) == len(set(links)), "a story is published twice"
    return ids


class Reader(threading.Thread):
    """Fetches the served feed in a loop until stopped; remembers every failure."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.fetches = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(0.05):
            try:
                status, data = fetch(self.port)
                if status == 200:
                    check_served(data)
                elif status != 404:  # 404 only before the first publish
                    self.failures.append(f"HTTP {status}")
                self.fetches += 1
            except Exception as e:
                self.failures.append(f"{type(e).__name__}: {e}")


@pytest.fixture
def daemon_site(tmp_path: Path, feed_server: FeedServer) -> Iterator[tuple[Path, int, FeedServer]]:
    (tmp_path / "inbox").mkdir()
    atomic_write(tmp_path / "wire.xml", rss([], "wire"))
    feed_server.add(
        "/feed.xml", rss([], "web").encode(), headers={"Content-Type": "application/rss+xml"}
    )
    port = free_port()
    config = write_config(
        tmp_path,
        f"""\
        [[sources]]
        name = "inbox"
        path = "inbox"
        interval = "1s"

        [[sources]]
        name = "wire"
        path = "wire.xml"
        interval = "1s"

        [[sources]]
        name = "web"
        url = "{feed_server.url("/feed.xml")}"
        interval = "10s"
        """,
        extra=f"""\
        max_entries = 1000

        [server]
        port = {port}
        """,
        feed_id="concurrency",
    )
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            feedsvc(config, "run"),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_for("the daemon's HTTP server", lambda: _healthz(port))
        yield config, port, feed_server
        assert proc.poll() is None, "the daemon died: " + log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        text = log.read_text()
        for bad in ("Traceback", " ERROR ", "locked", "crashed"):
            assert bad not in text, text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _healthz(port: int) -> bool:
    try:
        return fetch(port, "/healthz")[0] in (200, 503)
    except OSError:
        return False


def test_four_ingests_and_a_daemon_for_25_rounds(
    tmp_path: Path, daemon_site: tuple[Path, int, FeedServer]
) -> None:
    config, port, server = daemon_site
    route = server.routes["/feed.xml"]
    wire: list[tuple[str, str, str]] = []
    web: list[tuple[str, str, str]] = []
    reader = Reader(port)
    reader.start()
    commands = [
        ["ingest"],
        ["ingest", "-q"],
        ["ingest", "--source", "inbox", "--source", "web"],
        ["ingest", "--source", "wire"],
    ]
    assert len(commands) == PROCESSES
    served_checks = 0
    try:
        for r in range(ROUNDS):
            inbox = tmp_path / "inbox"
            for k in range(2):
                atomic_write(inbox / f"r{r:02d}-{k}.txt", f"Round {r} note {k}\n\nText {r}/{k}.\n")
            link = f"https://wire.example/r{r}"
            atomic_write(
                inbox / f"r{r:02d}-wire.md",
                f"---\ntitle: Our take on round {r}\nlink: {link}\n---\nOur words on {r}.\n",
            )
            wire += [(f"Wire {r}", link, f"Wire text {r}"), (f"Wire {r}b", f"{link}b", f"B {r}")]
            atomic_write(tmp_path / "wire.xml", rss(wire, "wire"))
            web += [(f"Web {r}.{k}", f"https://web.example/{r}/{k}", f"Web {r}") for k in range(2)]
            route.body = rss(web, "web").encode()

            procs = [
                subprocess.Popen(
                    feedsvc(config, *args),
                    cwd=tmp_path,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for args in commands
            ]
            for args, proc in zip(commands, procs, strict=True):
                out, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, f"round {r}, {args}: {out}{err}"
                assert err == "", f"round {r}, {args}: {err}"
                assert "error" not in out.lower() and "FAILED" not in out, out
            # Between rounds: the served feed is valid (a CLI ingest publishes before it exits).
            status, data = fetch(port)
            assert status == 200
            check_served(data)
            served_checks += 1
    finally:
        reader.stop.set()
        reader.join(timeout=30)

    db = tmp_path / "db/feedsvc.sqlite3"
    per_source = dict(rows(db, "SELECT source, count(*) FROM entries GROUP BY source"))
    assert per_source == {"inbox": 3 * ROUNDS, "wire": 2 * ROUNDS, "web": 2 * ROUNDS}
    assert rows(
        db,
        "SELECT count(*) FROM (SELECT source, key FROM entries GROUP BY 1, 2 HAVING count(*) > 1)",
    ) == [(0,)]
    stories = rows(db, "SELECT count(*) FROM entries WHERE story_id = id")[0][0]
    assert stories == 6 * ROUNDS  # each Markdown article joined its wire item's story
    assert rows(db, "SELECT count(*) FROM runs WHERE errors != '[]'") == [(0,)]
    assert integrity(db) == "ok"
    ids = check_served(wait_for("the final feed", lambda: _settled(port, stories)))
    assert len(ids) == stories
    assert reader.failures == [], reader.failures[:5]
    print(
        f"\nconcurrency: {ROUNDS} rounds x {PROCESSES} ingests + daemon, "
        f"{sum(per_source.values())} entries, {stories} stories, "
        f"{reader.fetches} concurrent fetches + {served_checks} between rounds, all valid"
    )


def _settled(port: int, stories: int) -> bytes | None:
    status, data = fetch(port)
    if status == 200 and len(etree.fromstring(data).findall(f"{{{ATOM_NS}}}entry")) == stories:
        return data
    return None
