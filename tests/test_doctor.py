"""`feedsvc doctor`: real files, a real loopback server, a port nobody listens on."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from conftest import FeedServer
from helpers import rss, run, write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _doctor(config: Path) -> tuple[int, dict[str, Any]]:
    result = run(config, "doctor", "--json")
    return result.exit_code, json.loads(result.output)


def test_all_well(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", rss([{"title": "a", "guid": "1"}], title="F"))
    off = feed_server.add("/nothing-here", b"")
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "a.txt").write_text("T\n\nBody.\n")
    config = write_config(
        tmp_path,
        f"""
        [[sources]]
        name = "inbox"
        path = "articles"
        [[sources]]
        name = "feed"
        url = "{feed_server.url("/feed.xml")}"
        [[sources]]
        name = "off"
        url = "{feed_server.url("/nothing-here")}"
        enabled = false
        """,
    )
    assert run(config, "ingest").exit_code == 0
    code, doc = _doctor(config)
    assert code == 0, doc
    assert (doc["ok"], doc["problems"], doc["warnings"]) == (True, 0, 0)
    assert [(c["area"], c["name"], c["status"]) for c in doc["checks"]] == [
        ("config", str(config), "ok"),
        ("database", str(tmp_path / "db" / "feedsvc.sqlite3"), "ok"),
        ("publish", str(tmp_path / "feeds"), "ok"),
        ("daemon", str(tmp_path / "db" / "feedsvc.sqlite3"), "ok"),
        ("source", "inbox", "ok"),
        ("source", "feed", "ok"),
        ("source", "off", "ok"),
    ]
    assert set(doc["checks"][0]) == {"area", "name", "status", "detail", "fix", "target"}
    assert doc["checks"][5]["detail"] == "feed readable, 1 entries now"
    assert doc["checks"][6]["detail"] == "disabled (not checked)"
    assert off.requests == []  # a disabled source is not fetched
    text = run(config, "doctor")
    assert text.exit_code == 0
    assert text.output.splitlines()[-1] == "0 problem(s), 0 warning(s)"


def test_each_failing_source_is_named_with_what_to_fix(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.add(
        "/page",
        b"<!DOCTYPE html><html><head></head><body>hi</body></html>",
        headers={"Content-Type": "text/html"},
    )
    feed_server.add("/denied", b"no", status=403)
    (tmp_path / "not-a-feed.xml").write_text("just text, no feed here")
    refused = f"http://127.0.0.1:{_free_port()}/feed.xml"
    config = write_config(
        tmp_path,
        f"""
        [[sources]]
        name = "missing-url"
        url = "{feed_server.url("/missing.xml")}"
        [[sources]]
        name = "refused"
        url = "{refused}"
        [[sources]]
        name = "page"
        url = "{feed_server.url("/page")}"
        [[sources]]
        name = "denied"
        url = "{feed_server.url("/denied")}"
        [[sources]]
        name = "missing-dir"
        path = "no/such/folder"
        [[sources]]
        name = "junk"
        path = "not-a-feed.xml"
        """,
    )
    code, doc = _doctor(config)
    assert code == 1
    by_name = {c["name"]: c for c in doc["checks"] if c["area"] == "source"}
    assert all(c["status"] == "problem" for c in by_name.values()), by_name
    assert doc["problems"] == 6
    assert by_name["missing-url"]["target"] == feed_server.url("/missing.xml")
    assert "HTTP 404" in by_name["missing-url"]["detail"]
    assert "feedsvc sources remove missing-url" in by_name["missing-url"]["fix"]
    assert by_name["refused"]["target"] == refused
    assert "no answer from the server" in by_name["refused"]["fix"]
    assert "links to no feed" in by_name["page"]["detail"]
    assert "use the feed's own URL" in by_name["page"]["fix"]
    assert "refuses feedsvc" in by_name["denied"]["fix"]
    assert by_name["missing-dir"]["target"] == str(tmp_path / "no" / "such" / "folder")
    assert "does not exist" in by_name["missing-dir"]["detail"]
    assert "create" in by_name["missing-dir"]["fix"]
    assert "not a feed document" in by_name["junk"]["fix"]
    text = run(config, "doctor").output
    assert f"PROBLEM  source    refused ({refused}):" in text
    assert f"PROBLEM  source    missing-dir ({tmp_path}/no/such/folder):" in text
    assert text.splitlines()[-1] == "6 problem(s), 1 warning(s)"  # and nothing published yet
    # Nothing was stored by the probes.
    status = json.loads(run(config, "status", "--json").output)
    assert status["totals"]["entries"] == 0
    assert all(r["last_run"] is None for r in status["sources"])


def test_a_retired_source_that_answers_again(tmp_path: Path, feed_server: FeedServer) -> None:
    route = feed_server.add("/feed.xml", b"gone", status=410)
    config = write_config(
        tmp_path,
        f"""
        [[sources]]
        name = "old"
        url = "{feed_server.url("/feed.xml")}"
        """,
    )
    assert run(config, "ingest").exit_code == 1
    route.status, route.body = 200, rss([{"title": "back", "guid": "b"}])
    code, doc = _doctor(config)
    assert code == 1
    (check,) = [c for c in doc["checks"] if c["area"] == "source"]
    assert check["status"] == "problem"
    assert "retired" in check["detail"]
    assert check["fix"] == "`feedsvc ingest --force --source old` re-enables it"


def test_last_run_failed_but_answers_now_is_a_warning(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    route = feed_server.add("/feed.xml", b"oops", status=500)
    config = write_config(
        tmp_path, f'[[sources]]\nname = "flaky"\nurl = "{feed_server.url("/feed.xml")}"\n'
    )
    assert run(config, "ingest").exit_code == 1
    route.status, route.body = 200, rss([{"title": "fine", "guid": "f"}])
    code, doc = _doctor(config)
    assert code == 0
    (check,) = [c for c in doc["checks"] if c["area"] == "source"]
    assert check["status"] == "warning"
    assert "its last run failed: " in check["detail"] and "HTTP 500" in check["detail"]


def test_publish_folder_and_database_problems(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "feeds").write_text("a file where a folder should be")
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "feedsvc.sqlite3").write_text("not a database at all" * 100)
    config = write_config(tmp_path, '[[sources]]\nname = "a"\npath = "articles"\n')
    code, doc = _doctor(config)
    assert code == 1
    checks = {c["area"]: c for c in doc["checks"]}
    assert checks["publish"]["status"] == "problem"
    assert checks["publish"]["detail"] == "exists but is not a folder"
    assert checks["database"]["status"] == "problem"
    assert "restore a backup" in checks["database"]["fix"]
    assert checks["source"]["status"] == "ok"  # sources are still checked


def test_a_config_that_does_not_load_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[sources]]\nname = "a"\npaht = "x"\n')
    code, doc = _doctor(config)
    assert code == 2
    (check,) = doc["checks"]
    assert check["area"] == "config" and check["status"] == "problem"
    assert "did you mean 'path'" in check["detail"]
