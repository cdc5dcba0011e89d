"""``feedsvc doctor``: check the config, the database, the publish folder and every source, and
say what to fix.

Sequencing and advice only: the config is loaded by :mod:`feedsvc.config`, the database opened
by :mod:`feedsvc.storage`, sources tried by :meth:`Pipeline.probe
<feedsvc.pipeline.Pipeline.probe>` (URL sources concurrently, within the ``[fetch]`` limits).
Nothing is stored and nothing is published (sources are probed against a scratch in-memory
database); the real database is created (and migrated) if it is missing, as any command
would. Each finding is a :class:`Check`; a ``problem`` makes the command exit 1, a
``warning`` does not.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedsvc.concurrency import HostLimiter
from feedsvc.config import Config, load_config
from feedsvc.errors import ConfigError, FeedsvcError
from feedsvc.locks import lock_path_for, running_daemon
from feedsvc.models import Source, SourceKind
from feedsvc.pipeline import Pipeline, Probe
from feedsvc.storage import SourceState, Store, iso

OK, WARNING, PROBLEM = "ok", "warning", "problem"


@dataclass(frozen=True)
class Check:
    """One finding. ``fix`` says what to do when the status is not ``ok``."""

    area: str  # config, database, publish, daemon, source
    name: str  # the file, folder or source checked
    status: str  # ok, warning, problem
    detail: str
    fix: str | None = None
    target: str | None = None  # a source's URL or path

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK if path.is_dir() else os.W_OK)


def check_config(path: Path) -> tuple[Config | None, Check]:
    try:
        config = load_config(path)
    except ConfigError as e:
        return None, Check(
            "config", str(path), PROBLEM, str(e), "edit the file as the message says"
        )
    enabled = sum(s.enabled for s in config.sources)
    detail = f"{len(config.sources)} source(s), {enabled} enabled"
    if not enabled:
        return config, Check(
            "config",
            str(path),
            WARNING,
            detail,
            "add a source with `feedsvc sources add URL|PATH` or enable one",
        )
    return config, Check("config", str(path), OK, detail)


def check_database(config: Config) -> tuple[dict[str, SourceState], Check]:
    path = config.storage.path
    name = str(path)
    folder = path.parent
    if folder.exists() and not _writable(folder):
        return {}, Check(
            "database",
            name,
            PROBLEM,
            f"the folder {folder} is not writable (SQLite writes its journal beside the file)",
            f"give the user running feedsvc write access to {folder}",
        )
    if path.exists() and not _writable(path):
        return {}, Check(
            "database",
            name,
            PROBLEM,
            "the database file is not writable",
            f"give the user running feedsvc write access to {path}",
        )
    try:
        with Store(path) as store:
            counts = store.counts()
            states = {s.name: s for s in store.source_states()}
    except FeedsvcError as e:
        return {}, Check(
            "database", name, PROBLEM, str(e), "restore a backup, or point [storage] path elsewhere"
        )
    detail = f"{counts['entries']} entries, {counts['stories']} stories"
    return states, Check("database", name, OK, detail)


def check_publish(config: Config) -> Check:
    folder = config.publish.dir
    name = str(folder)
    if folder.exists() and not folder.is_dir():
        return Check(
            "publish", name, PROBLEM, "exists but is not a folder", "set [publish] dir to a folder"
        )
    if not folder.exists():
        parent = next((p for p in folder.parents if p.exists()), None)
        if parent is None or not _writable(parent):
            return Check(
                "publish",
                name,
                PROBLEM,
                f"missing, and {parent} is not writable to create it",
                f"create {folder} and give the user running feedsvc write access to it",
            )
        return Check(
            "publish", name, WARNING, "not created yet", "run `feedsvc publish` (or ingest)"
        )
    if not _writable(folder):
        return Check(
            "publish",
            name,
            PROBLEM,
            "not writable",
            f"give the user running feedsvc write access to {folder}",
        )
    atom = folder / "atom.xml"
    if not atom.is_file():
        return Check(
            "publish", name, WARNING, "writable; nothing published yet", "run `feedsvc publish`"
        )
    if not os.access(atom, os.R_OK):
        return Check(
            "publish",
            name,
            PROBLEM,
            "atom.xml is not readable",
            f"make {atom} readable by the web server (and feedsvc serve)",
        )
    return Check("publish", name, OK, "writable; atom.xml published")


def check_daemon(config: Config) -> Check:
    pid = running_daemon(lock_path_for(config.storage.path))
    detail = f"running (pid {pid})" if pid else "not running (fine for cron'd `feedsvc ingest`)"
    return Check("daemon", str(config.storage.path), OK, detail)


def _advice(src: Source, probe: Probe) -> str:
    """What to do about a source that failed its probe, from how it failed."""
    if src.kind is not SourceKind.URL:
        readable = src.path.is_file() and os.access(src.path, os.R_OK)
        if probe.error_kind == "parse" or (src.kind is SourceKind.FILE and readable):
            return f"{src.location} is not a feed document: point `path` at an RSS/Atom/JSON file"
        return (
            f"create {src.location} or fix `path` (relative paths resolve against the config's "
            "folder), and make it readable by the user running feedsvc"
        )
    status = probe.status or 0
    if probe.error_kind == "network":
        return (
            "no answer from the server: check the host name, the network, DNS and any "
            "firewall or proxy (it may be down for now)"
        )
    if status in (401, 403):
        return "the server refuses feedsvc: the feed may need a login, or blocks our User-Agent"
    if status in (404, 410):
        return (
            f"the feed is gone from this URL: find its new address (`feedsvc sources add "
            f"SITE-URL` discovers it from the site), then `feedsvc sources remove {src.name}`"
        )
    if status in (429, 503):
        return "the server asks us to slow down: raise `interval` for this source"
    if status >= 500:
        return "the server has a problem of its own: try again later"
    if probe.error_kind == "parse" or "links to no feed" in (probe.error or ""):
        return "the URL does not give a feed: use the feed's own URL, or the page that links it"
    return "see the error; `feedsvc ingest --source NAME` retries it".replace("NAME", src.name)


def check_sources(
    config: Config, pipe: Pipeline, states: dict[str, SourceState], now: datetime
) -> list[Check]:
    """Try every enabled source; report retired ones and disabled ones too."""
    todo = [s for s in config.sources if s.enabled]
    limiter = HostLimiter(config.fetch.max_per_host)
    if any(s.kind is SourceKind.URL for s in todo):
        pipe._client()  # shared by the probe threads; created before them
    urls = [s for s in todo if s.kind is SourceKind.URL]
    # URL sources are fetched concurrently; local ones are read here, on the thread that
    # owns the store (reading a feed file consults it).
    probes = {s: pipe.probe(s) for s in todo if s.kind is not SourceKind.URL}
    workers = max(1, min(config.fetch.max_connections, len(urls)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feedsvc-doctor") as pool:
        probes.update(zip(urls, pool.map(lambda s: pipe.probe(s, limiter), urls), strict=True))
    out: list[Check] = []
    for src in config.sources:
        st = states.get(src.name)
        if not src.enabled:
            out.append(Check("source", src.name, OK, "disabled (not checked)", None, src.location))
            continue
        probe = probes[src]
        if probe.error is not None:
            out.append(
                Check("source", src.name, PROBLEM, probe.error, _advice(src, probe), src.location)
            )
            continue
        what = "feed" if src.kind is not SourceKind.DIRECTORY else "folder"
        detail = f"{what} readable, {probe.entries} entries now"
        if probe.discovered_from:
            detail += f"; the page links the feed {probe.location}"
        if st is not None and st.retired:
            out.append(
                Check(
                    "source",
                    src.name,
                    PROBLEM,
                    f"answers again, but is retired: {st.retired}",
                    f"`feedsvc ingest --force --source {src.name}` re-enables it",
                    src.location,
                )
            )
        elif st is not None and st.retry_after_until and st.retry_after_until > now:
            out.append(
                Check(
                    "source",
                    src.name,
                    WARNING,
                    f"{detail}; the server asked us to wait until {iso(st.retry_after_until)}",
                    "nothing: feedsvc waits as asked",
                    src.location,
                )
            )
        elif st is not None and st.last_error:
            out.append(
                Check(
                    "source",
                    src.name,
                    WARNING,
                    f"{detail}, but its last run failed: {st.last_error}",
                    f"`feedsvc ingest --source {src.name}` runs it now",
                    src.location,
                )
            )
        else:
            out.append(Check("source", src.name, OK, detail, None, src.location))
    return out


def diagnose(
    config_path: Path, make_pipeline: Callable[[Config, Store], Pipeline], now: datetime
) -> tuple[Config | None, list[Check]]:
    """Every check, in order: config, database, publish folder, daemon, sources. Stops after
    the config check when the config does not load (nothing else can be known)."""
    config, first = check_config(config_path)
    if config is None:
        return None, [first]
    checks = [first]
    states, db_check = check_database(config)
    checks.append(db_check)
    checks.append(check_publish(config))
    checks.append(check_daemon(config))
    # Probing stores nothing, so the sources are tried against a scratch in-memory database:
    # a broken or locked database does not stop them being checked.
    with Store(Path(":memory:")) as scratch:
        pipe = make_pipeline(config, scratch)
        try:
            checks.extend(check_sources(config, pipe, states, now))
        finally:
            pipe.close()
    return config, checks
