"""HTTP serving of the publish folder, an index page and ``/healthz``.

:class:`WebApp` answers ``GET``/``HEAD`` with the files under the publish folder (``atom.xml``
and whatever else is published there) from an in-memory cache: each file's bytes, a gzip
variant, a strong ``ETag`` (from a hash of the bytes) and ``Last-Modified``, reloaded when the
file's inode, size or mtime changes. Publishing replaces files by an atomic rename, and a file
is read through one open descriptor, so a response always carries one complete version of a
file. Conditional requests get ``304`` (RFC 9110 §13.1.1-2, §15.4.5), ``Accept-Encoding: gzip``
gets the gzip variant (with ``Vary``), other methods get ``405``. ``/`` is the folder's
``index.html`` when there is one, else a small page rendered from the database; ``/healthz``
is JSON from :mod:`feedsvc.health`. Anything else is ``404``, and no path can reach outside
the publish folder (``..``, hidden names, symlinks out).

The same app speaks two interfaces: ASGI (``WebApp.__call__``; tests drive it in-process with
``httpx.ASGITransport``, and any ASGI server can run it) and RSGI (``WebApp.__rsgi__``), which
Granian uses because it is the fastest measured: embedded in the daemon's process
(:func:`serve_http`), or as worker processes for ``feedsvc serve`` (:func:`serve_workers`). This
module is the only Granian user. It never writes files and never decides what is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import hashlib
import html
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsvc.config import Config
from feedsvc.errors import FeedsvcError
from feedsvc.health import health_document
from feedsvc.metrics import CONTENT_TYPE as METRICS_TYPE
from feedsvc.metrics import Metrics, SourceFigures, Stored
from feedsvc.models import PublishedEntry
from feedsvc.owner import exit_with
from feedsvc.storage import Store

log = logging.getLogger("feedsvc.web")

Headers = tuple[tuple[str, str], ...]
HeaderList = list[tuple[str, str]]  # what Granian's RSGI protocol takes, built once per file
Outcome = tuple[int, HeaderList, bytes]  # status, headers, body (the whole body, even for HEAD)

ALLOWED = "GET, HEAD"
INDEX_FILE = "index.html"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_CACHED_FILES = 256  # distinct paths kept in memory; the least recently loaded go first
MAX_CACHED_BYTES = 64 * 1024 * 1024  # a larger file is served, but read for each request
GZIP_MIN_BYTES = 256  # smaller bodies are not worth compressing
GZIP_MAX_BYTES = 8 * 1024 * 1024  # larger ones would stall the event loop while compressing
INDEX_PAGE_TTL_S = 1.0  # the rendered fallback index page is reused this long
INDEX_PAGE_ENTRIES = 50

_TEXT = "; charset=utf-8"
_TYPES = {
    ".atom": "application/atom+xml" + _TEXT,
    ".rss": "application/rss+xml" + _TEXT,
    ".json": "application/feed+json" + _TEXT,
    ".html": "text/html" + _TEXT,
    ".htm": "text/html" + _TEXT,
    ".css": "text/css" + _TEXT,
    ".txt": "text/plain" + _TEXT,
    ".js": "text/javascript" + _TEXT,
    ".xsl": "application/xslt+xml" + _TEXT,
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}
_COMPRESSIBLE: tuple[str, ...] = (
    "text/",
    "application/atom+xml",
    "application/rss+xml",
    "application/xml",
    "application/feed+json",
    "application/json",
    "application/xslt+xml",
    "image/svg+xml",
)


# --- pure helpers -------------------------------------------------------------------------------


def safe_relpath(path: str) -> str | None:
    """The publish-folder-relative file path for a (percent-decoded) URL path, or None.

    Refused (None): anything not starting with ``/``; NUL or backslash; empty segments
    (``//``); ``.`` and ``..`` segments; names starting with ``.`` (hidden files, such as
    the temporary files of atomic writes). A trailing ``/`` names the folder's
    ``index.html``. Symlinks are checked when the file is opened, not here.
    """
    if not path.startswith("/") or "\0" in path or "\\" in path:
        return None
    parts = path[1:].split("/")
    if parts[-1] == "":
        parts[-1] = INDEX_FILE
    for part in parts:
        if not part or part.startswith("."):
            return None
    return "/".join(parts)


def content_type(relpath: str, head: bytes) -> str:
    """The media type of a published file, from its name and (for ``.xml``) its root element."""
    name = relpath.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    suffix = name[dot:] if dot >= 0 else ""
    if suffix == ".xml":
        # An .xml file is whichever feed its root element says (atom.xml, rss.xml, and
        # archive pages alike); anything else is plain XML.
        sniff = head[:1024].lstrip(b"\xef\xbb\xbf")
        if b"<feed" in sniff and b"http://www.w3.org/2005/Atom" in sniff:
            return "application/atom+xml" + _TEXT
        if b"<rss" in sniff or b"<rdf:RDF" in sniff:
            return "application/rss+xml" + _TEXT
        return "application/xml" + _TEXT
    return _TYPES.get(suffix, "application/octet-stream")


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7)."""
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value: str) -> float | None:
    """Seconds since the epoch for an HTTP date, or None when it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def etag_matches(if_none_match: str, etags: tuple[str, ...]) -> bool:
    """``If-None-Match`` uses the weak comparison (RFC 9110 §13.1.2): ``W/`` is ignored."""
    value = if_none_match.strip()
    if value == "*":
        return True
    for candidate in value.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag in etags:
            return True
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3): listed, or ``*``, with a
    non-zero q-value."""
    star: bool | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


