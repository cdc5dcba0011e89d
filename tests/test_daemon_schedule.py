"""The Daemon class in-process (real scheduler, real database, real folders; no HTTP): it reads
each source's next_due from the database, publishes once for many changes, applies reloads."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.config import Config, load_config
from feedsvc.daemon import Daemon
from feedsvc.pipeline import Pipeline
from feedsvc.storage import Store

from helpers import write_config

DEADLINE_S = 60.0


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def sources(*names: str, interval: str = "1h") -> str:
    return "".join(
        f'[[sources]]\nname = "{n}"\npath = "{n}"\ninterval = "{interval}"\n' for n in names
    )


def site(tmp_path: Path, *names: str, interval: str = "1h") -> Config:
    for n in names:
        folder = tmp_path / n
        folder.mkdir(exist_ok=True)
        (folder / f"{n}.txt").write_text(f"Story of {n}\nText about {n}.\n", encoding="utf-8")
    path = write_config(tmp_path, sources(*names, interval=interval), "[daemon]\nwatch = false\n")
    return load_config(path)


@pytest.fixture
def make_daemon() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(config: Config, **kw: object) -> Daemon:
        d = Daemon(config, **kw)  # type: ignore[arg-type]
        started.append(d)
        return d

    try:
        yield make
    finally:
        for d in started:
            d.stop(grace=20)


def ingest_at(config: Config, name: str, when: datetime) -> None:
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store, clock=lambda: when)
        assert pipe.ingest(config.source(name)).ok


def test_many_changed_runs_publish_once(tmp_path: Path, make_daemon: Callable[..., Daemon]) -> None:
    config = site(tmp_path, "a", "b", "c")
    # rand=0: every source is due at once; a long publish delay holds the publish back until
    # stop(), which must flush it: one publish for three changed runs (and the startup one).
    d = make_daemon(config, rand=lambda: 0.0, publish_delay=600)
    d.start()
    wait_until("three runs", lambda: d.runs == 3)
    assert d.publishes == 0
    assert not (tmp_path / "feeds/atom.xml").exists()
    assert d.stop()
    assert d.publishes == 1
    atom = (tmp_path / "feeds/atom.xml").read_text(encoding="utf-8")
    assert all(f"Story of {n}" in atom for n in "abc")


def test_startup_reads_next_due_from_the_database(
    tmp_path: Path, make_daemon: Callable[..., Daemon]
) -> None:
    config = site(tmp_path, "fresh", "overdue", "new")
    now = datetime.now(UTC).replace(microsecond=0)
    ingest_at(config, "fresh", now)  # due in an hour
    ingest_at(config, "overdue", now - timedelta(hours=3))  # was due two hours ago
    with Store(config.storage.path) as store:
        stored = {s.name: s for s in store.source_states()}
    assert stored["fresh"].next_due == now + timedelta(hours=1)

    d = make_daemon(config, rand=lambda: 0.5, publish_delay=600)
    started = datetime.now(UTC).replace(microsecond=0)
    d.start()
    # Not due: scheduled at its stored time plus jitter (half of 10 % of 1 h, capped at 60 s).
    assert d.next_runs()["fresh"] == stored["fresh"].next_due + timedelta(seconds=30)
    # Overdue and never run: run soon after startup.
    wait_until("the overdue and the new source", lambda: d.runs >= 2)
    with Store(config.storage.path) as store:
        after = {s.name: s for s in store.source_states()}
    for name in ("overdue", "new"):
        last_run = after[name].last_run
        assert last_run is not None and last_run >= started
    assert after["fresh"].last_run == stored["fresh"].last_run  # not refetched on restart
    # After a run the next one is the next_due that run stored.
    wait_until("rescheduling", lambda: "overdue" in d.next_runs())
    assert d.next_runs()["overdue"] == after["overdue"].next_due + timedelta(seconds=30)


def test_reload_adds_removes_and_changes_sources(
    tmp_path: Path, make_daemon: Callable[..., Daemon]
) -> None:
    config = site(tmp_path, "keep", "drop", "retime")
    now = datetime.now(UTC).replace(microsecond=0)
    for name in ("keep", "drop", "retime"):
        ingest_at(config, name, now)
    d = make_daemon(config, rand=lambda: 0.0, publish_delay=600)
    d.start()
    assert set(d.next_runs()) == {"keep", "drop", "retime"}

    new = site(tmp_path, "keep", "retime", "added")
    retimed = dataclasses.replace(new.source("retime"), interval_seconds=600)
    new = dataclasses.replace(
        new, sources=tuple(retimed if s.name == "retime" else s for s in new.sources)
    )
    d.reload(new)
    runs = d.next_runs()
    assert "drop" not in runs
    assert runs["keep"] == now + timedelta(hours=1)
    assert runs["retime"] == now + timedelta(minutes=10)  # from its last run, not from now
    wait_until("the added source's run", lambda: d.runs >= 1)
    with Store(config.storage.path) as store:
        assert store.source_state("added") is not None


def test_a_dead_websub_hub_is_caught_up_after_the_next_publish(
    tmp_path: Path, make_daemon: Callable[..., Daemon]
) -> None:
    from test_websub import SUBSCRIPTION_DOCS, Hub, hub_config

    hub = Hub()
    try:
        config = load_config(hub_config(tmp_path, hub.url))
        hub.failures = 10**6  # down
        d = make_daemon(config, rand=lambda: 0.0, publish_delay=0.05, ping_delays=(0.01,))
        d.start()
        wait_until("a run and its publish", lambda: d.runs == 1 and d.publishes >= 1)
        wait_until("the feeds", lambda: (tmp_path / "feeds/atom.xml").is_file())
        assert hub.topics() == []
        with hub.lock:
            hub.failures = 0
        d.request_publish()  # nothing changed, but the backlog is announced
        wait_until("the catch-up pings", lambda: sorted(hub.topics()) == sorted(SUBSCRIPTION_DOCS))
    finally:
        hub.stop()
