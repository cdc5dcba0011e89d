"""The only httpx user: fetch one URL safely and hand back what the server said (and POST
WebSub pings).

Sends the headers :func:`feedsvc.politeness.request_headers` decides (conditional GET, honest
``User-Agent``, ``Accept``, ``Accept-Encoding``); follows up to :data:`MAX_REDIRECTS` redirects
and reports each hop; enforces connect, read and *total* timeouts (a server dribbling one byte
at a time never trips a read timeout); stops at ``max_bytes`` counted *after* decompression,
decoding gzip, deflate and br itself with a bounded output per step, so a gzip or brotli bomb
stops at the cap with memory bounded by it. Optionally refuses private, loopback and
link-local addresses after DNS resolution.

It does not decide what a status means, when to fetch again, or what to store: that is
:mod:`feedsvc.politeness` and :mod:`feedsvc.pipeline`. Any final status is returned as a
:class:`~feedsvc.models.FetchResult` (a body is read only for 2xx); a failure to get a usable
response is a :class:`~feedsvc.errors.FetchError` naming the URL, with the httpx error chained
(:class:`~feedsvc.errors.NetworkError` when no HTTP response arrived at all).
"""

from __future__ import annotations

import socket
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import brotli
import httpx

from feedsvc import PROJECT_URL, __version__
from feedsvc.errors import FetchError, NetworkError
from feedsvc.models import FetchResult
from feedsvc.politeness import check_url, is_public_address, request_headers

MAX_REDIRECTS = 5
DEFAULT_USER_AGENT = f"feedsvc/{__version__} (+{PROJECT_URL})"
STEP = 64 * 1024  # largest piece of decompressed output produced per decoding step


@dataclass(frozen=True)
class FetchOptions:
    """Limits of the HTTP client (config ``[fetch]``)."""

    timeout: float = 30.0  # read (and write) timeout, seconds
    max_bytes: int = 20_000_000
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    total_timeout: float = 120.0  # a whole fetch, redirects and body included
    max_connections: int = 10
    refuse_private: bool = False


class PrivateAddressRefused(httpx.TransportError):
    """A host resolved to a private, loopback or link-local address and the switch is on."""


class _GuardedTransport(httpx.BaseTransport):
    """Resolves each request's host (every redirect hop passes here) and refuses it unless all
    of its addresses are public. A DNS answer that changes between this check and the connect
    (rebinding) is not caught; the switch is a guard for shared deployments, not a firewall."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            infos = socket.getaddrinfo(host, request.url.port or 443, type=socket.SOCK_STREAM)
        except OSError as e:
            raise httpx.ConnectError(f"cannot resolve {host}: {e}", request=request) from e
        addresses = sorted({str(info[4][0]) for info in infos})
        bad = [a for a in addresses if not is_public_address(a)]
        if bad:
            raise PrivateAddressRefused(
                f"{host} resolves to a non-public address ({', '.join(bad)}) and "
                "fetch.refuse_private_addresses is on",
                request=request,
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def make_client(
    options: FetchOptions, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client with feedsvc's limits; ``transport`` is injectable for tests.

    The client is shared by the fetch threads (httpx clients are thread-safe); its pool holds
    at most ``max_connections`` connections and keeps them alive for the next fetch.
    """
    limits = httpx.Limits(
        max_connections=options.max_connections,
        max_keepalive_connections=options.max_connections,
    )
    inner = transport or httpx.HTTPTransport(limits=limits)
    if options.refuse_private:
        inner = _GuardedTransport(inner)
    return httpx.Client(
        timeout=httpx.Timeout(
            options.timeout,
            connect=min(options.connect_timeout, options.total_timeout),
            pool=options.total_timeout,
        ),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": options.user_agent},
        transport=inner,
        limits=limits,
    )


# --- bounded decoding ----------------------------------------------------------------------------

Decoder = Callable[[bytes], Iterator[bytes]]  # data in (b"" = end of stream) → bounded pieces


class _ZlibDecoder:
    """gzip (RFC 1952, several members allowed) or deflate (RFC 9110 §8.4.1.2: zlib-wrapped,
    though some servers send raw deflate, which is accepted as well), at most STEP bytes of
    output per step."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.wbits = 16 + zlib.MAX_WBITS if kind == "gzip" else zlib.MAX_WBITS
        self.d = zlib.decompressobj(self.wbits)
        self.started = False

    def __call__(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.d.decompress(data, STEP)
            except zlib.error:
                if self.kind == "deflate" and not self.started:
                    self.started = True
                    self.d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self.started = True
            if out:
                yield out
            if self.d.eof and self.d.unused_data and self.kind == "gzip":
                data = self.d.unused_data  # the next gzip member
                self.d = zlib.decompressobj(self.wbits)
                continue
            data = self.d.unconsumed_tail
            if not data and len(out) < STEP:  # input used up and no output left buffered
                return


def _brotli_decoder() -> Decoder:
    """br (RFC 7932), with brotli's output limit so one input chunk cannot expand unbounded."""
    d = brotli.Decompressor()

    def feed(data: bytes) -> Iterator[bytes]:
        out = d.process(data, output_buffer_limit=STEP)
        # Output already owed for consumed input keeps coming from empty calls (brotli stops
        # growing its buffer at the limit), until there is none.
        while out:
            yield out
            out = d.process(b"", output_buffer_limit=STEP)

    return feed


