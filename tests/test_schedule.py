"""Pure scheduling decisions: stored next_due + now + a random number → when a job fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.models import Source, SourceKind
from feedsvc.schedule import (
    MAX_AHEAD,
    MAX_JITTER_S,
    STARTUP_SPREAD_S,
    after_change,
    first_run,
    jitter,
    next_run,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def src(interval: int = 600, location: str = "/in") -> Source:
    return Source("s", SourceKind.DIRECTORY, location, interval)


def test_jitter_is_a_tenth_of_the_interval_at_most_a_minute() -> None:
    assert jitter(600, 0.0) == timedelta(0)
    assert jitter(600, 0.5) == 30 * S
    assert jitter(10, 0.999) < 1 * S
    assert jitter(86400, 0.999) < MAX_JITTER_S * S


def test_first_run_of_a_never_run_or_overdue_source_is_soon() -> None:
    assert first_run(None, NOW, 3600, 0.0) == NOW
    assert NOW <= first_run(NOW - timedelta(days=3), NOW, 3600, 0.99) < NOW + STARTUP_SPREAD_S * S
    assert first_run(NOW, NOW, 3600, 0.0) == NOW  # due exactly now
    # A short interval spreads over a tenth of it, not over seconds.
    assert first_run(None, NOW, 2, 0.99) < NOW + 0.2 * S


def test_first_run_of_a_source_not_yet_due_is_its_stored_time() -> None:
    due = NOW + timedelta(minutes=40)
    assert first_run(due, NOW, 3600, 0.0) == due
    assert due <= first_run(due, NOW, 3600, 0.99) < due + MAX_JITTER_S * S


def test_next_run_reads_the_stored_time_and_never_spins() -> None:
    # Whatever the database says (backoff may store a time far beyond one interval) is used.
    later = NOW + timedelta(hours=6)
    assert next_run(later, NOW, 600, 0.0) == later
    # A stale or missing time (the run was not recorded) waits one interval, never 0 s.
    assert next_run(NOW - timedelta(hours=1), NOW, 600, 0.0) == NOW + timedelta(seconds=600)
    assert next_run(NOW, NOW, 600, 0.0) == NOW + timedelta(seconds=600)
    assert next_run(None, NOW, 600, 0.0) == NOW + timedelta(seconds=600)


def test_a_retired_source_is_not_scheduled_into_overflow() -> None:
    never = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for when in (
        next_run(never, NOW, 86400, 0.999),
        first_run(never, NOW, 86400, 0.999),
        after_change(src(600), src(60), never, NOW - timedelta(days=2), NOW, 0.999),
    ):
        assert NOW < when <= NOW + MAX_AHEAD + timedelta(seconds=MAX_JITTER_S)


def test_after_change_of_location_runs_soon() -> None:
    when = after_change(
        src(location="/a"), src(location="/b"), NOW + timedelta(hours=1), NOW, NOW, 0.0
    )
    assert when == NOW


def test_after_change_of_interval_counts_from_the_last_run() -> None:
    last = NOW - timedelta(minutes=5)
    stored = last + timedelta(hours=1)
    # Shorter: brought forward to last run + new interval.
    assert after_change(src(3600), src(600), stored, last, NOW, 0.0) == last + timedelta(minutes=10)
    # Shorter than the time since the last run: now.
    assert after_change(src(3600), src(60), stored, last, NOW, 0.0) == NOW
    # Longer: never later than what the database has.
    assert after_change(src(600), src(7200), stored, last, NOW, 0.0) == stored
    # Never run: like a first run.
    assert after_change(src(600), src(60), None, None, NOW, 0.0) == NOW


@given(
    due_offset=st.one_of(st.none(), st.integers(-(10**6), 10**6)),
    interval=st.integers(1, 10**6),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_runs_are_never_in_the_past_nor_far_beyond_the_due_time(
    due_offset: int | None, interval: int, rand: float
) -> None:
    due = None if due_offset is None else NOW + timedelta(seconds=due_offset)
    for when in (first_run(due, NOW, interval, rand), next_run(due, NOW, interval, rand)):
        assert when >= NOW
        base = max(due, NOW) if due is not None else NOW
        assert when - base <= timedelta(seconds=interval + MAX_JITTER_S)


@pytest.mark.parametrize("rand", [0.0, 0.3, 0.999])
def test_jitter_spreads_equal_sources(rand: float) -> None:
    assert jitter(600, rand) == timedelta(seconds=rand * 60)
