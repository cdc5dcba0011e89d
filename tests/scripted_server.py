"""A scripted HTTP/1.1 server on a loopback address, for fetch tests.

Each path answers from a :class:`Script` (status, headers, body, delay, compression, a redirect,
a byte-dribble, ETag handling) that tests may change between requests. The server records the
request headers per path and the largest number of requests it had in flight at once, overall
and per server (one :class:`Gauge` can be shared by several servers, e.g. one per 127.0.0.x
address, to observe a global limit). Always stopped by the caller (fixture or try/finally).
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli


class Gauge:
    """Counts requests in flight; remembers the maximum."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.total = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.total += 1
            self.max = max(self.max, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1


@dataclass
class Script:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    encoding: str | None = None  # "gzip", "deflate", "br": compress body on the fly
    precompressed: bytes | None = None  # sent as-is with Content-Encoding: encoding
    location: str | None = None  # with a 3xx status: the Location header
    etag: str | None = None  # sent; If-None-Match equal to it gets a 304
    etag_on_304: str | None = None  # the ETag a 304 carries (default: etag)
    dribble: float | None = None  # seconds between single body bytes
    requests: list[dict[str, str]] = field(default_factory=list)


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "br":
        return bytes(brotli.compress(body))
    raise ValueError(encoding)


class ScriptedServer:
    def __init__(self, host: str = "127.0.0.1", gauge: Gauge | None = None) -> None:
        scripts: dict[str, Script] = {}
        self.scripts = scripts
        self.gauge = Gauge()
        shared = gauge
        own = self.gauge
        stopping = threading.Event()
        self._stopping = stopping

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with own.hold(), shared.hold() if shared else _nothing():
                    self._answer()

            def _answer(self) -> None:
                script = scripts.get(self.path)
                if script is None:
                    self._send(404, {}, b"not here")
                    return
                script.requests.append({k.lower(): v for k, v in self.headers.items()})
                if script.delay:
                    stopping.wait(script.delay)
                if script.etag and self.headers.get("If-None-Match") == script.etag:
                    etag = script.etag_on_304 or script.etag
                    self._send(304, {"ETag": etag, **script.headers}, b"")
                    return
                headers = dict(script.headers)
                if script.etag:
                    headers["ETag"] = script.etag
                if script.location:
                    headers["Location"] = script.location
                body = script.body
                if script.precompressed is not None:
                    body = script.precompressed
                    headers["Content-Encoding"] = script.encoding or "gzip"
                elif script.encoding:
                    body = compress(body, script.encoding)
                    headers["Content-Encoding"] = script.encoding
                self._send(script.status, headers, body, script.dribble)

            def _send(
                self,
                status: int,
                headers: dict[str, str],
                body: bytes,
                dribble: float | None = None,
            ) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if dribble is None:
                        self.wfile.write(body)
                        return
                    for i in range(len(body)):
                        if stopping.is_set():
                            return
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(dribble)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a limit or a timeout): what some tests want

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = _QuietServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, **kw: object) -> Script:
        script = Script(**kw)  # type: ignore[arg-type]
        self.scripts[path] = script
        return script

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is fine
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def serving(host: str = "127.0.0.1", gauge: Gauge | None = None) -> Iterator[ScriptedServer]:
    server = ScriptedServer(host, gauge)
    try:
        yield server
    finally:
        server.stop()
