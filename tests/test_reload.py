"""What a SIGHUP reload keeps from the running configuration (``daemon._reload_config``):
the listening address and the serve workers need a restart, and the log says so only for
what the running process actually uses. Real config files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from feedsvc.config import load_config
from feedsvc.daemon import _reload_config

from helpers import write_config

SOURCES = '[[sources]]\nname = "inbox"\npath = "inbox"\n'


def _config(tmp_path: Path, port: int, workers: int, max_age: int = 60) -> Path:
    server = f"[server]\nport = {port}\nworkers = {workers}\nmax_age = {max_age}\n"
    return write_config(tmp_path, SOURCES, server)


def test_address_and_workers_wait_for_a_restart_and_the_rest_applies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = load_config(_config(tmp_path, 8081, 2))
    path = _config(tmp_path, 8082, 3, max_age=120)
    with caplog.at_level(logging.WARNING, logger="feedsvc.daemon"):
        new = _reload_config(path, running, serve_workers=True)
    assert new is not None
    assert (new.server.port, new.server.workers) == (8081, 2)  # kept until a restart
    assert new.server.max_age == 120  # applied now
    assert "server.port/workers changed: restart feedsvc to apply" in caplog.text


def test_the_daemon_is_not_told_to_restart_for_workers_it_does_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = load_config(_config(tmp_path, 8081, 2))
    path = _config(tmp_path, 8081, 4)
    with caplog.at_level(logging.WARNING, logger="feedsvc.daemon"):
        new = _reload_config(path, running)  # the daemon: serves from its own process
    assert new is not None and new.server.workers == 2
    assert "restart" not in caplog.text
