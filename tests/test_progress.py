"""Progress of an ingest: the sinks as units, and the CLI's plain (non-terminal) path."""

from __future__ import annotations

import io
import json
from pathlib import Path

from feedsvc.progress import BarProgress, LineProgress, NullProgress, Tally, make_progress

from helpers import run, write_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_tally_counts_and_rate() -> None:
    clock = FakeClock()
    tally = Tally(3, clock)
    assert tally.rate() == 0.0  # no time has passed: no division by zero
    clock.now += 2
    tally.add(10)
    tally.add(0)
    assert (tally.done, tally.entries, tally.rate()) == (2, 10, 5.0)
    assert tally.line("wire") == "[2/3] wire done; 10 entries new or updated so far (5.0 entries/s)"


def test_line_progress_writes_a_line_per_source() -> None:
    clock = FakeClock()
    out = io.StringIO()
    sink = LineProgress(out, clock)
    sink.start(2)
    clock.now += 1
    sink.advance("a", 4)
    clock.now += 1
    sink.advance("b", 0)
    sink.finish()
    assert out.getvalue().splitlines() == [
        "feedsvc: progress: [1/2] a done; 4 entries new or updated so far (4.0 entries/s)",
        "feedsvc: progress: [2/2] b done; 4 entries new or updated so far (2.0 entries/s)",
    ]


def test_bar_progress_draws_on_a_terminal() -> None:
    out = io.StringIO()
    clock = FakeClock()
    sink = BarProgress(out, clock, force=True)
    sink.start(2)
    clock.now += 2
    sink.advance("river", 6)
    sink.console.file.flush()
    sink._bar.refresh()  # type: ignore[attr-defined]
    drawn = out.getvalue()
    assert "1/2" in drawn and "sources" in drawn
    assert "3.0 entries/s" in drawn and "river" in drawn
    sink.advance("wire", 0)
    sink.finish()
    assert "2/2" in out.getvalue()
    assert "\x1b[" in out.getvalue()  # drawn with terminal control sequences


def test_make_progress_picks_by_terminal_and_quiet() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(make_progress(Tty(), quiet=False), BarProgress)
    assert isinstance(make_progress(io.StringIO(), quiet=False, verbose=True), LineProgress)
    assert isinstance(make_progress(io.StringIO(), quiet=False), NullProgress)
    assert isinstance(make_progress(Tty(), quiet=True), NullProgress)


def _two_sources(tmp_path: Path) -> Path:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(f"Title {name}\n\nBody of {name}.\n")
    return write_config(
        tmp_path,
        """
        [[sources]]
        name = "a"
        path = "a"
        [[sources]]
        name = "b"
        path = "b"
        """,
    )


def test_ingest_without_a_terminal_logs_progress_only_when_verbose(tmp_path: Path) -> None:
    config = _two_sources(tmp_path)
    verbose = run(config, "ingest", "--verbose")
    assert verbose.exit_code == 0, verbose.output
    progress = [line for line in verbose.stderr.splitlines() if "progress:" in line]
    assert len(progress) == 2
    assert "[1/2] a done; 1 entries new or updated so far" in progress[0]
    assert "[2/2] b done; 2 entries new or updated so far" in progress[1]
    assert "\x1b[" not in verbose.stderr  # no bar, no colours: plain lines
    assert verbose.stdout.splitlines()[0].startswith("a ")  # the summary is on stdout
    plain = run(config, "ingest")
    assert plain.exit_code == 0
    assert plain.stderr == ""
    both = run(config, "ingest", "-q", "-v")
    assert both.exit_code == 2
    assert "--quiet and --verbose cannot be used together" in both.stderr


def test_ingest_and_publish_json(tmp_path: Path) -> None:
    config = _two_sources(tmp_path)
    (tmp_path / "a" / "junk.bin").write_bytes(b"\x00\x01")
    result = run(config, "ingest", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert result.stderr == ""
    assert doc["ok"] is True
    a = doc["sources"][0]
    assert set(a) == {
        "name",
        "status",
        "new",
        "updated",
        "unchanged",
        "duplicates",
        "skipped",
        "started",
        "finished",
        "held",
        "errors",
        "warnings",
        "notes",
    }
    assert (a["name"], a["status"], a["new"], a["skipped"]) == ("a", "ok", 1, 1)
    assert doc["published"]["changed"] is True
    assert doc["published"]["entries"] == 2
    assert "atom.xml" in {Path(p).name for p in doc["published"]["changed_files"]}
    again = json.loads(run(config, "ingest", "--json").stdout)
    assert again["published"] is None
    assert [s["unchanged"] for s in again["sources"]] == [1, 1]
    pub = run(config, "publish", "--json")
    assert json.loads(pub.stdout) == {
        "changed": False,
        "entries": 2,
        "files": doc["published"]["files"],
        "changed_files": [],
    }
    (tmp_path / "b" / "b.txt").unlink()
    (tmp_path / "b").rmdir()
    failed = run(config, "ingest", "--json")
    assert failed.exit_code == 1
    b = json.loads(failed.stdout)["sources"][1]
    assert b["status"] == "failed" and "does not exist" in b["errors"][0]
