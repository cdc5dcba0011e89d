"""The measured parts of the benchmark, each run in a fresh process by :mod:`bench.run`.

    python bench/child.py ingest CONFIG [--times N]   feedsvc: ingest every source N times
    python bench/child.py reader DB FEEDS...          reader: add the feeds, update them twice
    python bench/child.py serve-files DIR PORTFILE    a loopback HTTP server for DIR

``ingest`` and ``reader`` print one JSON document: wall seconds of each pass, entries stored,
and the peak resident memory of the process tree (this process and any worker processes it
started, summed, sampled every 20 ms from /proc) and of this process alone (getrusage). A fresh
process per measurement keeps the two libraries from sharing warm caches or memory.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in KiB (Linux /proc)."""
    total = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


@contextmanager
def peak_tree_rss() -> Iterator[Callable[[], float]]:
    """Samples the process tree's RSS while the block runs; yields a getter for the peak MB."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(os.getpid()))
            done.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0] / 1024
    finally:
        done.set()
        thread.join()


def _self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest(config_path: str, times: int) -> dict[str, Any]:
    from feedsvc.config import load_config
    from feedsvc.pipeline import Pipeline
    from feedsvc.storage import Store

    config = load_config(Path(config_path))
    passes: list[float] = []
    reports = []
    with peak_tree_rss() as tree_peak, Store(config.storage.path) as store:
        pipe = Pipeline(config, store)
        try:
            for _ in range(times):
                started = time.perf_counter()
                reports = pipe.ingest_all([s for s in config.sources if s.enabled])
                passes.append(time.perf_counter() - started)
        finally:
            pipe.close()
        counts = store.counts()
        peak = tree_peak()
        # Not part of the ingest (the daemon does it after publishing, or the first search):
        # the search index of what was stored, timed apart so that its cost is on record.
        started = time.perf_counter()
        indexed = store.index_pending()
        index_seconds = time.perf_counter() - started
    return {
        "seconds": passes,
        "indexed": indexed,
        "index_seconds": index_seconds,
        "entries": counts["entries"],
        "stories": counts["stories"],
        "failed": [e for r in reports for e in r.errors][:5],
        "peak_tree_mb": peak,
        "peak_self_mb": _self_peak_mb(),
    }


def reader_update(db: str, feeds: list[str], workers: int) -> dict[str, Any]:
    from reader import make_reader

    passes: list[float] = []
    with peak_tree_rss() as tree_peak:
        # feed_root: local feeds are allowed, from the corpus folder only.
        local = [f for f in feeds if not f.startswith("http")]
        root = str(Path(local[0]).resolve().parent) if local else None
        r = make_reader(db, feed_root=root)
        try:
            for url in feeds:
                r.add_feed(url if url.startswith("http") else "file:" + Path(url).name)
            for _ in range(2):
                started = time.perf_counter()
                r.update_feeds(workers=workers)
                passes.append(time.perf_counter() - started)
            counts = r.get_entry_counts()
            failed = [str(f.last_exception) for f in r.get_feeds() if f.last_exception][:5]
        finally:
            r.close()
        peak = tree_peak()
    return {
        "seconds": passes,
        "entries": counts.total,
        "failed": failed,
        "peak_tree_mb": peak,
        "peak_self_mb": _self_peak_mb(),
    }


def serve_files(directory: str, portfile: str) -> None:
    """Serve DIR's feed files with Content-Type, Content-Length and an ETag, until killed."""
    root = Path(directory)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = root / self.path.lstrip("/")
            if "/" in self.path.lstrip("/") or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = path.read_bytes()
            etag = f'"{path.stat().st_mtime_ns:x}-{len(body):x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            kind = "atom" if b"http://www.w3.org/2005/Atom" in body[:300] else "rss"
            self.send_response(200)
            self.send_header("Content-Type", f"application/{kind}+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    httpd = Server(("127.0.0.1", 0), Handler)
    tmp = portfile + ".tmp"
    Path(tmp).write_text(str(httpd.server_address[1]), encoding="ascii")
    os.replace(tmp, portfile)
    httpd.serve_forever(poll_interval=0.1)


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "ingest":
        times = int(argv[argv.index("--times") + 1]) if "--times" in argv else 1
        print(json.dumps(ingest(argv[1], times)))
    elif command == "reader":
        workers = int(argv[argv.index("--workers") + 1]) if "--workers" in argv else 1
        feeds = [a for a in argv[2:] if not a.startswith("--") and not a.isdigit()]
        print(json.dumps(reader_update(argv[1], feeds, workers)))
    elif command == "serve-files":
        serve_files(argv[1], argv[2])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
