"""The feedsvc benchmark suite: seven figures, each measured side by side in one run.

    python bench/run.py            # full: 500 feeds x 60 entries, 1,000,000 stored entries
    python bench/run.py --quick    # a smaller corpus and database, well under two minutes
    python bench/run.py --ci       # smaller still: proves the harness runs (used by a test)

Prints one table (figure, value, ratio, target, met?) and writes it as JSON to
``bench/results/`` (or ``--results DIR``). Figures, as in issue 8:

1. first ingest of the corpus from local files, entries/s, against ``reader`` on the same files;
2. the same over a loopback HTTP server;
3. a second ingest with nothing changed, as a fraction of the first;
4. publishing the main feed (``atom.xml`` alone: ``Pipeline.publish_main_feed``), against
   writing the same XML with lxml directly, with 10,000 and with N entries stored (flatness:
   N against 10,000); and, as extra lines, publishing the whole site (``Pipeline.publish``)
   at both sizes: the first time (every file) and again with nothing changed;
5. ingest rate with N entries already stored, against an empty database;
6. serving the feed (200s and 304s per second under ``wrk``), against nginx;
7. peak memory (RSS) of the first ingest.

Every measured ingest runs in a fresh process (``bench/child.py``); the corpus
(``bench/corpus.py``) and the big databases (``bench/bigdb.py``) are generated once into the
work folder (``--work``, default ``$TMPDIR/feedsvc-bench``) and reused. Quick and CI modes
measure everything they can but judge nothing: machines running CI are too noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bigdb  # noqa: E402
import corpus  # noqa: E402
import serving  # noqa: E402


@dataclass(frozen=True)
class Mode:
    name: str
    feeds: int
    entries: int
    big: int  # entries in the "N stored" database of figures 4 and 5
    ingest_feeds: int  # feeds ingested for figure 5
    wrk_seconds: int  # 0: no serving figure
    wrk_rounds: int  # feedsvc and nginx measured in turns this many times; medians reported


MODES = {
    "full": Mode("full", 500, 60, 1_000_000, 100, 10, 3),
    "quick": Mode("quick", 60, 40, 50_000, 60, 3, 1),
    "ci": Mode("ci", 12, 20, 12_000, 12, 0, 0),
}
SMALL_DB = 10_000


@dataclass
class Row:
    figure: str
    value: str
    ratio: float | None
    target: str
    met: bool | None  # None: not judged (quick/CI mode, or not measured)
    note: str = ""


def run_child(*args: str, timeout: float = 3600) -> dict[str, Any]:
    """Run ``bench/child.py`` in a fresh interpreter; its JSON result."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "child.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child.py {args[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def have_reader() -> bool:
    try:
        import reader  # noqa: F401
    except ImportError:
        return False
    return True


def write_config(
    path: Path, db: Path, sources: Sequence[tuple[str, str, str]], extra: str = ""
) -> Path:
    """A feedsvc config.toml: ``sources`` are (name, "path" or "url", value)."""
    lines = [
        "[feed]",
        'id = "tag:bench.example,2026:feed"',
        'title = "feedsvc benchmark"',
        "[storage]",
        f"path = {json.dumps(str(db))}",
        "[publish]",
        f"dir = {json.dumps(str(path.parent / 'feeds'))}",
        extra,
    ]
    for name, kind, value in sources:
        lines += ["[[sources]]", f"name = {json.dumps(name)}", f"{kind} = {json.dumps(value)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fresh(path: Path) -> Path:
    """An empty folder at ``path``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextmanager
def file_server(directory: Path, work: Path) -> Iterator[str]:
    """``child.py serve-files`` in its own process (its CPU is not the measured process's)."""
    portfile = work / "port"
    portfile.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "child.py"), "serve-files", str(directory), str(portfile)]
    )
    try:
        deadline = time.monotonic() + 60
        while not portfile.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the loopback file server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{portfile.read_text()}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def best_of(n: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(n))


def ratio_row(
    figure: str, ours: float, theirs: float | None, unit: str, target: float, judge: bool
) -> Row:
    if theirs is None or theirs <= 0:
        return Row(figure, f"{ours:,.0f} {unit}", None, f">= {target:g}x", None, "no reference")
    ratio = ours / theirs
    return Row(
        figure,
        f"{ours:,.0f} vs {theirs:,.0f} {unit}",
        ratio,
        f">= {target:g}x",
        ratio >= target if judge else None,
    )


# --- figures 1, 2, 3, 7: ingest against reader -------------------------------------------------


def ingest_figures(mode: Mode, work: Path, info: corpus.CorpusInfo, judge: bool) -> list[Row]:
    rows: list[Row] = []
    files = [str(p) for p in info.files]
    reader_ok = have_reader()
    expected = info.entries

    # Figure 1: local files. reader first, then feedsvc, each in a fresh process.
    theirs = None
    reader_note = ""
    if reader_ok:
        got = run_child("reader", str(fresh(work / "reader-files") / "reader.sqlite"), *files)
        theirs = got["entries"] / got["seconds"][0]
        reader_note = f"reader stored {got['entries']}"
    else:
        reader_note = "reader not installed: pip install -e '.[bench]'"
    folder = fresh(work / "feedsvc-files")
    config = write_config(
        folder / "config.toml",
        folder / "feedsvc.sqlite3",
        [(Path(f).stem, "path", f) for f in files],
    )
    ours = run_child("ingest", str(config), "--times", "2")
    first, second = ours["seconds"]
    rate = ours["entries"] / first
    row = ratio_row("1. first ingest, local files", rate, theirs, "entries/s", 10, judge)
    row.note = (
        f"{expected} entries; feedsvc stored {ours['entries']}; {reader_note}; "
        f"indexing them for search afterwards (daemon or first search, not timed above): "
        f"{ours['index_seconds']:.1f} s"
    )
    rows.append(row)
    third = Row(
        "3. second ingest, unchanged",
        f"{second * 1000:,.0f} ms vs {first * 1000:,.0f} ms",
        second / first,
        "<= 0.02",
        (second / first <= 0.02) if judge else None,
    )
    seventh = Row(
        "7. peak RSS, first ingest",
        f"{ours['peak_tree_mb']:,.0f} MB",
        None,
        "<= 200 MB",
        (ours["peak_tree_mb"] <= 200) if judge else None,
        f"all processes together; main process alone {ours['peak_self_mb']:,.0f} MB",
    )

    # Figure 2: the same files over a loopback HTTP server (in its own process).
    with file_server(info.files[0].parent, work) as base:
        urls = [f"{base}/{Path(f).name}" for f in files]
        folder = fresh(work / "feedsvc-http")
        config = write_config(
            folder / "config.toml",
            folder / "feedsvc.sqlite3",
            [(Path(u).stem, "url", u) for u in urls],
        )
        ours_http = run_child("ingest", str(config))
        rate_http = ours_http["entries"] / ours_http["seconds"][0]
        theirs_http = None
        note = reader_note
        if reader_ok:
            # reader gets as many worker threads as feedsvc's default max_connections.
            got = run_child(
                "reader",
                str(fresh(work / "reader-http") / "reader.sqlite"),
                *urls,
                "--workers",
                "10",
            )
            theirs_http = got["entries"] / got["seconds"][0]
            note = f"reader stored {got['entries']} (10 worker threads)"
    row = ratio_row(
        "2. first ingest, loopback HTTP", rate_http, theirs_http, "entries/s", 10, judge
    )
    row.note = f"feedsvc stored {ours_http['entries']}; {note}"
    if ours_http["failed"]:
        row.note += f"; feedsvc errors: {ours_http['failed'][:2]}"
    rows += [row, third, seventh]
    return rows


# --- figure 4: publishing ----------------------------------------------------------------------


def bench_config(db: Path, out: Path, work: Path) -> Any:
    from feedsvc.config import parse_config

    return parse_config(
        {
            "feed": {"id": "tag:bench.example,2026:feed", "title": "feedsvc benchmark"},
            "storage": {"path": str(db)},
            "publish": {"dir": str(out)},
        },
        work,
    )


def publish_seconds(db: Path, work: Path, repeat: int) -> float:
    """Best wall time of publishing the main feed, Pipeline.publish_main_feed(): read the
    stories atom.xml shows (the newest 50 and those of the open archive page, with the
    story count that locates it), render them as Atom, write and fsync atom.xml and rename
    it into place, under the publish lock. atom.xml is removed before each run, so every
    run really writes."""
    from feedsvc.pipeline import Pipeline
    from feedsvc.storage import Store

    out = fresh(work / "publish-feedsvc")
    config = bench_config(db, out, work)
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store)

        def once() -> float:
            (out / "atom.xml").unlink(missing_ok=True)
            started = time.perf_counter()
            pipe.publish_main_feed()
            return time.perf_counter() - started

        return best_of(repeat, once)


