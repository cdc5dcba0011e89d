"""Editing config.toml in place: comments, blank lines and key order survive every edit."""

from __future__ import annotations

import difflib
import os
import shutil
import stat
import textwrap
import tomllib
from pathlib import Path

import pytest

from feedsvc.config import load_config
from feedsvc.configedit import ConfigEditor
from feedsvc.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

COMMENTED = textwrap.dedent(
    """\
    # My feeds -- hand-written, please keep my notes!
    [feed]
    title = "Mine"   # odd spacing kept

    # the newsroom inbox
    [[sources]]
    name = "newsroom"
    path = "articles"  # article files
    interval = "5m"

    # wire copy, noisy
    [[sources]]
    name = 'wire'   # single quotes kept
    url = "https://wire.example/rss"
    enabled = true  # switch it off when it misbehaves

    # [[sources]]
    # name = "later"
    # url = "https://later.example/feed"
    """
)


def _edit(tmp_path: Path, text: str = COMMENTED) -> Path:
    (tmp_path / "articles").mkdir(exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"
    ]


def test_disable_changes_one_value_and_keeps_its_comment(tmp_path: Path) -> None:
    path = _edit(tmp_path)
    editor = ConfigEditor(path)
    assert editor.set_enabled("wire", False)
    editor.save()
    after = path.read_text(encoding="utf-8")
    assert _changed_lines(COMMENTED, after) == [
        "- enabled = true  # switch it off when it misbehaves",
        "+ enabled = false  # switch it off when it misbehaves",
    ]
    assert not load_config(path).source("wire").enabled


def test_disable_adds_the_key_after_the_last_key_not_after_trailing_comments(
    tmp_path: Path,
) -> None:
    path = _edit(tmp_path)
    editor = ConfigEditor(path)
    assert editor.set_enabled("newsroom", False)
    editor.save()
    after = path.read_text(encoding="utf-8")
    assert _changed_lines(COMMENTED, after) == ["+ enabled = false"]
    assert 'interval = "5m"\nenabled = false\n\n# wire copy, noisy\n' in after
    # Enabling again flips the value in place; a no-op edit writes nothing.
    editor = ConfigEditor(path)
    assert editor.set_enabled("newsroom", True)
    assert not editor.set_enabled("wire", True)
    editor.save()
    assert load_config(path).source("newsroom").enabled


def test_remove_keeps_every_comment_line(tmp_path: Path) -> None:
    path = _edit(tmp_path)
    editor = ConfigEditor(path)
    removed = editor.remove_source("wire")  # the last table: the commented example trails it
    editor.save()
    assert removed["url"] == "https://wire.example/rss"
    after = path.read_text(encoding="utf-8")
    assert [line for line in _changed_lines(COMMENTED, after) if line.strip() != "-"] == [
        "- [[sources]]",
        "- name = 'wire'   # single quotes kept",
        '- url = "https://wire.example/rss"',
        "- enabled = true  # switch it off when it misbehaves",
    ]
    assert '# [[sources]]\n# name = "later"' in after
    assert "# wire copy, noisy" in after
    editor = ConfigEditor(path)
    editor.remove_source("newsroom")
    editor.save()
    after = path.read_text(encoding="utf-8")
    assert "[[sources]]\n" not in after.replace("# [[sources]]\n", "")
    assert "# the newsroom inbox" in after and "# My feeds" in after
    assert load_config(path).sources == ()


def test_add_appends_a_table_after_the_last_one(tmp_path: Path) -> None:
    path = _edit(tmp_path)
    editor = ConfigEditor(path)
    editor.add_source(
        {"name": "lab", "url": "https://lab.example/atom", "tags": ["tech"]}, comment="The Lab"
    )
    editor.save()
    after = path.read_text(encoding="utf-8")
    assert after.startswith(COMMENTED)  # nothing before it moved
    assert after.endswith(
        '\n\n[[sources]]\n# The Lab\nname = "lab"\nurl = "https://lab.example/atom"\n'
        'tags = ["tech"]\n'
    )
    config = load_config(path)
    assert [s.name for s in config.sources] == ["newsroom", "wire", "lab"]
    assert config.source("lab").tags == ("tech",)


def test_add_to_a_config_without_sources(tmp_path: Path) -> None:
    path = _edit(tmp_path, '[feed]\ntitle = "x"  # t\n')
    editor = ConfigEditor(path)
    editor.add_source({"name": "a", "path": "articles"})
    editor.save()
    assert path.read_text(encoding="utf-8") == (
        '[feed]\ntitle = "x"  # t\n\n[[sources]]\nname = "a"\npath = "articles"\n'
    )


def test_the_bundled_config_survives_a_round_of_edits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", path)
    (tmp_path / "articles").mkdir()
    original = path.read_text(encoding="utf-8")
    editor = ConfigEditor(path)
    editor.add_source({"name": "x", "url": "https://x.example/feed"})
    editor.set_enabled("valley-wire", False)
    editor.save()
    editor = ConfigEditor(path)
    editor.remove_source("x")
    editor.set_enabled("valley-wire", True)
    editor.save()
    after = path.read_text(encoding="utf-8")
    # Back where it started but for the explicit `enabled = true` the round trip left.
    assert _changed_lines(original, after) == ["+ enabled = true"]
    assert tomllib.loads(after)


def test_an_edit_that_would_not_load_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = _edit(tmp_path)
    editor = ConfigEditor(path)
    editor.add_source({"name": "bad name!", "url": "https://x.example/"})
    with pytest.raises(ConfigError, match=r"sources\[2\]\.name"):
        editor.save()
    assert path.read_text(encoding="utf-8") == COMMENTED
    with pytest.raises(ConfigError, match="already exists"):
        ConfigEditor(path).add_source({"name": "wire", "url": "https://y.example/"})
    with pytest.raises(ConfigError, match="did you mean 'wire'"):
        ConfigEditor(path).remove_source("wir")


def test_invalid_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = _edit(tmp_path, "[feed\n")
    with pytest.raises(ConfigError, match=f"{path}: invalid TOML"):
        ConfigEditor(path)
    with pytest.raises(ConfigError, match="not found"):
        ConfigEditor(tmp_path / "missing.toml")


def test_save_keeps_permissions_and_replaces_atomically(tmp_path: Path) -> None:
    path = _edit(tmp_path)
    os.chmod(path, 0o600)
    inode = path.stat().st_ino
    editor = ConfigEditor(path)
    editor.set_enabled("wire", False)
    editor.save()
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
