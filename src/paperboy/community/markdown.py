"""Comment rendering: a small, safe Markdown subset with inline math left for KaTeX.

Comments are stored as the plain text the user typed. ``render_comment`` turns that text into
HTML in three steps:

1. Math spans (``$...$``, ``$$...$$``, ``\\(...\\)`` and ``\\[...\\]``) are swapped for opaque
   placeholders so Markdown cannot touch them (``$a_i * b_j$`` must not become emphasis, and
   ``\\(`` must not lose its backslash to a Markdown escape). Code spans and fenced code blocks
   are skipped while looking for math, so ``$`` inside code stays code.
2. markdown-it-py renders the text with the CommonMark rules, raw HTML off, and images,
   headings and horizontal rules disabled. What remains: paragraphs, emphasis, strong, inline
   code, code blocks, blockquotes, lists, links and hard line breaks.
3. The placeholders are put back as HTML-escaped text (``$x<y$`` becomes ``$x&lt;y$``), and nh3
   sanitises the result against an explicit allowlist: only ``href`` survives, only on ``a``,
   only with an http, https or mailto scheme (or relative), and every link gets
   ``rel="nofollow noopener noreferrer ugc"``.

KaTeX auto-render in the browser then finds the math delimiters in the text nodes.

``comment_text`` is the plain-text form used in feeds and JSON. ``MAX_COMMENT_CHARS`` is the
length limit callers enforce when a comment is submitted; the functions here accept any string.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["ALLOWED_TAGS", "LINK_REL", "MAX_COMMENT_CHARS", "comment_text", "render_comment"]

MAX_COMMENT_CHARS: Final = 10_000
"""The longest comment (in characters) that callers accept."""

ALLOWED_TAGS: Final = frozenset(
    {"p", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br"}
)
ALLOWED_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {"a": frozenset({"href"})}
)
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
LINK_REL: Final = "nofollow noopener noreferrer ugc"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable(
    ["image", "heading", "lheading", "hr", "html_block", "html_inline"]
)

# One left-to-right scan; the leftmost match wins. Code (fenced blocks and backtick spans) and
# backslash escapes of "\" and "$" are kept verbatim; only the math groups become placeholders.
# Spans never cross a blank line (a paragraph break) and math spans never contain their own
# opening delimiter: both bound the work an unclosed opener costs.
_SAME_PARAGRAPH = r"(?:(?!\n[ \t]*\n).)"
_SCAN = re.compile(
    rf"""
    (?P<fence>^[ ]{{0,3}}(?P<marker>`{{3,}}|~{{3,}})[^\n]*\n.*?
        (?:^[ ]{{0,3}}(?P=marker)[`~]*[ \t]*$|\Z))
    | (?P<code>(?P<ticks>`+)(?!`){_SAME_PARAGRAPH}+?(?<!`)(?P=ticks)(?!`))
    | (?P<display>\$\$(?!\$)(?:(?!\$\$){_SAME_PARAGRAPH})+?\$\$)
    | (?P<paren>\\\((?:(?!\\\(){_SAME_PARAGRAPH})+?\\\))
    | (?P<bracket>\\\[(?:(?!\\\[){_SAME_PARAGRAPH})+?\\\])
    | (?P<escape>\\[\\$])
    | (?P<inline>\$(?=[^\s$])[^\n$]*?(?<=[^\s\\$])\$(?!\d))
    """,
    re.VERBOSE | re.MULTILINE | re.DOTALL,
)
_MATH_GROUPS: Final = ("display", "paren", "bracket", "inline")

# C0 and C1 control characters except tab and newline (carriage returns are normalised first).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def comment_text(text: str) -> str:
    """The plain-text form of a comment: line endings normalised to ``\\n``, control characters
    other than newline and tab removed, surrounding whitespace stripped. Markdown is left as
    typed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def _protect_math(text: str) -> tuple[str, str, list[str]]:
    """Replace math spans by placeholders; return the new text, the placeholder prefix and the
    spans (the placeholder for span ``i`` is ``prefix + str(i) + "z"``)."""
    prefix = "mathph" + secrets.token_hex(8) + "n"
    while prefix in text:  # pragma: no cover - a 64-bit collision with the input
        prefix = "mathph" + secrets.token_hex(8) + "n"
    spans: list[str] = []

    def swap(match: re.Match[str]) -> str:
        if any(match.group(g) is not None for g in _MATH_GROUPS):
            spans.append(match.group(0))
            return f"{prefix}{len(spans) - 1}z"
        return match.group(0)

    return _SCAN.sub(swap, text), prefix, spans


def render_comment(text: str) -> Markup:
    """Render a comment's text to sanitised HTML (see the module docstring)."""
    text = comment_text(text)
    if not text:
        return Markup("")
    protected, prefix, spans = _protect_math(text)
    rendered = _md.render(protected)
    if spans:
        rendered = re.sub(
            re.escape(prefix) + r"(\d+)z",
            lambda m: html.escape(spans[int(m.group(1))], quote=True),
            rendered,
        )
    cleaned = nh3.clean(
        rendered,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return Markup(cleaned.strip())
