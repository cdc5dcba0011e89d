"""Decide which stories go into which RFC 5005 document. Pure: data in, a plan out.

RFC 5005 §4 ("Archived Feeds"): the subscription document (``atom.xml``) holds the newest
entries and links ``rel="prev-archive"`` to the newest archive document; each archive
document links to the one before it (``prev-archive``), the one after it
(``next-archive``) and the subscription document (``current``), and its set of entries
should never change, so that clients may fetch it once and trust it forever.

Page boundaries are therefore fixed by the order stories were *stored* in, not by their
dates: page 1 holds the first ``page_size`` stories ever stored, page 2 the next ones, and
so on. A new story always lands after every existing one, so it can never push an old
story from one page to another (sorting by ``published`` would: one backdated entry from a
newly added source would shift every page after it). A page is *complete* once it holds
``page_size`` stories and is never re-planned after that.

The stories after the last complete page form the *open* page. Its document exists (as the
``next-archive`` of the newest complete page, so that the complete pages never need to
change when it fills up) but is not marked ``fh:archive`` and is not linked from the
subscription document. The subscription document carries the newest ``current_size``
stories by ``published`` *and* every story of the open page, so that walking
``prev-archive`` from it reaches every story ever published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feedsvc.models import PublishedEntry
from feedsvc.publish.common import newest_first

__all__ = ["ArchivePage", "ArchivePlan", "current_entries", "plan_archives", "split_counts"]


@dataclass(frozen=True)
class ArchivePage:
    """One archive document: ``number`` counts from 1 (the oldest stories)."""

    number: int
    entries: tuple[PublishedEntry, ...]
    complete: bool


@dataclass(frozen=True)
class ArchivePlan:
    """Every published document of the main feed and the stories each holds."""

    current: tuple[PublishedEntry, ...]  # the subscription document, newest first
    pages: tuple[ArchivePage, ...]  # complete pages, oldest first, then the open page

    @property
    def newest_complete(self) -> int | None:
        """The number of the newest complete page (the ``prev-archive`` of ``atom.xml``)."""
        complete = [p.number for p in self.pages if p.complete]
        return complete[-1] if complete else None


def plan_archives(
    stories: Sequence[PublishedEntry], *, page_size: int, current_size: int
) -> ArchivePlan:
    """Split ``stories`` into the subscription document and archive pages.

    ``stories`` are every published story in the order they were first stored (a new story
    always comes last); ``page_size`` is the number of stories per archive page and
    ``current_size`` the number of newest stories the subscription document carries at
    least. With no complete page yet there are no archive documents: every story is on the
    open page, so the subscription document carries them all (fewer than ``page_size``).

    Raises ValueError for a ``page_size`` or ``current_size`` below 1.
    """
    if page_size < 1 or current_size < 1:
        raise ValueError(f"page_size and current_size must be at least 1 ({page_size=})")
    complete = len(stories) // page_size
    pages = [
        ArchivePage(n + 1, tuple(stories[n * page_size : (n + 1) * page_size]), complete=True)
        for n in range(complete)
    ]
    open_entries = tuple(stories[complete * page_size :])
    if complete:
        pages.append(ArchivePage(complete + 1, open_entries, complete=False))
    current = current_entries(newest_first(stories)[:current_size], open_entries)
    return ArchivePlan(current=current, pages=tuple(pages))


def current_entries(
    newest: Sequence[PublishedEntry], open_entries: Sequence[PublishedEntry]
) -> tuple[PublishedEntry, ...]:
    """The subscription document's stories: ``newest`` (the newest ``current_size`` stories
    by :func:`~feedsvc.publish.common.newest_first`) and every story of the open page,
    newest first. Without a complete page the open page holds every story."""
    seen = {e.atom_id for e in newest}
    return tuple(newest_first([*newest, *(e for e in open_entries if e.atom_id not in seen)]))


def split_counts(stories: int, page_size: int) -> tuple[int, int]:
    """``(complete pages, stories on the open page)`` for ``stories`` stories: what
    :func:`plan_archives` cuts, from the count alone."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1 ({page_size=})")
    complete = stories // page_size
    return complete, stories - complete * page_size
