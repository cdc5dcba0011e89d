"""Benchmark: one ingest cycle over many feeds on loopback servers that add latency per request.

Starts ``--hosts`` HTTP/1.1 servers on 127.0.0.1, 127.0.0.2, ... (all loopback), spreads
``--feeds`` RSS feeds over them (each answers after ``--latency`` seconds, with an ETag), and
runs feedsvc's real pipeline (fetch, parse, dedup, SQLite) twice with the given concurrency:
a first cycle that fetches and stores everything, then a second in which every feed answers
304. Prints each wall time next to the ideal ``feeds * latency / max_connections``.

    python bench/fetch_bench.py            # 1,000 feeds, 100 ms latency, default limits
    python bench/fetch_bench.py --quick    # 100 feeds: a smoke run in a few seconds

Network traffic stays on 127.0.0.0/8; every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from feedsvc.config import FetchSettings, load_config
from feedsvc.pipeline import Pipeline
from feedsvc.storage import Store


def rss(name: str, n_items: int) -> bytes:
    items = "".join(
        f"<item><title>{name} story {i}</title><link>https://{name}.example/{i}</link>"
        f"<guid>{name}-{i}</guid><description>Story {i} of {name}, a few words of text."
        "</description></item>"
        for i in range(n_items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://{name}.example/</link><description>d</description>"
        f"{items}</channel></rss>"
    ).encode()


@contextmanager
def feed_server(host: str, latency: float, bodies: dict[str, bytes]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(latency)
            body = bodies.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    httpd = Server((host, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def main() -> None:
    defaults = FetchSettings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=50, help="loopback servers (127.0.0.1..N)")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added per request")
    ap.add_argument("--items", type=int, default=10, help="items per feed")
    ap.add_argument("--max-connections", type=int, default=defaults.max_connections)
    ap.add_argument("--max-per-host", type=int, default=defaults.max_per_host)
    ap.add_argument("--quick", action="store_true", help="100 feeds on 10 hosts")
    args = ap.parse_args()
    if args.quick:
        args.feeds, args.hosts = 100, 10
    if not 1 <= args.hosts <= 250:
        ap.error("--hosts must be 1..250")

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        per_host: list[dict[str, bytes]] = [{} for _ in range(args.hosts)]
        names: list[tuple[str, int, str]] = []
        for i in range(args.feeds):
            h = i % args.hosts
            path = f"/feed{i}.xml"
            per_host[h][path] = rss(f"feed{i}", args.items)
            names.append((f"feed{i}", h, path))
        bases = [
            stack.enter_context(feed_server(f"127.0.0.{h + 1}", args.latency, per_host[h]))
            for h in range(args.hosts)
        ]
        lines = [
            "[feed]",
            'id = "tag:bench.example,2026:feed"',
            "[fetch]",
            f"max_connections = {args.max_connections}",
            f"max_per_host = {args.max_per_host}",
        ]
        for name, h, path in names:
            lines += ["[[sources]]", f'name = "{name}"', f'url = "{bases[h]}{path}"']
        config_path = Path(tmp) / "config.toml"
        config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        config = load_config(config_path)

        ideal = args.feeds * args.latency / args.max_connections
        print(
            f"{args.feeds} feeds x {args.items} items on {args.hosts} loopback hosts, "
            f"{args.latency * 1000:.0f} ms latency; max_connections={args.max_connections}, "
            f"max_per_host={args.max_per_host}"
        )
        print(f"{'cycle':<26} {'wall s':>8} {'ideal s':>8} {'ratio':>6}  outcome")
        with Store(config.storage.path) as store:
            pipe = Pipeline(config, store)
            try:
                for label in ("1: fetch + store all", "2: all 304 Not Modified"):
                    start = time.perf_counter()
                    reports = pipe.ingest_all(config.sources)
                    wall = time.perf_counter() - start
                    failed = sum(not r.ok for r in reports)
                    n304 = sum(r.not_modified for r in reports)
                    new = sum(r.new for r in reports)
                    print(
                        f"{label:<26} {wall:>8.2f} {ideal:>8.2f} {wall / ideal:>6.2f}  "
                        f"{new} new entries, {n304} not modified, {failed} failed"
                    )
            finally:
                pipe.close()


if __name__ == "__main__":
    main()
