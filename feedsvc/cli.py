"""The ``feedsvc`` command line: parse arguments, call the core, print.

Exit status (scripts rely on it): 0 success; 1 some sources failed (the others were still
ingested); 2 usage or configuration error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from click.core import ParameterSource

from feedsvc import __version__
from feedsvc.config import DEFAULT_CONFIG_NAME, Config, adhoc_sources, load_config
from feedsvc.dedup import choose_head
from feedsvc.errors import ConfigError, FeedsvcError
from feedsvc.models import IngestReport, Source
from feedsvc.pipeline import Pipeline, needs_publish
from feedsvc.publish import PublishResult
from feedsvc.storage import (
    DatabaseCheck,
    EntryRow,
    SearchHit,
    Store,
    backup_database,
    check_database,
    iso,
)

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
    default=None,
    help="How much to log to stderr (warning: also each failing source; info: skipped files, "
    "and for run/serve one line per source run). Default: info for run and serve, error for "
    "the other commands.",
)
@click.version_option(__version__, prog_name="feedsvc")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, log_level: str | None) -> None:
    """feedsvc: many sources in, one clean, trustworthy Atom feed out.

    Ingests article files and RSS/Atom feeds into SQLite, deduplicates them across sources,
    and publishes an Atom feed (feeds/atom.xml by default) with its archive, RSS and JSON
    Feed alternates, per-source feeds and a browser page (feeds/index.html).
    """
    if log_level is None:
        log_level = "info" if ctx.invoked_subcommand in ("run", "serve") else "error"
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if log_level != "debug":  # both log every job or change at INFO: too chatty for a daemon
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
    ctx.obj = Ctx(config_path)


def _summary(report: IngestReport) -> str:
    if report.held:
        return f"{report.source:<24} {'skipped':<7} {report.held}"
    if report.not_modified:
        status, detail = "ok", f"not modified ({report.notes[0] if report.notes else 'HTTP 304'})"
    else:
        status = "ok" if report.ok else ("partial" if report.new or report.unchanged else "FAILED")
        detail = (
            f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.duplicates} duplicate"
        )
        if report.skipped:
            detail += f", {report.skipped} skipped"
    line = f"{report.source:<16} {status:<7} {detail}"
    for note in report.notes[1 if report.not_modified else 0 :]:
        line += f"\n{'':<16} note    {note}"
    for error in report.errors:
        line += f"\n{'':<16} error   {error}"
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
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors; no progress.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also log to stderr each source as it finishes (with entries/s), skipped files and "
    "fetch notes.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON document of the run (see README) instead of the summary.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also fetch URL sources retired by 410 Gone or under a publisher's Retry-After "
    "(a retired source that answers again is re-enabled).",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def ingest(
    obj: Ctx,
    names: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    as_json: bool,
    force: bool,
    paths: tuple[Path, ...],
) -> None:
    """Ingest sources once, then publish if anything changed.

    With no arguments, every enabled source in the config. PATH... ingests files or folders
    named on the command line (article files, folders of them, or feed files) without editing
    the config. Exits 1 if any source failed; the others are still ingested.

    URL sources are fetched now, concurrently, whatever their interval or error backoff;
    sources retired by 410 Gone or under a Retry-After are skipped with a message unless
    --force is given.

    While it runs, a progress bar (sources done/total, entries/s) is shown when stderr is a
    terminal; elsewhere --verbose prints one line per finished source to stderr instead.
    """
    if quiet and verbose:
        _fail("--quiet and --verbose cannot be used together", EXIT_USAGE)
    if verbose:
        logging.getLogger("feedsvc").setLevel(logging.INFO)
    from feedsvc.progress import make_progress

    with _errors():
        config = obj.config()
        sources = _select_sources(config, names, paths)
        if not sources:
            _fail("no enabled sources in the config and no PATH given", EXIT_USAGE)
        with _pipeline(config) as pipe:
            bar = make_progress(sys.stderr, quiet=quiet or as_json, verbose=verbose)
            pipe.progress = bar.advance
            bar.start(len(sources))
            try:
                reports = pipe.ingest_all(sources, force=force)
            finally:
                bar.finish()
            # What each source did is printed before publishing, so that a publish that fails
            # (disk full, say) does not hide it: the entries are stored either way.
            if not as_json:
                for report in reports:
                    if not quiet or not report.ok:
                        click.echo(_summary(report))
            result = None
            if needs_publish(reports, pipe.atom_path(), pipe.store):
                result = pipe.publish_site()
            if as_json:
                click.echo(json.dumps(ingest_document(reports, result), indent=2))
            elif quiet:
                pass
            elif result is not None:
                click.echo(_published(pipe, result))
            else:
                click.echo(f"nothing changed; {_rel(pipe.atom_path())} left as it was")
    sys.exit(EXIT_OK if all(r.ok for r in reports) else EXIT_SOURCES_FAILED)


def report_status(report: IngestReport) -> str:
    """One word for a source run: ok, not-modified, partial, failed or held."""
    if report.held:
        return "held"
    if report.not_modified:
        return "not-modified"
    if report.ok:
        return "ok"
    return "partial" if report.new or report.unchanged else "failed"


def ingest_document(
    reports: Sequence[IngestReport], result: PublishResult | None
) -> dict[str, Any]:
    """The ``ingest --json`` document (shape documented in the README; keep it stable)."""
    return {
        "ok": all(r.ok for r in reports),
        "sources": [
            {
                "name": r.source,
                "status": report_status(r),
                "new": r.new,
                "updated": r.updated,
                "unchanged": r.unchanged,
                "duplicates": r.duplicates,
                "skipped": r.skipped,
                "started": iso(r.started),
                "finished": iso(r.finished),
                "held": r.held,
                "errors": list(r.errors),
                "warnings": list(r.warnings),
                "notes": list(r.notes),
            }
            for r in reports
        ],
        "published": publish_document(result) if result is not None else None,
    }


def publish_document(result: PublishResult) -> dict[str, Any]:
    """The ``publish --json`` document, and ``published`` of ``ingest --json``."""
    return {
        "changed": result.any_changed,
        "entries": result.entries,
        "files": result.files,
        "changed_files": [_rel(p) for p in result.changed],
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.pass_obj
def publish(obj: Ctx, as_json: bool) -> None:
    """Regenerate every published file from the database (no fetching).

    Writes atom.xml (with its RFC 5005 archive in archive/), rss.xml, feed.json, one Atom
    feed per source in sources/, and index.html; files whose bytes did not change are left
    alone. With [feed] hub set, the changed feeds are announced to that WebSub hub.
    """
    with _errors():
        config = obj.config()
        with _pipeline(config) as pipe:
            result = pipe.publish_site()
            if as_json:
                click.echo(json.dumps(publish_document(result), indent=2))
            else:
                click.echo(_published(pipe, result))


def _published(pipe: Pipeline, result: PublishResult) -> str:
    """One line about a publish (and a second about the WebSub ping, if one was sent)."""
    verb = "published" if result.any_changed else "unchanged"
    line = (
        f"{verb} {_rel(pipe.atom_path())} ({result.entries} entries; "
        f"{len(result.changed)} of {result.files} files changed)"
    )
    ping = pipe.last_ping
    if ping is not None and (result.topics or not ping.ok):
        if ping.ok:
            line += f"\nnotified WebSub hub {ping.hub} of {len(ping.delivered)} feed(s)"
        else:
            line += (
                f"\nWebSub hub {ping.hub} not notified of {len(ping.failed)} feed(s), "
                f"will retry after the next publish: {ping.errors[-1]}"
            )
    return line


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
                # issue 4: fetch bookkeeping (null for local sources and never-run ones)
                "next_attempt": iso(st.next_due) if st and st.next_due else None,
                "next_attempt_reason": st.schedule_reason if st else None,
                "url": st.url_for(location) if st and kind == "url" else None,
                "discovered_url": st.discovered_url if st else None,
                "redirect_pending": st.redirect_candidate if st else None,
                "last_status": st.last_status if st else None,
                "retry_after_until": (
                    iso(st.retry_after_until) if st and st.retry_after_until else None
                ),
                "retired": st.retired if st else None,
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
    rows = [
        (
            r["name"] + ("" if r["enabled"] or not r["configured"] else " (disabled)"),
            str(r["entries"]),
            r["last_run"] or "never",
            r["last_error"] or "-",
            _fetch_details(r),
        )
        for r in doc["sources"]
    ]
    d = doc["dedup"]
    rules = ", ".join(f"{n} {rule}" for rule, n in d["rules"].items())
    click.echo(f"duplicates by rule: {rules}; {d['splits']} split, {d['deleted']} deleted")
    width = max([len("SOURCE"), *(len(r[0]) for r in rows)])
    click.echo(f"{'SOURCE':<{width}}  {'ENTRIES':>7}  {'LAST RUN':<20}  LAST ERROR")
    for name, entries, last_run, last_error, details in rows:
        click.echo(f"{name:<{width}}  {entries:>7}  {last_run:<20}  {last_error}")
        for line in details:
            click.echo(f"{'':<{width}}  {line}")


def _fetch_details(r: dict[str, Any]) -> list[str]:
    """Extra status lines for a URL source that is not simply healthy."""
    out: list[str] = []
    if r.get("retired"):
        out.append(f"retired: {r['retired']}")
    if r.get("url") and r["url"] != r["location"]:
        out.append(f"fetched from {r['url']}")
    if r.get("error_streak"):
        out.append(f"{r['error_streak']} failure(s) in a row; next attempt {r.get('next_attempt')}")
    if r.get("retry_after_until"):
        out.append(f"Retry-After until {r['retry_after_until']}")
    return out


@cli.command()
@click.pass_obj
def run(obj: Ctx) -> None:
    """Run as a daemon: ingest every enabled source on its interval and serve the feed.

    Each source runs at the next due time stored in the database (so a restart neither
    refetches everything nor skips what fell due meanwhile); a new or edited file in a
    folder source is picked up within a second or two ([daemon] watch). The outputs are
    regenerated once after runs that changed something. The HTTP server listens on
    [server] host:port. SIGTERM or SIGINT: finish in-flight runs and exit 0; SIGHUP: reload
    the config file (an invalid one is logged and the old one kept). Exits 2 if another
    daemon already runs on the same database or the address cannot be used.
    """
    from feedsvc.daemon import run_daemon
    from feedsvc.locks import AlreadyRunning
    from feedsvc.web import ServeError

    with _errors():
        try:
            clean = run_daemon(obj.config_path)
        except (AlreadyRunning, ServeError) as e:
            _fail(str(e), EXIT_USAGE)
    if not clean:
        # A run that would not finish in time still holds a worker thread, which the
        # interpreter would wait for at exit; its open transaction dies with the process.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(EXIT_OK)
    sys.exit(EXIT_OK)


@cli.command()
@click.pass_obj
def serve(obj: Ctx) -> None:
    """Serve the published feed over HTTP, without ingesting anything.

    Serves every file of the publish folder (atom.xml, ...) with ETag, Last-Modified,
    304s and gzip, / as an HTML page that links the feed, and /healthz. For running beside
    cron'd `feedsvc ingest` runs; `feedsvc run` includes this server. Runs [server] workers
    processes (0: one per CPU). SIGHUP reloads the config; SIGTERM or SIGINT stop it. Exits 2
    if the address cannot be used.
    """
    from feedsvc.daemon import run_server
    from feedsvc.web import ServeError

    with _errors():
        try:
            run_server(obj.config_path)
        except ServeError as e:
            _fail(str(e), EXIT_USAGE)
    sys.exit(EXIT_OK)


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


def _entry_filters(f: Callable[..., None]) -> Callable[..., None]:
    """The options of `feedsvc entries` and `feedsvc entries list` (one set, two places)."""
    for option in reversed(
        [
            click.option(
                "-s", "--source", "source", metavar="NAME", help="Only this source's entries."
            ),
            click.option(
                "--since",
                metavar="DATE",
                help='Only entries published since DATE: "2026-11-01", an ISO date-time, or an '
                'age such as "7d" or "12h".',
            ),
            click.option(
                "--search",
                metavar="TEXT",
                help="Full-text search: entries containing every word (stemmed; word* for a "
                "prefix), best first, title matches first.",
            ),
            click.option(
                "--limit",
                default=50,
                show_default=True,
                type=click.IntRange(1),
                help="Entries to list.",
            ),
            click.option("--deleted", is_flag=True, help="Include deleted (tombstoned) entries."),
            click.option(
                "--json", "as_json", is_flag=True, help="Print a JSON document (see README)."
            ),
        ]
    ):
        f = option(f)
    return f


@cli.group(invoke_without_command=True)
@_entry_filters
@click.pass_context
def entries(ctx: click.Context, /, **filters: Any) -> None:
    """Find stored entries (by source, date, or full-text search), and delete them for good.

    Without a subcommand, the same as `feedsvc entries list`.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(entries_list, **filters)
    elif any(ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE for name in filters):
        _fail(f"options go after the subcommand: feedsvc entries {ctx.invoked_subcommand} ...")


