"""feedsvc.publish.archives: the pure RFC 5005 page planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.models import PublishedEntry
from feedsvc.publish.archives import plan_archives

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def story(n: int, published_offset: int | None = None) -> PublishedEntry:
    """Story number ``n`` (its storage position); published ``n`` hours after T0 unless
    told otherwise (a negative offset backdates it)."""
    hours = n if published_offset is None else published_offset
    when = T0 + timedelta(hours=hours)
    return PublishedEntry(
        atom_id=f"urn:test:{n:05d}", title=f"s{n}", content_html="", published=when, updated=when
    )


def ids(entries: tuple[PublishedEntry, ...] | list[PublishedEntry]) -> list[str]:
    return [e.atom_id for e in entries]


def test_no_archive_until_a_page_is_complete() -> None:
    stories = [story(n) for n in range(4)]
    plan = plan_archives(stories, page_size=5, current_size=2)
    assert plan.pages == ()
    assert plan.newest_complete is None
    # every story is on the (unwritten) open page, so atom.xml carries them all
    assert ids(plan.current) == ids(list(reversed(stories)))


def test_pages_count_from_the_oldest_story() -> None:
    stories = [story(n) for n in range(12)]
    plan = plan_archives(stories, page_size=5, current_size=3)
    assert [(p.number, p.complete) for p in plan.pages] == [(1, True), (2, True), (3, False)]
    assert ids(plan.pages[0].entries) == ids(stories[0:5])
    assert ids(plan.pages[1].entries) == ids(stories[5:10])
    assert ids(plan.pages[2].entries) == ids(stories[10:12])
    assert plan.newest_complete == 2
    assert ids(plan.current) == ids([stories[11], stories[10], stories[9]])


def test_an_exact_multiple_leaves_an_empty_open_page() -> None:
    plan = plan_archives([story(n) for n in range(10)], page_size=5, current_size=3)
    assert [(p.number, len(p.entries), p.complete) for p in plan.pages] == [
        (1, 5, True),
        (2, 5, True),
        (3, 0, False),
    ]


def test_complete_pages_never_change_as_stories_arrive() -> None:
    stories = [story(n) for n in range(10)]
    before = plan_archives(stories, page_size=4, current_size=3)
    # newer stories, and a backdated one (a new source with old posts): none may move an
    # already archived story
    stories += [story(10), story(11, published_offset=-500), story(12), story(13)]
    after = plan_archives(stories, page_size=4, current_size=3)
    for old in (p for p in before.pages if p.complete):
        assert after.pages[old.number - 1] == old


def test_open_page_stories_stay_in_the_subscription_document() -> None:
    # The newest stories by date are old pages' stories; the open page holds a backdated
    # story that is not among the newest: it must still be reachable from atom.xml.
    stories = [story(n) for n in range(8)] + [story(8, published_offset=-100)]
    plan = plan_archives(stories, page_size=4, current_size=2)
    assert ids(plan.pages[2].entries) == ["urn:test:00008"]
    assert ids(plan.current) == ["urn:test:00007", "urn:test:00006", "urn:test:00008"]


@pytest.mark.parametrize(("page", "current"), [(0, 5), (5, 0), (-1, 1)])
def test_sizes_must_be_positive(page: int, current: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan_archives([], page_size=page, current_size=current)


@given(
    offsets=st.lists(st.integers(-1000, 1000), max_size=60),
    page_size=st.integers(1, 12),
    current_size=st.integers(1, 15),
)
def test_walking_finds_every_story_exactly_once(
    offsets: list[int], page_size: int, current_size: int
) -> None:
    stories = [story(n, off) for n, off in enumerate(offsets)]
    plan = plan_archives(stories, page_size=page_size, current_size=current_size)
    complete = [p for p in plan.pages if p.complete]
    archived = [e.atom_id for p in complete for e in p.entries]
    # each story is on at most one complete page ...
    assert len(archived) == len(set(archived))
    # ... and the subscription document plus the complete pages hold every story
    assert set(archived) | set(ids(plan.current)) == set(ids(stories))
    assert len(plan.current) >= min(current_size, len(stories))
    assert all(len(p.entries) == page_size for p in complete)
