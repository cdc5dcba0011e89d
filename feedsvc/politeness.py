"""Pure decisions of a polite fetcher: what to send, what a status means, when to come back.

Data and ``now`` in, decisions out: this module imports no HTTP, database or parser library and
never reads a clock or a random source of its own (both are passed in), so every rule here is
tested without sockets. :mod:`feedsvc.fetch` does the I/O; :mod:`feedsvc.pipeline` sequences
the two and stores what is decided here.

It does *not* decide what to fetch in a run (the CLI and the daemon do, see
:func:`hold_reason`), and it does not parse feeds.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/json;q=0.8, application/xml;q=0.8, "
    "text/xml;q=0.8, text/html;q=0.5, */*;q=0.1"
)
# Only the codings fetch.py decodes itself, with a bounded output per step (gzip-bomb guard).
ACCEPT_ENCODING = "gzip, deflate, br"

DEFAULT_MAX_DELAY = 86_400  # seconds: no publisher hint or backoff pushes a fetch further away
JITTER = 0.25  # a failed source's delay is drawn from [75 %, 100 %] of its backoff
REDIRECT_CONFIRMATIONS = 2  # consecutive fetches that must show the same permanent redirect
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # next_due of a retired source

Random = Callable[[], float]  # like random.random: a float in [0, 1)


class Verdict(enum.Enum):
    """What the final HTTP status of a fetch means for the source."""

    OK = "ok"  # 2xx: parse the body
    NOT_MODIFIED = "not-modified"  # 304: our copy is current; only bookkeeping changes
    RETRY_LATER = "retry-later"  # 429, 503: the publisher asks us to wait (Retry-After)
    GONE = "gone"  # 410: the feed is gone for good; retire the source
    FAILED = "failed"  # anything else: 404, other 4xx, 5xx; back off


def classify(status: int) -> Verdict:
    """Map a final status code (after redirects) to a :class:`Verdict`.

    429 (RFC 6585 §4) and 503 (RFC 9110 §15.6.4) are the two statuses that carry a
    Retry-After meant for us; 410 (RFC 9110 §15.5.11) is "permanent, no forwarding address".
    """
    if status == 304:
        return Verdict.NOT_MODIFIED
    if 200 <= status < 300:
        return Verdict.OK
    if status in (429, 503):
        return Verdict.RETRY_LATER
    if status == 410:
        return Verdict.GONE
    return Verdict.FAILED


def request_headers(
    user_agent: str, etag: str | None = None, last_modified: str | None = None
) -> dict[str, str]:
    """Headers for a feed request: honest identity, what we accept, and the stored validators
    for a conditional GET (RFC 9110 §13.1.1 If-None-Match, §13.1.3 If-Modified-Since)."""
    headers = {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def check_url(url: str) -> str | None:
    """Why ``url`` must not be fetched (only absolute http and https URLs are), else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"only http:// and https:// URLs are fetched, not {parts.scheme or 'no'} scheme"
    if not parts.hostname:
        return "the URL has no host"
    return None


def host_key(url: str) -> str:
    """The key the per-host concurrency limit counts by: the lower-cased host name."""
    return (urlsplit(url).hostname or "").lower()


