"""``feedsvc doctor [--json]``: print :mod:`feedsvc.doctor`'s findings; exit 1 on a problem.

Registered on the ``feedsvc`` group by :mod:`feedsvc.cli`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from feedsvc.cli import EXIT_OK, EXIT_SOURCES_FAILED, EXIT_USAGE, Ctx, _rel
from feedsvc.config import Config
from feedsvc.doctor import OK, PROBLEM, WARNING, diagnose
from feedsvc.pipeline import Pipeline, utc_now
from feedsvc.storage import Store


def _pipeline(config: Config, store: Store) -> Pipeline:
    return Pipeline(config, store)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (see README).")
@click.pass_obj
def doctor(obj: Ctx, as_json: bool) -> None:
    """Check the config, the database, the publish folder and every enabled source (folders
    and files readable; URLs fetched and parsed, nothing stored), naming each failing
    source with its URL or path and what to fix.

    Exits 0 when all is well (warnings allowed), 1 when there is a problem, 2 when the config
    itself does not load.
    """
    config, checks = diagnose(obj.config_path, _pipeline, utc_now())
    problems = sum(c.status == PROBLEM for c in checks)
    warnings = sum(c.status == WARNING for c in checks)
    code = EXIT_USAGE if config is None else (EXIT_SOURCES_FAILED if problems else EXIT_OK)
    if as_json:
        doc = {
            "ok": problems == 0,
            "problems": problems,
            "warnings": warnings,
            "checks": [c.as_json() for c in checks],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        sys.exit(code)
    for c in checks:
        label = {OK: "ok", WARNING: "warning", PROBLEM: "PROBLEM"}[c.status]
        if c.area == "source":
            where = c.target if c.target and "://" in c.target else _rel(Path(c.target or ""))
            subject = f"{c.name} ({where})"
        else:
            subject = _rel(Path(c.name))
        detail = c.detail.removeprefix(f"{c.target}: ") if c.target else c.detail
        click.echo(f"{label:<8} {c.area:<9} {subject}: {detail}")
        if c.fix and c.status != OK:
            click.echo(f"{'':<18} fix: {c.fix}")
    click.echo(f"{problems} problem(s), {warnings} warning(s)")
    sys.exit(code)