# --- cached entities ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """One servable document with everything a response needs, computed once."""

    key: tuple[int, ...]  # what identifies this version (dev, inode, size, mtime_ns)
    body: bytes
    gz: bytes | None  # the gzip variant, when worth having
    etags: tuple[str, ...]  # every ETag a client may hold for this version
    mtime: float | None  # whole seconds, as in Last-Modified; None: no Last-Modified
    # Precomputed responses: (status, headers, body) for 200 identity, 200 gzip, and 304 of
    # each variant. Never mutated: the hot path hands them to the server as they are.
    plain: Outcome
    zipped: Outcome
    not_modified: Outcome
    not_modified_gz: Outcome


def make_entity(
    body: bytes,
    media_type: str,
    mtime: float | None,
    cache_control: str,
    key: tuple[int, ...] = (),
) -> Entity:
    """Build an :class:`Entity`: strong ETags from SHA-256 of the bytes, a deterministic
    gzip variant (``mtime=0``, so equal bytes give equal ETags across restarts)."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    etag = f'"{digest}"'
    gz: bytes | None = None
    if GZIP_MIN_BYTES <= len(body) <= GZIP_MAX_BYTES and media_type.startswith(_COMPRESSIBLE):
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        if len(packed) < len(body):
            gz = packed
    # A strong validator differs between representations (RFC 9110 §8.8.3), so the gzip
    # variant has its own ETag.
    gz_etag = f'"{digest}-gz"'
    whole = int(mtime) if mtime is not None else None
    common: Headers = (("cache-control", cache_control),)
    if whole is not None:
        common = (("last-modified", http_date(whole)), *common)
    vary = (("vary", "accept-encoding"),) if gz is not None else ()
    plain = [("content-type", media_type), ("etag", etag), *common, *vary]
    zipped = [
        ("content-type", media_type),
        ("content-encoding", "gzip"),
        ("etag", gz_etag),
        *common,
        *vary,
    ]
    return Entity(
        key=key,
        body=body,
        gz=gz,
        etags=(etag, gz_etag) if gz is not None else (etag,),
        mtime=whole,
        plain=(200, plain, body),
        zipped=(200, zipped, gz) if gz is not None else (200, plain, body),
        not_modified=(304, [("etag", etag), *common, *vary], b""),
        not_modified_gz=(304, [("etag", gz_etag), *common, *vary], b""),
    )


class FileCache:
    """Entities for the files under one folder, reloaded when a file's stat changes.

    Each lookup costs one ``stat``; a changed (or first-seen) file is opened once, checked to
    be a regular file inside the folder (after resolving symlinks), and read through that one
    descriptor: its ``fstat`` is the cache key, so an entity never mixes two versions. Not
    thread-safe: one event loop owns it.
    """

    def __init__(self, root: Path, cache_control: str) -> None:
        self.root = root
        self.cache_control = cache_control
        self._root_str = str(root)
        self._files: dict[str, Entity] = {}

    def clear(self) -> None:
        self._files.clear()

    def get(self, relpath: str) -> Entity | None:
        full = self._root_str + "/" + relpath
        try:
            st = os.stat(full)
        except (OSError, ValueError):
            self._files.pop(relpath, None)
            return None
        cached = self._files.get(relpath)
        if cached is not None:
            key = cached.key
            if (
                st.st_mtime_ns == key[3]
                and st.st_ino == key[1]
                and st.st_size == key[2]
                and st.st_dev == key[0]
            ):
                return cached
        if not stat.S_ISREG(st.st_mode):
            return None
        entity = self._load(relpath, full)
        if entity is None:
            self._files.pop(relpath, None)
        elif len(entity.body) <= MAX_CACHED_BYTES:
            if relpath not in self._files and len(self._files) >= MAX_CACHED_FILES:
                self._files.pop(next(iter(self._files)))
            self._files[relpath] = entity
        return entity

    def _load(self, relpath: str, full: str) -> Entity | None:
        real_root = os.path.realpath(self._root_str)
        real = os.path.realpath(full)
        if os.path.commonpath([real_root, real]) != real_root:
            log.debug("refused %s: it resolves outside %s", relpath, real_root)
            return None
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                body = f.read()
        except OSError:
            return None
        finally:
            os.close(fd)
        return make_entity(
            body,
            content_type(relpath, body),
            st.st_mtime,
            self.cache_control,
            (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns),
        )


# --- the application ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A response: ``head`` means send the headers of ``body`` but not the body."""

    status: int
    headers: Headers
    body: bytes = b""
    head: bool = False


