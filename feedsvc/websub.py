"""Tell a WebSub hub that published feeds changed ("publish pings"), with bounded retries.

The WebSub recommendation (W3C, 2018, §7) leaves the publisher-to-hub notification to the
hub; the convention every public hub accepts comes from PubSubHubbub 0.4: a form POST with
``hub.mode=publish`` and ``hub.url=<topic URL>``. One request is sent per topic (some hubs
read only one ``hub.url``).

This module only decides and sequences: the HTTP POST is injected (``post``, in practice
:func:`feedsvc.fetch.post_form` bound to a client) and so is ``sleep``, so the retry logic
is tested without a network or a clock. A ping never raises for a hub problem: failures
are logged and returned, so they can never stop or undo publishing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from feedsvc.errors import FeedsvcError

__all__ = ["DEFAULT_ATTEMPTS", "DEFAULT_DELAYS", "PingResult", "Post", "ping_hub"]

log = logging.getLogger("feedsvc.websub")

# A POST of form fields to a URL; raises FeedsvcError (FetchError) on failure.
Post = Callable[[str, Sequence[tuple[str, str]]], object]

DEFAULT_ATTEMPTS = 3
DEFAULT_DELAYS = (0.5, 1.0)  # seconds to wait before the 2nd, 3rd, ... attempt


@dataclass(frozen=True)
class PingResult:
    """Which topics the hub acknowledged and which are still to be announced."""

    hub: str
    delivered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # not acknowledged: retry them after the next publish
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed


def ping_hub(
    post: Post,
    hub: str,
    topics: Sequence[str],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    delays: Sequence[float] = DEFAULT_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> PingResult:
    """Announce each of ``topics`` (URLs of changed feeds) to ``hub``.

    Each topic gets up to ``attempts`` POSTs, waiting ``delays[i]`` (the last delay repeats)
    between them. When a topic exhausts its attempts the hub is taken to be down and the
    remaining topics are not tried now (they are reported as failed, for a later retry), so a
    dead hub costs at most one topic's worth of waiting. Duplicate topics are sent once.
    """
    unique = list(dict.fromkeys(topics))
    delivered: list[str] = []
    errors: list[str] = []
    for index, topic in enumerate(unique):
        error = _ping_one(post, hub, topic, attempts, delays, sleep)
        if error is None:
            delivered.append(topic)
            log.info("WebSub hub %s notified of %s", hub, topic)
            continue
        errors.append(error)
        failed = unique[index:]
        log.warning(
            "WebSub hub %s not notified of %d feed(s), will retry after the next publish: %s",
            hub,
            len(failed),
            error,
        )
        return PingResult(hub, tuple(delivered), tuple(failed), tuple(errors))
    return PingResult(hub, tuple(delivered))


def _ping_one(
    post: Post,
    hub: str,
    topic: str,
    attempts: int,
    delays: Sequence[float],
    sleep: Callable[[float], None],
) -> str | None:
    """None once the hub accepted the ping, else the last error message."""
    last = ""
    for attempt in range(max(1, attempts)):
        if attempt:
            sleep(delays[min(attempt - 1, len(delays) - 1)] if delays else 0.0)
        try:
            post(hub, [("hub.mode", "publish"), ("hub.url", topic)])
            return None
        except FeedsvcError as e:
            last = str(e)
            log.info("WebSub ping %d/%d for %s failed: %s", attempt + 1, attempts, topic, e)
    return last
