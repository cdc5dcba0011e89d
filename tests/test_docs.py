"""Documentation that cannot drift: every command, option and config key is documented.

A new command without ``--help`` text or a README mention, or a new config key missing from the
README's table or the bundled config.toml's comments, fails here (the sqlite-utils habit).
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from feedsvc.cli import cli
from feedsvc.config import documented_keys

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CONFIG = (REPO / "config.toml").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        out.append((path, command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, path + " "))
    return out


COMMANDS = _commands(cli)


def test_there_are_commands() -> None:
    assert {"ingest", "publish", "status"} <= {path for path, _ in COMMANDS}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_documented(path: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"`feedsvc {path}` has no --help text"
    assert f"feedsvc {path}" in README, f"README does not mention `feedsvc {path}`"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"`feedsvc {path} {param.opts[0]}` has no help"


@pytest.mark.parametrize("key", documented_keys())
def test_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in README, f"README's configuration table lacks `{key}`"
    name = key.rsplit(".", 1)[-1]
    assert re.search(rf"^\s*#?\s*{re.escape(name)}\s*=", CONFIG, re.M), (
        f"config.toml does not show or comment `{name}`"
    )