def _simple(status: int, text: str, extra: Headers = ()) -> Reply:
    headers = (("content-type", "text/plain; charset=utf-8"), ("cache-control", "no-store"))
    return Reply(status, headers + extra, text.encode())


NOT_FOUND = _simple(404, "404 Not Found\n")
NOT_ALLOWED = _simple(405, "405 Method Not Allowed\n", (("allow", ALLOWED),))


def render_index(
    title: str, subtitle: str | None, entries: list[PublishedEntry], feed_href: str
) -> bytes:
    """A small, readable HTML page: the feed's title, its newest entries with links, and the
    ``<link rel="alternate">`` that lets feed readers discover the feed from the site."""
    e = html.escape
    items = []
    for entry in entries:
        when = entry.published.astimezone(UTC)
        label = e(entry.title or "(untitled)")
        heading = f'<a href="{e(entry.link)}">{label}</a>' if entry.link else label
        items.append(
            f'<li><time datetime="{when.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
            f"{when.strftime('%Y-%m-%d')}</time> {heading}</li>"
        )
    listing = "\n".join(items) if items else "<li>No entries yet.</li>"
    sub = f"<p>{e(subtitle)}</p>\n" if subtitle else ""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<link rel="alternate" type="application/atom+xml" title="{e(title)}" href="{e(feed_href)}">
