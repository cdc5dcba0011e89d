"""`feedsvc run` as a real subprocess on a free loopback port: what a subscriber and an operator
see. Every daemon a test starts is stopped by the `daemons` fixture. Waits poll with generous
deadlines (a loaded 2-core CI machine); no test asserts a speed."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
import pytest

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 60.0  # the most any wait below may take before the test fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(root: Path, port: int, sources: str, daemon: str = "") -> Path:
    path = root / "config.toml"
    text = textwrap.dedent(
        f"""\
        [feed]
        title = "Daemon test feed"
        id = "tag:test.example,2026:daemon"
        author = "Tester"
        base_url = "http://127.0.0.1:{port}/"

        [server]
        port = {port}
        max_age = 60
        """
    )
    if daemon:
        text += "\n[daemon]\n" + textwrap.dedent(daemon)
    path.write_text(text + "\n" + textwrap.dedent(sources), encoding="utf-8")
    return path


def feedsvc(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "feedsvc", "-c", str(config), *args]


def wait_for(
    what: str, check: Callable[[], Any], proc: subprocess.Popen[bytes] | None = None
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited ({proc.returncode}) while waiting for {what}")
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def call(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One raw request (http.client sends the path exactly as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def try_http(port: int, path: str) -> tuple[int, dict[str, str], bytes] | None:
    try:
        return call(port, path)
    except OSError:
        return None


class Daemon:
    """One `feedsvc run` subprocess; stderr goes to a file the test can read."""

    def __init__(self, config: Path, port: int, *args: str) -> None:
        self.config, self.port = config, port
        self.log = config.parent / f"daemon-{port}-{time.monotonic_ns()}.log"
        self._err = self.log.open("wb")
        self.proc = subprocess.Popen(
            feedsvc(config, *args, "run"),
            cwd=config.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )

    def wait_ready(self) -> None:
        wait_for("the HTTP server", lambda: try_http(self.port, "/healthz"), self.proc)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._err.close()
        return self.proc.returncode


@pytest.fixture
def daemons() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, port: int, *args: str) -> Daemon:
        d = Daemon(config, port, *args)
        started.append(d)
        return d

    try:
        yield start
    finally:
        for d in started:
            d.stop()


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, int]:
    """The bundled sample inbox and sample feed, served on a free port."""
    shutil.copytree(REPO / "articles", tmp_path / "articles")
    shutil.copy(REPO / "feedsvc/samples/valley-wire.xml", tmp_path / "valley-wire.xml")
    port = free_port()
    config = write_config(
        tmp_path,
        port,
        """\
        [[sources]]
        name = "newsroom"
        path = "articles"
        interval = "1h"

        [[sources]]
        name = "valley-wire"
        path = "valley-wire.xml"
        interval = "1h"
        """,
    )
    return config, port


def feed_titles(port: int) -> set[str]:
    parsed = feedparser.parse(f"http://127.0.0.1:{port}/atom.xml")
    return {e.title for e in parsed.entries}


# Stories only the bundled inbox has (its ferry story is also on the sample wire, and is
# published once under whichever title was stored first).
INBOX_ONLY = {
    "Millbrook Library Reopens After Two-Year Renovation",
    "Volunteers Pull 2 Tonnes of Trash From Otter Creek",
}
BUNDLED_STORIES = 5  # 3 inbox articles + 3 wire items - 1 story both have


def bundled(port: int) -> bool:
    """Whether the served feed has all the bundled stories."""
    titles = feed_titles(port)
    return len(titles) == BUNDLED_STORIES and titles >= INBOX_ONLY


def all_indexed(db: Path) -> bool:
    """Whether the search index holds every stored entry and none waits to be indexed."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        waiting = conn.execute("SELECT count(*) FROM search_pending").fetchone()[0]
        indexed = conn.execute("SELECT count(*) FROM entries_fts_docsize").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    finally:
        conn.close()
    return waiting == 0 and indexed == stored > 0


def article(folder: Path, name: str, title: str) -> Path:
    path = folder / name
    tmp = folder / f".{name}.tmp"
    tmp.write_text(f"{title}\nTown — something about {title}.\n", encoding="utf-8")
    tmp.rename(path)
    return path


