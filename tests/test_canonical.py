"""Canonical links: the documented rules, and properties checked with hypothesis."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from feedsvc.config import parse_config
from feedsvc.dedup import DEFAULT_URL_RULES, TRACKING_PARAMS, canonical_url, is_front_page
from feedsvc.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host case, http == https, default ports, fragment
        ("HTTP://News.Example.COM:80/a#top", "https://news.example.com/a"),
        ("https://news.example.com:443/a", "https://news.example.com/a"),
        ("http://news.example.com:8080/a", "https://news.example.com:8080/a"),
        ("https://user:pw@news.example.com/a", "https://news.example.com/a"),
        ("https://news.example.com./a", "https://news.example.com/a"),
        # IDN to punycode
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://BÜCHER.example/x", "https://xn--bcher-kva.example/x"),
        # percent-encoding: unreserved decoded, others upper-cased, non-ASCII escaped
        ("https://a.example/%7euser/%41b", "https://a.example/~user/Ab"),
        ("https://a.example/a%2fb", "https://a.example/a%2Fb"),
        ("https://a.example/café", "https://a.example/caf%C3%A9"),
        ("https://a.example/caf%c3%a9", "https://a.example/caf%C3%A9"),
        ("https://a.example/100%", "https://a.example/100%25"),
        ("https://a.example/a b", "https://a.example/a%20b"),
        # dot segments, trailing slash and index documents
        ("https://a.example/a/./b/../c", "https://a.example/a/c"),
        ("https://a.example/news/", "https://a.example/news"),
        ("https://a.example/news/index.html", "https://a.example/news"),
        ("https://a.example/news/index.htm/", "https://a.example/news"),
        ("https://a.example/index.php", "https://a.example/"),
        ("https://a.example", "https://a.example/"),
        ("https://a.example/news/index.html.bak", "https://a.example/news/index.html.bak"),
        # tracking parameters removed, the rest sorted; empty query dropped
        (
            "https://a.example/s?utm_source=rss&b=2&fbclid=x&a=1&gclid=y",
            "https://a.example/s?a=1&b=2",
        ),
        ("https://a.example/s?mc_cid=1&mc_eid=2&igshid=3&ref=tw&ref_src=a", "https://a.example/s"),
        ("https://a.example/s?UTM_Medium=x", "https://a.example/s"),
        ("https://a.example/s?", "https://a.example/s"),
        ("https://a.example/s?q=a+b", "https://a.example/s?q=a%20b"),
        ("https://a.example/s?id=7&id=3", "https://a.example/s?id=3&id=7"),
        # IPv6 literals keep their brackets
        ("http://[2001:DB8::1]:8080/x", "https://[2001:db8::1]:8080/x"),
    ],
)
def test_canonical_rules(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "ftp://a.example/x",
        "mailto:a@example.org",
        "/relative/path",
        "https://",
        "http://a.example:99999/",
        "https://exa mple.com/",
    ],
)
def test_not_comparable_links(url: str | None) -> None:
    assert canonical_url(url) is None


def test_front_page() -> None:
    assert is_front_page(canonical_url("https://a.example/index.html") or "")
    assert not is_front_page(canonical_url("https://a.example/?p=12") or "")


def test_tracking_list_is_configurable(tmp_path: Path) -> None:
    raw = {"dedup": {"tracking_params": ["sessionid", "pk_*"], "keep_params": ["ref"]}}
    rules = parse_config(raw, tmp_path).dedup.url_rules
    url = "https://a.example/s?ref=42&sessionid=9&pk_campaign=x&utm_source=y&p=1"
    assert canonical_url(url, rules) == "https://a.example/s?p=1&ref=42"
    assert canonical_url(url) == "https://a.example/s?p=1&pk_campaign=x&sessionid=9"
    assert DEFAULT_URL_RULES.is_tracking("utm_anything")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dedup": {"tracking_param": []}}, "dedup.tracking_param: unknown key (did you mean"),
        ({"dedup": {"tracking_params": "utm_x"}}, "dedup.tracking_params: expected an array"),
        ({"dedup": {"keep_params": ["a b"]}}, "dedup.keep_params: expected a query parameter"),
        (
            {"sources": [{"name": "s", "path": ".", "priority": "high"}]},
            "sources[0].priority: expected a whole number",
        ),
    ],
)
def test_dedup_config_errors(tmp_path: Path, raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_config(raw, tmp_path)


# --- properties ------------------------------------------------------------------------------

_segment = st.text(
    alphabet=st.sampled_from("abcXYZ019-._~%!$&'()*+,;=:@ éü/?#"), min_size=0, max_size=12
)
_host = st.sampled_from(
    ["example.com", "EXAMPLE.com", "news.example.org.", "bücher.example", "[::1]", "127.0.0.1"]
)
_query = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "utm_source", "fbclid", "ref", "q", "Z"]),
        st.text(alphabet="ab1 %+&=é", max_size=5),
    ),
    max_size=4,
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_host)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/" + "/".join(draw(st.lists(_segment, max_size=4)))
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in draw(_query))
    frag = draw(st.sampled_from(["", "#x", "#"]))
    return f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{frag}"


@settings(max_examples=400, deadline=None)
@given(urls())
def test_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert once is not None
    assert canonical_url(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_never_raises_and_idempotent_on_any_text(text: str) -> None:
    for candidate in (text, "https://a.example/" + text, "http://" + text):
        once = canonical_url(candidate)
        if once is not None:
            assert canonical_url(once) == once
            assert urlsplit(once).scheme == "https"


@settings(max_examples=200, deadline=None)
@given(urls(), st.sampled_from(["utm_campaign=x", "fbclid=abc", "gclid=1", "mc_eid=2"]))
def test_tracking_and_fragment_and_scheme_do_not_matter(url: str, tracking: str) -> None:
    # Surrounding white space is stripped from a whole URL (as browsers do), so a path that
    # ends in a space means something else once a query follows it: not this property's case.
    # (geturl() drops an empty "#", so "http://h/ #" must not count as ending in non-space.)
    assume(url == url.strip() and urlsplit(url).geturl() == urlsplit(url).geturl().strip())
    base = canonical_url(url)
    parts = urlsplit(url)
    sep = "&" if parts.query else ""
    with_tracking = parts._replace(query=parts.query + sep + tracking, fragment="frag").geturl()
    other_scheme = parts._replace(scheme="https" if parts.scheme.lower() == "http" else "http")
    assert canonical_url(with_tracking) == base
    assert canonical_url(other_scheme.geturl()) == base


@settings(max_examples=200, deadline=None)
@given(_query)
def test_parameter_order_does_not_matter(params: list[tuple[str, str]]) -> None:
    def url(ps: list[tuple[str, str]]) -> str:
        return "https://a.example/p?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in ps)

    assert canonical_url(url(params)) == canonical_url(url(list(reversed(params))))


def test_the_documented_tracking_list_is_the_real_one() -> None:
    """config.toml's comment and the README name exactly the built-in tracking parameters."""
    root = Path(__file__).resolve().parents[1]
    toml = (root / "config.toml").read_text("utf-8")
    comment = toml[toml.index("[dedup]") : toml.index("tracking_params =")]
    listed = set(re.findall(r"[a-z_]+", comment.split("utm_* and", 1)[1]))
    assert listed == set(TRACKING_PARAMS)
    readme = (root / "README.md").read_text("utf-8")
    assert all(f"`{name}`" in readme for name in TRACKING_PARAMS)
