"""fetch.py against a real scripted HTTP server on 127.0.0.1 (and MockTransport at the seam)."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import brotli
import httpx
import pytest

from feedsvc import __version__
from feedsvc.errors import FetchError, NetworkError
from feedsvc.fetch import FetchOptions, fetch, make_client

from scripted_server import ScriptedServer, serving

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving() as s:
        yield s


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(FetchOptions(timeout=5.0, connect_timeout=5.0)) as c:
        yield c


def test_sends_identity_accept_encoding_and_validators(
    server: ScriptedServer, client: httpx.Client
) -> None:
    script = server.add("/f", body=FEED)
    fetch(client, server.url("/f"), etag='"e1"', last_modified="Sat, 28 Feb 2026 10:00:00 GMT")
    (req,) = script.requests
    assert req["user-agent"].startswith(f"feedsvc/{__version__} (+http")
    assert "application/atom+xml" in req["accept"]
    assert req["accept-encoding"] == "gzip, deflate, br"
    assert req["if-none-match"] == '"e1"'
    assert req["if-modified-since"] == "Sat, 28 Feb 2026 10:00:00 GMT"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_decodes_compressed_bodies(
    server: ScriptedServer, client: httpx.Client, encoding: str
) -> None:
    body = FEED * 2000
    server.add("/f", body=body, encoding=encoding)
    result = fetch(client, server.url("/f"))
    assert result.status == 200 and result.body == body
    assert result.headers["content-encoding"] == encoding


def test_raw_deflate_is_accepted(server: ScriptedServer, client: httpx.Client) -> None:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    server.add("/f", precompressed=c.compress(FEED) + c.flush(), encoding="deflate")
    assert fetch(client, server.url("/f")).body == FEED


def _peak_during(call: object) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    error: BaseException | None = None
    try:
        call()  # type: ignore[operator]
    except FetchError as e:
        error = e
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_compression_bomb_stops_at_the_cap_with_bounded_memory(
    server: ScriptedServer, client: httpx.Client, encoding: str
) -> None:
    # 1 GB of zeros: ~1 MB gzip-compressed, ~1 KB as brotli.
    if encoding == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = bytes(1 << 20)
        bomb = b"".join(c.compress(block) for _ in range(1024)) + c.flush()
    else:
        bomb = bytes(brotli.compress(bytes(1 << 30), quality=1))
    assert len(bomb) < 2_000_000
    server.add("/bomb", precompressed=bomb, encoding=encoding)
    cap = 5_000_000
    peak, error = _peak_during(lambda: fetch(client, server.url("/bomb"), max_bytes=cap))
    assert isinstance(error, FetchError)
    assert "exceeds the 5000000-byte limit after decompressing" in str(error)
    # what was kept is at most the cap; one decoding step adds at most ~100 KB
    assert peak < 3 * cap, f"peak traced memory {peak} bytes"


def test_size_limit_on_plain_bodies(server: ScriptedServer, client: httpx.Client) -> None:
    server.add("/big", body=b"x" * 50_000)
    with pytest.raises(FetchError, match="50000 bytes exceeds the 10000-byte limit"):
        fetch(client, server.url("/big"), max_bytes=10_000)


def test_byte_dribble_hits_the_total_timeout(server: ScriptedServer, client: httpx.Client) -> None:
    # every byte arrives well within the read timeout, so only a total deadline stops it
    server.add("/slow", body=FEED, dribble=0.05)
    with pytest.raises(FetchError, match="total timeout"):
        fetch(client, server.url("/slow"), total_timeout=0.5)


def test_read_timeout_is_a_network_error(server: ScriptedServer) -> None:
    server.add("/stall", body=FEED, delay=3.0)
    with make_client(FetchOptions(timeout=0.3)) as c, pytest.raises(NetworkError, match="timed"):
        fetch(c, server.url("/stall"))


def test_connection_refused_is_a_network_error(client: httpx.Client) -> None:
    with serving() as s:
        url = s.url("/gone")
    with pytest.raises(NetworkError, match="ConnectError"):
        fetch(client, url)


def test_redirect_chain_is_reported_hop_by_hop(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.add("/a", status=301, location="/b")
    server.add("/b", status=302, location=server.url("/c"))
    server.add("/c", body=FEED)
    result = fetch(client, server.url("/a"))
    assert result.url == server.url("/c") and result.body == FEED
    assert result.redirects == ((301, server.url("/b")), (302, server.url("/c")))


def test_more_than_five_redirects_fail(server: ScriptedServer, client: httpx.Client) -> None:
    for i in range(7):
        server.add(f"/r{i}", status=307, location=f"/r{i + 1}")
    server.add("/r7", body=FEED)
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(client, server.url("/r0"))
    server.scripts["/r0"].location = "/r3"  # now 4 redirects
    assert fetch(client, server.url("/r0")).body == FEED


def test_only_http_and_https(server: ScriptedServer, client: httpx.Client) -> None:
    with pytest.raises(FetchError, match="only http:// and https://"):
        fetch(client, "file:///etc/passwd")
    server.add("/sneaky", status=302, location="file:///etc/passwd")
    with pytest.raises(FetchError, match="not http"):
        fetch(client, server.url("/sneaky"))


def test_error_statuses_come_back_without_reading_the_body(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.add("/busy", status=503, headers={"Retry-After": "120"}, body=b"x" * 100)
    result = fetch(client, server.url("/busy"))
    assert result.status == 503 and result.body == b""
    assert result.headers["retry-after"] == "120"


def test_304_keeps_the_new_validators(server: ScriptedServer, client: httpx.Client) -> None:
    server.add("/f", body=FEED, etag='"v1"', etag_on_304='"v2"')
    result = fetch(client, server.url("/f"), etag='"v1"')
    assert result.status == 304 and result.etag == '"v2"'


def test_private_addresses_refused_after_resolution_when_switched_on(
    server: ScriptedServer,
) -> None:
    server.add("/f", body=FEED)
    with make_client(FetchOptions(refuse_private=True)) as c:
        for url in (server.url("/f"), server.url("/f").replace("127.0.0.1", "localhost")):
            with pytest.raises(FetchError, match="non-public address") as info:
                fetch(c, url)
            assert not isinstance(info.value, NetworkError)
    assert server.scripts["/f"].requests == []
    with make_client(FetchOptions()) as c:  # off by default: users fetch their own LAN
        assert fetch(c, server.url("/f")).body == FEED


def test_mock_transport_at_the_seam() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept-encoding"] == "gzip, deflate, br"
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, content=iter([gzip.compress(FEED)])
        )

    with make_client(FetchOptions(), httpx.MockTransport(answer)) as c:
        assert fetch(c, "https://feeds.example/rss").body == FEED
