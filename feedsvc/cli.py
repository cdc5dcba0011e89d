"""The ``feedsvc`` command line: parse arguments, call the core, print.

Exit status (scripts rely on it): 0 success; 1 some sources failed (the others were still
ingested); 2 usage or configuration error.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from feedsvc import __version__
from feedsvc.config import DEFAULT_CONFIG_NAME, Config, adhoc_sources, load_config
from feedsvc.dedup import choose_head
from feedsvc.errors import ConfigError, FeedsvcError
from feedsvc.models import IngestReport, Source
from feedsvc.pipeline import Pipeline, needs_publish
from feedsvc.storage import EntryRow, Store, iso

EXIT_OK, EXIT_SOURCES_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("feedsvc")


@dataclass
class Ctx:
    config_path: Path

    def config(self) -> Config:
        return load_config(self.config_path)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"feedsvc: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn expected failures into a one-line message and the documented exit status."""
    try:
        yield
    except ConfigError as e:
        _fail(str(e), EXIT_USAGE)
    except FeedsvcError as e:
        _fail(str(e), EXIT_SOURCES_FAILED)


@contextmanager
def _pipeline(config: Config) -> Iterator[Pipeline]:
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store)
        try:
            yield pipe
        finally:
            pipe.close()


def _rel(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG_NAME,
    show_default=True,
    help="The configuration file. Relative paths inside it resolve against its folder.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="warning",
    show_default=True,
    help="How much to log to stderr.",
)
@click.version_option(__version__, prog_name="feedsvc")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, log_level: str) -> None:
    """feedsvc: many sources in, one clean, trustworthy Atom feed out.

    Ingests article files and RSS/Atom feeds into SQLite, deduplicates them across sources,
    and publishes an Atom feed (feeds/atom.xml by default).
    """
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = Ctx(config_path)


def _summary(report: IngestReport) -> str:
    if report.not_modified:
        status, detail = "ok", "not modified (HTTP 304)"
    else:
        status = "ok" if report.ok else ("partial" if report.new or report.unchanged else "FAILED")
        detail = (
            f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.duplicates} duplicate"
        )
        if report.skipped:
            detail += f", {report.skipped} skipped"
    line = f"{report.source:<24} {status:<7} {detail}"
    for error in report.errors:
        line += f"\n{'':<24} error   {error}"
    return line


def _select_sources(config: Config, names: Sequence[str], paths: Sequence[Path]) -> list[Source]:
    if paths:
        chosen = adhoc_sources(config, list(paths))
        for name in names:
            chosen.append(config.source(name))
        return chosen
    if names:
        return [config.source(n) for n in dict.fromkeys(names)]
    return [s for s in config.sources if s.enabled]


