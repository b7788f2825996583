"""Highlighting matched words (paperboy.search.highlight): stems, folding, escaping, snippets."""

from __future__ import annotations

import html
import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from paperboy.search.highlight import ELLIPSIS, highlight, matched_terms
from paperboy.search.query import analyze_terms


def terms(text: str) -> set[str]:
    return set(analyze_terms(text))


def plain(markup: str) -> str:
    """The text behind highlighted HTML: tags removed, entities decoded."""
    return html.unescape(markup.replace("<mark>", "").replace("</mark>", ""))


def marked(markup: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", markup)


def test_marks_stemmed_forms() -> None:
    out = highlight("Transformers transform a transformer.", terms("transformer"))
    assert isinstance(out, Markup)
    assert marked(out) == ["Transformers", "transform", "transformer"]
    assert out == ("<mark>Transformers</mark> <mark>transform</mark> a <mark>transformer</mark>.")


def test_case_and_accents_fold() -> None:
    assert marked(highlight("Timothée LACROIX", terms("timothee lacroix"))) == [
        "Timothée",
        "LACROIX",
    ]
    assert marked(highlight("Timothee", terms("Timothée"))) == ["Timothee"]
    # a decomposed accent matches as well
    assert marked(highlight("Timothe\u0301e", terms("timothee"))) == ["Timothe\u0301e"]


def test_hyphenated_words_mark_each_part() -> None:
    out = highlight("A self-supervised method", terms("self-supervised"))
    assert out == "A <mark>self</mark>-<mark>supervised</mark> method"


def test_everything_else_is_escaped() -> None:
    text = "<script>alert(1)</script> & \"x\" 'bias' <b>biased</b>"
    out = highlight(text, terms("bias alert"))
    assert "<script>" not in out and "<b>" not in out
    assert out == (
        "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt; &amp; &#34;x&#34; "
        "&#39;<mark>bias</mark>&#39; &lt;b&gt;<mark>biased</mark>&lt;/b&gt;"
    )
    assert plain(out) == text
    # escaped entities in the source stay text
    assert plain(highlight("a &lt; b &amp;amp;", terms("b"))) == "a &lt; b &amp;amp;"


def test_no_terms_or_no_text() -> None:
    assert highlight("Plain <text>", []) == "Plain &lt;text&gt;"
    assert highlight("", terms("x")) == ""
    assert highlight("nothing here", terms("transformer")) == "nothing here"


def test_non_latin_words() -> None:
    assert marked(highlight("关于 注意力机制 的研究", terms("注意力机制"))) == ["注意力机制"]
    assert marked(highlight("Μηχανική μάθηση", terms("μάθηση"))) == ["μάθηση"]


FILLER_BEFORE = " ".join(f"before{n}" for n in range(60))
FILLER_AFTER = " ".join(f"after{n}" for n in range(60))


def test_snippet_windows_on_the_densest_cluster() -> None:
    text = (
        f"Transformers early. {FILLER_BEFORE} the transformer with bias and biased "
        f"transformers. {FILLER_AFTER}"
    )
    out = highlight(text, terms("transformer bias"), max_chars=120)
    assert out.startswith(ELLIPSIS) and out.endswith(ELLIPSIS)
    inner = plain(out)[1:-1]
    assert len(inner) <= 120
    assert inner in text
    assert marked(out) == ["transformer", "bias", "biased", "transformers"]
    # cut between words: the snippet starts and ends on whole words
    start = text.index(inner)
    assert text[start - 1] == " " and text[start + len(inner)] in " ."
    assert "Transformers early" not in out


def test_snippet_without_matches_is_the_escaped_start() -> None:
    text = "A <b>bold</b> start " + FILLER_AFTER
    out = highlight(text, terms("zebra"), max_chars=50)
    assert out.startswith("A &lt;b&gt;bold&lt;/b&gt; start")
    assert out.endswith(ELLIPSIS)
    assert "<mark>" not in out
    inner = plain(out)[: -len(ELLIPSIS)]
    assert text.startswith(inner) and len(inner) <= 50
    assert text[len(inner)] == " "


def test_snippet_of_short_text_is_the_whole_text() -> None:
    assert highlight("Short bias", terms("bias"), max_chars=100) == "Short <mark>bias</mark>"


def test_snippet_match_at_the_end() -> None:
    text = f"{FILLER_BEFORE} finally transformers"
    out = highlight(text, terms("transformer"), max_chars=60)
    assert out.startswith(ELLIPSIS) and not out.endswith(ELLIPSIS)
    assert out.endswith("<mark>transformers</mark>")


def test_snippet_of_text_without_spaces_cuts_hard() -> None:
    text = "注意力" * 200 + " 机制"
    out = highlight(text, terms("机制"), max_chars=30)
    assert out.endswith("<mark>机制</mark>")
    assert len(plain(out)) <= 32


def test_snippet_match_longer_than_window() -> None:
    text = "x " * 50 + "supercalifragilistic " + "y " * 50
    out = highlight(text, terms("supercalifragilistic"), max_chars=10)
    assert "<mark>" in out
    assert len(plain(out)) <= 12


def test_matched_terms() -> None:
    fields = {
        "title": "Transformers and Bias",
        "abstract": "Biases in transformer models: bias, BIAS and more bias. Fairness.",
        "authors": "Ada Lovelace",
    }
    found = matched_terms(fields, terms("transformer bias"))
    assert found == {
        "title": ["Transformers", "Bias"],
        "abstract": ["Biases", "transformer", "bias"],
        "authors": [],
    }


def test_matched_terms_limit_and_missing_text() -> None:
    text = " ".join(f"bias{n} bias" for n in range(20)) + " biases biased biasing"
    found = matched_terms({"abstract": text, "none": None}, terms("bias"), limit=2)
    assert found == {"abstract": ["bias", "biases"], "none": []}
    many = " ".join(f"w{n}" for n in range(20))
    assert len(matched_terms({"t": many}, terms(many))["t"]) == 8


def test_highlight_is_fast() -> None:
    abstract = ("We study transformers and their biases in large language models. " * 40)[:2000]
    wanted = terms("transformer bias language")
    highlight(abstract, wanted)  # warm the cache
    start = time.perf_counter()
    for _ in range(100):
        highlight(abstract, wanted)
        highlight(abstract, wanted, max_chars=300)
    assert (time.perf_counter() - start) / 200 < 0.002


@settings(max_examples=300, deadline=None)
@given(
    st.text(),
    st.lists(st.sampled_from(["transform", "bias", "a", "x", "é", "注意力"]), max_size=4),
)
def test_fuzz_highlight_keeps_the_text(text: str, wanted: list[str]) -> None:
    out = highlight(text, wanted)
    assert isinstance(out, Markup)
    assert plain(out) == text
    assert "<" not in out.replace("<mark>", "").replace("</mark>", "")


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=80))
def test_fuzz_snippet_is_a_piece_of_the_text(text: str, max_chars: int) -> None:
    out = highlight(text, terms("transformer bias a"), max_chars=max_chars)
    inner = plain(out).removeprefix(ELLIPSIS).removesuffix(ELLIPSIS)
    assert inner in text
    assert len(inner) <= max_chars
    if len(text) <= max_chars:
        assert plain(out) == text