</head>
<body>
<h1>{e(title)}</h1>
{sub}<p>Subscribe in a feed reader: <a href="{e(feed_href)}">{e(feed_href)}</a></p>
<ul>
{listing}
</ul>
</body>
</html>
"""
    return page.encode("utf-8")


class WebApp:
    """The HTTP application (ASGI and RSGI). ``config`` may be replaced on reload."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], datetime] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        # The daemon passes the Metrics its scheduler counts into; `serve` counts nothing.
        self.metrics = metrics if metrics is not None else Metrics()
        self._index: tuple[float, Entity] | None = None
        self._gzip_ok: dict[str, bool] = {}
        self.config = config

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        self._config = config
        self.cache_control = f"max-age={config.server.max_age}"
        self.files = FileCache(config.publish.dir, self.cache_control)
        self._index = None

    # --- the request core (interface-neutral) --------------------------------------------------

    async def respond(
        self,
        method: str,
        path: str,
        if_none_match: str | None,
        if_modified_since: str | None,
        accept_encoding: str | None,
    ) -> Reply:
        """Answer one request; headers are the raw values, or None when absent."""
        head = method == "HEAD"
        if not head and method != "GET":
            return NOT_ALLOWED
        outcome = self.serve_file(path, if_none_match, if_modified_since, accept_encoding)
        if outcome is None:
            if path == HEALTH_PATH:
                return await self._health(head)
            if path == METRICS_PATH:
                return await self._metrics(head)
            if path != "/":
                return NOT_FOUND
            entity = await self._index_page()
            outcome = self._choose(entity, if_none_match, if_modified_since, accept_encoding)
        status, headers, body = outcome
        return Reply(status, tuple(headers), body, head)

    def serve_file(
        self,
        path: str,
        if_none_match: str | None,
        if_modified_since: str | None,
        accept_encoding: str | None,
    ) -> Outcome | None:
        """The response for a file of the publish folder (GET/HEAD), or None when ``path``
        names no servable file. Synchronous and allocation-free on a cache hit: this is the
        hot path of both interfaces."""
        relpath = INDEX_FILE if path == "/" else safe_relpath(path)
        if relpath is None:
            return None
        entity = self.files.get(relpath)
        if entity is None:
            return None
        return self._choose(entity, if_none_match, if_modified_since, accept_encoding)

    def _choose(
        self,
        entity: Entity,
        if_none_match: str | None,
        if_modified_since: str | None,
        accept_encoding: str | None,
    ) -> Outcome:
        zipped = entity.gz is not None and self._wants_gzip(accept_encoding)
        if if_none_match is not None:
            fresh = if_none_match in entity.etags or etag_matches(if_none_match, entity.etags)
        elif if_modified_since is not None:
            since = parse_http_date(if_modified_since)
            fresh = since is not None and entity.mtime is not None and entity.mtime <= since
        else:
            fresh = False
        if fresh:
            return entity.not_modified_gz if zipped else entity.not_modified
        return entity.zipped if zipped else entity.plain

    def _wants_gzip(self, accept_encoding: str | None) -> bool:
        if not accept_encoding:
            return False
        known = self._gzip_ok.get(accept_encoding)
        if known is None:
            known = accepts_gzip(accept_encoding)
            if len(self._gzip_ok) > 256:  # bounded: clients send few distinct values
                self._gzip_ok.clear()
            self._gzip_ok[accept_encoding] = known
        return known

    async def _index_page(self) -> Entity:
        now = time.monotonic()
        if self._index is not None and now - self._index[0] < INDEX_PAGE_TTL_S:
            return self._index[1]
        config = self._config
        entries = await asyncio.to_thread(_read_entries, config, INDEX_PAGE_ENTRIES)
        body = render_index(config.feed.title, config.feed.subtitle, entries, "atom.xml")
        newest = max((e.updated.timestamp() for e in entries), default=None)
        entity = make_entity(body, "text/html; charset=utf-8", newest, self.cache_control)
        if self._index is not None and self._index[1].etags == entity.etags:
            entity = self._index[1]
        self._index = (now, entity)
        return entity

    async def _health(self, head: bool) -> Reply:
        config = self._config
        try:
            states = await asyncio.to_thread(_read_states, config)
        except FeedsvcError as e:
            doc: dict[str, Any] = {"status": "degraded", "error": str(e), "sources": []}
        else:
            doc = health_document(config.sources, states, self._clock())
        body = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        status = 200 if doc["status"] == "ok" else 503
        headers = (("content-type", "application/json"), ("cache-control", "no-store"))
        return Reply(status, headers, body, head)

    async def _metrics(self, head: bool) -> Reply:
        try:
            stored = await asyncio.to_thread(_read_stored, self._config)
        except FeedsvcError as e:
            log.error("/metrics: cannot read the database: %s", e)
            stored = Stored()
        body = self.metrics.render(stored)
        headers = (("content-type", METRICS_TYPE), ("cache-control", "no-store"))
        return Reply(200, headers, body, head)

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        inm = ims = ae = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"if-modified-since":
                ims = value.decode("latin-1")
            elif name == b"accept-encoding":
                ae = value.decode("latin-1")
        reply = await self.respond(scope["method"], scope["path"], inm, ims, ae)
        headers = [(k.encode(), v.encode("latin-1")) for k, v in reply.headers]
        if reply.status != 304:
            headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        body = b"" if reply.head or reply.status == 304 else reply.body
        await send({"type": "http.response.body", "body": body})

    # --- RSGI (Granian) -------------------------------------------------------------------------

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        method, path, h = scope.method, scope.path, scope.headers
        inm, ims, ae = h.get("if-none-match"), h.get("if-modified-since"), h.get("accept-encoding")
        outcome = None
        if method == "GET" or method == "HEAD":
            outcome = self.serve_file(path, inm, ims, ae)
        if outcome is None:
            reply = await self.respond(method, path, inm, ims, ae)
            outcome = (reply.status, list(reply.headers), reply.body)
        status, headers, body = outcome
        if status == 304:
            proto.response_empty(304, headers)
        else:
            # For HEAD the server sends the headers (with this body's Content-Length) only.
            proto.response_bytes(status, headers, body)