@cli.command()
@click.option(
    "-s",
    "--source",
    "names",
    multiple=True,
    metavar="NAME",
    help="Ingest only this configured source (repeatable). A disabled source named here runs.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def ingest(obj: Ctx, names: tuple[str, ...], quiet: bool, paths: tuple[Path, ...]) -> None:
    """Ingest sources once, then publish if anything changed.

    With no arguments, every enabled source in the config. PATH... ingests files or folders
    named on the command line (article files, folders of them, or feed files) without editing
    the config. Exits 1 if any source failed; the others are still ingested.
    """
    with _errors():
        config = obj.config()
        sources = _select_sources(config, names, paths)
        if not sources:
            _fail("no enabled sources in the config and no PATH given", EXIT_USAGE)
        with _pipeline(config) as pipe:
            reports = []
            for source in sources:
                report = pipe.ingest(source)
                reports.append(report)
                if not quiet or not report.ok:
                    click.echo(_summary(report))
            if needs_publish(reports, pipe.atom_path()):
                changed = pipe.publish()
                if not quiet:
                    verb = "published" if changed else "unchanged"
                    click.echo(f"{verb} {_rel(pipe.atom_path())}")
            elif not quiet:
                click.echo(f"nothing changed; {_rel(pipe.atom_path())} left as it was")
    sys.exit(EXIT_OK if all(r.ok for r in reports) else EXIT_SOURCES_FAILED)


@cli.command()
@click.pass_obj
def publish(obj: Ctx) -> None:
    """Regenerate the published feed from the database (no fetching)."""
    with _errors():
        config = obj.config()
        with _pipeline(config) as pipe:
            changed = pipe.publish()
            n = min(pipe.store.counts()["stories"], config.feed.max_entries)
            verb = "published" if changed else "unchanged"
            click.echo(f"{verb} {_rel(pipe.atom_path())} ({n} entries)")


def status_document(config: Config, store: Store) -> dict[str, Any]:
    """The ``status --json`` document (shape documented in the README; keep it stable)."""
    states = {s.name: s for s in store.source_states()}
    records: list[dict[str, Any]] = []

    def record(name: str, kind: str, location: str, enabled: bool, configured: bool) -> None:
        st = states.get(name)
        records.append(
            {
                "name": name,
                "kind": kind,
                "location": location,
                "enabled": enabled,
                "configured": configured,
                "entries": st.entries if st else 0,
                "last_run": iso(st.last_run) if st and st.last_run else None,
                "last_success": iso(st.last_success) if st and st.last_success else None,
                "last_error": st.last_error if st else None,
                "error_streak": st.error_streak if st else 0,
            }
        )

    for src in config.sources:
        record(src.name, src.kind.value, src.location, src.enabled, True)
    configured = {s.name for s in config.sources}
    for name, st in states.items():
        if name not in configured:
            record(name, st.kind, st.location, False, False)
    return {
        "database": str(config.storage.path),
        "feed": str(config.publish.dir / "atom.xml"),
        "totals": store.counts(),
        "sources": records,
        "dedup": store.dedup_counts(),
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.pass_obj
def status(obj: Ctx, as_json: bool) -> None:
    """Show sources with their entry counts, last run and last error."""
    with _errors():
        config = obj.config()
        with Store(config.storage.path) as store:
            doc = status_document(config, store)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    t = doc["totals"]
    click.echo(
        f"{t['entries']} entries stored, {t['stories']} stories published, "
        f"{t['duplicates']} duplicates linked"
    )
    d = doc["dedup"]
    rules = ", ".join(f"{n} {rule}" for rule, n in d["rules"].items())
    click.echo(f"duplicates by rule: {rules}; {d['splits']} split, {d['deleted']} deleted")
    click.echo(f"{'SOURCE':<24} {'ENTRIES':>7}  {'LAST RUN':<20}  LAST ERROR")
    for r in doc["sources"]:
        name = r["name"] + ("" if r["enabled"] else " (disabled)")
        last_run, last_error = r["last_run"] or "never", r["last_error"] or "-"
        click.echo(f"{name:<24} {r['entries']:>7}  {last_run:<20}  {last_error}")


# --- dedup: explain and undo; entries: list and delete -----------------------------------


def _entry_json(e: EntryRow) -> dict[str, Any]:
    return {
        "id": e.id,
        "source": e.source,
        "key": e.key,
        "atom_id": e.atom_id,
        "title": e.title,
        "link": e.link,
        "story": e.story_id,
        "published_copy": e.is_head,
        "rule": e.rule,
        "score": e.score,
        "published": iso(e.published),
        "first_seen": iso(e.first_seen),
        "deleted": e.deleted,
    }


def _find(store: Store, ref: str) -> EntryRow:
    entry = store.entry(ref)
    if entry is None:
        _fail(f"no entry {ref!r} (give an id from `feedsvc entries list` or an atom:id)")
    return entry


def _republish(pipe: Pipeline) -> None:
    changed = pipe.publish()
    click.echo(f"{'published' if changed else 'unchanged'} {_rel(pipe.atom_path())}")


@cli.group(invoke_without_command=True, short_help="List merged stories and why; undo merges.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1), help="Stories to list."
)
@click.pass_context
def dupes(ctx: click.Context, as_json: bool, limit: int) -> None:
    """List stories that have several copies: each copy with its source, the rule that
    matched it (same-id, same-link, same-text, similar-text) and its score.

    The published copy is marked with "*". Undo a wrong merge with `feedsvc dupes split ENTRY`.
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Ctx = ctx.obj
    with _errors():
        config = obj.config()
        with Store(config.storage.path) as store:
            stories = store.stories_with_copies(limit)
    if as_json:
        doc = [
            {
                "story": st.head.id,
                "atom_id": st.head.atom_id,
                "title": st.head.title,
                "copies": [_entry_json(e) for e in (st.head, *st.copies)],
            }
            for st in stories
        ]
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if not stories:
        click.echo("no merged stories")
    for st in stories:
        click.echo(f"story {st.head.id}: {st.head.title} ({1 + len(st.copies)} copies)")
        for e in (st.head, *st.copies):
            mark = "*" if e.is_head else " "
            how = "published copy" if e.is_head else f"{e.rule:<13} {e.score or 0:.2f}"
            gone = "  (deleted)" if e.deleted else ""
            click.echo(f"  {mark} {e.id:>6}  {e.source:<20} {how}{gone}")


@dupes.command("split", short_help="Undo a merge: take ENTRY out of its story.")
@click.argument("entry")
@click.pass_obj
def dupes_split(obj: Ctx, entry: str) -> None:
    """Undo a merge: ENTRY (an id from `feedsvc dupes`, or an atom:id) leaves its story and
    becomes a story of its own; it stays split on later ingests. The feed is republished."""
    with _errors():
        config = obj.config()
        with _pipeline(config) as pipe:
            store = pipe.store
            row = _find(store, entry)
            members = store.members(row.story_id)
            if len(members) < 2:
                _fail(f"entry {row.id} is not merged with anything (its story has one copy)")
            new_head = None
            if row.is_head:
                rest = [(m.id, m.source, m.first_seen) for m in members if m.id != row.id]
                new_head = choose_head(rest, config.priorities())
            store.split(row.id, new_head, pipe.clock())
            click.echo(f"entry {row.id} split from story {row.story_id}: now a story of its own")
            if new_head is not None:
                click.echo(f"entry {new_head} is now the published copy of the other copies")
            _republish(pipe)


@cli.group()
def entries() -> None:
    """Locate stored entries, and delete them for good."""


@entries.command("list", short_help="List the newest entries with their ids.")
@click.option("-s", "--source", "source", metavar="NAME", help="Only this source's entries.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1), help="Entries to list."
)
@click.option("--deleted", is_flag=True, help="Include deleted (tombstoned) entries.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.pass_obj
def entries_list(obj: Ctx, source: str | None, limit: int, deleted: bool, as_json: bool) -> None:
    """List the newest stored entries with their ids (for `entries delete`, `dupes split`)."""
    with _errors():
        config = obj.config()
        with Store(config.storage.path) as store:
            rows = store.list_entries(source, limit, deleted)
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in rows], indent=2, ensure_ascii=False))
        return
    click.echo(f"{'ID':>6}  {'STORY':>6}  {'PUBLISHED':<20}  {'SOURCE':<20}  TITLE")
    for e in rows:
        flag = " (deleted)" if e.deleted else ""
        click.echo(
            f"{e.id:>6}  {e.story_id:>6}  {iso(e.published):<20}  {e.source:<20}  {e.title}{flag}"
        )


@entries.command("delete", short_help="Delete entries for good (tombstones).")
@click.argument("refs", nargs=-1, required=True, metavar="ENTRY...")
@click.pass_obj
def entries_delete(obj: Ctx, refs: tuple[str, ...]) -> None:
    """Delete entries for good: ENTRY is an id from `feedsvc entries list`, or an atom:id.

    A deleted entry leaves the published feed and stays deleted: re-ingesting its source does
    not bring it back, and later copies of it from other sources are not published either.
    Deleting a story's published copy deletes the whole story. The feed is republished.
    """
    with _errors():
        config = obj.config()
        with _pipeline(config) as pipe:
            rows = [_find(pipe.store, ref) for ref in refs]
            for row in rows:
                ids = pipe.store.delete(row.id, pipe.clock())
                if not ids:
                    click.echo(f"entry {row.id} was already deleted")
                elif len(ids) == 1:
                    click.echo(f"deleted entry {row.id}: {row.title}")
                else:
                    click.echo(
                        f"deleted story {row.id} and its {len(ids) - 1} other copies: {row.title}"
                    )
            _republish(pipe)


def main() -> None:
    cli(prog_name="feedsvc")
