"""Documentation that cannot drift: every command, option and config key is documented.

A new command without ``--help`` text or a README mention, or a new config key missing from the
README's table or the bundled config.toml's comments, fails here (the sqlite-utils habit).
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

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


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_help_runs(path: str, command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {path}")
    # Every option is shown with its help (click drops nothing silently).
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.opts[-1] in result.output, (path, param.opts)


# --- commands the README shows must exist ---------------------------------------------------------

_GLOBAL_WITH_VALUE = {"-c", "--config", "--log-level"}
_GLOBAL_FLAGS = {"--version", "-h", "--help"}
_SHELL_STOP = {"|", ">", ">>", "&&", ";", "#", "2>&1", "<"}
# `feedsvc` where a command starts: line start, a shell prompt, a code span, bin/, or `&&`.
_INVOCATION = re.compile(r"(?:^|\$ |`|bin/|&& )feedsvc(?=[ \t])(?P<rest>[^\n`]*)", re.M)


def _code(text: str) -> list[str]:
    """The code in a Markdown text: fenced blocks and inline code spans."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    return blocks + re.findall(r"`([^`\n]+)`", prose)


def _invocations(text: str) -> list[str]:
    found: list[str] = []
    for code in _code(text):
        found.extend("feedsvc" + m.group("rest") for m in _INVOCATION.finditer(code))
    return sorted({" ".join(f.split()) for f in found})


def _check_invocation(line: str) -> str | None:
    """Why ``line`` (``feedsvc ...``) is not a real command with real options, or None."""
    tokens = [t.strip("[]") for t in line.split()[1:]]
    words: list[str] = []
    for t in tokens:
        if t in _SHELL_STOP or t.startswith("#"):
            break
        words.append(t)
    i = 0
    while i < len(words) and words[i].startswith("-"):
        opt = words[i].split("=", 1)[0]
        if opt in _GLOBAL_FLAGS:
            return None
        if opt not in _GLOBAL_WITH_VALUE:
            return f"{opt!r} is not a global option"
        i += 1 if "=" in words[i] else 2
    if i >= len(words):
        return None  # `feedsvc` alone, or with global options only
    group: click.Group = cli
    command: click.Command = cli
    path: list[str] = []
    while i < len(words) and isinstance(command, click.Group):
        alternatives = words[i].split("|")
        group = command
        if not all(a in group.commands for a in alternatives):
            if command is cli:
                return f"{words[i]!r} is not a feedsvc command"
            if not group.invoke_without_command and not words[i].startswith("-"):
                return f"{words[i]!r} is not a command of `feedsvc {' '.join(path)}`"
            break  # a group invoked without a subcommand, given options or arguments
        command = group.commands[alternatives[0]]
        path.append(alternatives[0])
        i += 1
        if len(alternatives) > 1:
            return None  # `sources list|add|...`: each alternative checked above
    known = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    known |= {
        opt for p in command.params if isinstance(p, click.Option) for opt in p.secondary_opts
    }
    known |= {"-h", "--help"}
    for word in words[i:]:
        if word.startswith("-") and len(word) > 1 and not word[1:2].isdigit():
            for opt in word.split("|"):
                name = opt.split("=", 1)[0]
                if name.startswith("-") and name not in known:
                    return f"`feedsvc {' '.join(path)}` has no option {name}"
    return None


INVOCATIONS = _invocations(README)


def test_readme_shows_commands() -> None:
    assert len(INVOCATIONS) > 20
    assert "feedsvc ingest" in {" ".join(i.split()[:2]) for i in INVOCATIONS}


@pytest.mark.parametrize("line", INVOCATIONS)
def test_readme_command_exists(line: str) -> None:
    problem = _check_invocation(line)
    assert problem is None, f"README: {line!r}: {problem}"


def test_the_checker_catches_what_it_should() -> None:
    assert _check_invocation("feedsvc ingest --source x") is None
    assert _check_invocation("feedsvc -c cfg.toml status --json") is None
    assert _check_invocation("feedsvc sources list|add|remove") is None
    assert _check_invocation("feedsvc ingestt") == "'ingestt' is not a feedsvc command"
    assert _check_invocation("feedsvc status --jsn") == "`feedsvc status` has no option --jsn"
    assert _check_invocation("feedsvc sources lst") is not None
    assert _check_invocation("feedsvc --nope status") == "'--nope' is not a global option"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_json_output_is_documented(path: str, command: click.Command) -> None:
    """A command with --json has its document's shape in the README (the `--json` example)."""
    if not any(isinstance(p, click.Option) and "--json" in p.opts for p in command.params):
        return
    assert re.search(rf"feedsvc {re.escape(path)}\b[^\n`]*--json", README), (
        f"README shows no `feedsvc {path} ... --json`"
    )