def _read_entries(config: Config, limit: int) -> list[PublishedEntry]:
    with Store(config.storage.path) as store:
        return store.published(min(limit, config.feed.max_entries))


def _read_stored(config: Config) -> Stored:
    with Store(config.storage.path) as store:
        states = store.source_states()
        counts = store.counts()
        rules = store.dedup_counts()["rules"]
    return Stored(
        sources=[SourceFigures(s.name, s.entries, s.last_success, s.error_streak) for s in states],
        stories=counts["stories"],
        duplicates_by_rule=rules,
    )


def _read_states(config: Config) -> list[Any]:
    with Store(config.storage.path) as store:
        return list(store.source_states())


# --- the server ---------------------------------------------------------------------------------


class ServeError(FeedsvcError):
    """The HTTP server could not start (address in use, permission denied, ...)."""


def _granian_options() -> dict[str, Any]:
    """What both ways of running Granian share: RSGI, HTTP/1.1 and 2, no websockets, and
    Granian's log records through ours at our level (its experimental notices dropped)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels

    logging.getLogger("_granian").addFilter(_DropExperimentalNotice())
    return {
        "interface": Interfaces.RSGI,
        "http": HTTPModes.auto,
        "websockets": False,
        "backlog": 1024,
        "log_level": LogLevels.warning,
        "log_dictconfig": _granian_logging(logging.getLogger().getEffectiveLevel()),
    }


def _granian_logging(level: int) -> dict[str, Any]:
    """Route Granian's loggers into ours (stderr, our format) instead of its own stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "_granian": {"handlers": [], "propagate": True, "level": max(level, logging.WARNING)},
            "granian.access": {"handlers": [], "propagate": True, "level": logging.WARNING},
        },
    }


class _DropExperimentalNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "experimental" not in record.getMessage()