def site_seconds(db: Path, work: Path, repeat: int) -> tuple[float, float, int]:
    """Publishing the whole site, Pipeline.publish() (atom.xml, its RFC 5005 archive pages,
    rss.xml, feed.json, a feed per source, index.html), on a copy of ``db`` (publishing
    records what it wrote in the database): (seconds the first time, into an empty folder;
    best seconds of publishing again with nothing changed; files in the site)."""
    from feedsvc.pipeline import Pipeline
    from feedsvc.storage import Store

    folder = fresh(work / "publish-site")
    copy = folder / "site.sqlite3"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    out = folder / "feeds"
    config = bench_config(copy, out, work)
    try:
        with Store(config.storage.path) as store:
            pipe = Pipeline(config, store)
            started = time.perf_counter()
            result = pipe.publish_site()
            first = time.perf_counter() - started

            def again() -> float:
                started = time.perf_counter()
                pipe.publish()
                return time.perf_counter() - started

            return first, best_of(repeat, again), result.files
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def lxml_seconds(db: Path, work: Path, repeat: int, limit: int = 50) -> float:
    """The floor: the same 50 newest stories queried with sqlite3 and written as Atom with
    lxml directly (feed metadata, id, title, link, dates, author, HTML content, summary and
    atom:source per entry), to a temp file renamed into place."""
    from lxml import etree

    atom = "http://www.w3.org/2005/Atom"
    out = fresh(work / "publish-lxml")

    def once() -> float:
        started = time.perf_counter()
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute(
                "SELECT e.atom_id, e.title, e.link, e.published, e.updated, e.content_html, "
                "e.summary_html, e.authors, s.feed_info FROM entries e "
                "JOIN sources s ON s.name = e.source WHERE e.story_id = e.id "
                "ORDER BY e.published DESC, e.atom_id ASC LIMIT ?",
                [limit],
            ).fetchall()
        finally:
            conn.close()
        feed = etree.Element(f"{{{atom}}}feed", nsmap={None: atom})
        for tag, text in (
            ("id", "tag:bench.example,2026:feed"),
            ("title", "feedsvc benchmark"),
            ("updated", rows[0][4] if rows else "1970-01-01T00:00:00Z"),
        ):
            etree.SubElement(feed, f"{{{atom}}}{tag}").text = text
        etree.SubElement(feed, f"{{{atom}}}link", rel="self", href="http://127.0.0.1:8080/atom.xml")
        author = etree.SubElement(feed, f"{{{atom}}}author")
        etree.SubElement(author, f"{{{atom}}}name").text = "feedsvc"
        for atom_id, title, link, published, updated, content, summary, authors, info in rows:
            entry = etree.SubElement(feed, f"{{{atom}}}entry")
            etree.SubElement(entry, f"{{{atom}}}id").text = atom_id
            etree.SubElement(entry, f"{{{atom}}}title").text = title
            if link:
                etree.SubElement(entry, f"{{{atom}}}link", rel="alternate", href=link)
            etree.SubElement(entry, f"{{{atom}}}published").text = published
            etree.SubElement(entry, f"{{{atom}}}updated").text = updated
            for person in json.loads(authors):
                a = etree.SubElement(entry, f"{{{atom}}}author")
                etree.SubElement(a, f"{{{atom}}}name").text = person[0]
            etree.SubElement(entry, f"{{{atom}}}content", type="html").text = content
            if summary:
                etree.SubElement(entry, f"{{{atom}}}summary", type="html").text = summary
            if info:
                src = json.loads(info)
                source = etree.SubElement(entry, f"{{{atom}}}source")
                if src.get("title"):
                    etree.SubElement(source, f"{{{atom}}}title").text = src["title"]
                if src.get("link"):
                    etree.SubElement(source, f"{{{atom}}}link", href=src["link"])
        data = etree.tostring(feed, xml_declaration=True, encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=out, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out / "atom.xml")
        return time.perf_counter() - started

    return best_of(repeat, once)


