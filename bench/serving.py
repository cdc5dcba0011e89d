"""Figure 6: the daemon's HTTP server against nginx serving the same file, under ``wrk``.

Both servers serve the same published ``atom.xml`` on 127.0.0.1; ``wrk`` (Debian package
``wrk``) runs the same load against each in turn: plain GETs (200 responses) and GETs with the
server's own ``If-None-Match`` validator (304 responses). nginx (Debian ``nginx-light`` or
``nginx``) runs with a generated minimal config (``worker_processes auto``, ``etag on``, access
log off) in the work directory; feedsvc runs its public entry point, ``feedsvc -c CONFIG
serve`` (``[server] workers`` left at 0: one process per CPU, as nginx's ``auto``). Both run
at once and are measured in alternating rounds (:func:`side_by_side`). Every process started
here is stopped before returning.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Load:
    """One wrk run: requests per second, and how many answers had an unexpected status."""

    rps: float
    bad: int


def missing_tools() -> list[str]:
    return [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]


def has_serve_command() -> bool:
    """Whether this feedsvc has the daemon's `serve` command (issue 3) yet."""
    done = subprocess.run(
        [sys.executable, "-m", "feedsvc", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, deadline_s: float = 30.0) -> str | None:
    """Poll ``url`` until it answers 200; return its ETag."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.headers.get("ETag")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def status_with(url: str, etag: str) -> int:
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def wrk(url: str, seconds: int, header: str | None = None) -> Load:
    cmd = ["wrk", "-t2", "-c64", f"-d{seconds}s", url]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    n_bad = int(bad.group(1)) if bad else 0
    if errors:
        n_bad += sum(int(g) for g in errors.groups())
    return Load(float(rps.group(1)) if rps else 0.0, n_bad)


@contextmanager
def nginx(root: Path, work: Path) -> Iterator[str]:
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(
        f"""
worker_processes auto;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    types {{ application/atom+xml xml; }}
    client_body_temp_path {work}/nginx-tmp;
    proxy_temp_path {work}/nginx-tmp;
    fastcgi_temp_path {work}/nginx-tmp;
    uwsgi_temp_path {work}/nginx-tmp;
    scgi_temp_path {work}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag on;
    }}
}}
""",
        encoding="utf-8",
    )
    (work / "nginx-tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}/atom.xml"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def feedsvc_server(config: Path) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "-c", str(config), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def measure(url: str, seconds: int) -> tuple[Load, Load]:
    """200s and 304s per second at ``url`` (which must already answer)."""
    etag = wait_for(url)
    if not etag or status_with(url, etag) != 304:
        raise RuntimeError(f"{url} does not answer If-None-Match with 304")
    return wrk(url, seconds), wrk(url, seconds, f"If-None-Match: {etag}")


@dataclass(frozen=True)
class SideBySide:
    """Medians of alternating rounds: (200s, 304s) for feedsvc and nginx, and the 1-minute
    load average seen at the start of each wrk run (median, lowest, highest)."""

    ours: tuple[Load, Load]
    theirs: tuple[Load, Load]
    load: tuple[float, float, float]
    rounds: int


def side_by_side(ours: str, theirs: str, seconds: int, rounds: int) -> SideBySide:
    """Measure both URLs in turns (feedsvc, nginx, feedsvc, ...) so that both see the same
    machine load, which on a shared machine moves more between minutes than the servers do."""
    runs: dict[str, list[tuple[Load, Load]]] = {ours: [], theirs: []}
    loads: list[float] = []
    for _ in range(rounds):
        for url in (ours, theirs):
            loads.append(os.getloadavg()[0])
            runs[url].append(measure(url, seconds))

    def median(url: str, i: int) -> Load:
        values = [r[i] for r in runs[url]]
        return Load(statistics.median(v.rps for v in values), sum(v.bad for v in values))

    return SideBySide(
        (median(ours, 0), median(ours, 1)),
        (median(theirs, 0), median(theirs, 1)),
        (statistics.median(loads), min(loads), max(loads)),
        rounds,
    )
