"""The ``/healthz`` document: pure, from the configured sources and their stored state.

A source is ``ok`` when its last run succeeded, ``failing`` when its last run had an error,
``pending`` when it has never run, ``disabled`` when it is configured with
``enabled = false``. The service is ``degraded`` when any enabled source is failing, ``ok``
otherwise. Sources that are stored but no longer configured (and ad-hoc ``ingest PATH``
sources) are not reported. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from feedsvc.models import Source


class StateLike(Protocol):
    """What health needs of a stored source state (:class:`feedsvc.storage.SourceState`)."""

    @property
    def name(self) -> str: ...
    @property
    def last_run(self) -> datetime | None: ...
    @property
    def last_success(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def error_streak(self) -> int: ...
    @property
    def next_due(self) -> datetime | None: ...


def _iso(d: datetime | None) -> str | None:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ") if d is not None else None


def health_document(
    sources: Sequence[Source], states: Sequence[StateLike], now: datetime
) -> dict[str, Any]:
    """``{"status": "ok"|"degraded", "checked": ..., "sources": [...]}`` (see the README)."""
    by_name = {s.name: s for s in states}
    records: list[dict[str, Any]] = []
    degraded = False
    for src in sources:
        st = by_name.get(src.name)
        if not src.enabled:
            status = "disabled"
        elif st is None or st.last_run is None:
            status = "pending"
        elif st.last_error:
            status = "failing"
            degraded = True
        else:
            status = "ok"
        records.append(
            {
                "name": src.name,
                "status": status,
                "last_run": _iso(st.last_run) if st else None,
                "last_success": _iso(st.last_success) if st else None,
                "last_error": st.last_error if st else None,
                "error_streak": st.error_streak if st else 0,
                "next_due": _iso(st.next_due) if st and src.enabled else None,
            }
        )
    return {
        "status": "degraded" if degraded else "ok",
        "checked": _iso(now),
        "sources": records,
    }
