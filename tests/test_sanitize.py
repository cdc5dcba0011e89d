"""feedsvc.sanitize: clean_html, escape_paragraphs, html_to_text, text_title."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.sanitize import (
    clean_html,
    escape_paragraphs,
    html_to_text,
    remove_xml_invalid,
    text_title,
)

CURLY = "“Narco-Terrorist” — Washington’s"


# -- clean_html -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "forbidden"),
    [
        ("<p>hi</p><script>alert(1)</script>", "alert"),
        ("<style>body{display:none}</style><p>hi</p>", "display"),
        ('<iframe src="https://evil.example/"></iframe><p>hi</p>', "evil"),
        ('<object data="x.swf"></object><embed src="y.swf"><p>hi</p>', ".swf"),
        ('<p>hi<img src="x.png" onerror="alert(1)"></p>', "onerror"),
        ('<p onclick="alert(1)" style="color:red" class="c" id="i">hi</p>', "alert"),
        ('<form action="/steal"><input name="q">hi</form>', "steal"),
        ("<svg><script>alert(1)</script></svg><p>hi</p>", "alert"),
    ],
)
def test_clean_html_removes_active_content(dirty: str, forbidden: str) -> None:
    cleaned = clean_html(dirty)
    assert forbidden not in cleaned
    assert "hi" in cleaned
    assert not re.search(r"\son\w+=", cleaned)


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "jav&#x0A;ascript:alert(1)",
        "&#106;avascript:alert(1)",
        "java\nscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        # A browser drops tab, LF and CR anywhere in a URL: these are data: URLs too.
        "da\tta:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "da&#9;ta:text/html,<script>alert(1)</script>",
        "data\n:text/html,<script>alert(1)</script>",
        "\x01data:text/html,<script>alert(1)</script>",
    ],
)
def test_clean_html_drops_dangerous_link_schemes(href: str) -> None:
    cleaned = clean_html(f'<a href="{href}">x</a>', base_url="https://example.org/")
    assert "href" not in cleaned
    assert "script" not in cleaned.lower()
    assert ">x</a>" in cleaned


def test_clean_html_data_urls_only_for_raster_images() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    assert f'src="{png}"' in clean_html(f'<img src="{png}" alt="dot">')
    assert "src" not in clean_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">')
    assert "src" not in clean_html('<img src="data:text/html,<script>alert(1)</script>">')
    assert "src" not in clean_html('<img src="da\tta:image/svg+xml;base64,PHN2Zz4=">')
    # An obfuscated raster image is kept, written as the browser would read it.
    assert f'src="{png}"' in clean_html('<img src="da\nta:image/png;base64,iVBORw0KGgo=">')


def test_clean_html_resolves_relative_urls() -> None:
    base = "https://example.org/news/2024/story.html"
    cleaned = clean_html(
        '<a href="other.html">a</a><a href="/top">b</a><a href="//cdn.example/x">c</a>'
        '<img src="../img/p.png" alt="p"><a href="https://abs.example/">d</a>',
        base_url=base,
    )
    assert 'href="https://example.org/news/2024/other.html"' in cleaned
    assert 'href="https://example.org/top"' in cleaned
    assert 'href="https://cdn.example/x"' in cleaned
    assert 'src="https://example.org/news/img/p.png"' in cleaned
    assert 'href="https://abs.example/"' in cleaned


def test_clean_html_leaves_relative_urls_without_base() -> None:
    assert 'href="other.html"' in clean_html('<a href="other.html">a</a>')


def test_clean_html_keeps_formatting_tables_and_figures() -> None:
    source = (
        "<h2>T</h2><p><b>b</b> <em>e</em> <code>c</code></p><pre>x  y</pre>"
        '<blockquote>q</blockquote><ul><li>1</li></ul><ol start="3"><li>3</li></ol>'
        '<table><thead><tr><th scope="col">h</th></tr></thead>'
        '<tbody><tr><td colspan="2">d</td></tr></tbody></table>'
        '<figure><img src="https://x.example/i.jpg" alt="a" title="t" width="10" height="5">'
        "<figcaption>cap</figcaption></figure>"
    )
    assert clean_html(source) == source


def test_clean_html_adds_rel_to_links() -> None:
    assert 'rel="noopener noreferrer"' in clean_html('<a href="https://x.example/">x</a>')


def test_clean_html_drops_unchecked_cite_urls() -> None:
    assert "javascript" not in clean_html('<blockquote cite="javascript:alert(1)">q</blockquote>')


def test_clean_html_preserves_non_ascii_and_writes_nbsp_as_a_character() -> None:
    cleaned = clean_html(f"<p>{CURLY}&nbsp;x &amp; &lt;y&gt; &amp;nbsp;</p>")
    assert cleaned == f"<p>{CURLY}\u00a0x &amp; &lt;y&gt; &amp;nbsp;</p>"


def test_clean_html_removes_xml_invalid_characters() -> None:
    assert clean_html("<p>a\x0cb\x00c</p>") == "<p>abc</p>"


# -- escape_paragraphs ------------------------------------------------------------------------


def test_escape_paragraphs() -> None:
    assert escape_paragraphs(["a < b & c > d", CURLY]) == (
        f"<p>a &lt; b &amp; c &gt; d</p>\n<p>{CURLY}</p>"
    )
    assert escape_paragraphs([]) == ""
    assert escape_paragraphs(['"quoted"']) == '<p>"quoted"</p>'


def test_escape_paragraphs_is_byte_exact_for_non_ascii() -> None:
    out = escape_paragraphs([CURLY])
    assert CURLY.encode("utf-8") in out.encode("utf-8")
    assert "&#" not in out


@given(st.lists(st.text()))
def test_escape_paragraphs_has_no_markup_but_its_own(paragraphs: list[str]) -> None:
    out = escape_paragraphs(paragraphs)
    without_tags = out.replace("<p>", "").replace("</p>", "")
    assert "<" not in without_tags
    assert ">" not in without_tags
    text = html_to_text(out)
    assert (text.split("\n") if text else []) == [
        " ".join(p.split()) for p in map(remove_xml_invalid, paragraphs) if p.split()
    ]


# -- html_to_text / text_title ----------------------------------------------------------------


def test_html_to_text_separates_blocks_and_decodes_entities() -> None:
    source = "<h1>Title</h1><p>One &amp; <b>two</b></p><ul><li>a</li><li>b</li></ul>x<br>y"
    assert html_to_text(source) == "Title\nOne & two\na\nb\nx\ny"


def test_html_to_text_drops_script_and_style() -> None:
    assert html_to_text("<p>a<script>var x = '<p>';</script></p><style>p{}</style>b") == "a\nb"


def test_html_to_text_keeps_non_ascii() -> None:
    assert html_to_text(f"<p>{CURLY}</p>") == CURLY


@given(st.text())
def test_html_to_text_never_raises(source: str) -> None:
    assert isinstance(html_to_text(source), str)
    assert isinstance(text_title(source), str)


def test_text_title() -> None:
    assert text_title("  The <em>big</em>\n  day &amp; night ") == "The big day & night"
    assert text_title(CURLY) == CURLY
    assert text_title("<p>a</p><p>b</p>") == "a b"