# --- tests -----------------------------------------------------------------------------------


def test_a_feed_reader_sees_the_bundled_entries(
    site: tuple[Path, int], daemons: Callable[..., Daemon]
) -> None:
    config, port = site
    d = daemons(config, port)
    d.wait_ready()
    wait_for("the bundled entries", lambda: bundled(port), d.proc)
    # After publishing, the daemon indexes what it stored for search (storing leaves it).
    db = config.parent / "db" / "feedsvc.sqlite3"
    wait_for("the stored entries indexed for search", lambda: all_indexed(db), d.proc)

    parsed = feedparser.parse(f"http://127.0.0.1:{port}/atom.xml")
    assert parsed.bozo == 0
    assert parsed.status == 200
    assert parsed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert parsed.feed.title == "Daemon test feed"
    # A reader polling again with its validators gets a 304 (feedparser sends If-None-Match).
    again = feedparser.parse(f"http://127.0.0.1:{port}/atom.xml", etag=parsed.etag)
    assert again.status == 304
    assert again.entries == []

    # The site address leads a reader to the feed (autodiscovery).
    status, headers, page = call(port, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    links = lxml.html.fromstring(page).xpath(
        '//link[@rel="alternate"][@type="application/atom+xml"]/@href'
    )
    assert links
    found = urljoin(f"http://127.0.0.1:{port}/", links[0])
    assert feedparser.parse(found).feed.title == "Daemon test feed"


def test_http_semantics_over_the_socket(
    site: tuple[Path, int], daemons: Callable[..., Daemon]
) -> None:
    config, port = site
    d = daemons(config, port)
    d.wait_ready()
    # Once every bundled story is served, nothing changes any more (1 h intervals).
    wait_for("the bundled entries", lambda: bundled(port), d.proc)
    status, headers, body = call(port, "/atom.xml")
    assert status == 200 and body
    assert headers["cache-control"] == "max-age=60"
    etag, modified = headers["etag"], headers["last-modified"]

    status, headers304, body304 = call(port, "/atom.xml", headers={"If-None-Match": etag})
    assert (status, body304) == (304, b"")
    assert headers304["etag"] == etag
    status, _, body304 = call(port, "/atom.xml", headers={"If-Modified-Since": modified})
    assert (status, body304) == (304, b"")

    status, head_headers, head_body = call(port, "/atom.xml", method="HEAD")
    assert (status, head_body) == (200, b"")
    assert head_headers["content-length"] == str(len(body))
    assert head_headers["etag"] == etag

    status, gz_headers, gz_body = call(port, "/atom.xml", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and gz_headers["content-encoding"] == "gzip"
    assert gzip.decompress(gz_body) == body

    assert call(port, "/atom.xml", method="POST")[0] == 405
    for path in ("/../config.toml", "/%2e%2e/config.toml", "/%2E%2E%2Fconfig.toml", "/nope"):
        assert call(port, path)[0] == 404, path
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:  # an absolute-form request target names a URL, never a file system path
        conn.request("GET", "http://127.0.0.1/../../config.toml")
        assert conn.getresponse().status == 404
    finally:
        conn.close()
    status, _, health = call(port, "/healthz")
    assert status == 200 and json.loads(health)["status"] == "ok"


def test_a_dropped_file_is_served_within_two_intervals(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    """The scheduled path alone (no folder watcher): interval 2 s."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    article(inbox, "old.txt", "Old news")
    port = free_port()
    config = write_config(
        tmp_path,
        port,
        '[[sources]]\nname = "inbox"\npath = "inbox"\ninterval = "2s"\n',
        daemon="watch = false\n",
    )
    d = daemons(config, port)
    d.wait_ready()
    wait_for("the first entry", lambda: "Old news" in feed_titles(port), d.proc)
    dropped = time.monotonic()
    article(inbox, "new.txt", "Fresh news")
    wait_for("the dropped file", lambda: "Fresh news" in feed_titles(port), d.proc)
    took = time.monotonic() - dropped
    print(f"scheduled pickup (interval 2s, watch off): served {took:.2f}s after the write")
    assert "inbox: 1 new" in d.stderr()  # one line per source run, with its counts


def test_a_dropped_file_is_served_at_once_with_the_watcher(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    """With the folder watcher a 1 h interval does not matter."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    article(inbox, "old.txt", "Old news")
    port = free_port()
    config = write_config(
        tmp_path, port, '[[sources]]\nname = "inbox"\npath = "inbox"\ninterval = "1h"\n'
    )
    d = daemons(config, port)
    d.wait_ready()
    wait_for("the first entry", lambda: "Old news" in feed_titles(port), d.proc)
    dropped = time.monotonic()
    (inbox / "new.md").write_text("---\ntitle: Watched news\n---\nBody.\n", encoding="utf-8")
    wait_for("the dropped file", lambda: "Watched news" in feed_titles(port), d.proc)
    took = time.monotonic() - dropped
    print(f"watched pickup (interval 1h): served {took:.2f}s after the write")
    # Editing it is an update of the same entry, also picked up without waiting an hour.
    (inbox / "new.md").write_text("---\ntitle: Watched news, edited\n---\nB.\n", encoding="utf-8")
    wait_for("the edit", lambda: "Watched news, edited" in feed_titles(port), d.proc)
    assert len(feed_titles(port)) == 2


def test_sigterm_exits_zero_promptly(
    site: tuple[Path, int], daemons: Callable[..., Daemon]
) -> None:
    config, port = site
    d = daemons(config, port)
    d.wait_ready()
    # An idle keep-alive connection must not hold the shutdown up.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    try:
        d.signal(signal.SIGTERM)
        assert d.proc.wait(timeout=10) == 0  # the bound: within 10 s
    finally:
        conn.close()
    assert "stopping" in d.stderr()


def test_sighup_adds_a_source_and_an_invalid_config_is_refused(
    site: tuple[Path, int], daemons: Callable[..., Daemon], tmp_path: Path
) -> None:
    config, port = site
    text = config.read_text(encoding="utf-8")
    # Start with the inbox only.
    config.write_text(text.split('[[sources]]\nname = "valley-wire"')[0], encoding="utf-8")
    d = daemons(config, port)
    d.wait_ready()
    wait_for("the inbox entries", lambda: len(feed_titles(port)) == 3, d.proc)

    def health() -> dict[str, Any]:
        _status, _, body = call(port, "/healthz")
        doc: dict[str, Any] = json.loads(body)
        return doc

    assert [s["name"] for s in health()["sources"]] == ["newsroom"]
    before = len(feed_titles(port))

    config.write_text(text, encoding="utf-8")  # valley-wire added back
    d.signal(signal.SIGHUP)
    wait_for(
        "the added source in /healthz",
        lambda: [s["name"] for s in health()["sources"]] == ["newsroom", "valley-wire"],
        d.proc,
    )
    wait_for("the added source's entries", lambda: len(feed_titles(port)) > before, d.proc)

    config.write_text(text + "\n[feed]\nbogus = 1\n", encoding="utf-8")
    d.signal(signal.SIGHUP)
    wait_for("the refusal", lambda: "reload refused" in d.stderr(), d.proc)
    assert d.proc.poll() is None
    assert [s["name"] for s in health()["sources"]] == ["newsroom", "valley-wire"]


def test_a_second_daemon_on_the_same_database_is_refused(
    site: tuple[Path, int], daemons: Callable[..., Daemon]
) -> None:
    config, port = site
    d = daemons(config, port)
    d.wait_ready()
    other = config.parent / "other.toml"  # same database, another port
    other.write_text(
        config.read_text(encoding="utf-8").replace(f"port = {port}", f"port = {free_port()}"),
        encoding="utf-8",
    )
    second = subprocess.run(
        feedsvc(other, "run"), cwd=config.parent, capture_output=True, timeout=60, text=True
    )
    assert second.returncode == 2
    assert f"another feedsvc daemon (pid {d.proc.pid}) is already running" in second.stderr
    assert d.proc.poll() is None


def test_twenty_cli_ingests_while_the_daemon_runs(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    extra = tmp_path / "extra"
    extra.mkdir()
    article(inbox, "seed.txt", "Seed")
    port = free_port()
    config = write_config(
        tmp_path, port, '[[sources]]\nname = "inbox"\npath = "inbox"\ninterval = "1s"\n'
    )
    d = daemons(config, port)  # runs the inbox every second and on every file write
    d.wait_ready()
    wait_for("the seed entry", lambda: "Seed" in feed_titles(port), d.proc)

    def ingest(i: int) -> tuple[int, str, str]:
        if i % 2:
            article(inbox, f"cli-{i}.txt", f"CLI story {i}")
            args = ["ingest", "--source", "inbox"]
        else:
            args = ["ingest", str(article(extra, f"cli-{i}.txt", f"CLI story {i}"))]
        done = subprocess.run(
            feedsvc(config, *args), cwd=tmp_path, capture_output=True, timeout=120, text=True
        )
        title = f"CLI story {i}"
        if i % 2 == 0:  # a folder the daemon does not know: only this command ingests it
            assert " 1 new" in done.stdout, done.stdout + done.stderr
        if " 1 new" in done.stdout:
            # What the command ingested is served as soon as it returns: no polling here.
            served = title in feed_titles(port)
        else:
            # The daemon's watcher ingested this inbox file first; it publishes it shortly.
            served = bool(wait_for(title, lambda: title in feed_titles(port), d.proc))
        return done.returncode, done.stdout + done.stderr, "served" if served else "missing"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(ingest, range(20)))
    for i, (code, output, served) in enumerate(results):
        assert code == 0, f"ingest {i}: {output}"
        assert "locked" not in output, f"ingest {i}: {output}"
        assert served == "served", f"ingest {i}: {output}"
    assert d.proc.poll() is None
    assert "locked" not in d.stderr()
    assert len(feed_titles(port)) == 21


def test_healthz_reports_a_broken_source_as_degraded(
    site: tuple[Path, int], daemons: Callable[..., Daemon]
) -> None:
    config, port = site
    (config.parent / "broken.xml").write_bytes(b"\x00\x01 this is not a feed")
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[[sources]]\nname = "broken"\npath = "broken.xml"\ninterval = "1h"\n')
    d = daemons(config, port)
    d.wait_ready()

    def degraded() -> dict[str, Any] | None:
        status, _, body = call(port, "/healthz")
        doc: dict[str, Any] = json.loads(body)
        return doc if status == 503 else None

    doc = wait_for("a degraded /healthz", degraded, d.proc)
    assert doc["status"] == "degraded"
    by_name = {s["name"]: s for s in doc["sources"]}
    assert by_name["broken"]["status"] == "failing"
    assert by_name["broken"]["last_error"]
    assert by_name["broken"]["next_due"]
    # One broken source does not stop the others.
    wait_for("the good sources", lambda: bundled(port), d.proc)
    assert "broken: 0 new" in d.stderr() and "failed:" in d.stderr()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_serve_alone(site: tuple[Path, int]) -> None:
    config, port = site
    assert subprocess.run(feedsvc(config, "ingest", "-q"), cwd=config.parent).returncode == 0
    proc = subprocess.Popen(
        feedsvc(config, "serve"), cwd=config.parent, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for("the server", lambda: try_http(port, "/atom.xml"), proc)
        assert bundled(port)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_an_address_in_use_is_a_clear_error(site: tuple[Path, int]) -> None:
    config, port = site
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            feedsvc(config, "run"), cwd=config.parent, capture_output=True, timeout=60, text=True
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert not (config.parent / "feeds/atom.xml").exists()  # nothing ran


def test_the_systemd_unit_runs_the_daemon_and_reloads_with_sighup() -> None:
    from importlib.resources import files

    unit = files("feedsvc").joinpath("systemd/feedsvc.service").read_text(encoding="utf-8")
    lines = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#")
    assert lines["ExecStart"].split()[-1] == "run"
    assert lines["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert lines["KillSignal"] == "SIGTERM"
    assert lines["RestartPreventExitStatus"] == "2"
    assert "feedsvc/systemd/feedsvc.service" in (REPO / "README.md").read_text(encoding="utf-8")