def publish_figure(mode: Mode, work: Path, judge: bool) -> list[Row]:
    small = bigdb.build(work / f"big-{SMALL_DB}.sqlite3", SMALL_DB)
    big = bigdb.build(work / f"big-{mode.big}.sqlite3", mode.big)
    repeat = 15
    ours_small = publish_seconds(small, work, repeat)
    floor_small = lxml_seconds(small, work, repeat)
    ours_big = publish_seconds(big, work, repeat)
    floor_big = lxml_seconds(big, work, repeat)
    ratio = ours_small / floor_small
    flat = ours_big / ours_small
    sites = []
    for size, db in ((SMALL_DB, small), (mode.big, big)):
        print(f"  publishing the whole site with {size:,} stored ...", flush=True)
        first, again, files = site_seconds(db, work, 5)
        sites.append(
            Row(
                f"4. whole site, {size:,} stored",
                f"{again * 1000:,.0f} ms again, {first:,.1f} s first",
                None,
                "(not a target)",
                None,
                f"{files:,} files; first: into an empty folder; again: nothing changed",
            )
        )
    return [
        Row(
            f"4. publish, {SMALL_DB:,} stored",
            f"{ours_small * 1000:.1f} ms vs lxml {floor_small * 1000:.1f} ms",
            ratio,
            "<= 2x",
            ratio <= 2 if judge else None,
        ),
        Row(
            f"4. publish, {mode.big:,} stored",
            f"{ours_big * 1000:.1f} ms vs lxml {floor_big * 1000:.1f} ms",
            flat,
            f"<= 1.2x of {SMALL_DB:,}",
            flat <= 1.2 if judge else None,
            f"against lxml: {ours_big / floor_big:.2f}x",
        ),
        *sites,
    ]