def parse_since(value: str, now: datetime) -> datetime:
    """``--since``: an age ("7d", "12h", "90m") before ``now``, or an ISO date or date-time
    (a date or a time without a zone is UTC)."""
    from feedsvc.config import parse_interval

    text = value.strip()
    if text[:1].isdigit() and text[-1:] in ("s", "m", "h", "d") and text[:-1].isdigit():
        return now - timedelta(seconds=parse_interval(text, "--since", 0))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f'--since: expected a date ("2026-11-01"), an ISO date-time or an age such as '
            f'"7d", got {value!r}'
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@entries.command("list", short_help="List or search entries, with their ids.")
@_entry_filters
@click.pass_obj
def entries_list(
    obj: Ctx,
    source: str | None,
    since: str | None,
    search: str | None,
    limit: int,
    deleted: bool,
    as_json: bool,
) -> None:
    """List the newest stored entries with their ids (for `entries delete`, `dupes split`),
    or with --search the entries that contain every word, best first: every word in the
    title first, then by relevance (SQLite FTS5, bm25), with the passage that matched."""
    from feedsvc.pipeline import utc_now

    with _errors():
        config = obj.config()
        when = parse_since(since, utc_now()) if since else None
        hits: list[SearchHit] = []
        with Store(config.storage.path) as store:
            if search is not None:
                hits = store.search(search, source=source, since=when, limit=limit, deleted=deleted)
                rows = [h.entry for h in hits]
            else:
                rows = store.list_entries(source, limit, deleted, since=when)
    if as_json:
        doc = [_entry_json(e) for e in rows]
        for record, hit in zip(doc, hits, strict=False):  # search fields, when searching
            record.update(rank=hit.rank, in_title=hit.in_title, snippet=hit.snippet)
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no entries match" if search or since or source else "no entries stored")
        return
    click.echo(f"{'ID':>6}  {'STORY':>6}  {'PUBLISHED':<20}  {'SOURCE':<20}  TITLE")
    snippets = {h.entry.id: h.snippet for h in hits}
    for e in rows:
        flag = " (deleted)" if e.deleted else ""
        click.echo(
            f"{e.id:>6}  {e.story_id:>6}  {iso(e.published):<20}  {e.source:<20}  {e.title}{flag}"
        )
        if snippets.get(e.id):
            click.echo(f"{'':>6}  {snippets[e.id]}")


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


