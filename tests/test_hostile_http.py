"""Bad requests to the real daemon (`feedsvc run` on a free loopback port), over raw sockets:
huge headers, path traversal in every encoding, unknown methods, malformed requests, slow
clients. Each gets a 4xx or a closed connection — never a file from outside the publish
folder, never a crash, never a stall for other clients. Every socket is closed by the test;
every loop is bounded."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run as run_cli
from robust import feedsvc, free_port, wait_for, write_config

SECRET = "FEEDSVC-SECRET-BESIDE-THE-FEEDS-5e0c"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    root = tmp_path_factory.mktemp("hostile-http")
    (root / "inbox").mkdir()
    (root / "inbox" / "a.txt").write_text("Served\n\nText.\n", encoding="utf-8")
    (root / "secret.txt").write_text(SECRET, encoding="utf-8")  # beside feeds/, not in it
    port = free_port()
    config = write_config(
        root,
        '[[sources]]\nname = "inbox"\npath = "inbox"\n',
        extra=f"[server]\nport = {port}\n",
    )
    assert run_cli(config, "ingest").exit_code == 0
    (root / "feeds" / "sub").mkdir()
    log = root / "daemon.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            feedsvc(config, "run"),
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_for("the server", lambda: ready(port))
        yield port, root
        assert proc.poll() is None, "the daemon died: " + log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        text = log.read_text()
        assert "Traceback" not in text and "panicked" not in text, text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def ready(port: int) -> bool:
    try:
        return status_of(request(port, "GET /healthz HTTP/1.1")) is not None
    except OSError:
        return False


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it (or the
    timeout). A connection reset or refused write counts as "dropped": ``b""``."""
    out = b""
    with contextlib.closing(socket.create_connection(("127.0.0.1", port), timeout=timeout)) as s:
        try:
            s.sendall(data)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass
    return out


def request(port: int, line: str, headers: str = "", body: bytes = b"") -> bytes:
    head = f"{line}\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"
    return exchange(port, head.encode("latin-1") + body)


def status_of(response: bytes) -> int | None:
    """The status code of a raw response, or None when the server sent nothing."""
    if not response:
        return None
    first = response.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None


def assert_refused(response: bytes, what: str) -> None:
    status = status_of(response)
    assert status is None or 400 <= status < 500, f"{what}: {response[:200]!r}"
    assert SECRET.encode() not in response and b"root:x:0:0" not in response, what


def assert_alive(port: int) -> None:
    assert status_of(request(port, "GET /atom.xml HTTP/1.1")) == 200


