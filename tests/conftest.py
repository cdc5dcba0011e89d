"""Shared pytest fixtures.

``../shared`` (the corpus, the Atom schema, users' examples) sits beside the repository in CI
and on developers' machines, but not in a user's fresh clone: tests that need it use the
``shared_dir`` fixture, which skips them with a reason when it is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def _shared_path() -> Path:
    env = os.environ.get("FEEDSVC_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder; skips the test when it is not there."""
    path = _shared_path()
    if not (path / "DESIGN.md").is_file():
        pytest.skip(f"../shared is not present at {path} (a fresh clone has no shared/ folder)")
    return path


@pytest.fixture(scope="session")
def atom_schema(shared_dir: Path) -> object:
    """An lxml RelaxNG validator for Atom 1.0 built from ``shared/schema/atom.rng``."""
    from lxml import etree

    rng = shared_dir / "schema" / "atom.rng"
    if not rng.is_file():
        pytest.skip(f"{rng} is missing")
    return etree.RelaxNG(etree.parse(str(rng)))


# --- a real HTTP server on 127.0.0.1 -------------------------------------------------------


class Route:
    """What the test server answers for one path; tests mutate it between requests."""

    def __init__(self, body: bytes = b"", status: int = 200, headers: dict[str, str] | None = None):
        self.body = body
        self.status = status
        self.headers = headers or {}
        self.etag: str | None = None  # when set, If-None-Match with it gets a 304
        self.requests: list[dict[str, str]] = []  # request headers seen, lower-cased names


class FeedServer:
    """A threaded loopback HTTP server with scripted routes. Stopped by the fixture."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        routes: dict[str, Route] = {}
        self.routes = routes
        seen: list[str] = []
        self.seen = seen  # every path requested, known or not, in order

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route.requests.append({k.lower(): v for k, v in self.headers.items()})
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.etag:
                    self.send_header("ETag", route.etag)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, body: bytes, **kw: object) -> Route:
        route = Route(body, **kw)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.stop()
