"""CLI commands for everyday set-up: ``init``, ``sources ...`` and ``opml ...``.

Thin, like :mod:`feedsvc.cli`: parse arguments, call :mod:`feedsvc.manage` /
:mod:`feedsvc.scaffold`, print. Registered on the ``feedsvc`` group by :mod:`feedsvc.cli`.
"""

from __future__ import annotations

import email.utils
import json
import sys
from pathlib import Path
from typing import Any

import click

from feedsvc import manage
from feedsvc.cli import EXIT_USAGE, Ctx, _errors, _fail, _pipeline, _rel, status_document
from feedsvc.config import Config
from feedsvc.errors import ConfigError
from feedsvc.health import health_document
from feedsvc.opml import OpmlError, parse_opml, render_opml
from feedsvc.pipeline import utc_now
from feedsvc.scaffold import init as scaffold
from feedsvc.storage import Store


def _reloaded(config: Config) -> str:
    pid = manage.reload_daemon(config)
    if pid is None:
        return "no daemon is running on this database; `feedsvc run` will pick the change up"
    return f"told the running daemon (pid {pid}) to reload its config (SIGHUP)"


# --- init --------------------------------------------------------------------------------------


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--title", help="The feed's title (default: the folder's name).")
def init(directory: Path, title: str | None) -> None:
    """Create a working feedsvc folder: a commented config.toml, articles/ (an inbox
    source), feeds/ and db/. DIRECTORY defaults to the current folder and is created if
    missing; an existing config.toml is never overwritten (exit 2)."""
    with _errors():
        made = scaffold(directory, title)
    click.echo(f"wrote {_rel(made.config)}")
    for folder in made.created:
        click.echo(f"created {_rel(folder)}/")
    opt = "" if made.config.parent.resolve() == Path.cwd().resolve() else f" -c {made.config}"
    click.echo(
        f"next: put article files in {_rel(made.config.parent / 'articles')}/ or run "
        f"`feedsvc{opt} sources add URL`, then `feedsvc{opt} ingest`"
    )


# --- sources -----------------------------------------------------------------------------------


@click.group()
def sources() -> None:
    """List, add, remove, enable and disable sources, editing config.toml in place (its
    comments and formatting are kept). A running daemon is told to reload (SIGHUP)."""


def sources_document(config: Config, store: Store) -> dict[str, Any]:
    """The ``sources list --json`` document (shape documented in the README; keep it stable)."""
    status = {r["name"]: r for r in status_document(config, store)["sources"]}
    health = {
        r["name"]: r
        for r in health_document(config.sources, store.source_states(), utc_now())["sources"]
    }
    records = []
    for src in config.sources:
        st, h = status[src.name], health[src.name]
        records.append(
            {
                "name": src.name,
                "kind": src.kind.value,
                "location": src.location,
                "enabled": src.enabled,
                "interval_seconds": src.interval_seconds,
                "tags": list(src.tags),
                "status": h["status"],
                "entries": st["entries"],
                "last_run": st["last_run"],
                "last_success": st["last_success"],
                "last_error": st["last_error"],
                "error_streak": st["error_streak"],
                "next_due": h["next_due"],
            }
        )
    return {"config": str(config.path.resolve()) if config.path else None, "sources": records}


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.pass_obj
def sources_list(obj: Ctx, as_json: bool) -> None:
    """Show each configured source: status (ok, failing, pending, disabled), stored entries,
    last success, next due time, and its last error."""
    with _errors():
        config = obj.config()
        with Store(config.storage.path) as store:
            doc = sources_document(config, store)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    rows = doc["sources"]
    if not rows:
        click.echo("no sources configured; add one with `feedsvc sources add URL|PATH`")
        return
    width = max(len("NAME"), *(len(r["name"]) for r in rows))
    click.echo(
        f"{'NAME':<{width}}  {'STATUS':<8}  {'ENTRIES':>7}  {'LAST SUCCESS':<20}  "
        f"{'NEXT DUE':<20}  LOCATION"
    )
    for r in rows:
        where = r["location"] if r["kind"] == "url" else _rel(Path(r["location"]))
        click.echo(
            f"{r['name']:<{width}}  {r['status']:<8}  {r['entries']:>7}  "
            f"{r['last_success'] or 'never':<20}  {r['next_due'] or '-':<20}  {where}"
        )
        if r["last_error"]:
            click.echo(f"{'':<{width}}  error: {r['last_error']}")


