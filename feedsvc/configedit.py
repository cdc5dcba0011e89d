"""Edit ``config.toml`` in place: add, remove, enable and disable ``[[sources]]`` tables.

The only tomlkit user. Everything the user wrote and feedsvc does not change stays as it was:
comments (on their own lines and after values), blank lines, key order, quoting. An edit is
validated as a whole (:func:`feedsvc.config.parse_config`) before the file is replaced, and the
file is replaced atomically (a temporary file in the same folder, fsync, rename), keeping its
permission bits; a config that would not load is never written.

Comment lines around a removed table are kept: tomlkit files a comment that precedes a table
header under the table before it, so the comment lines that trail a removed table's keys (the
header comment of the next table, or a commented-out example) stay where they were.

It does not decide what to add (see :mod:`feedsvc.manage`), and it does not reload a daemon.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Comment, Table, Whitespace

from feedsvc.config import Config, _did_you_mean, parse_config
from feedsvc.errors import ConfigError

_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*sources[ \t]*\]\][^\n]*\n", re.M)


class ConfigEditor:
    """One config file opened for editing. Call :meth:`save` to write the changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.original = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: config file not found (create one with `feedsvc init`)"
            ) from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read config: {e}") from e
        try:
            self.doc = tomlkit.parse(self.original)
        except tomlkit.exceptions.TOMLKitError as e:
            raise ConfigError(f"{path}: invalid TOML: {e}") from e
        sources = self.doc.get("sources")
        if sources is not None and not isinstance(sources, AoT):
            raise ConfigError(f"{path}: sources: expected an array of tables ([[sources]])")

    # --- reading ---------------------------------------------------------------------------------

    def _tables(self) -> list[Table]:
        sources = self.doc.get("sources")
        return list(sources) if isinstance(sources, AoT) else []

    def names(self) -> list[str]:
        """The configured source names, in file order."""
        return [str(t.get("name", "")) for t in self._tables()]

    def _index(self, name: str) -> int:
        names = self.names()
        if name not in names:
            raise ConfigError(f"{self.path}: no source named {name!r}{_did_you_mean(name, names)}")
        return names.index(name)

    def text(self) -> str:
        """The document as it would be written."""
        return tomlkit.dumps(self.doc)

    # --- edits -----------------------------------------------------------------------------------

    def add_source(self, fields: Mapping[str, Any], comment: str | None = None) -> None:
        """Append a ``[[sources]]`` table with ``fields`` (in the order given), after the last
        one, separated from what precedes it by a blank line. ``comment`` goes on the line
        above the header. The name must be new."""
        name = str(fields.get("name", ""))
        if name in self.names():
            raise ConfigError(f"{self.path}: a source named {name!r} already exists")
        table = tomlkit.table()
        if comment:
            table.add(tomlkit.comment(comment))
        for key, value in fields.items():
            table.add(key, value)
        sources = self.doc.get("sources")
        if isinstance(sources, AoT):
            last = sources[-1] if len(sources) else None
            if last is not None and not _ends_with_blank_line(last):
                last.add(tomlkit.nl())
            sources.append(table)
        else:
            if not self.text().endswith("\n\n"):
                self.doc.add(tomlkit.nl())
            self.doc.append("sources", tomlkit.aot())
            new = self.doc["sources"]
            assert isinstance(new, AoT)
            new.append(table)

    def remove_source(self, name: str) -> dict[str, Any]:
        """Remove the table of source ``name``; returns its keys and values."""
        i = self._index(name)
        table = self._tables()[i]
        removed = {str(k): v for k, v in table.unwrap().items()}
        # Text surgery, then a fresh parse: the table's own text (header, keys, and the
        # comment lines tomlkit files under it) is replaced by just those comment lines.
        whole, own = self.text(), table.as_string()  # (tomlkit renders the header apart)
        start = whole.find(own)
        header = None
        if start >= 0 and whole.count(own) == 1:
            header = next((m for m in _HEADER.finditer(whole, 0, start) if m.end() == start), None)
        if header is None:  # cannot happen with unique names; refuse rather than guess
            raise ConfigError(f"{self.path}: cannot locate the table of source {name!r}")
        before, after = whole[: header.start()], whole[start + len(own) :]
        keep = "".join(item.as_string() for item in _trailing_trivia(table))
        if before.endswith("\n\n") or not before:
            keep = keep.lstrip("\n")  # no second blank line where the table was
        text = before + keep + after
        if text.endswith("\n\n") and not after:
            text = text.rstrip("\n") + "\n"
        self.doc = tomlkit.parse(text)
        return removed

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Set ``enabled`` of source ``name``; True when the value changed. An existing key
        keeps its place and its comment; a missing one is added after the table's last key."""
        table = self._tables()[self._index(name)]
        before = bool(table.get("enabled", True))
        if "enabled" in table:
            table["enabled"] = enabled
        elif not enabled:
            body = table.value.body
            last = max((j for j, (key, _) in enumerate(body) if key is not None), default=-1)
            if last + 1 < len(body):  # before the comment lines that trail the keys
                table.value._insert_at(last + 1, "enabled", enabled)
            else:
                table.add("enabled", enabled)
        return before != enabled

    # --- writing ---------------------------------------------------------------------------------

    def validate(self) -> Config:
        """The edited document as a :class:`Config`; ConfigError if it would not load."""
        text = self.text()
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:  # a bug here, never the user's
            raise ConfigError(f"{self.path}: the edit would make invalid TOML: {e}") from e
        try:
            return parse_config(raw, self.path.resolve().parent, self.path)
        except ConfigError as e:
            raise ConfigError(f"{self.path}: {e}") from None

    def save(self) -> Config:
        """Validate, then replace the file atomically (same permission bits). Returns the new
        configuration. Nothing is written when the edit changed nothing."""
        config = self.validate()
        text = self.text()
        if text != self.original:
            atomic_write_text(self.path, text)
            self.original = text
        return config


def _ends_with_blank_line(table: Table) -> bool:
    return table.as_string().endswith("\n\n")


def _trailing_trivia(table: Table) -> list[Comment | Whitespace]:
    """The comment and blank-line items after a table's last key."""
    body = table.value.body
    out: list[Comment | Whitespace] = []
    for key, item in reversed(body):
        if key is not None or not isinstance(item, Comment | Whitespace):
            break
        out.append(item)
    return out[::-1] if any(isinstance(i, Comment) for i in out) else []


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` (the file a symlink points to) with ``text``: a temporary file in the
    same folder, fsync, rename; the old permission bits are kept."""
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write config: {e.strerror or e}") from e
