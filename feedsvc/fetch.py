"""The only httpx user: fetch a feed URL politely and safely (and POST WebSub pings).

Sends a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the stored validators,
RFC 9110 §13.1), an honest ``User-Agent`` and an ``Accept`` for feed types; follows up to
:data:`MAX_REDIRECTS` redirects; stops reading at ``max_bytes`` *after* decompression, so a
gzip bomb ends at the cap. Every failure is a :class:`~feedsvc.errors.FetchError` naming the
URL, with the httpx error chained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from feedsvc import PROJECT_URL, __version__
from feedsvc.errors import FetchError
from feedsvc.models import FetchResult

MAX_REDIRECTS = 5
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/json;q=0.8, application/xml;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1"
)
DEFAULT_USER_AGENT = f"feedsvc/{__version__} (+{PROJECT_URL})"


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = 30.0
    max_bytes: int = 20_000_000
    user_agent: str = DEFAULT_USER_AGENT


def make_client(
    options: FetchOptions, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client with feedsvc's limits; ``transport`` is injectable for tests."""
    return httpx.Client(
        timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": options.user_agent, "Accept": ACCEPT},
        transport=transport,
    )


def request_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Conditional request headers for the stored validators (RFC 9110 §13.1.1, §13.1.3)."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def fetch(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 20_000_000,
) -> FetchResult:
    """GET ``url``; a 200 or 304 is a result, anything else a FetchError."""
    try:
        with client.stream("GET", url, headers=request_headers(etag, last_modified)) as resp:
            headers = {k.lower(): v for k, v in resp.headers.items()}
            if resp.status_code == 304:
                return FetchResult(
                    str(resp.url),
                    304,
                    headers,
                    b"",
                    headers.get("etag", etag),
                    headers.get("last-modified", last_modified),
                )
            if resp.status_code != 200:
                raise FetchError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
            declared = headers.get("content-length", "")
            if (
                declared.isdigit()
                and int(declared) > max_bytes
                and "content-encoding" not in headers
            ):
                raise FetchError(
                    f"{url}: response of {declared} bytes exceeds the {max_bytes}-byte limit"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: response exceeds the {max_bytes}-byte limit")
                chunks.append(chunk)
            return FetchResult(
                str(resp.url),
                200,
                headers,
                b"".join(chunks),
                headers.get("etag"),
                headers.get("last-modified"),
            )
    except httpx.TooManyRedirects as e:
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects") from e
    except httpx.TimeoutException as e:
        raise FetchError(f"{url}: timed out ({type(e).__name__})") from e
    except httpx.HTTPError as e:
        raise FetchError(f"{url}: {type(e).__name__}: {e}") from e


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