TRAVERSALS = [
    "/../secret.txt",
    "/../../../../../../etc/passwd",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/%252e%252e/secret.txt",
    "/%25252e%25252e/secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/%2e%2e%5csecret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 dots
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%u002e%u002e/secret.txt",
    "/..;/secret.txt",
    "//secret.txt",
    "///etc/passwd",
    "/etc/passwd",
    "/atom.xml%00.txt",
    "/atom.xml%00",
    "/%00/../secret.txt",
    "/./../secret.txt",
    "/" + "../" * 2000 + "etc/passwd",
    "http://127.0.0.1/../secret.txt",
    "file:///etc/passwd",
    "*",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal(server: tuple[int, Path], target: str) -> None:
    port, _ = server
    assert_refused(request(port, f"GET {target} HTTP/1.1"), target)
    assert_refused(request(port, f"HEAD {target} HTTP/1.1"), target)


@pytest.mark.parametrize(
    "line",
    [
        "FOO /atom.xml HTTP/1.1",
        "PROPFIND /atom.xml HTTP/1.1",
        "TRACE /atom.xml HTTP/1.1",
        "DELETE /atom.xml HTTP/1.1",
        "PATCH /atom.xml HTTP/1.1",
        "OPTIONS * HTTP/1.1",
        "CONNECT 127.0.0.1:22 HTTP/1.1",
        "get /atom.xml HTTP/1.1",
        "G\x01ET /atom.xml HTTP/1.1",
        "GET /atom.xml HTTP/9.9",
        "GET /atom.xml",
        "GET",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the HTTP port
    ],
)
def test_unknown_methods_and_malformed_request_lines(server: tuple[int, Path], line: str) -> None:
    port, root = server
    before = (root / "feeds" / "atom.xml").read_bytes()
    response = request(port, line, body=b"x" * 10 if line.startswith("PUT") else b"")
    assert_refused(response, repr(line))
    assert b"Served" not in response or line.startswith("get"), repr(line)  # no TRACE echo
    assert (root / "feeds" / "atom.xml").read_bytes() == before  # DELETE deleted nothing
    assert_alive(port)


def test_put_and_post_write_nothing(server: tuple[int, Path]) -> None:
    port, root = server
    for method in ("PUT", "POST"):
        response = request(
            port, f"{method} /evil.xml HTTP/1.1", "Content-Length: 5\r\n", body=b"<x/>\n"
        )
        assert_refused(response, method)
    assert not (root / "feeds" / "evil.xml").exists()


@pytest.mark.parametrize(
    ("headers", "what"),
    [
        ("X-Big: " + "a" * 200_000 + "\r\n", "one 200 KB header"),
        ("".join(f"X-H{i}: v\r\n" for i in range(5000)), "5,000 headers"),
        ("Cookie: " + "c=" * 50_000 + "\r\n", "a 100 KB cookie"),
        ("If-None-Match: " + '"x", ' * 20_000 + "\r\n", "20,000 ETags"),
        ("Accept-Encoding: " + "gzip;q=0.1, " * 10_000 + "\r\n", "a huge Accept-Encoding"),
        ("X-Bad\r\n", "a header without a colon"),
        ("X-Nul: a\x00b\r\n", "a NUL in a header value"),
        ("Content-Length: -1\r\n", "a negative Content-Length"),
        ("Content-Length: 99999999999999999999\r\n", "an overflowing Content-Length"),
        ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "both lengths (smuggling)"),
        ("Transfer-Encoding: chunked\r\n", "a chunked GET with a bad chunk"),
    ],
)
def test_hostile_headers(server: tuple[int, Path], headers: str, what: str) -> None:
    port, _ = server
    response = request(port, "GET /atom.xml HTTP/1.1", headers, body=b"zz\r\nboom\r\n")
    status = status_of(response)
    # Some of these are legal enough to answer (a big cookie is ignored); none may crash or
    # hang the server, and none may get anything but the feed or a 4xx.
    assert status in (None, 200, 304) or 400 <= status < 500, f"{what}: {response[:200]!r}"
    assert_alive(port)


def test_a_huge_request_target(server: tuple[int, Path]) -> None:
    port, _ = server
    assert_refused(request(port, "GET /" + "a" * 100_000 + " HTTP/1.1"), "a 100 KB path")
    assert_refused(exchange(port, b"\x00" * 70_000 + b"\r\n\r\n"), "70 KB of NUL bytes")
    assert_alive(port)


def test_slow_clients_do_not_stall_the_others(server: tuple[int, Path]) -> None:
    """Slowloris: 30 connections each send a byte of an unfinished request every 0.2 s for
    6 s. Meanwhile every normal request is answered (each within a generous 10 s socket
    timeout; the worst latency is printed)."""
    port, _ = server
    slow: list[socket.socket] = []
    partial = f"GET /atom.xml HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode()
    latencies: list[float] = []
    dropped_slow = 0
    try:
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(partial)
            slow.append(s)
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            for s in slow:
                with contextlib.suppress(OSError):
                    s.sendall(b"a")
            started = time.monotonic()
            assert status_of(request(port, "GET /atom.xml HTTP/1.1")) == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.2)
    finally:
        for s in slow:
            s.setblocking(False)
            with contextlib.suppress(OSError):
                if s.recv(1) == b"":
                    dropped_slow += 1
            s.close()
    assert len(latencies) >= 10
    print(
        f"\nslowloris: {len(slow)} slow connections ({dropped_slow} closed by the server); "
        f"{len(latencies)} normal requests, worst {max(latencies) * 1000:.0f} ms"
    )
    assert_alive(port)


def test_abrupt_disconnects(server: tuple[int, Path]) -> None:
    """Clients that vanish mid-request or mid-response (RST) leave the server serving."""
    port, _ = server
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            if i % 2:
                s.sendall(b"GET /atom.xml HTTP/1.1\r\nHost: x\r\n\r\n")  # then reset unread
            else:
                s.sendall(b"GET /atom.xml HT")
        finally:
            s.close()
    assert_alive(port)