async def serve_http(app: WebApp, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``host:port`` with the embedded Granian server until ``stop`` is set.

    Raises :class:`ServeError` when the address cannot be bound.
    """
    from granian.server.embed import Server

    check_bind(host, port)
    server = Server(app, address=host, port=port, **_granian_options())
    # Idle keep-alive connections must not hold up a shutdown for long.
    server.workers_kill_timeout = 3
    task = asyncio.create_task(server.serve())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:  # the server ended by itself: an error
        stopper.cancel()
        exc = task.exception()
        raise ServeError(f"HTTP server on {host}:{port} stopped: {exc}") from exc
    server.signal_handler_interrupt()  # type: ignore[no-untyped-call]
    await task


class _AppLoader:
    """Builds a worker process's :class:`WebApp` from the configuration its parent holds.

    Granian calls it in each worker it starts; a reload replaces ``config`` in the parent
    first, so the workers started next serve the new one. An object rather than a closure,
    so that it pickles when workers are spawned instead of forked.
    """

    def __init__(self, config: Config, owner: int) -> None:
        self.config = config
        self.owner = owner

    def __call__(self, target: object) -> WebApp:
        # A worker outlives a SIGKILLed server otherwise, still holding the port.
        exit_with(self.owner)
        return WebApp(self.config)


def serve_workers(
    config: Config, workers: int, reload: Callable[[Config], Config | None] | None = None
) -> None:
    """Serve the publish folder with ``workers`` Granian worker processes until SIGTERM or
    SIGINT; each worker holds its own file cache. Blocks; must run on the main thread (it
    installs the signal handlers).

    SIGHUP calls ``reload`` with the configuration in use; when that returns a new one, the
    workers are replaced one at a time by workers serving it (Granian starts the new worker
    before stopping the old, and both listen on the same port, so no request is refused).
    Raises :class:`ServeError` when the address cannot be bound or a worker dies by itself.
    This is what ``feedsvc serve`` runs: like nginx's worker processes, the workers share
    nothing, so an in-process counter (the daemon's ``/metrics``) could not be served this way.
    """
    from granian.constants import TaskImpl
    from granian.server.mp import MPServer

    host, port = config.server.host, config.server.port
    check_bind(host, port)
    loader = _AppLoader(config, os.getpid())
    server = MPServer(
        "feedsvc.web:WebApp",  # a label only: the loader builds the app
        address=host,
        port=port,
        workers=workers,
        # Granian's Rust task implementation steps each request's coroutine without an
        # asyncio.Task: about a fifth more requests/s here (figure 6). Granian has it for
        # Python < 3.12 only (and calls it experimental); the workers' own event loops run
        # it, not the daemon's, whose asyncio.Runner could not cancel its stand-in tasks.
        task_impl=TaskImpl.rust if sys.version_info < (3, 12) else TaskImpl.asyncio,
        **_granian_options(),
    )
    # Idle keep-alive connections must not hold up a shutdown (or a reload) for long.
    server.workers_kill_timeout = 3

    def on_reload() -> None:
        new = reload(loader.config) if reload is not None else None
        if new is not None:
            loader.config = new

    server.on_reload(on_reload)
    try:
        server.serve(target_loader=loader)
    except SystemExit as e:
        # Granian exits 1 when a worker ended without being told to. After SIGINT/SIGTERM
        # that is the signal having reached the workers too (Ctrl-C in a terminal, systemd
        # stopping the whole group): they stopped gracefully on it, which is a clean stop.
        if not server.interrupt_signal:
            raise ServeError(f"HTTP server on {host}:{port} stopped: a worker exited") from e


def check_bind(host: str, port: int) -> None:
    """Fail early, with a clear message, when ``host:port`` cannot be bound."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


@contextlib.contextmanager
def event_loop() -> Iterator[asyncio.Runner]:
    """An asyncio runner on uvloop where it is installed (faster), the default loop else."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        yield runner