# --- figure 5: ingest with N entries stored ----------------------------------------------------


def big_ingest_figure(mode: Mode, work: Path, info: corpus.CorpusInfo, judge: bool) -> Row:
    files = [str(p) for p in info.files[: mode.ingest_feeds]]
    big = bigdb.build(work / f"big-{mode.big}.sqlite3", mode.big)
    rates = []
    for label, seed in (("empty", None), ("big", big)):
        folder = fresh(work / f"feedsvc-{label}")
        db = folder / "feedsvc.sqlite3"
        if seed is not None:
            shutil.copyfile(seed, db)
        config = write_config(
            folder / "config.toml", db, [(f"c-{Path(f).stem}", "path", f) for f in files]
        )
        got = run_child("ingest", str(config))
        new = got["entries"] - (mode.big if seed is not None else 0)
        rates.append(new / got["seconds"][0])
    ratio = rates[1] / rates[0]
    return Row(
        f"5. ingest rate, {mode.big:,} stored",
        f"{rates[1]:,.0f} vs {rates[0]:,.0f} entries/s (empty)",
        ratio,
        ">= 0.8",
        ratio >= 0.8 if judge else None,
        f"{len(files)} feeds ingested into a copy of the {mode.big:,}-entry database",
    )


# --- figure 6: serving -------------------------------------------------------------------------


