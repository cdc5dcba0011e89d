"""Feed autodiscovery: find the feed an HTML page points to with ``<link rel="alternate">``.

Pure: bytes and the page's URL in, absolute feed URLs out; no fetching (the pipeline fetches
the page and then the feed). It does not guess URLs such as ``/feed`` that a page does not name.
"""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.html
from lxml import etree

FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def looks_like_html(content_type: str | None, body: bytes) -> bool:
    """True when a response is an HTML page rather than a feed: by its media type, else (no
    or generic type) by sniffing the start of the body for a doctype or ``<html``."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _HTML_TYPES:
        return True
    if media and media not in ("application/octet-stream", "text/plain"):
        return False
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def feed_links(body: bytes, page_url: str) -> list[str]:
    """The feeds an HTML page advertises, absolute, in document order, without duplicates.

    Reads ``<link rel="alternate" type="...">`` (``rel`` may hold several tokens) with one of
    :data:`FEED_TYPES` and an ``href``; relative hrefs resolve against ``<base href>`` if any,
    else ``page_url``. Unparseable HTML gives an empty list.
    """
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    base = page_url
    for b in doc.iter("base"):
        href = (b.get("href") or "").strip()
        if href:
            base = urljoin(page_url, href)
            break
    found: list[str] = []
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media = (link.get("type") or "").split(";", 1)[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and media in FEED_TYPES and href:
            url = urljoin(base, href)
            if url not in found:
                found.append(url)
    return found
