"""When the daemon runs a source: pure scheduling decisions (data and ``now`` in, a time out).

The database is the source of truth: after every run the pipeline stores the source's
``next_due`` (today ``finished + interval``; polite fetching may later store a later time,
from backoff or ``Cache-Control``), and the daemon only *reads* it. This module turns that
stored time into the moment a job fires, adding a little random jitter so that sources with
the same interval do not fire in lockstep. It does no I/O and imports no scheduler; the
randomness comes in as a number in ``[0, 1)`` so that every decision is reproducible in tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feedsvc.models import Source

MAX_JITTER_S = 60.0  # never shift a run by more than a minute
JITTER_FRACTION = 0.1  # ... nor by more than a tenth of its interval
STARTUP_SPREAD_S = 3.0  # overdue sources at startup start within this many seconds
# The furthest ahead a job is scheduled. A retired source stores a next_due in year 9999
# ("never"); a job that far out would overflow, and a restart re-reads the stored time anyway.
MAX_AHEAD = timedelta(days=366)


def jitter(interval_s: float, rand: float) -> timedelta:
    """A random delay in ``[0, min(interval / 10, 60 s))`` for ``rand`` in ``[0, 1)``."""
    return timedelta(seconds=rand * min(interval_s * JITTER_FRACTION, MAX_JITTER_S))


def first_run(next_due: datetime | None, now: datetime, interval_s: float, rand: float) -> datetime:
    """When a source runs first after the daemon starts (or after it is added by a reload).

    Never run, or overdue (it became due while the daemon was down): soon, spread over a few
    seconds so that a restart does not fire every source in the same instant. Not yet due: at
    its stored ``next_due``, plus jitter.
    """
    if next_due is None or next_due <= now:
        spread = min(STARTUP_SPREAD_S, interval_s * JITTER_FRACTION)
        return now + timedelta(seconds=rand * spread)
    return _capped(next_due, now) + jitter(interval_s, rand)


def _capped(due: datetime, now: datetime) -> datetime:
    return min(due, now + MAX_AHEAD)


def next_run(next_due: datetime | None, now: datetime, interval_s: float, rand: float) -> datetime:
    """When a source runs again after a run: its stored ``next_due``, plus jitter.

    A run stores a future ``next_due``; ``None`` or a time not after ``now`` means the run
    could not be recorded (the database failed, or the source was held back and left an old
    value), and falls back to one interval, so that a source can never spin.
    """
    if next_due is None or next_due <= now:
        next_due = now + timedelta(seconds=interval_s)
    return _capped(next_due, now) + jitter(interval_s, rand)


def after_change(
    old: Source,
    new: Source,
    next_due: datetime | None,
    last_run: datetime | None,
    now: datetime,
    rand: float,
) -> datetime:
    """When a source whose configuration changed (on reload) runs next.

    A new location (or kind) is a different source in all but name: run it soon. A new
    interval takes effect from the last run: a shorter one can bring the next run forward,
    and a longer one never postpones what the database already has as due.
    """
    if (old.kind, old.location) != (new.kind, new.location):
        return first_run(None, now, new.interval_seconds, rand)
    if last_run is None:
        return first_run(next_due, now, new.interval_seconds, rand)
    due = last_run + timedelta(seconds=new.interval_seconds)
    if next_due is not None:
        due = min(due, next_due)
    return _capped(max(due, now), now) + jitter(new.interval_seconds, rand)
