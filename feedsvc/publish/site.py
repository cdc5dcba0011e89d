"""Publish every file of the site: the main feed in three formats, its RFC 5005 archive,
one Atom feed per source, and the browser page.

This module only sequences: :mod:`.archives` decides which stories go where, the renderers
turn them into bytes, :mod:`.files` writes them. Everything is rendered before anything is
written, so a render error leaves every file as it was; then files are written in an order
that never lets a reader follow a link to a file that does not exist yet (archive pages and
per-source feeds before the documents that link to them, ``index.html`` last). A file
whose bytes did not change is not touched.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.publish.archives import ArchivePlan, plan_archives
from feedsvc.publish.atom import render_atom
from feedsvc.publish.common import (
    ARCHIVE_DIR,
    ATOM_FILE,
    ATOM_TYPE,
    CSS_FILE,
    HTML_FILE,
    HTML_TYPE,
    JSON_FILE,
    JSON_TYPE,
    RSS_FILE,
    RSS_TYPE,
    SOURCES_DIR,
    Head,
    Link,
    Urls,
    hub_links,
    newest_first,
)
from feedsvc.publish.files import write_atomic
from feedsvc.publish.jsonfeed import render_json_feed
from feedsvc.publish.page import PageFeed, render_css, render_page
from feedsvc.publish.rss import render_rss

__all__ = [
    "PublishResult",
    "RenderedSite",
    "SourceStories",
    "publish_site",
    "render_site",
    "source_feed_id",
]

# A source name that is safe as a file name (the config's rule for source names). Ad-hoc
# sources ("cli:/some/path") get no feed of their own.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class SourceStories:
    """The newest entries one source contributed (newest first), for its own feed."""

    name: str
    entries: tuple[PublishedEntry, ...]


@dataclass(frozen=True)
class Rendered:
    """One file to publish: its path below the publish folder, its bytes, and its public URL
    when it is a subscription document that advertises the WebSub hub."""

    path: str
    data: bytes
    topic: str | None = None


@dataclass(frozen=True)
class RenderedSite:
    """Every file of the site in writing order, and how many entries ``atom.xml`` holds."""

    files: tuple[Rendered, ...]
    entries: int


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish_site` did."""

    changed: tuple[Path, ...]  # files whose bytes changed, in the order they were written
    topics: tuple[str, ...]  # URLs of changed subscription documents (WebSub topics)
    files: int  # files rendered (changed or not)
    entries: int  # entries in atom.xml

    @property
    def any_changed(self) -> bool:
        return bool(self.changed)


def source_feed_id(feed_id: str, source: str) -> str:
    """A stable ``urn:uuid`` for a per-source feed, derived from the feed id and source name."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{feed_id}\x00source\x00{source}"))


def render_site(
    stories: Sequence[PublishedEntry],
    sources: Sequence[SourceStories],
    settings: FeedSettings,
) -> RenderedSite:
    """Every file of the site, in the order it must be written.

    ``stories`` are all published stories in the order they were stored (see
    :func:`~feedsvc.publish.archives.plan_archives`); ``sources`` the per-source entry
    lists. Raises :class:`~feedsvc.errors.PublishError` when a document cannot be rendered.
    """
    urls = Urls(settings.base_url)
    plan = plan_archives(
        stories, page_size=settings.archive_page_size, current_size=settings.max_entries
    )
    html = Link("alternate", urls.html, HTML_TYPE)
    hub = hub_links(settings)
    out: list[Rendered] = []

    out.extend(_archive_pages(plan, settings, urls, html))

    listed: list[PageFeed] = []
    for source in sorted(sources, key=lambda s: s.name):
        if not _FILE_NAME.fullmatch(source.name):
            continue
        url = urls.source(source.name)
        head = Head(
            id=source_feed_id(settings.id, source.name),
            title=f"{settings.title} — {source.name}",
            self_url=url,
            links=(html, *hub),
        )
        data = render_atom(source.entries, settings, head=head)
        out.append(Rendered(f"{SOURCES_DIR}/{source.name}.xml", data, url))
        listed.append(PageFeed(url, source.name))

    atom_alt = Link("alternate", urls.atom, ATOM_TYPE, "Atom")
    rss_alt = Link("alternate", urls.rss, RSS_TYPE, "RSS 2.0")
    json_alt = Link("alternate", urls.json, JSON_TYPE, "JSON Feed 1.1")
    rss_head = Head(settings.id, settings.title, urls.rss, (html, atom_alt, json_alt, *hub))
    json_head = Head(settings.id, settings.title, urls.json, (html, *hub))
    out.append(Rendered(RSS_FILE, render_rss(plan.current, settings, rss_head), urls.rss))
    out.append(Rendered(JSON_FILE, render_json_feed(plan.current, settings, json_head), urls.json))

    main_links = [html, rss_alt, json_alt, *hub]
    newest = plan.newest_complete
    if newest is not None:  # RFC 5005 §4: the subscription document links the newest archive
        main_links.append(Link("prev-archive", urls.archive(newest)))
    main_head = Head(settings.id, settings.title, urls.atom, tuple(main_links))
    out.append(Rendered(ATOM_FILE, render_atom(plan.current, settings, head=main_head), urls.atom))

    page_entries = newest_first(plan.current)[: settings.max_entries]
    archive_url = urls.archive(newest) if newest is not None else None
    page = render_page(page_entries, settings, source_feeds=listed, archive_url=archive_url)
    out.append(Rendered(CSS_FILE, render_css()))
    out.append(Rendered(HTML_FILE, page))
    return RenderedSite(tuple(out), len(plan.current))


def _archive_pages(
    plan: ArchivePlan, settings: FeedSettings, urls: Urls, html: Link
) -> list[Rendered]:
    """The archive documents (RFC 5005 §4), oldest first.

    A complete page links ``prev-archive`` (unless it is the first), ``next-archive`` (the
    page after it always exists: complete, or the open page) and ``current``; it is marked
    ``fh:archive``. The open page links ``prev-archive`` and ``current`` only and is not
    marked, because its entries still change. No hub link: archive documents do not change,
    so there is nothing to subscribe to.
    """
    out: list[Rendered] = []
    last = len(plan.pages)
    for page in plan.pages:
        links = [html, Link("current", urls.atom)]
        if page.number > 1:
            links.append(Link("prev-archive", urls.archive(page.number - 1)))
        if page.number < last:
            links.append(Link("next-archive", urls.archive(page.number + 1)))
        head = Head(
            id=settings.id,
            title=settings.title,
            self_url=urls.archive(page.number),
            links=tuple(links),
            archive=page.complete,
        )
        data = render_atom(page.entries, settings, head=head)
        out.append(Rendered(f"{ARCHIVE_DIR}/{page.number}.xml", data))
    return out


def publish_site(
    stories: Sequence[PublishedEntry],
    sources: Sequence[SourceStories],
    settings: FeedSettings,
    out_dir: Path,
) -> PublishResult:
    """Render every file (see :func:`render_site`) and write the ones whose bytes changed.

    Raises :class:`~feedsvc.errors.PublishError` when a document cannot be rendered (then
    nothing is written) or a file cannot be written (files written before it stay written;
    each one is complete, never half-written).
    """
    rendered = render_site(stories, sources, settings)
    changed: list[Path] = []
    topics: list[str] = []
    for item in rendered.files:
        path = out_dir / item.path
        if write_atomic(path, item.data):
            changed.append(path)
            if item.topic is not None:
                topics.append(item.topic)
    return PublishResult(
        changed=tuple(changed),
        topics=tuple(topics),
        files=len(rendered.files),
        entries=rendered.entries,
    )
