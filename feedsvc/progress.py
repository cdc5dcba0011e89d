"""Progress of a long ingest: a live bar on a terminal, plain log lines elsewhere.

The only rich user. :func:`make_progress` picks a sink for the CLI: :class:`BarProgress` (a
transient rich bar on stderr: sources done/total, entries/s, the source just finished) when
stderr is a terminal; :class:`LineProgress` (one plain line per finished source on stderr)
when it is not and ``--verbose`` is given; :class:`NullProgress` otherwise (and always with
``--quiet``), so a cron'd ingest stays silent. Sinks are fed by :attr:`Pipeline.progress
<feedsvc.pipeline.Pipeline.progress>` and never touch stdout, where the summary goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

Clock = Callable[[], float]


@dataclass
class Tally:
    """Counts behind every sink: pure arithmetic on an injected monotonic clock."""

    total: int
    clock: Clock = time.monotonic
    done: int = 0
    entries: int = 0
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def add(self, entries: int) -> None:
        self.done += 1
        self.entries += entries

    def rate(self) -> float:
        """Entries (new or updated) per second since the start."""
        elapsed = self.clock() - self.started
        return self.entries / elapsed if elapsed > 0 else 0.0

    def line(self, name: str) -> str:
        return (
            f"[{self.done}/{self.total}] {name} done; {self.entries} entries new or updated "
            f"so far ({self.rate():.1f} entries/s)"
        )


class ProgressSink(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, name: str, entries: int) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    """Shows nothing (``--quiet``)."""

    def start(self, total: int) -> None:
        pass

    def advance(self, name: str, entries: int) -> None:
        pass

    def finish(self) -> None:
        pass


class LineProgress:
    """One plain line per finished source on ``stream`` (stderr that is not a terminal)."""

    def __init__(self, stream: IO[str], clock: Clock = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.tally: Tally | None = None

    def start(self, total: int) -> None:
        self.tally = Tally(total, self.clock)

    def advance(self, name: str, entries: int) -> None:
        assert self.tally is not None
        self.tally.add(entries)
        self.stream.write(f"feedsvc: progress: {self.tally.line(name)}\n")
        self.stream.flush()

    def finish(self) -> None:
        pass


class BarProgress:
    """A rich progress bar on ``stream`` (a terminal), removed when the ingest finishes."""

    def __init__(self, stream: IO[str], clock: Clock = time.monotonic, *, force: bool = False):
        from rich.console import Console

        self.console = Console(file=stream, force_terminal=force or None, stderr=True)
        self.clock = clock
        self.tally: Tally | None = None
        self._bar: object = None
        self._task: object = None

    def start(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.tally = Tally(total, self.clock)
        bar = Progress(
            TextColumn("ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sources"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[last]}"),
            console=self.console,
            transient=True,
        )
        self._task = bar.add_task("ingest", total=total, rate="", last="")
        self._bar = bar
        bar.start()

    def advance(self, name: str, entries: int) -> None:
        from rich.progress import Progress, TaskID

        assert self.tally is not None and isinstance(self._bar, Progress)
        self.tally.add(entries)
        task = self._task
        assert isinstance(task, int)
        self._bar.update(
            TaskID(task),
            advance=1,
            rate=f"{self.tally.rate():.1f} entries/s",
            last=name,
        )

    def finish(self) -> None:
        from rich.progress import Progress

        if isinstance(self._bar, Progress):
            self._bar.stop()


def make_progress(stream: IO[str], *, quiet: bool, verbose: bool = False) -> ProgressSink:
    """The sink for an ingest whose progress would go to ``stream`` (stderr)."""
    if quiet:
        return NullProgress()
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return BarProgress(stream)
    return LineProgress(stream) if verbose else NullProgress()
