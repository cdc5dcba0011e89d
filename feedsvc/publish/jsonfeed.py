"""Render stored stories as a JSON Feed 1.1 document (the ``feed.json`` alternate).

JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): ``version``, ``title`` and
``items`` are required; each item needs a unique string ``id`` and ``content_html`` or
``content_text``. Dates are RFC 3339; ``summary`` is plain text; attachments need ``url``
and ``mime_type``; WebSub hubs go to ``hubs``. Keys are written in a fixed order and
``ensure_ascii`` is off, so the output is deterministic and non-ASCII text stays readable.

Pure (stdlib json only). It does not sanitize HTML (already safe) and does not choose
entries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.publish.common import (
    HTML_TYPE,
    Head,
    clean,
    entry_title,
    language_tag,
    media_type,
    newest_first,
    plain,
    public_id,
    rfc3339,
)
from feedsvc.sanitize import html_to_text, safe_url

__all__ = ["VERSION_URL", "render_json_feed"]

VERSION_URL = "https://jsonfeed.org/version/1.1"
OCTET_STREAM = "application/octet-stream"


def render_json_feed(
    entries: Sequence[PublishedEntry], settings: FeedSettings, head: Head
) -> bytes:
    """The JSON Feed 1.1 document for ``entries`` (newest first), as UTF-8 bytes.

    ``feed_url`` is ``head.self_url``, ``home_page_url`` the HTML alternate in
    ``head.links``, ``hubs`` the ``rel="hub"`` links. Every item has ``content_html``
    (possibly empty, which the specification allows).
    """
    doc: dict[str, Any] = {"version": VERSION_URL, "title": plain(head.title) or settings.id}
    home = next((x.href for x in head.links if x.rel == "alternate" and x.type == HTML_TYPE), None)
    if home:
        doc["home_page_url"] = clean(home)
    doc["feed_url"] = clean(head.self_url)
    subtitle = head.subtitle if head.subtitle is not None else settings.subtitle
    if subtitle and plain(subtitle):
        doc["description"] = plain(subtitle)
    if plain(settings.author):
        doc["authors"] = [{"name": plain(settings.author)}]
    hubs = [{"type": "WebSub", "url": clean(x.href)} for x in head.links if x.rel == "hub"]
    if hubs:
        doc["hubs"] = hubs
    doc["items"] = [_item(e) for e in newest_first(entries)]
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return text.encode("utf-8")


def _item(entry: PublishedEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": public_id(entry.atom_id)}
    link = safe_url(entry.link)
    if link:
        item["url"] = link
    item["title"] = entry_title(entry)
    item["content_html"] = clean(entry.content_html)
    summary = plain(html_to_text(entry.summary_html)) if entry.summary_html else ""
    if summary:
        item["summary"] = summary
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    authors = []
    for person in entry.authors:
        name = plain(person.name)
        if name:
            author = {"name": name}
            url = safe_url(person.uri)
            if url:
                author["url"] = url
            authors.append(author)
    if authors:
        item["authors"] = authors
    tags = [t for t in map(plain, entry.categories) if t]
    if tags:
        item["tags"] = tags
    lang = language_tag(entry.lang)
    if lang:
        item["language"] = lang
    attachments = []
    for enc in entry.enclosures:
        href = safe_url(enc.href)
        if not href:
            continue
        attachment: dict[str, Any] = {
            "url": href,
            "mime_type": media_type(enc.type) or OCTET_STREAM,
        }
        if enc.length is not None and enc.length >= 0:
            attachment["size_in_bytes"] = enc.length
        attachments.append(attachment)
    if attachments:
        item["attachments"] = attachments
    return item
