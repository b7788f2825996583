"""Comment Markdown: the safe subset renders, everything else is inert text, math survives."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from paperboy.community.markdown import (
    ALLOWED_TAGS,
    LINK_REL,
    MAX_COMMENT_CHARS,
    comment_text,
    render_comment,
)

VOID = {"br"}


class _Collector(HTMLParser):
    """Records every tag with its attributes and checks that tags are balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.errors.append(f"comment <!--{data}-->")


def parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


def assert_safe(html: str) -> _Collector:
    """No tag outside the allowlist, no attribute but href (and the added rel) on links, only
    http/https/mailto/relative hrefs, balanced tags, no event-handler attribute anywhere."""
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.IGNORECASE)
    doc = parse(html)
    assert doc.errors == []
    assert doc.stack == []
    for tag, attrs in doc.tags:
        assert tag in ALLOWED_TAGS, tag
        if tag == "a":
            assert set(attrs) <= {"href", "rel"}, attrs
            assert attrs.get("rel") == LINK_REL
            href = (attrs.get("href") or "").strip().lower()
            scheme = re.match(r"^([a-z][a-z0-9+.\-]*):", href)
            assert scheme is None or scheme.group(1) in {"http", "https", "mailto"}, href
        else:
            assert attrs == {}, (tag, attrs)
    return doc


def test_constant_is_exported() -> None:
    assert MAX_COMMENT_CHARS == 10_000


def test_empty_input_gives_empty_markup() -> None:
    for text in ("", "   \n\t  ", "\x00\x07"):
        out = render_comment(text)
        assert isinstance(out, Markup)
        assert out == ""


def test_emphasis_strong_and_code() -> None:
    out = render_comment("*em* and **strong** and `x < y`")
    assert out == "<p><em>em</em> and <strong>strong</strong> and <code>x &lt; y</code></p>"


def test_blocks_render() -> None:
    text = "> quoted\n\n- one\n- two\n\n1. first\n\n```python\nprint('<b>')\n```"
    out = str(render_comment(text))
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in out
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in out
    assert "<ol>\n<li>first</li>\n</ol>" in out
    # The info string's class is dropped; the code stays escaped text.
    assert "<pre><code>print('&lt;b&gt;')\n</code></pre>" in out
    assert_safe(out)


def test_hard_line_break() -> None:
    assert render_comment("one  \ntwo") == "<p>one<br>\ntwo</p>"


def test_links_get_rel_nofollow() -> None:
    out = str(
        render_comment("see [the paper](https://arxiv.org/abs/2401.00001) or <https://x.org>")
    )
    assert (
        '<a href="https://arxiv.org/abs/2401.00001" rel="nofollow noopener noreferrer ugc">'
        "the paper</a>"
    ) in out
    assert '<a href="https://x.org" rel="nofollow noopener noreferrer ugc">https://x.org</a>' in out
    mail = str(render_comment("[mail me](mailto:a@b.org)"))
    assert 'href="mailto:a@b.org"' in mail
    assert_safe(out)


def test_headings_images_and_rules_are_not_rendered() -> None:
    out = str(render_comment("# Big\n\nText\n---\n\n![alt](https://x.org/a.png)"))
    for tag in ("<h1", "<h2", "<hr", "<img"):
        assert tag not in out
    assert "<p># Big</p>" in out
    assert_safe(out)


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<svg onload=alert(1)>",
        "<div style='x'>raw <b>html</b></div>",
        "<iframe src=https://evil.example></iframe>",
        "<!-- hidden -->",
        "<style>p { color: red }</style>",
    ],
)
def test_raw_html_is_inert_text(text: str) -> None:
    out = str(render_comment(text))
    doc = assert_safe(out)
    # One paragraph whose text is exactly what was typed: every "<" is an escaped "&lt;".
    assert [tag for tag, _ in doc.tags] == ["p"]
    assert "".join(doc.text) == text
    assert out.startswith("<p>&lt;")


def test_script_tag_is_escaped() -> None:
    out = str(render_comment("<script>alert(1)</script>"))
    assert out == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert "<script" not in out


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<javascript:alert(1)>",
        "[x]: javascript:alert(1)\n\n[y][x]",
        "[a](javascript$:alert(1)$)",
    ],
)
def test_dangerous_links_never_get_a_live_href(text: str) -> None:
    out = str(render_comment(text))
    doc = assert_safe(out)
    for _, attrs in doc.tags:
        href = (attrs.get("href") or "").lower()
        assert not href.startswith(("javascript:", "vbscript:", "data:"))
    assert not re.search(r'href="\s*(javascript|vbscript|data):', out, re.IGNORECASE)


@pytest.mark.parametrize(
    "text",
    [
        "$a_i * b_j$",
        "$x^2 + y_1 * z_2$",
        r"\(a_1 * b_2\)",
        r"\[\sum_{i=1}^n x_i\]",
        "$$\\int_0^1 f_a(x) * g_b(x)\\,dx$$",
        "$\\mathbf{a}_{ij}$",
    ],
)
def test_math_is_kept_literally(text: str) -> None:
    assert render_comment(text) == f"<p>{text}</p>"


def test_math_is_escaped_text() -> None:
    assert render_comment("$x<y$") == "<p>$x&lt;y$</p>"
    assert render_comment(r"\(a<b>c\)") == r"<p>\(a&lt;b&gt;c\)</p>"
    out = str(render_comment("$<script>alert(1)</script>$"))
    assert "&lt;script&gt;" in out
    assert_safe(out)


def test_math_next_to_markdown() -> None:
    out = render_comment("*Claim:* $a_i * b_j$ is **small** and $$c_k$$ too")
    assert out == ("<p><em>Claim:</em> $a_i * b_j$ is <strong>small</strong> and $$c_k$$ too</p>")


def test_display_math_over_several_lines() -> None:
    text = "$$\nx_1 * y_2\n- z_3\n$$"
    assert render_comment(text) == f"<p>{text}</p>"


def test_dollar_amounts_are_not_math() -> None:
    assert render_comment("costs $5 and *then* $10") == "<p>costs $5 and <em>then</em> $10</p>"


def test_dollars_in_code_stay_code() -> None:
    assert render_comment("`$` and `$`") == "<p><code>$</code> and <code>$</code></p>"
    out = render_comment("```\necho $a_b $c_d\n```")
    assert out == "<pre><code>echo $a_b $c_d\n</code></pre>"


def test_comment_text_strips_control_characters() -> None:
    assert comment_text("  hi\x00\x07\r\nthere\tyou\x85\x1b[31m \n") == "hi\nthere\tyou[31m"
    assert comment_text("*kept* as typed") == "*kept* as typed"


_FRAGMENTS = st.sampled_from(
    [
        "<",
        ">",
        "</",
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<a href='javascript:alert(1)'>",
        "javascript:",
        "[",
        "](",
        ")",
        "](https://x.org)",
        "](javascript:alert(1))",
        "*",
        "**",
        "_",
        "`",
        "```\n",
        "$",
        "$$",
        "\\(",
        "\\)",
        "\\[",
        "\\]",
        "\\",
        "&",
        "&#",
        ";",
        "\n",
        "\n\n",
        "> ",
        "- ",
        "1. ",
        "    ",
        '"',
        "'",
        "=",
        " on",
        "x",
        "!",
    ]
)
_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=40).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_output_is_always_safe(text: str) -> None:
    assert_safe(str(render_comment(text)))
