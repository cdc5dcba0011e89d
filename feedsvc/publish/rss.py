"""Render stored stories as an RSS 2.0 document (the ``rss.xml`` alternate).

Built with lxml directly: feedgen's RSS writer stamps ``lastBuildDate`` with the clock and
cannot say ``isPermaLink="false"`` per item reliably, and RSS is small. Pure apart from
lxml: the same input gives the same bytes. Follows the RSS 2.0 specification as the RSS
Advisory Board maintains it (https://www.rssboard.org/rss-specification):

- ``atom:link rel="self"`` names the document's own URL (the Board's best practice); the
  hub and the other formats are advertised the same way;
- ``guid`` is the entry's public id with ``isPermaLink="true"`` only when that id *is* the
  item's link (an http(s) URL); otherwise ``isPermaLink="false"``;
- ``author`` must be an e-mail address, so names go to ``dc:creator``;
- at most one ``enclosure`` per item (the Board's profile; readers disagree on more), and
  its ``length`` and ``type`` are required: unknown values become ``0`` and
  ``application/octet-stream``;
- ``description`` carries the summary when there is one (and ``content:encoded`` the full
  content), else the content.

It does not sanitize HTML (already safe) and does not choose entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

from feedsvc import PROJECT_URL, __version__
from feedsvc.errors import PublishError
from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.publish.common import (
    EMAIL,
    HTML_TYPE,
    RSS_TYPE,
    Head,
    clean,
    entry_title,
    feed_updated,
    media_type,
    newest_first,
    plain,
    public_id,
    utc,
)
from feedsvc.sanitize import safe_url

__all__ = ["render_rss"]

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
_NSMAP = {"atom": ATOM_NS, "content": CONTENT_NS, "dc": DC_NS}

SPEC_URL = "https://www.rssboard.org/rss-specification"
OCTET_STREAM = "application/octet-stream"


def rfc822(value: datetime) -> str:
    """An RFC 822 date as RSS 2.0 wants it, in GMT: ``Fri, 03 May 2024 12:00:00 GMT``."""
    return format_datetime(utc(value), usegmt=True)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def render_rss(entries: Sequence[PublishedEntry], settings: FeedSettings, head: Head) -> bytes:
    """The RSS 2.0 document for ``entries`` (newest first), as UTF-8 bytes.

    Channel ``link`` is the HTML alternate in ``head.links`` (else ``base_url``);
    ``lastBuildDate`` and ``pubDate`` are the newest entry ``updated`` (never the clock).
    Raises :class:`PublishError` if lxml rejects the data.
    """
    try:
        return _render(entries, settings, head)
    except (ValueError, etree.LxmlError) as e:
        raise PublishError(f"cannot render the RSS feed: {e}") from e


def _render(entries: Sequence[PublishedEntry], settings: FeedSettings, head: Head) -> bytes:
    ordered = newest_first(entries)
    rss = etree.Element("rss", {"version": "2.0"}, nsmap=_NSMAP)
    channel = _sub(rss, "channel")
    _sub(channel, "title", plain(head.title) or settings.id)
    html = next((x.href for x in head.links if x.rel == "alternate" and x.type == HTML_TYPE), None)
    _sub(channel, "link", clean(html or settings.base_url))
    subtitle = head.subtitle if head.subtitle is not None else settings.subtitle
    _sub(channel, "description", plain(subtitle) or plain(head.title))
    _sub(channel, f"{{{ATOM_NS}}}link", rel="self", type=RSS_TYPE, href=clean(head.self_url))
    for link in head.links:
        if link.rel == "alternate" and link.type == HTML_TYPE:
            continue  # that is the channel <link>
        attrs = {"rel": link.rel, "href": clean(link.href)}
        if link.type:
            attrs["type"] = link.type
        if link.title:
            attrs["title"] = plain(link.title)
        _sub(channel, f"{{{ATOM_NS}}}link", **attrs)
    updated = rfc822(feed_updated(ordered))
    _sub(channel, "pubDate", updated)
    _sub(channel, "lastBuildDate", updated)
    _sub(channel, "generator", f"feedsvc {__version__} ({PROJECT_URL})")
    _sub(channel, "docs", SPEC_URL)
    for entry in ordered:
        _item(channel, entry)
    data: bytes = etree.tostring(rss, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _item(channel: etree._Element, entry: PublishedEntry) -> None:
    item = _sub(channel, "item")
    _sub(item, "title", entry_title(entry))
    link = safe_url(entry.link)
    if link:
        _sub(item, "link", link)
    content = clean(entry.content_html)
    summary = clean(entry.summary_html)
    _sub(item, "description", summary or content)
    if summary and content:
        _sub(item, f"{{{CONTENT_NS}}}encoded", content)
    guid = public_id(entry.atom_id)
    permalink = link is not None and guid == link
    _sub(item, "guid", guid, isPermaLink="true" if permalink else "false")
    _sub(item, "pubDate", rfc822(entry.published))
    for person in entry.authors:
        name = plain(person.name)
        email = clean(person.email).strip()
        if EMAIL.fullmatch(email) and name:
            _sub(item, "author", f"{email} ({name})")
        elif name:
            _sub(item, f"{{{DC_NS}}}creator", name)
    for term in filter(None, map(plain, entry.categories)):
        _sub(item, "category", term)
    for enc in entry.enclosures:
        href = safe_url(enc.href)
        if href:
            length = str(enc.length) if enc.length is not None and enc.length >= 0 else "0"
            kind = media_type(enc.type) or OCTET_STREAM
            _sub(item, "enclosure", url=href, length=length, type=kind)
            break
    info = entry.source_info
    source_url = safe_url(info.self_link) if info else None
    if info is not None and source_url:  # <source> needs the url attribute
        _sub(item, "source", plain(info.title) or source_url, url=source_url)
