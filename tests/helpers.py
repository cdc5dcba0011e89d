"""Helpers shared by tests: configs, CLI runs, feed builders and published-feed checks."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import feedparser
from click.testing import CliRunner, Result
from lxml import etree

from feedsvc.cli import cli

ATOM = "{http://www.w3.org/2005/Atom}"


def write_config(root: Path, sources: str, extra: str = "") -> Path:
    """A config.toml in ``root`` with the given ``[[sources]]`` tables (TOML text)."""
    text = textwrap.dedent(
        """\
        [feed]
        title = "Test feed"
        id = "tag:test.example,2026:feed"
        author = "Tester"
        base_url = "http://127.0.0.1:8080/"
        """
    )
    text += textwrap.dedent(extra) + "\n" + textwrap.dedent(sources)
    path = root / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(config: Path, *args: str) -> Result:
    """Run the CLI in-process, like a user would from the config's folder."""
    return CliRunner().invoke(cli, ["-c", str(config), *args], catch_exceptions=False)


def rss(
    items: list[dict[str, str]], title: str = "A feed", link: str = "https://a.example/"
) -> bytes:
    """A small RSS 2.0 document; item keys: title, link, guid, description, pubDate."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>{link}</link><description>d</description>",
    ]
    for item in items:
        out.append("<item>")
        for k, v in item.items():
            if k == "description":
                out.append(f"<description><![CDATA[{v}]]></description>")
            else:
                out.append(f"<{k}>{v}</{k}>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def body(n_words: int, seed: str) -> str:
    """An HTML body of ``n_words`` distinct-ish words, different for each seed."""
    words = [f"{seed}{i % 97}w{i}" for i in range(n_words)]
    return "<p>" + " ".join(words) + "</p>"


def check_feed(path: Path, schema: Any | None = None) -> feedparser.FeedParserDict:
    """Assert ``path`` is a valid Atom document (schema, when given) that feedparser reads
    cleanly; return feedparser's view of it."""
    data = path.read_bytes()
    if schema is not None:
        doc = etree.fromstring(data)
        assert schema.validate(doc), schema.error_log
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def entry_ids(path: Path) -> list[str]:
    doc = etree.fromstring(path.read_bytes())
    return [e.findtext(f"{ATOM}id") or "" for e in doc.iter(f"{ATOM}entry")]


def db_rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def status_json(config: Path) -> dict[str, Any]:
    result = run(config, "status", "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc
