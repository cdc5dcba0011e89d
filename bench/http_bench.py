"""Requests per second of `feedsvc serve` for /atom.xml (200 and 304), next to nginx.

Builds a site from the bundled sample inbox and feed in a temporary folder, starts
`feedsvc serve` and (when installed) nginx serving the same feeds/ folder, each on a free
loopback port, and runs `wrk` against both, alternating rounds so that both see the same
machine load. Prints requests/s and the feedsvc/nginx ratios. Needs `wrk` (Debian: `apt-get
install wrk`); nginx is optional (`apt-get install nginx-light`). Every process it starts is
stopped before it exits. Traffic goes to 127.0.0.1 only.

    python bench/http_bench.py [--duration 5] [--connections 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(port: int, path: str, deadline_s: float = 30.0) -> dict[str, str]:
    end = time.monotonic() + deadline_s
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status == 200:
                return {k.lower(): v for k, v in r.getheaders()}
        except OSError:
            pass
        if time.monotonic() > end:
            raise SystemExit(f"nothing answered on port {port} within {deadline_s:.0f}s")
        time.sleep(0.1)


def wrk(
    url: str, seconds: int, connections: int, header: str | None = None, threads: int = 2
) -> float:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise SystemExit(f"wrk printed no Requests/sec:\n{out}")


def build_site(root: Path, port: int) -> Path:
    shutil.copytree(REPO / "articles", root / "articles")
    shutil.copy(REPO / "feedsvc/samples/valley-wire.xml", root / "valley-wire.xml")
    config = root / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [feed]
            title = "Bench"
            id = "tag:bench.example,2026:feed"
            base_url = "http://127.0.0.1:{port}/"
            [server]
            port = {port}
            [[sources]]
            name = "newsroom"
            path = "articles"
            [[sources]]
            name = "wire"
            path = "valley-wire.xml"
            """
        ),
        encoding="utf-8",
    )
    subprocess.run([sys.executable, "-m", "feedsvc", "-c", str(config), "ingest", "-q"], check=True)
    return config


def start_nginx(root: Path, feeds: Path, port: int, workers: str) -> subprocess.Popen[bytes]:
    conf = root / "nginx.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            worker_processes {workers};
            daemon off;
            pid {root}/nginx.pid;
            error_log {root}/nginx-error.log;
            events {{ worker_connections 4096; }}
            http {{
              access_log off;
              types {{ application/atom+xml xml; }}
              client_body_temp_path {root}/nginx-tmp;
              server {{
                listen 127.0.0.1:{port};
                root {feeds};
                etag on;
              }}
            }}
            """
        ),
        encoding="utf-8",
    )
    return subprocess.Popen(["nginx", "-p", str(root), "-c", str(conf)])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians shown")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument(
        "--nginx-workers",
        default="auto",
        help="nginx worker_processes (feedsvc serve runs [server] workers, 0: one per CPU)",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="feedsvc-http-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx workers run as an unprivileged user
        port = free_port()
        config = build_site(root, port)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "feedsvc", "-c", str(config), "serve"],
                    stderr=subprocess.DEVNULL,
                )
            )
            servers = {"feedsvc": port}
            if shutil.which("nginx"):
                nport = free_port()
                procs.append(start_nginx(root, root / "feeds", nport, args.nginx_workers))
                servers["nginx"] = nport
            etags = {name: wait_http(p, "/atom.xml")["etag"] for name, p in servers.items()}
            size = (root / "feeds/atom.xml").stat().st_size
            results: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for name, p in servers.items():
                    url = f"http://127.0.0.1:{p}/atom.xml"
                    results.setdefault((name, "200"), []).append(
                        wrk(url, args.duration, args.connections, threads=args.threads)
                    )
                    results.setdefault((name, "304"), []).append(
                        wrk(
                            url,
                            args.duration,
                            args.connections,
                            f"If-None-Match: {etags[name]}",
                            args.threads,
                        )
                    )
        finally:
            for proc in procs:
                stop(proc)

    print(
        f"GET /atom.xml ({size} bytes), wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, load average {os.getloadavg()[0]:.1f}, "
        f"median of {args.rounds} alternating rounds, nginx workers={args.nginx_workers}"
    )
    print(f"{'server':<10} {'200 req/s':>12} {'304 req/s':>12}")
    med = {k: statistics.median(v) for k, v in results.items()}
    for name in servers:
        print(f"{name:<10} {med[(name, '200')]:>12.0f} {med[(name, '304')]:>12.0f}")
    if "nginx" in servers:
        r200 = med[("feedsvc", "200")] / med[("nginx", "200")]
        r304 = med[("feedsvc", "304")] / med[("nginx", "304")]
        print(f"{'ratio':<10} {r200:>12.2f} {r304:>12.2f}")


if __name__ == "__main__":
    main()
