"""WebSub: publish pings reach a real hub on 127.0.0.1, are retried, and never block
publishing; the retry logic on its own with an injected POST and sleep."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from feedsvc.config import load_config
from feedsvc.errors import FetchError
from feedsvc.fetch import FetchOptions, make_client, post_form
from feedsvc.pipeline import Pipeline
from feedsvc.storage import Store
from feedsvc.websub import ping_hub

from helpers import rss, run, write_config

BASE = "http://127.0.0.1:8080/"


class Hub:
    """A loopback WebSub hub that records publish pings. ``failures`` makes the next N
    requests answer 503; ``status`` is the answer after that."""

    def __init__(self) -> None:
        self.pings: list[list[tuple[str, str]]] = []
        self.content_types: list[str] = []
        self.failures = 0
        self.status = 204
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qsl(self.rfile.read(length).decode("ascii"))
                with hub.lock:
                    hub.content_types.append(self.headers.get("Content-Type", ""))
                    if hub.failures:
                        hub.failures -= 1
                        status = 503
                    else:
                        hub.pings.append(form)
                        status = hub.status
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hub"

    def topics(self) -> list[str]:
        with self.lock:
            return [value for form in self.pings for key, value in form if key == "hub.url"]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    try:
        yield server
    finally:
        server.stop()


def hub_config(tmp_path: Path, hub_url: str) -> Path:
    feed = tmp_path / "wire.xml"
    feed.write_bytes(rss([{"title": "One", "link": "https://wire.example/1", "guid": "1"}]))
    config = write_config(tmp_path, '[[sources]]\nname = "wire"\npath = "wire.xml"\n')
    text = config.read_text(encoding="utf-8").replace("[feed]\n", f'[feed]\nhub = "{hub_url}"\n', 1)
    config.write_text(text, encoding="utf-8")
    return config


SUBSCRIPTION_DOCS = [BASE + n for n in ("sources/wire.xml", "rss.xml", "feed.json", "atom.xml")]


def test_changed_feeds_are_announced_to_the_hub(tmp_path: Path, hub: Hub) -> None:
    config = hub_config(tmp_path, hub.url)
    result = run(config, "ingest")
    assert result.exit_code == 0, result.output
    assert f"notified WebSub hub {hub.url} of 4 feed(s)" in result.output
    assert hub.topics() == SUBSCRIPTION_DOCS  # archives and index.html are not topics
    assert all(form[0] == ("hub.mode", "publish") for form in hub.pings)
    assert set(hub.content_types) == {"application/x-www-form-urlencoded"}

    # nothing changed: no file rewritten, nobody pinged
    assert run(config, "ingest").exit_code == 0
    assert run(config, "publish").exit_code == 0
    assert len(hub.pings) == 4

    # one more entry: every subscription document changed again
    (tmp_path / "wire.xml").write_bytes(
        rss(
            [
                {"title": "One", "link": "https://wire.example/1", "guid": "1"},
                {"title": "Two", "link": "https://wire.example/2", "guid": "2"},
            ]
        )
    )
    assert run(config, "ingest").exit_code == 0
    assert hub.topics() == SUBSCRIPTION_DOCS * 2


def test_a_failing_hub_is_retried(tmp_path: Path, hub: Hub) -> None:
    config = load_config(hub_config(tmp_path, hub.url))
    hub.failures = 2  # two 503s, then the hub accepts
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store, ping_delays=(0.01,))
        try:
            pipe.ingest(config.sources[0])
            result = pipe.publish_site()
        finally:
            pipe.close()
    assert result.any_changed
    assert pipe.last_ping is not None and pipe.last_ping.ok
    assert hub.topics() == SUBSCRIPTION_DOCS
    assert pipe.pending_pings == []


def test_a_dead_hub_never_blocks_publishing_and_is_caught_up_later(
    tmp_path: Path, hub: Hub
) -> None:
    config = load_config(hub_config(tmp_path, hub.url))
    hub.failures = 10**6  # down
    with Store(config.storage.path) as store:
        pipe = Pipeline(config, store, ping_delays=(0.01,))
        try:
            pipe.ingest(config.sources[0])
            first = pipe.publish_site()
            assert first.any_changed and (tmp_path / "feeds/atom.xml").is_file()
            assert pipe.last_ping is not None and not pipe.last_ping.ok
            assert "HTTP 503" in pipe.last_ping.errors[0]
            # the first topic used up its 3 attempts; the rest were not tried, all wait
            assert pipe.pending_pings == SUBSCRIPTION_DOCS
            with hub.lock:
                hub.failures = 0
            second = pipe.publish_site()  # nothing changed, but the backlog is announced
        finally:
            pipe.close()
    assert not second.any_changed
    assert hub.topics() == SUBSCRIPTION_DOCS
    assert pipe.pending_pings == []


def test_cli_reports_an_unreachable_hub_and_still_succeeds(tmp_path: Path, hub: Hub) -> None:
    url = hub.url
    hub.stop()  # the port is now closed: connection refused
    result = run(hub_config(tmp_path, url), "ingest")
    assert result.exit_code == 0
    assert f"WebSub hub {url} not notified of 4 feed(s)" in result.output
    assert (tmp_path / "feeds/atom.xml").is_file()


def test_no_hub_no_ping(tmp_path: Path, hub: Hub) -> None:
    config = write_config(tmp_path, '[[sources]]\nname = "wire"\npath = "wire.xml"\n')
    (tmp_path / "wire.xml").write_bytes(rss([{"title": "x", "guid": "x"}]))
    result = run(config, "ingest")
    assert result.exit_code == 0 and "WebSub" not in result.output
    assert hub.pings == []


# --- fetch.post_form against the loopback hub --------------------------------------------


def test_post_form_sends_a_form_and_accepts_any_2xx(hub: Hub) -> None:
    with make_client(FetchOptions()) as client:
        hub.status = 202
        assert post_form(client, hub.url, [("hub.mode", "publish"), ("hub.url", "a b&c")]) == 202
    assert hub.pings == [[("hub.mode", "publish"), ("hub.url", "a b&c")]]


@pytest.mark.parametrize(("status", "message"), [(400, "HTTP 400"), (307, "HTTP 307")])
def test_post_form_errors_name_the_url(hub: Hub, status: int, message: str) -> None:
    hub.status = status  # a redirect is not followed: a POST must not turn into a GET
    with make_client(FetchOptions()) as client, pytest.raises(FetchError, match=message) as err:
        post_form(client, hub.url, [("hub.mode", "publish")])
    assert hub.url in str(err.value)


def test_post_form_transport_errors_become_fetch_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        make_client(FetchOptions(), transport=httpx.MockTransport(refuse)) as client,
        pytest.raises(FetchError, match="ConnectError") as err,
    ):
        post_form(client, "http://hub.invalid/", [])
    assert isinstance(err.value.__cause__, httpx.ConnectError)


# --- ping_hub: the retry logic alone ----------------------------------------------------------


class FlakyPost:
    """Fails the first ``fail`` calls for each URL in ``flaky`` (all URLs if None)."""

    def __init__(self, fail: int, flaky: set[str] | None = None) -> None:
        self.fail = fail
        self.flaky = flaky
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []
        self.failed: dict[str, int] = {}

    def __call__(self, url: str, data: Sequence[tuple[str, str]]) -> int:
        self.calls.append((url, list(data)))
        topic = dict(data)["hub.url"]
        if self.flaky is None or topic in self.flaky:
            done = self.failed.get(topic, 0)
            if done < self.fail:
                self.failed[topic] = done + 1
                raise FetchError(f"{url}: HTTP 503")
        return 204


def test_ping_hub_retries_with_the_given_delays() -> None:
    post, slept = FlakyPost(fail=2), []
    result = ping_hub(
        post, "http://hub/", ["t1"], attempts=3, delays=(1.0, 5.0), sleep=slept.append
    )
    assert result.ok and result.delivered == ("t1",)
    assert slept == [1.0, 5.0]
    assert [c[1] for c in post.calls] == [[("hub.mode", "publish"), ("hub.url", "t1")]] * 3


def test_ping_hub_gives_up_on_a_dead_hub_after_one_topic() -> None:
    post, slept = FlakyPost(fail=99, flaky={"t2"}), []
    result = ping_hub(
        post, "http://hub/", ["t1", "t2", "t3", "t1"], attempts=2, delays=(0.5,), sleep=slept.append
    )
    assert result.delivered == ("t1",)
    assert result.failed == ("t2", "t3")  # t3 not even tried: the hub is taken to be down
    assert result.errors == ("http://hub/: HTTP 503",)
    assert [dict(c[1])["hub.url"] for c in post.calls] == ["t1", "t2", "t2"]
    assert slept == [0.5]


def test_ping_hub_lets_bugs_through() -> None:
    def broken(url: str, data: Sequence[tuple[str, str]]) -> int:
        raise KeyError("a bug, not a hub failure")

    with pytest.raises(KeyError):
        ping_hub(broken, "http://hub/", ["t"], sleep=lambda s: None)
