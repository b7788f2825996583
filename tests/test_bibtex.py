"""BibTeX export: fields, key format, escaping, and a structural parse of the output."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboy.bibtex import bibtex, bibtex_key, escape_bibtex
from paperboy.models import Paper

KEY = re.compile(r"^[a-z0-9]+$")
ENTRY = re.compile(r"^@misc\{(?P<key>[^,\s]+),\n(?P<body>.*)\n\}\n$", re.DOTALL)
FIELD = re.compile(r"^  (?P<name>[A-Za-z]+) *= \{(?P<value>.*)\},?$")

REAL = Paper(
    id="2411.19477",
    title="A Simple and Provable Scaling Law for the Test-Time Compute of Large Language Models",
    authors=("Yanxi Chen", "Xuchen Pan", "Yaliang Li", "Bolin Ding", "Jingren Zhou"),
    categories=("cs.LG", "cs.AI", "cs.CL"),
    published=datetime(2024, 11, 29, 5, 29, 47),
    doi="10.48550/arXiv.2411.19477",
)


def braces_balanced(text: str) -> bool:
    """BibTeX counts every brace, escaped or not, so this check does too."""
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def parse(entry: str) -> tuple[str, dict[str, str]]:
    """A small parser for what ``bibtex`` writes: one field per line."""
    match = ENTRY.match(entry)
    assert match, entry
    fields: dict[str, str] = {}
    for line in match["body"].split("\n"):
        field = FIELD.match(line)
        assert field, line
        assert braces_balanced(field["value"]), line
        fields[field["name"]] = field["value"]
    return match["key"], fields


def test_real_paper_fields() -> None:
    key, fields = parse(bibtex(REAL))
    assert key == "chen2024simple"
    assert fields["title"] == "{" + REAL.title + "}"
    assert (
        fields["author"]
        == "Yanxi Chen and Xuchen Pan and Yaliang Li and Bolin Ding and Jingren Zhou"
    )
    assert fields["year"] == "2024"
    assert fields["eprint"] == "2411.19477"
    assert fields["archivePrefix"] == "arXiv"
    assert fields["primaryClass"] == "cs.LG"
    assert fields["doi"] == "10.48550/arXiv.2411.19477"
    assert fields["url"] == "https://arxiv.org/abs/2411.19477"
    assert "note" not in fields


def test_optional_fields_left_out() -> None:
    _, fields = parse(bibtex(Paper(id="2401.12345", title="Minimal")))
    assert set(fields) == {"title", "year", "eprint", "archivePrefix", "url"}
    assert fields["year"] == "2024"  # from the id when no published date is known


def test_old_style_id() -> None:
    paper = Paper(id="hep-th/9901001", title="Strings", authors=("Edward Witten",))
    key, fields = parse(bibtex(paper))
    assert key == "witten1999strings"
    assert fields["eprint"] == "hep-th/9901001"
    assert fields["url"] == "https://arxiv.org/abs/hep-th/9901001"


def test_journal_ref_becomes_note() -> None:
    paper = Paper(id="2401.12345", title="T", journal_ref="Phys. Rev. D 99 & more")
    assert parse(bibtex(paper))[1]["note"] == r"Phys. Rev. D 99 \& more"


@pytest.mark.parametrize(
    ("paper", "key"),
    [
        (REAL, "chen2024simple"),
        (
            Paper(id="2401.12345", title="The Art of {LLM}s", authors=("Ada Lovelace",)),
            "lovelace2024art",
        ),
        (Paper(id="2401.12345", title="On the Origin", authors=("José Núñez",)), "nunez2024origin"),
        (Paper(id="2401.12345", title="A", authors=()), "anon2024a"),
        (Paper(id="2401.12345", title="", authors=("王 小明",)), "anon2024paper"),
        (
            Paper(id="2401.12345", title="$\\alpha$-Nets", authors=("J. R. R. Tolkien",)),
            "tolkien2024alpha",
        ),
    ],
)
def test_keys(paper: Paper, key: str) -> None:
    assert bibtex_key(paper) == key
    assert KEY.match(bibtex_key(paper))


def test_special_characters_in_title_are_escaped() -> None:
    title = "Unbalanced { brace } } and 100% of $x_1$ & #tags ~ ^ \\cmd"
    paper = Paper(id="2401.12345", title=title, authors=("Ann O'Neil",))
    entry = bibtex(paper)
    assert braces_balanced(entry)
    _, fields = parse(entry)
    assert fields["title"] == (
        r"{Unbalanced \textbraceleft{} brace \textbraceright{} \textbraceright{} and 100\% of "
        r"\$x\_1\$ \& \#tags \textasciitilde{} \textasciicircum{} \textbackslash{}cmd}"
    )


def test_a_title_cannot_end_the_entry_early() -> None:
    title = "x}, author = {Injected}, note = {y"
    _, fields = parse(bibtex(Paper(id="2401.12345", title=title)))
    assert "author" not in fields
    assert "note" not in fields


def test_newlines_collapse() -> None:
    paper = Paper(id="2401.12345", title="Two\nlines\r\n  here", authors=("A\nB",))
    entry = bibtex(paper)
    _, fields = parse(entry)
    assert fields["title"] == "{Two lines here}"
    assert fields["author"] == "A B"


def test_escape_plain_text_untouched() -> None:
    assert (
        escape_bibtex("Plain Title: With Punctuation, Yes!")
        == "Plain Title: With Punctuation, Yes!"
    )


@given(
    title=st.text(max_size=80),
    authors=st.lists(st.text(max_size=20), max_size=4),
    comments=st.one_of(st.none(), st.text(max_size=30)),
)
def test_any_text_gives_a_well_formed_entry(
    title: str, authors: list[str], comments: str | None
) -> None:
    paper = Paper(
        id="2401.12345",
        title=title,
        authors=tuple(authors),
        journal_ref=comments,
        doi=comments,
        categories=(comments,) if comments else (),
    )
    entry = bibtex(paper)
    assert braces_balanced(entry)
    key, _ = parse(entry)
    assert KEY.match(key)
