"""``feedsvc run`` and ``feedsvc serve``: scheduling, signals, the single-instance lock, reload.

The only APScheduler user. :class:`Daemon` keeps one one-shot job per enabled source in a
``BackgroundScheduler``; when a run ends, the next one is scheduled at the ``next_due`` that
the run stored in the database (see :mod:`feedsvc.schedule`), so the database, not this
process, remembers when each source is due: a restart neither refetches everything nor
forgets what became due while it was down. Sources run on a small thread pool (a slow source
does not delay the others); a source never runs twice at once (a request to run it while it
runs is remembered and served right after). Runs that changed something ask for one publish,
which is debounced, so several sources finishing together regenerate the outputs once. A
folder watcher (:mod:`feedsvc.watch`) runs a directory source as soon as a file is written.

:func:`run_daemon` adds the HTTP server (:mod:`feedsvc.web`) in the same process, the
single-instance lock (:mod:`feedsvc.locks`) and signals: SIGTERM/SIGINT stop scheduling, let
in-flight runs finish (a run still going after :data:`STOP_GRACE_S` is abandoned and its open
transaction rolled back by SQLite) and exit 0; SIGHUP reloads the config file, keeping the old
one when the new one is invalid. :func:`run_server` is the HTTP server alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from feedsvc import schedule
from feedsvc.config import Config, load_config
from feedsvc.errors import ConfigError, FeedsvcError
from feedsvc.locks import InstanceLock, lock_path_for
from feedsvc.metrics import Metrics
from feedsvc.models import IngestReport, Source, SourceKind
from feedsvc.pipeline import Pipeline
from feedsvc.storage import SourceState, Store
from feedsvc.watch import FolderWatcher
from feedsvc.web import WebApp, check_bind, event_loop, serve_http, serve_workers

log = logging.getLogger("feedsvc.daemon")

MAX_PARALLEL_RUNS = 4  # sources running at once
PUBLISH_DELAY_S = 0.5  # publishing waits this long for other runs that finish together
STOP_GRACE_S = 8.0  # how long SIGTERM waits for in-flight runs (the issue allows 10 s)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def run_summary(report: IngestReport, seconds: float) -> str:
    """The one log line of a source run (``seconds``: how long it took)."""
    if report.held:
        return f"{report.source}: not fetched: {report.held}"
    if report.not_modified:
        counts = "not modified (HTTP 304)"
    else:
        counts = (
            f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.duplicates} duplicate, {report.skipped} skipped"
        )
    status = "ok" if report.ok else f"failed: {'; '.join(report.errors)}"
    return f"{report.source}: {counts} in {seconds:.2f}s, {status}"


class Daemon:
    """The scheduler of source runs and publishing. Thread-safe; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = _now,
        rand: Callable[[], float] = random.random,
        publish_delay: float = PUBLISH_DELAY_S,
        ping_delays: tuple[float, ...] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics  # counts runs and publishes for /metrics, when given
        self._ping_delays = ping_delays
        # WebSub topics a hub did not acknowledge, announced again after the next publish.
        self._pending_pings: list[str] = []
        self._clock = clock
        self._rand = rand
        self._publish_delay = publish_delay
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(MAX_PARALLEL_RUNS)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 2},
            timezone=UTC,
        )
        self._lock = threading.Condition()
        self._sources: dict[str, Source] = {}
        self._running: set[str] = set()
        self._rerun: set[str] = set()
        self._stopping = False
        self._publish_pending = False
        self._publish_mutex = threading.Lock()
        self._watcher: FolderWatcher | None = None
        self.runs = 0  # source runs finished, and publishes done (for tests and logs)
        self.publishes = 0

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every enabled source from its stored ``next_due``; start watching."""
        states = self._states()
        now = self._clock()
        with self._lock:
            self._sources = {s.name: s for s in self.config.sources if s.enabled}
        for src in self._sources.values():
            st = states.get(src.name)
            self._schedule(src.name, self._first_run(src, st, now))
        self._scheduler.start()
        self._start_watcher()
        # Publish once at startup: outputs may be missing, or older than the database if the
        # last process died between a commit and its publish. Unchanged bytes are not rewritten.
        self.request_publish()
        log.info(
            "scheduling %d source(s): %s",
            len(self._sources),
            ", ".join(sorted(self._sources)) or "none",
        )

    def stop(self, grace: float = STOP_GRACE_S) -> bool:
        """Stop scheduling and wait up to ``grace`` seconds for in-flight runs; publish if a
        publish is pending. True when nothing was left running."""
        with self._lock:
            self._stopping = True
        if self._watcher is not None:
            self._watcher.stop()
        with contextlib.suppress(SchedulerNotRunningError):
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace
        with self._lock:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            abandoned = sorted(self._running)
            pending = self._publish_pending
        if abandoned:
            log.warning(
                "abandoning in-flight run(s) of %s; their transactions roll back",
                ", ".join(abandoned),
            )
            return False
        if pending:
            self._publish()
        return True

    # --- scheduling -----------------------------------------------------------------------------

    def _first_run(self, src: Source, st: SourceState | None, now: datetime) -> datetime:
        next_due = st.next_due if st is not None else None
        if st is not None and st.location != src.location:
            next_due = None  # stored for another location: a new source in all but name
        return schedule.first_run(next_due, now, src.interval_seconds, self._rand())

    def _schedule(self, name: str, when: datetime) -> None:
        self._scheduler.add_job(
            self._run_source,
            DateTrigger(run_date=when, timezone=UTC),
            args=[name],
            id=f"source:{name}",
            name=f"source {name}",
            replace_existing=True,
        )
        log.debug("%s: next run at %s", name, when.isoformat(timespec="seconds"))

    def next_runs(self) -> dict[str, datetime]:
        """When each scheduled source runs next (a running source is absent until it ends)."""
        out: dict[str, datetime] = {}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("source:") and job.next_run_time is not None:
                out[job.id.removeprefix("source:")] = job.next_run_time
        return out

    def run_soon(self, name: str) -> None:
        """Run a source now (a file in its folder changed); after a run in progress if any."""
        with self._lock:
            if self._stopping or name not in self._sources:
                return
            if name in self._running:
                self._rerun.add(name)
                return
        self._schedule(name, self._clock())

    def _run_source(self, name: str) -> None:
        with self._lock:
            src = self._sources.get(name)
            if self._stopping or src is None:
                return
            if name in self._running:
                self._rerun.add(name)
                return
            self._running.add(name)
            self._rerun.discard(name)
        next_due: datetime | None = None
        try:
            began = time.monotonic()
            report, next_due = self._ingest(src)
            log.info("%s", run_summary(report, time.monotonic() - began))
            if self.metrics is not None:
                self.metrics.observe_run(src, report)
            if report.changed:
                self.request_publish()
        except Exception:  # a bug in one run must not stop the schedule of every source
            log.exception("%s: run crashed", name)
        finally:
            self._finished(name, next_due)

    def _finished(self, name: str, next_due: datetime | None) -> None:
        """Book-keeping after a run, and its next run: right away if one was asked for while
        it ran, else at the ``next_due`` the run stored."""
        with self._lock:
            self._running.discard(name)
            self.runs += 1
            rerun = name in self._rerun
            self._rerun.discard(name)
            current = self._sources.get(name)
            self._lock.notify_all()
            if self._stopping or current is None:
                return
        now = self._clock()
        if rerun:
            when = now
        else:
            when = schedule.next_run(next_due, now, current.interval_seconds, self._rand())
        with contextlib.suppress(SchedulerNotRunningError):  # stopping
            self._schedule(name, when)

    def _ingest(self, src: Source) -> tuple[IngestReport, datetime | None]:
        with Store(self.config.storage.path) as store:
            pipe = Pipeline(self.config, store)
            try:
                report = pipe.ingest(src)
            finally:
                pipe.close()
            st = store.source_state(src.name)
        return report, st.next_due if st is not None else None

    def _states(self) -> dict[str, SourceState]:
        with Store(self.config.storage.path) as store:
            return {s.name: s for s in store.source_states()}

    # --- publishing -----------------------------------------------------------------------------

    def request_publish(self) -> None:
        """Publish soon; requests made before that publish reads the database share it."""
        with self._lock:
            if self._publish_pending or self._stopping:
                return
            self._publish_pending = True
        when = self._clock() + timedelta(seconds=self._publish_delay)
        with contextlib.suppress(SchedulerNotRunningError):
            self._scheduler.add_job(
                self._publish, DateTrigger(run_date=when, timezone=UTC), name="publish"
            )

    def _publish(self) -> None:
        # The pending flag is cleared only once this publish holds the mutex, that is just
        # before it reads the database: a change committed after that asks for a new publish,
        # one committed before it is in this one. So at most one publish waits at any time.
        with self._publish_mutex:
            with self._lock:
                self._publish_pending = False
            try:
                with Store(self.config.storage.path) as store:
                    pipe = Pipeline(self.config, store, pending_pings=list(self._pending_pings))
                    if self._ping_delays is not None:
                        pipe.ping_delays = self._ping_delays
                    began = time.monotonic()
                    try:
                        result = pipe.publish_site()
                    finally:
                        pipe.close()
                    if self.metrics is not None:
                        self.metrics.observe_publish(time.monotonic() - began)
                self._pending_pings = list(pipe.pending_pings)
                log.info(
                    "published %s (%d of %d files changed)",
                    self.config.publish.dir,
                    len(result.changed),
                    result.files,
                )
                ping = pipe.last_ping
                if ping is not None and ping.delivered:
                    log.info("notified WebSub hub %s of %d feed(s)", ping.hub, len(ping.delivered))
                if ping is not None and not ping.ok:
                    log.warning(
                        "WebSub hub %s: %s; %d feed(s) will be announced after the next publish",
                        ping.hub,
                        "; ".join(ping.errors),
                        len(ping.failed),
                    )
            except FeedsvcError as e:
                log.error("publishing failed: %s", e)
            finally:
                with self._lock:
                    self.publishes += 1
            self._index_for_search()

    def _index_for_search(self) -> None:
        """Index what the runs stored for search, after they published (storing leaves it
        to later: see ``m010_search_index_later``), so that searches find it at once."""
        try:
            with Store(self.config.storage.path) as store:
                indexed = store.index_pending()
            if indexed:
                log.info("indexed %d entries for search", indexed)
        except FeedsvcError as e:
            log.error("search indexing failed (searching will index them): %s", e)

    # --- watching -------------------------------------------------------------------------------

    def _start_watcher(self) -> None:
        if not self.config.daemon.watch:
            return
        folders = {s.name: s.path for s in self._sources.values() if s.kind is SourceKind.DIRECTORY}
        if folders:
            self._watcher = FolderWatcher(folders, self.run_soon)
            self._watcher.start()

    # --- reload ---------------------------------------------------------------------------------

    def reload(self, new: Config) -> None:
        """Apply a new, already validated config: sources added, removed and changed take
        effect now. Storage and server address changes need a restart (logged, not applied)."""
        old = self.config
        if new.storage != old.storage:
            log.warning("storage.path changed: restart feedsvc to apply it; keeping the old one")
            new = dataclasses.replace(new, storage=old.storage)
        states = self._states()
        now = self._clock()
        wanted = {s.name: s for s in new.sources if s.enabled}
        with self._lock:
            before = dict(self._sources)
            self.config = new
            self._sources = wanted
            self._rerun &= set(wanted)
        removed = sorted(before.keys() - wanted.keys())
        added = sorted(wanted.keys() - before.keys())
        changed = sorted(n for n in wanted.keys() & before.keys() if wanted[n] != before[n])
        for name in removed:
            # Not found: it is running now, and is not rescheduled when it ends.
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(f"source:{name}")
        for name in added:
            self._schedule(name, self._first_run(wanted[name], states.get(name), now))
        for name in changed:
            st = states.get(name)
            when = schedule.after_change(
                before[name],
                wanted[name],
                st.next_due if st else None,
                st.last_run if st else None,
                now,
                self._rand(),
            )
            with self._lock:
                running = name in self._running
            if not running:  # a running source reschedules itself from the new config
                self._schedule(name, when)
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        self._start_watcher()
        self.request_publish()  # feed settings may have changed
        log.info(
            "reloaded configuration: %d added (%s), %d removed (%s), %d changed (%s)",
            len(added),
            ", ".join(added) or "-",
            len(removed),
            ", ".join(removed) or "-",
            len(changed),
            ", ".join(changed) or "-",
        )


# --- processes ------------------------------------------------------------------------------------


def _reload_config(path: Path, current: Config, *, serve_workers: bool = False) -> Config | None:
    """Load the config again; None (logged) when it is invalid, so the old one stays.
    ``serve_workers``: the caller runs ``[server] workers`` processes (``feedsvc serve``)."""
    try:
        new = load_config(path)
    except ConfigError as e:
        log.error("reload refused, keeping the running configuration: %s", e)
        return None
    was, now = current.server, new.server
    # What only a restart applies: the address, and the number of serve workers (the daemon
    # serves from its own process and has none, so a change there is not worth a warning).
    changed = [
        name
        for name, same in (
            ("host", now.host == was.host),
            ("port", now.port == was.port),
            ("workers", now.workers == was.workers or not serve_workers),
        )
        if not same
    ]
    if changed:
        log.warning("server.%s changed: restart feedsvc to apply", "/".join(changed))
    server = dataclasses.replace(now, host=was.host, port=was.port, workers=was.workers)
    return dataclasses.replace(new, server=server)


def _check_database(config: Config) -> None:
    """Open (create, migrate) the database once, so a bad one fails at startup."""
    with Store(config.storage.path):
        pass


def run_daemon(config_path: Path) -> bool:
    """``feedsvc run``: returns True on a clean stop, False if a run had to be abandoned.

    Raises :class:`~feedsvc.locks.AlreadyRunning` when another daemon holds the database,
    :class:`ConfigError` for a bad config and other :class:`FeedsvcError` for a database or
    address that cannot be used.
    """
    config = load_config(config_path)
    lock = InstanceLock(lock_path_for(config.storage.path))
    lock.acquire()
    try:
        _check_database(config)
        check_bind(config.server.host, config.server.port)  # before any source runs
        metrics = Metrics()
        daemon = Daemon(config, metrics=metrics)
        app = WebApp(config, metrics=metrics)
        reload_lock = threading.Lock()

        def reload() -> Config | None:
            with reload_lock:
                new = _reload_config(config_path, daemon.config)
                if new is None:
                    return None
                daemon.reload(new)
                return daemon.config

        async def main() -> bool:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            tasks: set[asyncio.Task[None]] = set()

            async def on_hangup() -> None:
                new = await asyncio.to_thread(reload)
                if new is not None:
                    app.config = new  # swapped on the loop thread, between two requests

            def hangup() -> None:
                task = loop.create_task(on_hangup())
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            loop.add_signal_handler(signal.SIGHUP, hangup)
            daemon.start()
            log.info(
                "feedsvc daemon serving http://%s:%d/ (database %s)",
                config.server.host,
                config.server.port,
                config.storage.path,
            )
            try:
                await serve_http(app, config.server.host, config.server.port, stop)
            finally:
                log.info("stopping: waiting for in-flight source runs")
                clean = await asyncio.to_thread(daemon.stop)
                if clean:
                    log.info("stopped")
            return clean

        with event_loop() as runner:
            return runner.run(main())
    finally:
        lock.release()


def run_server(config_path: Path) -> None:
    """``feedsvc serve``: the HTTP server alone, in ``[server] workers`` processes (0: one per
    CPU). SIGHUP reloads the config (feed settings, publish folder, sources shown by /healthz)
    by replacing the workers; SIGTERM/SIGINT stop it."""
    config = load_config(config_path)
    _check_database(config)

    def reload(current: Config) -> Config | None:
        new = _reload_config(config_path, current, serve_workers=True)
        if new is not None:
            log.info("reloaded configuration")
        return new

    workers = config.server.workers or os.cpu_count() or 1
    log.info(
        "feedsvc serving http://%s:%d/ (%d worker process%s)",
        config.server.host,
        config.server.port,
        workers,
        "" if workers == 1 else "es",
    )
    serve_workers(config, workers, reload)
