"""The browser view: a static ``index.html`` (and its ``style.css``) beside the feeds.

A person who opens the site root or follows a feed link from a web page sees the feed's
title, how to subscribe (the feed URLs, with copyable text) and the latest entries; feed
readers find the feeds through ``<link rel="alternate">`` autodiscovery tags. It does not
rely on XSLT (browsers are dropping it) and runs no script at all: the page sends a
Content-Security-Policy that forbids script, and every value from a feed is HTML-escaped
text (no entry HTML is embedded, only a plain-text excerpt), and every link is an http(s)
URL or is left out.

Pure: entries and URLs in, bytes out; the same input gives the same bytes (no clock).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from feedsvc import PROJECT_URL, __version__
from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.publish.common import (
    ATOM_TYPE,
    CSS_FILE,
    JSON_TYPE,
    RSS_TYPE,
    Urls,
    entry_title,
    newest_first,
    plain,
    utc,
)
from feedsvc.sanitize import html_to_text, safe_url

__all__ = ["EXCERPT_CHARS", "PageFeed", "render_css", "render_page"]

EXCERPT_CHARS = 280

# No script, no frames, no plugins, no forms, no <base>: the page needs none of them, and
# it shows text taken from other people's feeds.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class PageFeed:
    """A feed the page lists: its URL, a label and its media type."""

    url: str
    label: str
    type: str = ATOM_TYPE


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def excerpt(entry: PublishedEntry, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of an entry's text (summary, else content), cut at a
    word boundary with an ellipsis. Plain text, not escaped."""
    text = " ".join(plain(html_to_text(entry.summary_html or entry.content_html)).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:")
    return (cut or text[:limit]) + "…"


def _when(entry: PublishedEntry) -> str:
    published = utc(entry.published)
    iso = published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'<time datetime="{iso}">{published.strftime("%Y-%m-%d %H:%M")} UTC</time>'


def render_page(
    entries: Sequence[PublishedEntry],
    settings: FeedSettings,
    *,
    source_feeds: Sequence[PageFeed] = (),
    archive_url: str | None = None,
) -> bytes:
    """``index.html`` for ``entries`` (the newest first, all of them are shown).

    Lists the Atom, RSS and JSON feeds (``base_url`` + their file names) in autodiscovery
    tags and in a "how to subscribe" section, the per-source feeds in ``source_feeds``, and
    the archive's newest page when ``archive_url`` is given.
    """
    urls = Urls(settings.base_url)
    title = plain(settings.title) or "feedsvc"
    feeds = (
        PageFeed(urls.atom, "Atom", ATOM_TYPE),
        PageFeed(urls.rss, "RSS 2.0", RSS_TYPE),
        PageFeed(urls.json, "JSON Feed 1.1", JSON_TYPE),
    )
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
    ]
    for feed in feeds:
        out.append(
            f'<link rel="alternate" type="{feed.type}" '
            f'title="{_e(f"{title} ({feed.label})")}" href="{_e(feed.url)}">'
        )
    out += [f'<link rel="stylesheet" href="{CSS_FILE}">', "</head>", "<body>", "<header>"]
    out.append(f"<h1>{_e(title)}</h1>")
    subtitle = plain(settings.subtitle)
    if subtitle:
        out.append(f'<p class="subtitle">{_e(subtitle)}</p>')
    out += ["</header>", "<main>", '<section id="subscribe">', "<h2>How to subscribe</h2>"]
    out.append("<p>To follow these entries, copy this address into your feed reader:</p>")
    out.append(f'<p class="feed-url"><code>{_e(urls.atom)}</code></p>')
    out.append("<p>The same entries in other formats:</p>")
    out.append("<ul>")
    for feed in feeds:
        out.append(
            f'<li><a href="{_e(feed.url)}" type="{feed.type}">{_e(feed.label)}</a>: '
            f"<code>{_e(feed.url)}</code></li>"
        )
    out.append("</ul>")
    if source_feeds:
        out.append("<p>One feed per source:</p>")
        out.append("<ul>")
        for feed in source_feeds:
            out.append(f'<li><a href="{_e(feed.url)}" type="{feed.type}">{_e(feed.label)}</a></li>')
        out.append("</ul>")
    if archive_url:
        out.append(
            f'<p>Older entries are kept in the <a href="{_e(archive_url)}">archive</a> '
            "(RFC 5005), so a reader that was offline for a while misses nothing.</p>"
        )
    out += ["</section>", '<section id="latest">', "<h2>Latest entries</h2>"]
    ordered = newest_first(entries)
    if not ordered:
        out.append("<p>Nothing has been published yet.</p>")
    else:
        out.append("<ol>")
        for entry in ordered:
            out.append(_entry(entry))
        out.append("</ol>")
    out += ["</section>", "</main>", "<footer>"]
    out.append(f'<p>Published by <a href="{_e(PROJECT_URL)}">feedsvc</a> {_e(__version__)}.</p>')
    out += ["</footer>", "</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")


def _entry(entry: PublishedEntry) -> str:
    title = _e(entry_title(entry))
    link = safe_url(entry.link)
    heading = f'<a href="{_e(link)}">{title}</a>' if link else title
    meta = [_when(entry)]
    names = [n for n in (plain(p.name) for p in entry.authors) if n]
    if names:
        meta.append(_e(", ".join(names)))
    origin = plain(entry.source_info.title) if entry.source_info else ""
    if origin:
        meta.append(f"from {_e(origin)}")
    text = excerpt(entry)
    parts = [
        "<li><article>",
        f"<h3>{heading}</h3>",
        f'<p class="meta">{" · ".join(meta)}</p>',
    ]
    if text:
        parts.append(f"<p>{_e(text)}</p>")
    parts.append("</article></li>")
    return "".join(parts)


def render_css() -> bytes:
    """The page's stylesheet (a file, so the CSP can forbid inline styles)."""
    return _CSS.encode("utf-8")


_CSS = """\
:root { color-scheme: light dark; }
body { font: 1rem/1.5 system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; }
h1 { margin-bottom: 0; }
.subtitle { margin-top: 0.25rem; opacity: 0.8; }
#subscribe { border: 1px solid color-mix(in srgb, currentColor 25%, transparent);
  border-radius: 0.5rem; padding: 0 1rem; }
.feed-url code { font-size: 1.05rem; user-select: all; }
#latest ol { list-style: none; padding: 0; }
#latest li { margin: 1.25rem 0; }
#latest h3 { margin: 0; font-size: 1.1rem; }
.meta { margin: 0.1rem 0; font-size: 0.85rem; opacity: 0.75; }
footer { margin-top: 2rem; font-size: 0.85rem; opacity: 0.75; }
"""