def origin_key(url: str) -> str:
    """scheme://host:port, for telling whether failures span more than one server."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def is_public_address(address: str) -> bool:
    """True for a globally routable IP address; False for private, loopback, link-local,
    multicast, reserved and unspecified ones (and for anything that is not an address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# --- how long the publisher asks us to wait -----------------------------------------------------

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


def _http_date(value: str) -> datetime | None:
    """An HTTP-date (RFC 9110 §5.6.7) as aware UTC, or None if it is not one."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" and obsolete forms: HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date → the moment to retry.

    None when absent or unreadable; a date in the past means "now".
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    when = _http_date(value)
    if when is None:
        return None
    return max(when, now)


def freshness_seconds(headers: Mapping[str, str], now: datetime) -> int | None:
    """How long the response says it stays fresh (RFC 9111 §4.2.1), in seconds, or None.

    ``Cache-Control: max-age`` wins over ``Expires``; Expires counts from the response's
    ``Date`` when present (so a skewed clock on either side does not matter), else from ``now``.
    ``no-cache``/``no-store`` say nothing about how often to poll, so they give None. Headers
    are looked up case-insensitively.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    cache_control = lower.get("cache-control", "")
    m = _MAX_AGE.search(cache_control)
    if m:
        return int(m.group(1))
    expires = lower.get("expires")
    if expires:
        when = _http_date(expires)
        if when is None:  # RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired
            return 0
        date = _http_date(lower.get("date", "")) or now
        return max(0, int((when - date).total_seconds()))
    return None


# --- scheduling ----------------------------------------------------------------------------------


def backoff_seconds(streak: int, base: int, cap: int, rand: Random) -> int:
    """Delay before retrying a source that failed ``streak`` times in a row.

    ``base * 2**streak``, capped at ``cap`` (but never below ``base``: a source polled daily is
    not polled more often because it fails), then jittered down by up to :data:`JITTER` so that
    sources that failed together do not retry together.
    """
    streak = max(1, streak)
    ceiling = max(base, cap)
    raw = min(ceiling, base * 2 ** min(streak, 32))
    return max(1, round(float(raw) * (1.0 - JITTER * rand())))


@dataclass(frozen=True)
class Schedule:
    """When to fetch next, and why (the reason is shown in logs and status)."""

    next_due: datetime
    reason: str


def schedule_success(
    now: datetime,
    interval: int,
    *,
    headers: Mapping[str, str] | None = None,
    ttl_seconds: int | None = None,
    max_delay: int = DEFAULT_MAX_DELAY,
) -> Schedule:
    """Next fetch after a 2xx or 304: the configured interval, stretched (never shortened) to
    what the publisher asks through max-age / Expires or the feed's ``<ttl>`` /
    ``sy:updatePeriod``; a publisher's request is capped at ``max_delay``."""
    asked = [s for s in (freshness_seconds(headers or {}, now), ttl_seconds) if s is not None]
    publisher = min(max(asked), max_delay) if asked else 0
    if publisher > interval:
        return Schedule(now + timedelta(seconds=publisher), f"publisher asks {publisher}s")
    return Schedule(now + timedelta(seconds=interval), "interval")


def schedule_failure(
    now: datetime,
    interval: int,
    streak: int,
    rand: Random,
    *,
    retry_after: datetime | None = None,
    max_delay: int = DEFAULT_MAX_DELAY,
) -> Schedule:
    """Next fetch after failure number ``streak`` (1 for the first): exponential backoff with
    jitter, or the publisher's Retry-After when that is later (capped at ``max_delay``)."""
    delay = backoff_seconds(streak, interval, max_delay, rand)
    due = now + timedelta(seconds=delay)
    if retry_after is not None:
        asked = min(retry_after, now + timedelta(seconds=max(max_delay, interval)))
        if asked > due:
            return Schedule(asked, "Retry-After")
    return Schedule(due, f"backoff after {streak} failure{'s' if streak != 1 else ''}")


def schedule_network_down(now: datetime, interval: int) -> Schedule:
    """Next fetch when the whole run failed because our own network is down: the normal
    interval, nothing counted against the source."""
    return Schedule(now + timedelta(seconds=interval), "network down")


# --- redirects -----------------------------------------------------------------------------------

PERMANENT_REDIRECTS = frozenset({301, 308})  # RFC 9110 §15.4.2, RFC 9110 §15.4.9


def permanent_target(hops: Sequence[tuple[int, str]]) -> str | None:
    """The URL a redirect chain permanently moved the feed to, or None.

    ``hops`` are (status, Location target) in order. Only the leading run of 301/308 hops
    counts: once a temporary 302/307 (RFC 9110 §15.4.3, §15.4.8) appears, what follows it is
    temporary too, so we keep the URL reached just before it.
    """
    target = None
    for status, url in hops:
        if status not in PERMANENT_REDIRECTS:
            break
        target = url
    return target


@dataclass(frozen=True)
class RedirectDecision:
    """What to store after a fetch: the candidate seen so far and whether to adopt it now."""

    candidate: str | None
    count: int
    adopt: bool


def track_redirect(
    previous: str | None,
    previous_count: int,
    target: str | None,
    confirmations: int = REDIRECT_CONFIRMATIONS,
) -> RedirectDecision:
    """Adopt a permanent redirect only once the same target was seen on ``confirmations``
    consecutive fetches: one misconfigured response must not move a subscription for good."""
    if target is None:
        return RedirectDecision(None, 0, False)
    count = previous_count + 1 if target == previous else 1
    if count >= confirmations:
        return RedirectDecision(None, 0, True)
    return RedirectDecision(target, count, False)


# --- run-level rules -----------------------------------------------------------------------------


def network_down(failures: Iterable[tuple[str, bool]], attempted: int) -> bool:
    """True when a run's failures say *our* network is down rather than the publishers'.

    ``failures`` are (URL, got_no_response) for each URL source that failed; ``attempted`` is
    how many URL sources the run fetched. The rule: every fetched source failed, none of them
    got any HTTP response (a response proves the network works), and they span at least two
    origins (one server being down is that server's problem).
    """
    items = list(failures)
    if attempted < 2 or len(items) != attempted:
        return False
    if not all(no_response for _, no_response in items):
        return False
    return len({origin_key(url) for url, _ in items}) >= 2


def hold_reason(
    now: datetime,
    name: str,
    *,
    retired: str | None,
    retry_after_until: datetime | None,
    force: bool,
) -> str | None:
    """Why a one-off run must not fetch a source now, or None to fetch it.

    A one-off ``ingest`` ignores intervals and backoff (the user asked), but not a retirement
    (410 Gone) nor a publisher's Retry-After; ``force`` overrides those too.
    """
    if force:
        return None
    if retired:
        return f"retired: {retired} (run `feedsvc ingest --force --source {name}` to re-enable)"
    if retry_after_until is not None and retry_after_until > now:
        until = retry_after_until.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"the publisher asked us to wait (Retry-After) until {until}; --force overrides"
    return None
