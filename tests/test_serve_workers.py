"""`feedsvc serve` with several worker processes (``[server] workers``), over real HTTP on a
free loopback port: every worker serves the same validators, sees a rewritten file, takes a
reloaded config, and stops with the server. Each test stops the server it starts and checks
that no worker outlives it. No test asserts a speed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_daemon import (
    DEADLINE_S,
    REPO,
    call,
    feedsvc,
    free_port,
    try_http,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")

CONNECTIONS = 24  # fresh connections per check: SO_REUSEPORT spreads them over the workers


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(c) for c in text.split()]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


class Server:
    """One `feedsvc serve` subprocess; stop() ends it and any worker it left behind."""

    def __init__(self, config: Path) -> None:
        self.log = config.parent / f"serve-{time.monotonic_ns()}.log"
        self._err = self.log.open("wb")
        self.proc = subprocess.Popen(
            feedsvc(config, "serve"),
            cwd=config.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )
        self.workers: set[int] = set()

    def note_workers(self) -> list[int]:
        found = children(self.proc.pid)
        self.workers.update(found)
        return found

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.note_workers()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in self.workers:  # only if the server failed to stop them
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        self._err.close()
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[Server, Path, int]]:
    """The bundled sample inbox, ingested, and `feedsvc serve` with two workers on it."""
    shutil.copytree(REPO / "articles", tmp_path / "articles")
    port = free_port()
    config = write_config(tmp_path, port, '[[sources]]\nname = "newsroom"\npath = "articles"\n')
    text = config.read_text(encoding="utf-8").replace("[server]\n", "[server]\nworkers = 2\n", 1)
    config.write_text(text, encoding="utf-8")
    assert subprocess.run(feedsvc(config, "ingest", "-q"), cwd=config.parent).returncode == 0
    server = Server(config)
    try:
        wait_for("the server", lambda: try_http(port, "/atom.xml"), server.proc)
        wait_for("two workers", lambda: len(server.note_workers()) == 2, server.proc)
        yield server, config, port
    finally:
        server.stop()


def many(port: int, path: str, headers: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """(status, ETag) of CONNECTIONS requests, each on a new connection."""
    out = []
    for _ in range(CONNECTIONS):
        status, head, _ = call(port, path, headers=headers)
        out.append((status, head.get("etag", "")))
    return out


def test_two_workers_serve_the_same_validators_and_stop_with_the_server(
    serve: tuple[Server, Path, int],
) -> None:
    server, _, port = serve
    plain = many(port, "/atom.xml")
    zipped = many(port, "/atom.xml", {"Accept-Encoding": "gzip"})
    assert {s for s, _ in plain + zipped} == {200}
    (etag,) = {e for _, e in plain}
    (gz_etag,) = {e for _, e in zipped}
    assert etag != gz_etag and re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert set(many(port, "/atom.xml", {"If-None-Match": etag})) == {(304, etag)}
    assert set(many(port, "/atom.xml", {"If-None-Match": gz_etag, "Accept-Encoding": "gzip"})) == {
        (304, gz_etag)
    }
    assert {call(port, "/../config.toml")[0] for _ in range(8)} == {404}
    workers = server.note_workers()
    assert server.stop(signal.SIGINT) == 0
    assert all(gone(pid) for pid in workers)
    assert "Traceback" not in server.stderr()


def test_every_worker_serves_a_file_replaced_by_rename(serve: tuple[Server, Path, int]) -> None:
    _, config, port = serve
    feeds = config.parent / "feeds"
    old = {e for _, e in many(port, "/atom.xml")}
    # What the publisher does: write a temporary file, then rename it over the served one.
    tmp = feeds / ".atom.xml.tmp"
    tmp.write_bytes((feeds / "atom.xml").read_bytes().replace(b"</feed>", b"<!-- new --></feed>"))
    os.replace(tmp, feeds / "atom.xml")
    answers = many(port, "/atom.xml")
    assert {s for s, _ in answers} == {200}
    (new,) = {e for _, e in answers}
    assert new not in old
    assert set(many(port, "/atom.xml", {"If-None-Match": next(iter(old))})) == {(200, new)}


def test_sighup_replaces_the_workers_and_an_invalid_config_is_refused(
    serve: tuple[Server, Path, int],
) -> None:
    server, config, port = serve
    assert call(port, "/atom.xml")[1]["cache-control"] == "max-age=60"
    first = set(server.note_workers())
    good = config.read_text(encoding="utf-8").replace("max_age = 60", "max_age = 120")
    config.write_text(good, encoding="utf-8")
    server.proc.send_signal(signal.SIGHUP)

    def all_new() -> bool:
        now = set(server.note_workers())
        return len(now) == 2 and not now & first

    wait_for("both workers replaced", all_new, server.proc)
    assert {call(port, "/atom.xml")[1]["cache-control"] for _ in range(CONNECTIONS)} == {
        "max-age=120"
    }
    assert all(gone(pid) for pid in first)

    config.write_text(good.replace("max_age = 120", "max_age = -1"), encoding="utf-8")
    server.proc.send_signal(signal.SIGHUP)
    wait_for("the refusal", lambda: "reload refused" in server.stderr(), server.proc)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and len(server.note_workers()) != 2:
        time.sleep(0.1)
    assert {call(port, "/atom.xml")[1]["cache-control"] for _ in range(CONNECTIONS)} == {
        "max-age=120"
    }
    assert server.stop() == 0


def test_workers_end_when_the_server_is_killed(serve: tuple[Server, Path, int]) -> None:
    """SIGKILL gives the server no chance to stop its workers: they notice on their own,
    and the port is free again for the next `feedsvc serve`."""
    server, _, port = serve
    workers = server.note_workers()
    assert len(workers) == 2
    server.proc.kill()
    server.proc.wait(timeout=30)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and not all(gone(pid) for pid in workers):
        time.sleep(0.1)
    assert all(gone(pid) for pid in workers), "a worker outlived the killed server"
    assert not try_http(port, "/atom.xml")
