"""Publish from the database, reading only what each file shows.

:func:`feedsvc.publish.publish_site` renders the site from every story in memory; with a
million entries stored that is minutes and gigabytes. The functions here write the same
bytes (the tests compare them) while reading only what they need:

- :func:`publish_main_feed` writes ``atom.xml`` alone from three small reads in one
  snapshot: the number of live stories (kept by triggers, see
  :func:`feedsvc.storage.m008_publish_state`), the newest ``max_entries`` stories (an
  index, ``LIMIT``) and the stories of the open archive page (the last ``count mod
  page_size`` stories, an index, ``LIMIT``). Its cost does not grow with the database.
- :func:`publish_whole_site` writes every file. Complete RFC 5005 archive pages never
  change unless an entry on them does, so each is rendered only when its *fingerprint*
  changed: a hash of the site settings, the feedsvc version, the page number and, for each
  story on it, its id, content hash, ``updated`` and source feed metadata, read from an
  index for all pages in one pass (no row is read). The same goes for the per-source feeds
  (their newest entries' ids, content hashes, ``updated`` and atom ids). Fingerprints are
  recorded in the database with the size and mtime of the file written, so a file that was
  removed or touched since is written again.

What a fingerprint leaves out is what cannot change for a stored story without changing
what it includes: an update changes the content hash and moves ``updated`` forward (RFC
4287 §4.2.15), ``published`` and the atom id of a live story never change, and taking a
story over, splitting or deleting one changes which ids are on the page.

Writing order is that of :func:`feedsvc.publish.publish_site` (archive pages, per-source
feeds, then ``rss.xml``, ``feed.json``, ``atom.xml``, ``style.css``, ``index.html``), but
archive pages and per-source feeds are written as they are rendered, so that memory stays
bounded: a render error stops the publish with the files before it written (each complete
and final) and none after it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from feedsvc import __version__
from feedsvc.errors import StorageError
from feedsvc.models import FeedSettings, PublishedEntry
from feedsvc.publish import PublishResult, SourceStories
from feedsvc.publish.archives import current_entries, split_counts
from feedsvc.publish.common import SOURCES_DIR
from feedsvc.publish.site import (
    Rendered,
    archive_path,
    has_source_feed,
    render_archive_page,
    render_main_atom,
    render_main_documents,
    render_source_feed,
    write_rendered,
)
from feedsvc.storage import Store

__all__ = ["RENDER_VERSION", "publish_main_feed", "publish_whole_site"]

log = logging.getLogger("feedsvc.sitepublish")

RENDER_VERSION = "1"
"""Part of every fingerprint: change it when the renderers change what a file looks like for
the same stored data, so that every recorded page is rendered again."""


def publish_main_feed(store: Store, settings: FeedSettings, out_dir: Path) -> PublishResult:
    """Write ``out_dir/atom.xml`` (only) from the database: the bytes
    :func:`~feedsvc.publish.publish_site` writes there, from reads that do not grow with the
    number of stories. Raises :class:`~feedsvc.errors.PublishError` when it cannot be
    rendered or written."""
    current, newest_complete = _main_feed(store, settings)
    changed: list[Path] = []
    topics: list[str] = []
    write_rendered(render_main_atom(current, newest_complete, settings), out_dir, changed, topics)
    return PublishResult(tuple(changed), tuple(topics), files=1, entries=len(current))


def _main_feed(
    store: Store, settings: FeedSettings
) -> tuple[tuple[PublishedEntry, ...], int | None]:
    with store.snapshot():
        complete, open_count = split_counts(store.story_count(), settings.archive_page_size)
        newest = store.published(settings.max_entries)
        open_entries = store.last_stories(open_count)
    return current_entries(newest, open_entries), complete or None


def publish_whole_site(store: Store, settings: FeedSettings, out_dir: Path) -> PublishResult:
    """Write every file of the site (see the module docstring): the bytes
    :func:`~feedsvc.publish.publish_site` writes given every story, rendering a complete
    archive page or a per-source feed only when what it shows changed. Raises
    :class:`~feedsvc.errors.PublishError` when a file cannot be rendered or written."""
    site = _site_key(settings, out_dir)
    size = settings.archive_page_size
    recorded = store.published_files()
    changed: list[Path] = []
    topics: list[str] = []
    done: list[tuple[str, str, int, int]] = []  # fingerprints to record
    files = 0

    def write(item: Rendered, fingerprint: str | None = None) -> None:
        write_rendered(item, out_dir, changed, topics)
        if fingerprint is not None:
            st = os.stat(out_dir / item.path)
            done.append((item.path, fingerprint, st.st_size, st.st_mtime_ns))

    with store.snapshot():
        infos = store.feed_info_json()
        counted = store.story_count()
        # One pass over the live stories in storage order cuts the complete pages; only the
        # pages whose fingerprint (or file) changed are read and rendered.
        number = 0
        page: list[tuple[int, str, str]] = []
        stale: list[tuple[int, int, int, str]] = []
        for page in store.story_keys(size):
            if len(page) < size:
                break  # the open page
            number += 1
            sources = sorted({k[1] for k in page})
            fingerprint = _fingerprint(
                site,
                f"archive {number}",
                ["\n".join([k[2] for k in page]), [(s, infos.get(s)) for s in sources]],
            )
            if not _unchanged(out_dir, archive_path(number), fingerprint, recorded):
                stale.append((number, page[0][0], page[-1][0], fingerprint))
            page = []
        complete, stories = number, number * size + len(page)
        pages = complete + 1 if complete else 0
        for n, first, last, fingerprint in stale:
            entries = store.stories_between(first, last)
            write(render_archive_page(n, entries, True, pages, settings), fingerprint)
        open_entries = store.stories_between(page[0][0], page[-1][0]) if page else []
        if complete:
            write(render_archive_page(pages, open_entries, False, pages, settings))
        files += pages

        names = store.source_names()
        for name in names:
            if not has_source_feed(name):
                continue
            files += 1
            keys = store.source_entry_keys(name, settings.max_entries)
            fingerprint = _fingerprint(site, f"source {name}", [keys, infos.get(name)])
            if _unchanged(out_dir, f"{SOURCES_DIR}/{name}.xml", fingerprint, recorded):
                continue
            newest_of_source = tuple(store.source_entries(name, settings.max_entries))
            rendered = render_source_feed(SourceStories(name, newest_of_source), settings)
            assert rendered is not None
            write(rendered, fingerprint)

        newest = store.published(settings.max_entries)
    current = current_entries(newest, open_entries)
    main = render_main_documents(current, complete or None, names, settings)
    for item in main:
        write(item)
    files += len(main)
    if stories != counted:
        log.error("the story count was %d, not %d; corrected", counted, stories)
        _best_effort(store.recount_stories)
    _best_effort(lambda: store.record_published(done))
    return PublishResult(tuple(changed), tuple(topics), files=files, entries=len(current))


def _site_key(settings: FeedSettings, out_dir: Path) -> str:
    """What every file depends on besides its entries: settings, version, where it goes."""
    return repr((settings, __version__, RENDER_VERSION, str(out_dir.resolve())))


def _fingerprint(site: str, document: str, parts: Sequence[object]) -> str:
    """A hash of what a document is rendered from (``repr`` of plain values: ids, hashes,
    timestamps, names, JSON text)."""
    text = f"{site}\n{document}\n{parts!r}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _unchanged(
    out_dir: Path, path: str, fingerprint: str, recorded: dict[str, tuple[str, int, int]]
) -> bool:
    """Whether ``path`` was last written from data with this fingerprint and is still the
    file written then (same size and mtime)."""
    known = recorded.get(path)
    if known is None or known[0] != fingerprint:
        return False
    try:
        st = os.stat(out_dir / path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == known[1:]


def _best_effort(action: Callable[[], None]) -> None:
    """Bookkeeping after the files are written: if the database is busy, the next publish
    renders a little more than it needs to; nothing is wrong."""
    try:
        action()
    except StorageError as e:
        log.warning("could not record what was published: %s", e)