def serving_figure(mode: Mode, work: Path, judge: bool) -> list[Row]:
    pending = [
        Row("6. serve 200s", "pending daemon", None, ">= 0.7x nginx", None),
        Row("6. serve 304s", "pending daemon", None, ">= 0.5x nginx", None),
    ]
    if mode.wrk_seconds == 0:
        for row in pending:
            row.value, row.note = "not measured", "CI mode: no load generator"
        return pending
    missing = serving.missing_tools()
    if missing:
        for row in pending:
            row.value = "not measured"
            row.note = f"missing {', '.join(missing)}: make bench-setup (apt-get)"
        return pending
    if not serving.has_serve_command():
        for row in pending:
            row.note = "`feedsvc serve` (issue 3) is not in this build; the harness is ready"
        return pending
    folder = fresh(work / "serve")
    db = shutil.copyfile(work / f"big-{SMALL_DB}.sqlite3", folder / "feedsvc.sqlite3")
    port = serving.free_port()
    config = write_config(
        folder / "config.toml",
        db,
        [],
        f"[server]\nhost = '127.0.0.1'\nport = {port}\n",
    )
    subprocess.run(
        [sys.executable, "-m", "feedsvc", "-c", str(config), "publish"], check=True, timeout=300
    )
    ours = f"http://127.0.0.1:{port}/atom.xml"
    with (
        serving.feedsvc_server(config),
        serving.nginx(folder / "feeds", fresh(work / "nginx")) as theirs,
    ):
        serving.wait_for(ours)
        result = serving.side_by_side(ours, theirs, mode.wrk_seconds, mode.wrk_rounds)
    rows = []
    load = "load average {:.1f} ({:.1f}-{:.1f})".format(*result.load)
    for (label, target), a, b in zip(
        (("6. serve 200s", 0.7), ("6. serve 304s", 0.5)), result.ours, result.theirs, strict=True
    ):
        row = ratio_row(label, a.rps, b.rps, "req/s", target, judge)
        row.target = f">= {target:g}x nginx"
        row.note = f"median of {result.rounds} alternating rounds, {load}"
        if a.bad or b.bad:
            row.note += f"; unexpected answers: feedsvc {a.bad}, nginx {b.bad}"
        rows.append(row)
    return rows


# --- the table ---------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    head = ("figure", "value", "ratio", "target", "met?")
    cells = [
        (
            r.figure,
            r.value,
            "" if r.ratio is None else f"{r.ratio:.3f}" if r.ratio < 0.1 else f"{r.ratio:.2f}",
            r.target,
            "-" if r.met is None else "yes" if r.met else "NO",
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(5)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
    notes = [f"  {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="smaller corpus and database")
    group.add_argument("--ci", action="store_true", help="smallest: proves the harness runs")
    ap.add_argument("--work", type=Path, help="work folder (default: $TMPDIR/feedsvc-bench)")
    ap.add_argument("--results", type=Path, default=BENCH / "results", help="JSON output folder")
    args = ap.parse_args(argv)
    mode = MODES["ci" if args.ci else "quick" if args.quick else "full"]
    judge = mode.name == "full"
    work = args.work or Path(tempfile.gettempdir()) / "feedsvc-bench"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    corpus_dir = work / f"corpus-{mode.feeds}x{mode.entries}"
    info = corpus.generate(corpus_dir, feeds=mode.feeds, entries=mode.entries)
    # As if written a minute ago: feedsvc trusts a file's stat signature only once the file is
    # two seconds old (a file written in the same clock tick may change unseen).
    past = time.time() - 60
    for path in info.files:
        os.utime(path, (past, past))
    print(
        f"{mode.name} mode: {len(info.files)} feeds, {info.entries} entries "
        f"({info.shared} copies of shared stories), {info.bytes / 1e6:.0f} MB; work folder {work}",
        flush=True,
    )

    rows: list[Row] = []
    for stage in (
        lambda: ingest_figures(mode, work, info, judge),
        lambda: publish_figure(mode, work, judge),
        lambda: [big_ingest_figure(mode, work, info, judge)],
        lambda: serving_figure(mode, work, judge),
    ):
        done = stage()
        for row in done:
            print(f"  measured {row.figure}: {row.value}", flush=True)
        rows += done
    rows.sort(key=lambda r: r.figure[:2])

    print(table(rows))
    elapsed = time.perf_counter() - started
    document = {
        "mode": mode.name,
        "judged": judge,
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(elapsed, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "corpus": {
            "feeds": len(info.files),
            "entries": info.entries,
            "shared": info.shared,
            "bytes": info.bytes,
        },
        "figures": [asdict(r) for r in rows],
    }
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}-{mode.name}.json", f"latest-{mode.name}.json"):
        (args.results / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"({elapsed:.0f} s; results in {args.results / f'latest-{mode.name}.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
