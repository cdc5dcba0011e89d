"""Config loading: defaults, path resolution, and errors that name the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.config import ARTICLE_SUFFIXES, adhoc_sources, load_config, parse_interval
from feedsvc.errors import ConfigError
from feedsvc.models import SourceKind

from helpers import run

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_bundled_default_config_loads() -> None:
    config = load_config(REPO / "config.toml")
    assert [s.name for s in config.sources] == ["newsroom", "valley-wire"]
    assert config.sources[0].kind is SourceKind.DIRECTORY
    assert config.sources[1].kind is SourceKind.FILE
    assert Path(config.sources[1].location).is_file()
    assert config.storage.path == REPO / "db" / "feedsvc.sqlite3"
    assert config.publish.dir == REPO / "feeds"


def test_minimal_config_gets_defaults_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    config = load_config(write(tmp_path, '[[sources]]\nname = "a"\npath = "inbox"\n'))
    assert config.feed.max_entries == 50
    assert config.server.port == 8080 and config.server.host == "127.0.0.1"
    assert config.storage.path == tmp_path / "db/feedsvc.sqlite3"
    src = config.sources[0]
    assert src.location == str(tmp_path / "inbox") and src.interval_seconds == 3600
    assert src.enabled


def test_empty_config_is_valid(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).sources == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[feed]\ntitel = 'x'\n", "feed.titel: unknown key (did you mean 'title'?)"),
        ("[feeds]\n", "feeds: unknown section (did you mean 'feed'?)"),
        (
            "[[sources]]\nname='a'\nurl='https://x.example/'\nintervall='1h'\n",
            "sources[0].intervall: unknown key (did you mean 'interval'?)",
        ),
        (
            "[[sources]]\nname='a'\nurl='https://x.example/'\ninterval='soon'\n",
            "sources[0].interval: expected a duration",
        ),
        (
            "[[sources]]\nname='a'\nurl='https://x.example/'\ninterval='2s'\n",
            "sources[0].interval: must be at least",
        ),
        ("[[sources]]\nname='a'\n", "sources[0]: give exactly one of 'path' or 'url'"),
        ("[[sources]]\nname='a'\npath='x'\nurl='https://x.example/'\n", "exactly one of"),
        ("[[sources]]\npath='x'\n", "sources[0].name: missing"),
        ("[[sources]]\nname='a b'\npath='x'\n", "sources[0].name: 'a b' must start"),
        ("[[sources]]\nname='a'\nurl='ftp://x.example/'\n", "sources[0].url: expected an http"),
        (
            "[[sources]]\nname='a'\npath='x'\n[[sources]]\nname='a'\npath='y'\n",
            "sources[1].name: duplicate source name 'a'",
        ),
        ("[[sources]]\nname='a'\npath='x'\nenabled='yes'\n", "sources[0].enabled: expected true"),
        ("[feed]\nmax_entries = 0\n", "feed.max_entries: expected a whole number from 1"),
        ("[feed]\nid = 'not an iri'\n", "feed.id: expected an absolute IRI"),
        ("[server]\nport = 70000\n", "server.port: expected a whole number from 0 to 65535"),
        ("[feed]\nbase_url = 'nope'\n", "feed.base_url: expected an http"),
        ("sources = 3\n", "sources: expected an array of tables"),
        ("feed = 3\n", "feed: expected a table"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[feed]\ntitle = 'x'\nthis is not toml\n")
    with pytest.raises(ConfigError, match=r"config.toml: invalid TOML: .*line 3"):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_exits_2_on_config_errors(tmp_path: Path) -> None:
    result = run(tmp_path / "absent.toml", "ingest")
    assert result.exit_code == 2
    assert "absent.toml: config file not found" in result.output
    bad = write(tmp_path, "[feed]\ntitel = 'x'\n")
    for command in (["ingest"], ["publish"], ["status"]):
        result = run(bad, *command)
        assert result.exit_code == 2, command
        assert "did you mean 'title'" in result.output


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), (" 45 ", 45), (600, 600)],
)
def test_parse_interval(value: object, seconds: int) -> None:
    assert parse_interval(value, "k") == seconds


@given(st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.floats()))
def test_parse_interval_never_crashes(value: object) -> None:
    try:
        seconds = parse_interval(value, "sources[0].interval")
    except ConfigError as e:
        assert str(e).startswith("sources[0].interval: ")
    else:
        assert seconds >= 10


def test_adhoc_sources(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = load_config(write(tmp_path, '[[sources]]\nname = "in"\npath = "inbox"\n'))
    (tmp_path / "a.md").write_text("# A\n")
    (tmp_path / "f.xml").write_text("<rss/>")
    kinds = [
        (s.name, s.kind)
        for s in adhoc_sources(config, [inbox, tmp_path / "a.md", tmp_path / "f.xml"])
    ]
    assert kinds == [
        ("in", SourceKind.DIRECTORY),
        ("cli:a.md", SourceKind.ARTICLE),
        ("cli:f.xml", SourceKind.FILE),
    ]
    assert ".md" in ARTICLE_SUFFIXES
    with pytest.raises(ConfigError, match="no such file"):
        adhoc_sources(config, [tmp_path / "missing.txt"])