def _decoders(content_encoding: str) -> list[Decoder]:
    """Decoders for a Content-Encoding list, in the order to apply them (RFC 9110 §8.4)."""
    out: list[Decoder] = []
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            out.append(_ZlibDecoder("gzip"))
        elif coding == "deflate":
            out.append(_ZlibDecoder("deflate"))
        elif coding == "br":
            out.append(_brotli_decoder())
        else:
            raise ValueError(f"unsupported Content-Encoding {coding!r}")
    return out


def _decode(pieces: Iterator[bytes], decoders: list[Decoder]) -> Iterator[bytes]:
    for decoder in decoders:
        pieces = _through(pieces, decoder)
    return pieces


def _through(pieces: Iterator[bytes], decoder: Decoder) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder(piece)
    yield from decoder(b"")


# --- the fetch -----------------------------------------------------------------------------------


def fetch(
    client: httpx.Client,
    url: str,
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 20_000_000,
    total_timeout: float = 120.0,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """GET ``url`` and return the final response; read the body only for a 2xx status.

    Raises :class:`FetchError` for a URL that is not http(s), too many redirects, a body over
    ``max_bytes`` (after decompression), a broken encoding, or the total timeout;
    :class:`NetworkError` when no HTTP response arrived (DNS, connect, read timeout, reset).
    """
    problem = check_url(url)
    if problem:
        raise FetchError(f"{url}: {problem}")
    deadline = clock() + total_timeout
    headers = request_headers(user_agent, etag, last_modified)
    try:
        with client.stream("GET", url, headers=headers) as resp:
            arrived = [*resp.history[1:], resp][: len(resp.history)]  # where each hop led
            hops = tuple(
                (r.status_code, str(nxt.url)) for r, nxt in zip(resp.history, arrived, strict=True)
            )
            got = {k.lower(): v for k, v in resp.headers.items()}
            result = FetchResult(
                str(resp.url),
                resp.status_code,
                got,
                b"",
                got.get("etag"),
                got.get("last-modified"),
                redirects=hops,
            )
            if not 200 <= resp.status_code < 300:
                return result
            body = _read_body(resp, url, got, max_bytes, deadline, clock)
            return FetchResult(
                result.url, result.status, got, body, result.etag, result.last_modified, hops
            )
    except PrivateAddressRefused as e:
        raise FetchError(f"{url}: {e}") from e
    except httpx.TooManyRedirects as e:
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects") from e
    except httpx.UnsupportedProtocol as e:
        raise FetchError(f"{url}: redirected to a URL that is not http(s): {e}") from e
    except httpx.TimeoutException as e:
        raise NetworkError(f"{url}: timed out ({type(e).__name__})") from e
    except httpx.TransportError as e:
        raise NetworkError(f"{url}: {type(e).__name__}: {e}") from e
    except httpx.HTTPError as e:
        raise FetchError(f"{url}: {type(e).__name__}: {e}") from e


def _read_body(
    resp: httpx.Response,
    url: str,
    headers: dict[str, str],
    max_bytes: int,
    deadline: float,
    clock: Callable[[], float],
) -> bytes:
    declared = headers.get("content-length", "")
    encoding = headers.get("content-encoding", "")
    if declared.isdigit() and int(declared) > max_bytes:  # compressed is never larger
        raise FetchError(
            f"{url}: response of {declared} bytes exceeds the {max_bytes}-byte limit "
            "(fetch.max_bytes)"
        )
    try:
        decoders = _decoders(encoding)
    except ValueError as e:
        raise FetchError(f"{url}: {e}") from e

    raw_size = 0

    def raw() -> Iterator[bytes]:
        nonlocal raw_size
        for chunk in resp.iter_raw():
            raw_size += len(chunk)
            if raw_size > max_bytes:
                raise FetchError(f"{url}: response exceeds the {max_bytes}-byte limit")
            if clock() > deadline:
                raise FetchError(f"{url}: took longer than the total timeout (fetch.total_timeout)")
            yield chunk

    chunks: list[bytes] = []
    size = 0
    try:
        for piece in _decode(raw(), decoders):
            size += len(piece)
            if size > max_bytes:
                raise FetchError(
                    f"{url}: response exceeds the {max_bytes}-byte limit after decompressing "
                    f"{encoding or 'identity'} (fetch.max_bytes)"
                )
            chunks.append(piece)
    except (zlib.error, brotli.error) as e:
        raise FetchError(f"{url}: body is not valid {encoding}: {e}") from e
    return b"".join(chunks)


def post_form(
    client: httpx.Client,
    url: str,
    data: Sequence[tuple[str, str]],
    *,
    timeout: float | None = None,
) -> int:
    """POST ``data`` as ``application/x-www-form-urlencoded`` to ``url``; return the status.

    Used for WebSub publish pings (:mod:`feedsvc.websub`). Redirects are not followed (a
    POST must not silently turn into a GET). Any 2xx is success; anything else, and every
    transport error, is a :class:`FetchError` naming the URL. ``timeout`` overrides the
    client's, so that a slow hub cannot hold up the caller for long.
    """
    body = urlencode(list(data)).encode("ascii")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        resp = client.post(
            url,
            content=body,
            headers=headers,
            follow_redirects=False,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TimeoutException as e:
        raise FetchError(f"{url}: timed out ({type(e).__name__})") from e
    except httpx.HTTPError as e:
        raise FetchError(f"{url}: {type(e).__name__}: {e}") from e
    if not 200 <= resp.status_code < 300:
        raise FetchError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
    return resp.status_code
