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
from feedsvc.publish.archives import plan_archives
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
    plan = plan_archives(
        stories, page_size=settings.archive_page_size, current_size=settings.max_entries
    )
    out = [
        render_archive_page(page.number, page.entries, page.complete, len(plan.pages), settings)
        for page in plan.pages
    ]
    listed: list[str] = []
    for source in sorted(sources, key=lambda s: s.name):
        rendered = render_source_feed(source, settings)
        if rendered is not None:
            out.append(rendered)
            listed.append(source.name)
    out.extend(render_main_documents(plan.current, plan.newest_complete, listed, settings))
    return RenderedSite(tuple(out), len(plan.current))


def has_source_feed(name: str) -> bool:
    """Whether the source ``name`` gets a feed of its own (its name is a safe file name)."""
    return _FILE_NAME.fullmatch(name) is not None


def render_source_feed(source: SourceStories, settings: FeedSettings) -> Rendered | None:
    """``sources/NAME.xml``: the newest entries of one source; None for a source whose name
    is not a safe file name (see :func:`has_source_feed`)."""
    if not has_source_feed(source.name):
        return None
    urls = Urls(settings.base_url)
    url = urls.source(source.name)
    head = Head(
        id=source_feed_id(settings.id, source.name),
        title=f"{settings.title} — {source.name}",
        self_url=url,
        links=(Link("alternate", urls.html, HTML_TYPE), *hub_links(settings)),
    )
    data = render_atom(source.entries, settings, head=head)
    return Rendered(f"{SOURCES_DIR}/{source.name}.xml", data, url)


def render_main_documents(
    current: Sequence[PublishedEntry],
    newest_complete: int | None,
    source_names: Sequence[str],
    settings: FeedSettings,
) -> list[Rendered]:
    """``rss.xml``, ``feed.json``, ``atom.xml``, ``style.css`` and ``index.html``, in that
    order: the subscription documents of ``current`` (see
    :func:`~feedsvc.publish.archives.current_entries`), ``atom.xml`` linking the archive page
    ``newest_complete`` (if any), and the page listing the per-source feeds of
    ``source_names`` (those that have one)."""
    urls = Urls(settings.base_url)
    html = Link("alternate", urls.html, HTML_TYPE)
    hub = hub_links(settings)
    json_alt = Link("alternate", urls.json, JSON_TYPE, "JSON Feed 1.1")
    atom_alt = Link("alternate", urls.atom, ATOM_TYPE, "Atom")
    rss_head = Head(settings.id, settings.title, urls.rss, (html, atom_alt, json_alt, *hub))
    json_head = Head(settings.id, settings.title, urls.json, (html, *hub))
    out = [
        Rendered(RSS_FILE, render_rss(current, settings, rss_head), urls.rss),
        Rendered(JSON_FILE, render_json_feed(current, settings, json_head), urls.json),
        render_main_atom(current, newest_complete, settings),
    ]
    listed = [PageFeed(urls.source(name), name) for name in source_names if has_source_feed(name)]
    page_entries = newest_first(current)[: settings.max_entries]
    archive_url = urls.archive(newest_complete) if newest_complete is not None else None
    page = render_page(page_entries, settings, source_feeds=listed, archive_url=archive_url)
    out.append(Rendered(CSS_FILE, render_css()))
    out.append(Rendered(HTML_FILE, page))
    return out


def render_main_atom(
    current: Sequence[PublishedEntry], newest_complete: int | None, settings: FeedSettings
) -> Rendered:
    """``atom.xml``, the main feed: ``current`` and, per RFC 5005 §4, a ``prev-archive``
    link to the newest complete archive page ``newest_complete`` (if there is one)."""
    urls = Urls(settings.base_url)
    main_links = [
        Link("alternate", urls.html, HTML_TYPE),
        Link("alternate", urls.rss, RSS_TYPE, "RSS 2.0"),
        Link("alternate", urls.json, JSON_TYPE, "JSON Feed 1.1"),
        *hub_links(settings),
    ]
    if newest_complete is not None:
        main_links.append(Link("prev-archive", urls.archive(newest_complete)))
    main_head = Head(settings.id, settings.title, urls.atom, tuple(main_links))
    return Rendered(ATOM_FILE, render_atom(current, settings, head=main_head), urls.atom)


def render_archive_page(
    number: int,
    entries: Sequence[PublishedEntry],
    complete: bool,
    pages: int,
    settings: FeedSettings,
) -> Rendered:
    """The archive document ``archive/NUMBER.xml`` (RFC 5005 §4) of ``pages`` in all.

    A complete page links ``prev-archive`` (unless it is the first), ``next-archive`` (the
    page after it always exists: complete, or the open page) and ``current``; it is marked
    ``fh:archive``. The open page links ``prev-archive`` and ``current`` only and is not
    marked, because its entries still change. No hub link: archive documents do not change,
    so there is nothing to subscribe to.
    """
    urls = Urls(settings.base_url)
    links = [Link("alternate", urls.html, HTML_TYPE), Link("current", urls.atom)]
    if number > 1:
        links.append(Link("prev-archive", urls.archive(number - 1)))
    if number < pages:
        links.append(Link("next-archive", urls.archive(number + 1)))
    head = Head(
        id=settings.id,
        title=settings.title,
        self_url=urls.archive(number),
        links=tuple(links),
        archive=complete,
    )
    data = render_atom(entries, settings, head=head)
    return Rendered(archive_path(number), data)


def archive_path(number: int) -> str:
    """Where archive page ``number`` is written, below the publish folder."""
    return f"{ARCHIVE_DIR}/{number}.xml"


def write_rendered(item: Rendered, out_dir: Path, changed: list[Path], topics: list[str]) -> None:
    """Write one rendered file (if its bytes changed), noting it in ``changed`` and its
    WebSub topic in ``topics``."""
    path = out_dir / item.path
    if write_atomic(path, item.data):
        changed.append(path)
        if item.topic is not None:
            topics.append(item.topic)


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
        write_rendered(item, out_dir, changed, topics)
    return PublishResult(
        changed=tuple(changed),
        topics=tuple(topics),
        files=len(rendered.files),
        entries=rendered.entries,
    )