@sources.command("add")
@click.argument("target", metavar="URL|PATH")
@click.option("--name", help="The source's name (default: derived from the feed's title).")
@click.option("--interval", help='How often the daemon runs it ("15m", "1h"; default 1h).')
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag (repeatable).")
@click.option(
    "--no-check", is_flag=True, help="Save without fetching or reading it first (offline)."
)
@click.pass_obj
def sources_add(
    obj: Ctx,
    target: str,
    name: str | None,
    interval: str | None,
    tags: tuple[str, ...],
    no_check: bool,
) -> None:
    """Add a source: a feed URL, a web page that links to its feed (autodiscovery), a feed
    file, or a folder of article files.

    It is fetched (or read) and parsed first, and not added if that fails (exit 1). The name
    is derived from the feed's title unless --name is given. Exit 2 if it is already
    configured or the name is taken.
    """
    with _errors():
        config = obj.config()
        with _pipeline(config) as pipe:
            added = manage.add_source(
                config,
                pipe,
                target,
                name=name,
                interval=interval,
                tags=tags,
                check=not no_check,
            )
    probe = added.probe
    what = f"{added.kind.value} {added.location}"
    if probe is not None:
        title = " ".join((probe.title or "").split())
        what += f": {probe.entries} entries" + (f', "{title}"' if title else "")
    click.echo(f"added source {added.name} ({what})")
    if probe is not None and probe.discovered_from:
        click.echo(f"  {probe.discovered_from} is a web page; subscribed to the feed it links")
    click.echo(_reloaded(added.config))


@sources.command("remove")
@click.argument("name")
@click.pass_obj
def sources_remove(obj: Ctx, name: str) -> None:
    """Remove source NAME from config.toml. Its stored entries stay in the database and in
    the published feed (delete them with `feedsvc entries delete`)."""
    with _errors():
        config = manage.remove_source(obj.config(), name)
    click.echo(f"removed source {name} from {_rel(Path(str(config.path)))}")
    click.echo(_reloaded(config))


def _toggle(obj: Ctx, name: str, enabled: bool) -> None:
    with _errors():
        config, changed = manage.set_enabled(obj.config(), name, enabled)
    state = "enabled" if enabled else "disabled"
    if not changed:
        click.echo(f"source {name} was already {state}")
        return
    click.echo(f"{state} source {name}")
    click.echo(_reloaded(config))


@sources.command("enable")
@click.argument("name")
@click.pass_obj
def sources_enable(obj: Ctx, name: str) -> None:
    """Enable source NAME (sets `enabled = true` in config.toml)."""
    _toggle(obj, name, True)


@sources.command("disable")
@click.argument("name")
@click.pass_obj
def sources_disable(obj: Ctx, name: str) -> None:
    """Disable source NAME (sets `enabled = false`): it stays configured and keeps its
    entries, but is not run until enabled again (`ingest --source NAME` still runs it)."""
    _toggle(obj, name, False)


# --- OPML --------------------------------------------------------------------------------------


@click.group()
def opml() -> None:
    """Import and export subscription lists (OPML), as feed readers exchange them."""


@opml.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--interval", help='Interval for the new sources ("1h" if not given).')
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.pass_obj
def opml_import(obj: Ctx, file: Path, interval: str | None, dry_run: bool, as_json: bool) -> None:
    """Add the feeds of an OPML file (- for stdin) as URL sources.

    Folders (nested outlines) and OPML categories become the sources' tags. Feeds that are
    already configured, listed twice, or not http(s) are skipped. Nothing is fetched: the
    next ingest does (`feedsvc doctor` checks them all).
    """
    with _errors():
        config = obj.config()
        try:
            data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        except OSError as e:
            raise ConfigError(f"{file}: cannot read: {e.strerror or e}") from e
        try:
            subs = parse_opml(data, str(file))
        except OpmlError as e:
            _fail(str(e), EXIT_USAGE)
        result = manage.import_opml(config, subs, interval=interval, dry_run=dry_run)
    if as_json:
        doc = {
            "dry_run": dry_run,
            "added": [
                {"name": n, "url": s.url, "title": s.title, "tags": list(s.tags)}
                for n, s in result.added
            ],
            "skipped": [{"url": s.url, "title": s.title, "reason": r} for s, r in result.skipped],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        verb = "would add" if dry_run else "added"
        for name, sub in result.added:
            tags = f" [{', '.join(sub.tags)}]" if sub.tags else ""
            click.echo(f"{verb} {name:<24} {sub.url}{tags}")
        for sub, reason in result.skipped:
            click.echo(f"skipped {sub.url}: {reason}")
        click.echo(f"{len(result.added)} {verb}, {len(result.skipped)} skipped")
    if result.added and not dry_run and result.config is not None:
        message = _reloaded(result.config)
        if not as_json:
            click.echo(message)


@opml.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of stdout.",
)
@click.pass_obj
def opml_export(obj: Ctx, output: Path | None) -> None:
    """Write the URL sources as an OPML 2.0 subscription list (to stdout by default), with
    their feed titles and site links, tags as folders and categories. Folder and file
    sources are left out (OPML lists feeds by URL)."""
    from feedsvc.configedit import atomic_write_text

    with _errors():
        config = obj.config()
        with Store(config.storage.path) as store:
            infos = store.feed_infos()
        subs = manage.subscriptions(config, infos)
        created = email.utils.format_datetime(utc_now(), usegmt=True)
        data = render_opml(subs, config.feed.title, created)
        if output is None:
            click.echo(data, nl=False)
        else:
            atomic_write_text(output, data.decode("utf-8"))
    local = sum(1 for s in config.sources if s.kind.value != "url")
    if output is not None:
        click.echo(f"wrote {len(subs)} feeds to {_rel(output)}", err=True)
    if local:
        click.echo(f"{local} folder or file source(s) not exported (OPML lists URLs)", err=True)