# Commands that live in their own modules (they import the helpers above, hence down here).
from feedsvc.cli_doctor import doctor  # noqa: E402
from feedsvc.cli_sources import init, opml, sources  # noqa: E402

for _command in (init, sources, opml, doctor):
    cli.add_command(_command)


@cli.group()
def db() -> None:
    """Check and back up the database (see README, "Database care")."""


def check_document(check: DatabaseCheck) -> dict[str, Any]:
    """The ``db check --json`` document (shape documented in the README; keep it stable)."""
    return {
        "path": str(check.path),
        "ok": check.ok,
        "size_bytes": check.size_bytes,
        "journal_mode": check.journal_mode,
        "integrity": list(check.integrity),
        "schema": {
            "version": check.schema_version,
            "applied": list(check.applied),
            "pending": list(check.pending),
            "unknown": list(check.unknown),
        },
        "entries": check.entries,
        "problems": list(check.problems),
    }


@db.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def db_check(obj: Ctx, as_json: bool, path: Path | None) -> None:
    """Check the database: integrity (PRAGMA integrity_check) and schema version.

    Checks the configured database, or the database file PATH (a backup, say). Opens it
    read-only and changes nothing, not even a pending schema upgrade. Exits 0 when it is
    sound, 1 when it is damaged, not a feedsvc database, written by a newer feedsvc, or
    cannot be opened.
    """
    with _errors():
        target = path if path is not None else obj.config().storage.path
        check = check_database(target)
    if as_json:
        click.echo(json.dumps(check_document(check), indent=2, ensure_ascii=False))
    else:
        click.echo(f"database   {_rel(check.path)} ({check.size_bytes:,} bytes)")
        if not check.integrity:
            click.echo("integrity  not checked (the file cannot be read as a database)")
        else:
            click.echo(f"integrity  {'ok' if check.integrity == ('ok',) else 'FAILED'}")
        findings = check.integrity if check.integrity != ("ok",) else ()
        for line in findings[:10]:
            click.echo(f"           {line}")
        if len(findings) > 10:
            click.echo(f"           ... {len(findings) - 10} more line(s) (--json shows them)")
        if check.applied or check.pending:
            click.echo(
                f"schema     {check.schema_version or 'none'} ({len(check.applied)} migrations "
                f"applied, {len(check.pending)} pending, {len(check.unknown)} unknown)"
            )
        if check.entries is not None:
            click.echo(f"entries    {check.entries}")
        for problem in check.problems:
            click.echo(f"problem    {problem}")
        click.echo("ok" if check.ok else "NOT OK")
    sys.exit(EXIT_OK if check.ok else EXIT_SOURCES_FAILED)


@db.command("backup")
@click.option("--force", is_flag=True, help="Overwrite DEST if it exists.")
@click.argument("dest", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def db_backup(obj: Ctx, force: bool, dest: Path) -> None:
    """Copy the database to DEST with SQLite's online backup API.

    Safe while the daemon runs: the copy is one consistent snapshot, checked before it
    is put in place, and a single self-contained file. Refuses to overwrite DEST unless
    --force. To restore, see README "Database care".
    """
    with _errors():
        source = obj.config().storage.path
        copy = backup_database(source, dest, force=force)
    click.echo(
        f"backed up {_rel(source)} to {_rel(dest)} ({copy.size_bytes:,} bytes, "
        f"{copy.entries} entries, schema {copy.schema_version}, integrity ok)"
    )


def main() -> None:
    cli(prog_name="feedsvc")
