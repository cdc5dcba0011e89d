"""Helpers for the robustness tests (issue 7): subprocesses of the real CLI, checks of the
published folder and of the database, and generated sources. Nothing here is a fake: every
check reads the real files a real feedsvc process wrote."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
ATOM_NS = "http://www.w3.org/2005/Atom"
DEADLINE_S = 60.0  # the most any poll below waits before the test fails


def feedsvc(config: Path, *args: str) -> list[str]:
    """The command line of a real ``feedsvc`` process (the installed package, this Python)."""
    return [sys.executable, "-m", "feedsvc", "-c", str(config), *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], Any], deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def write_config(root: Path, sources: str, extra: str = "", feed_id: str = "robust") -> Path:
    """``root/config.toml`` with a fixed feed id (atom ids derive from it) and ``sources``."""
    text = textwrap.dedent(
        f"""\
        [feed]
        title = "Robustness"
        id = "tag:test.example,2026:{feed_id}"
        author = "Tester"
        """
    )
    path = root / "config.toml"
    path.write_text(text + textwrap.dedent(extra) + "\n" + textwrap.dedent(sources), "utf-8")
    return path


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of a database file. Opened read-write, as feedsvc opens it:
    after a kill, the first connection must recover the WAL, which a read-only one cannot."""
    conn = sqlite3.connect(db)
    try:
        return "\n".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall())
    finally:
        conn.close()


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def entry_identities(db: Path) -> set[tuple[str, str, str]]:
    """What must converge: every stored entry as (source, key, content_hash)."""
    return set(rows(db, "SELECT source, key, content_hash FROM entries"))


def is_temporary(path: Path) -> bool:
    """A hidden file: the temporary file of an atomic write (never served)."""
    return path.name.startswith(".")


def published_ids(out_dir: Path) -> dict[str, list[str]]:
    """Every published file, parsed: relative path → the ids it lists, in order (Atom entry
    ids, RSS guids, JSON Feed item ids; ``[]`` for pages and style sheets).

    Fails (AssertionError) on a file that is not complete and well-formed: a truncated XML or
    JSON document does not parse, and an HTML page must end with ``</html>``.
    """
    found: dict[str, list[str]] = {}
    for path in sorted(out_dir.rglob("*")):
        if not path.is_file() or is_temporary(path):
            continue
        rel = path.relative_to(out_dir).as_posix()
        data = path.read_bytes()
        assert data, f"{rel} is empty"
        if path.suffix == ".xml":
            try:
                root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
            except etree.XMLSyntaxError as e:
                raise AssertionError(f"{rel} is not well-formed: {e}") from e
            if root.tag == f"{{{ATOM_NS}}}feed":
                ids = [
                    e.findtext(f"{{{ATOM_NS}}}id") or "" for e in root.iter(f"{{{ATOM_NS}}}entry")
                ]
            else:
                assert root.tag == "rss", f"{rel}: unexpected root {root.tag}"
                ids = [i.findtext("guid") or "" for i in root.iter("item")]
            found[rel] = ids
        elif path.suffix == ".json":
            try:
                doc = json.loads(data)
            except ValueError as e:
                raise AssertionError(f"{rel} is not complete JSON: {e}") from e
            found[rel] = [str(item["id"]) for item in doc["items"]]
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), f"{rel} is cut short"
            found[rel] = []
        else:
            found[rel] = []
    return found


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a process started with ``start_new_session=True`` and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def group_members(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` (Linux ``/proc``; [] where there is none)."""
    members = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp, ...
            members.append(int(entry))
    return members
