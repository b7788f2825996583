"""Library import (cold start): parsing BibTeX / CSL JSON / id lists, bounds, and resolving."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.community.library import (
    MAX_BYTES,
    MAX_ENTRIES,
    MAX_TITLE,
    LibraryEntry,
    LibraryInvalid,
    Resolution,
    normalise_doi,
    normalise_title,
    parse_library,
    resolve_library,
    titles_match,
)
from paperboy.errors import Invalid, PaperboyError
from paperboy.models import Paper

DATA = Path(__file__).parent / "data" / "library"
Fetch = Callable[[Sequence[str]], Mapping[str, Paper]]


def read(name: str) -> list[LibraryEntry]:
    return parse_library((DATA / name).read_bytes(), name)


def by_label(entries: list[LibraryEntry]) -> dict[str, LibraryEntry]:
    return {e.label: e for e in entries}


# -- parsing the sample exports -----------------------------------------------------------------


def test_zotero_bibtex() -> None:
    entries = read("zotero.bib")
    assert [e.position for e in entries] == [1, 2, 3, 4, 5]
    got = by_label(entries)
    attention = got["vaswani_attention_2023"]
    assert attention.title == "Attention Is All You Need"
    assert attention.arxiv_id == "1706.03762"
    assert attention.doi == "10.48550/arxiv.1706.03762"
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Łukasz Kaiser")
    assert attention.year == 2023
    resnet = got["he_deep_2016"]
    assert (resnet.title, resnet.doi, resnet.arxiv_id) == (
        "Deep Residual Learning for Image Recognition",
        "10.1109/cvpr.2016.90",
        None,
    )
    book = got["goodfellow_deep_2016"]
    assert (book.arxiv_id, book.doi, book.year) == (None, None, 2016)
    old = got["old_scheme_1999"]
    assert old.arxiv_id == "hep-th/9711200"  # eprint + archivePrefix, version dropped


def test_latex_accents_and_braces() -> None:
    entry = by_label(read("zotero.bib"))["muller_schone_2021"]
    assert entry.title == "Schöne Graphen: Étude of Müller's Naïve Method"
    assert entry.authors == ("Jörg Müller", "John von Neumann")
    assert entry.doi == "10.1038/s41467-021-00001-x"  # lower-cased


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        (r"{Attention} {Is} {All} {You} {Need}", "Attention Is All You Need"),
        (r"R\&D \emph{in} 100\% of $O(n^2)$ cases --- yes", "R&D in 100% of $O(n^2)$ cases — yes"),
        (
            r"\v{S}koda, Solja{\v{c}}i{\'c}, Na\"{\i}ve, \ss, {\L}{\o}",
            "Škoda, Soljačić, Naïve, ß, Łø",
        ),
        (r"\c{c}a \~n \^{e} \u{a} \H{o} \k{a} \r{a} \`a \=a \.z", "ça ñ ê ă ő ą å à ā ż"),
        (r"a\{b\}c \unknown{word} x\ y", "a{b}c word x y"),
    ],
)
def test_tex_decoding(tex: str, text: str) -> None:
    (entry,) = parse_library(f"@misc{{k, title={{{tex}}}}}".encode())
    assert entry.title == text


def test_tex_decoding_is_fast_on_a_full_file() -> None:
    accents = '\\"o' * 250
    data = "".join(f"@misc{{k{i}, title={{{accents}}}}}\n" for i in range(MAX_ENTRIES)).encode()
    started = time.monotonic()
    entries = parse_library(data)
    assert time.monotonic() - started < 5
    assert entries[0].title == "ö" * 250


def test_mendeley_bibtex() -> None:
    got = by_label(read("mendeley.bib"))
    assert set(got) == {"Devlin2018", "Kingma2014", "Hochreiter1997"}  # header text skipped
    bert = got["Devlin2018"]
    assert bert.title == (
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    )
    assert bert.arxiv_id == "1810.04805"
    assert got["Kingma2014"].arxiv_id == "1412.6980"
    lstm = got["Hochreiter1997"]
    assert (lstm.doi, lstm.arxiv_id) == ("10.1162/neco.1997.9.8.1735", None)
    assert lstm.authors == ("Sepp Hochreiter", "Jürgen Schmidhuber")


def test_google_scholar_bibtex() -> None:
    got = by_label(read("scholar.bib"))
    assert got["liu2024kan"].arxiv_id == "2404.19756"  # journal={arXiv preprint arXiv:...}
    assert got["gu2023mamba"].arxiv_id == "2312.00752"
    assert got["vaswani2017attention"].arxiv_id is None
    assert got["vaswani2017attention"].title == "Attention is all you need"
    assert "Marin Soljačić" in got["liu2024kan"].authors
    assert "Christopher Ré" in got["dao2022flashattention"].authors


def test_zotero_csl_json() -> None:
    entries = read("zotero.json")
    assert [e.label for e in entries] == [
        "“Attention Is All You Need”",
        "“Long Short-Term Memory”",
        "“Deep Learning”",
        "“Large N Limit”",
    ]
    attention, lstm, book, old = entries
    assert (attention.arxiv_id, attention.doi, attention.year) == (
        "1706.03762",
        "10.48550/arxiv.1706.03762",
        2023,
    )
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer", "Łukasz Kaiser")
    assert (lstm.doi, lstm.arxiv_id, lstm.year) == ("10.1162/neco.1997.9.8.1735", None, 1997)
    assert book.authors == ("Ian Goodfellow", "The Deep Learning Consortium")
    assert book.year == 2016  # {"raw": "2016"}
    assert old.arxiv_id == "hep-th/9711200"  # archive_location


def test_csl_json_items_wrapper_and_odd_values() -> None:
    doc = {
        "items": [
            {"title": "T", "number": 5, "author": "nobody", "issued": {"date-parts": "x"}},
            "not an object",
            {"title": ["list"], "DOI": {"a": 1}, "id": "2401.12345"},
        ]
    }
    first, second, third = parse_library(json.dumps(doc).encode())
    assert (first.title, first.authors, first.year, first.arxiv_id) == ("T", (), None, None)
    assert second.problem == "not a CSL JSON object"
    assert (third.title, third.doi, third.arxiv_id) == (None, None, "2401.12345")


def test_csl_rich_text_title() -> None:
    doc = [{"title": 'On <i>E. coli</i> and H<sub>2</sub>O <span class="nocase">in vivo</span>'}]
    (entry,) = parse_library(json.dumps(doc).encode(), "export.json")
    assert entry.title == "On E. coli and H2O in vivo"


def test_plain_id_list() -> None:
    entries = read("ids.txt")
    assert [(e.arxiv_id, e.doi) for e in entries] == [
        ("1706.03762", None),
        ("1810.04805", None),
        ("2404.19756", None),
        ("2312.00752", None),
        (None, "10.1162/neco.1997.9.8.1735"),
        (None, "10.1109/cvpr.2016.90"),
        (None, "10.1038/s41467-021-00001-x"),
        ("hep-th/9711200", None),
        (None, None),
        ("1412.6980", "10.48550/arxiv.1412.6980"),
    ]
    bad = entries[8]
    assert bad.problem == "line 11 is not an arXiv id, arXiv link or DOI"
    assert bad.label == "not an id at all"


def test_pasted_list_without_filename() -> None:
    entries = parse_library(b"  arxiv.org/abs/2401.12345  \r\n\r\n# note\r\n10.1000/ABC\r\n")
    assert [(e.position, e.arxiv_id, e.doi) for e in entries] == [
        (1, "2401.12345", None),
        (2, None, "10.1000/abc"),
    ]


def test_broken_bibtex_keeps_good_entries() -> None:
    entries = read("broken.bib")
    assert [e.label for e in entries] == ["good_one", "line 7", "good_two"]
    assert entries[0].arxiv_id == "2401.00001"
    assert entries[1].problem is not None and entries[1].problem.startswith("not valid BibTeX")
    assert entries[2].doi == "10.1000/xyz123"


def test_duplicate_keys_still_count() -> None:
    text = b"@article{a, title={One}}\n@article{a, title={Two}}\n@misc{b, title={X}, title={Y}}"
    entries = parse_library(text)
    assert [e.label for e in entries] == ["a", "a", "b"]
    assert all(e.problem is None for e in entries)


@pytest.mark.parametrize(
    ("name", "needle"),
    [("unreadable.bib", "No BibTeX entries could be read"), ("broken.json", "line 2, column")],
)
def test_unreadable_files(name: str, needle: str) -> None:
    with pytest.raises(LibraryInvalid, match=needle):
        read(name)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (b"hello world\njust words\n", "not BibTeX, CSL JSON or a list"),
        (b"# only a comment\n\n#\n", "not BibTeX, CSL JSON or a list"),
        (b'{"title": "x"}', "not CSL JSON"),
        (b"[]", "no items"),
        (b"@comment{nothing here}", "No BibTeX entries found"),
    ],
)
def test_refused_content(data: bytes, needle: str) -> None:
    with pytest.raises(LibraryInvalid, match=needle):
        parse_library(data)


def test_library_invalid_is_an_invalid_refusal() -> None:
    with pytest.raises(Invalid) as caught:
        parse_library(b"")
    assert caught.value.field == "library"


# -- bounds -------------------------------------------------------------------------------------


def test_too_big() -> None:
    with pytest.raises(LibraryInvalid, match="over 2 MiB"):
        parse_library(b" " * (MAX_BYTES + 1))


@pytest.mark.parametrize("kind", ["bib", "json", "list"])
def test_too_many_entries(kind: str) -> None:
    n = MAX_ENTRIES + 1
    if kind == "bib":
        data = "".join(f"@misc{{k{i}, title={{T{i}}}}}\n" for i in range(n)).encode()
    elif kind == "json":
        data = json.dumps([{"title": f"T{i}"} for i in range(n)]).encode()
    else:
        data = "".join(f"2401.{i:05d}\n" for i in range(n)).encode()
    with pytest.raises(LibraryInvalid, match="at most 2000"):
        parse_library(data)


def test_exactly_max_entries_is_fine() -> None:
    data = "".join(f"@misc{{k{i}, title={{T{i}}}}}\n" for i in range(MAX_ENTRIES)).encode()
    assert len(parse_library(data)) == MAX_ENTRIES


def test_flood_of_block_starts_is_refused_quickly() -> None:
    data = b"@a{" * (MAX_BYTES // 3)
    started = time.monotonic()
    with pytest.raises(LibraryInvalid, match="more than 2000"):
        parse_library(data)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("depth", [100_000, MAX_BYTES // 2 - 10])
def test_deeply_nested_json(depth: int) -> None:
    with pytest.raises(LibraryInvalid, match="JSON"):
        parse_library(b"[" * depth + b"]" * depth)


def test_huge_strings_are_capped() -> None:
    big = "word " * 100_000
    doc = [{"title": big, "author": [{"family": "y" * 300, "given": "x"}] * 2000, "note": "n"}]
    (entry,) = parse_library(json.dumps(doc).encode())
    assert entry.title is not None and len(entry.title) == MAX_TITLE
    assert len(entry.authors) == 100 and all(len(a) <= 200 for a in entry.authors)
    assert len(entry.label) <= 62


def test_huge_and_deep_bibtex_title() -> None:
    deep = "{" * 200_000 + "x" + "}" * 200_000
    (entry,) = parse_library(f"@misc{{k, title={{{deep}}}, author={{{deep}}}}}".encode())
    assert entry.title is None or len(entry.title) <= MAX_TITLE
    nested = "{" * 1500 + "Deep Title" + "}" * 1500  # too deep for the LaTeX decoder
    (entry,) = parse_library(f"@misc{{k, title={{{nested}}}}}".encode())
    assert entry.title == "Deep Title"
    long = "a" * (3 * MAX_TITLE)
    (entry,) = parse_library(f"@misc{{k, title={{{long}}}}}".encode())
    assert entry.title is not None and len(entry.title) == MAX_TITLE


def test_non_utf8_is_decoded_with_replacement() -> None:
    (entry,) = parse_library(b"@misc{k, title={M\xfcller's \xff method}}")
    assert entry.title == "M\ufffdller's \ufffd method"


def test_utf16_with_bom() -> None:
    text = "@misc{k, title={Schön}, eprint={2401.12345}}"
    (entry,) = parse_library(text.encode("utf-16"))
    assert (entry.title, entry.arxiv_id) == ("Schön", "2401.12345")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_arbitrary_bytes_give_entries_or_library_invalid(data: bytes) -> None:
    try:
        entries = parse_library(data)
    except LibraryInvalid:
        return
    assert all(isinstance(e, LibraryEntry) for e in entries)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["@misc{", "@article(", "{", "}", '"', "=", ",", "\\", "title", "\n", "x"])
    ).map(lambda parts: "".join(parts).encode())
)
def test_bibtex_shaped_noise(data: bytes) -> None:
    try:
        parse_library(data)
    except LibraryInvalid:
        pass


# -- identifiers and titles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://doi.org/10.1000/ABC", "10.1000/abc"),
        ("http://dx.doi.org/10.1000/a%2Fb", "10.1000/a/b"),
        ("doi: 10.1000/X.", "10.1000/x"),
        ("10.1000/a\\_b", "10.1000/a_b"),
        ("https://example.org/10.1000/x", None),
        ("not a doi", None),
        ("10.1000/" + "x" * 400, None),
    ],
)
def test_normalise_doi(text: str, expected: str | None) -> None:
    assert normalise_doi(text) == expected


def test_normalise_title() -> None:
    assert normalise_title("Schöne  Graphen: É-tude!") == "schonegraphenetude"


# -- resolving ----------------------------------------------------------------------------------


def paper(pid: str, title: str = "Some Paper Title", doi: str | None = None) -> Paper:
    return Paper(id=pid, title=title, doi=doi)


class Fakes:
    """A fake store: papers by id, DOI and title, recording every call."""

    def __init__(self, papers: Sequence[Paper], arxiv: Sequence[Paper] = ()) -> None:
        self.papers = list(papers)
        self.arxiv = {p.id: p for p in arxiv}
        self.calls: list[tuple[str, object]] = []

    def by_ids(self, ids: Sequence[str]) -> Mapping[str, Paper]:
        self.calls.append(("ids", list(ids)))
        return {p.id: p for p in self.papers if p.id in ids}

    def by_dois(self, dois: Sequence[str]) -> Mapping[str, Paper]:
        self.calls.append(("dois", list(dois)))
        wanted = {d.lower(): d for d in dois}
        return {wanted[p.doi.lower()]: p for p in self.papers if p.doi and p.doi.lower() in wanted}

    def search(self, query: str) -> Sequence[Paper]:
        self.calls.append(("search", query))
        words = set(query.split())
        return [p for p in self.papers if words & set(p.title.lower().split())]

    def fetch(self, ids: Sequence[str]) -> Mapping[str, Paper]:
        self.calls.append(("fetch", list(ids)))
        return {i: self.arxiv[i] for i in ids if i in self.arxiv}

    def resolve(
        self,
        entries: Sequence[LibraryEntry],
        fetch: Fetch | None | Literal["fake"] = "fake",
        limit_fetch: int = 50,
    ) -> list[Resolution]:
        return resolve_library(
            entries,
            by_ids=self.by_ids,
            by_dois=self.by_dois,
            search_titles=self.search,
            fetch_arxiv=self.fetch if fetch == "fake" else fetch,
            limit_fetch=limit_fetch,
        )


def entry(position: int, label: str = "", **fields: Any) -> LibraryEntry:
    return LibraryEntry(position, label or f"e{position}", **fields)


def test_id_before_doi_before_title() -> None:
    by_id = paper("2401.00001", "Alpha Paper About Transformers", doi="10.1/alpha")
    by_doi = paper("2401.00002", "Beta Paper About Transformers", doi="10.1/beta")
    fakes = Fakes([by_id, by_doi])
    entries = [
        entry(1, arxiv_id="2401.00001", doi="10.1/beta", title="Beta Paper About Transformers"),
        entry(2, arxiv_id="2401.09999", doi="10.1/beta", title="Alpha Paper About Transformers"),
        entry(3, doi="10.1/none", title="Alpha Paper About Transformers"),
    ]
    results = fakes.resolve(entries)
    assert [(r.how, r.paper and r.paper.id) for r in results] == [
        ("arxiv", "2401.00001"),
        ("doi", "2401.00002"),
        ("duplicate", "2401.00001"),
    ]
    assert not any(c[0] == "fetch" for c in fakes.calls)  # everything was found in the store
    assert fakes.calls[1] == ("dois", ["10.1/beta", "10.1/none"])  # not entry 1's DOI
    assert [c for c in fakes.calls if c[0] == "search"] == [
        ("search", "alpha paper about transformers")
    ]


def test_doi_lookup_is_case_insensitive_on_the_answer() -> None:
    fakes = Fakes([paper("2401.00003", doi="10.1/MixedCase")])
    (result,) = fakes.resolve([entry(1, doi="10.1/mixedcase")])
    assert result.how == "doi"
    assert result.message == "1. e1: matched by DOI to 2401.00003"


@pytest.mark.parametrize(
    ("title", "matches"),
    [
        ("Deep Residual Learning for Image Recognition", True),
        ("deep residual learning for image-recognition!", True),  # equal once normalised
        ("Deep Residual Learning for Image Recognitio", True),  # ratio >= 0.93
        ("Deep Residual Learning for Video Recognition", False),  # ratio < 0.93
        ("Deep Residual Learning", False),
    ],
)
def test_fuzzy_title_threshold(title: str, matches: bool) -> None:
    target = paper("1512.03385", "Deep Residual Learning for Image Recognition")
    (result,) = Fakes([target]).resolve([entry(1, title=title)])
    assert (result.how == "title") is matches
    assert titles_match(title, target.title) is matches


def test_short_titles_never_match_fuzzily() -> None:
    assert titles_match("Deep Learning", "Deep  learning!")  # exact after normalising
    assert not titles_match("Deep Learnin", "Deep Learning")  # short: no fuzzy match
    assert not titles_match("Attention is all", "Attention is all!!x")
    assert not titles_match("", "")
    (result,) = Fakes([paper("1", "Deep Learning Book")]).resolve([entry(1, title="Deep Learn")])
    assert result.how == "not_found"


def test_best_title_candidate_wins() -> None:
    near = paper("2401.00010", "Scaling Laws for Neural Language Models Revisited")
    exact = paper("2001.08361", "Scaling Laws for Neural Language Models")
    (result,) = Fakes([near, exact]).resolve(
        [entry(1, title="Scaling laws for neural language models")]
    )
    assert result.paper == exact


def test_fetch_only_missing_ids_and_at_most_limit() -> None:
    stored = paper("2401.00001")
    remote = [paper(f"2402.{i:05d}", f"Remote {i}") for i in range(5)]
    fakes = Fakes([stored], arxiv=remote[:4])
    entries = [entry(1, arxiv_id="2401.00001")] + [
        entry(i + 2, arxiv_id=f"2402.{i:05d}") for i in range(5)
    ]
    entries.append(entry(7, arxiv_id="2402.00000"))  # the same missing id twice
    results = fakes.resolve(entries, limit_fetch=3)
    fetches = [c for c in fakes.calls if c[0] == "fetch"]
    assert fetches == [("fetch", ["2402.00000", "2402.00001", "2402.00002"])]
    assert [r.how for r in results] == [
        "arxiv",
        "fetched",
        "fetched",
        "fetched",
        "not_fetched",
        "not_fetched",
        "duplicate",
    ]
    assert results[4].message == (
        "5. e5: not fetched: too many new papers at once (at most 3), upload again later"
    )
    assert results[1].message == "2. e2: fetched from arXiv: 2402.00000"
    assert results[6].message == "7. e7: duplicate of entry 2 (2402.00000)"


def test_title_match_comes_before_fetch() -> None:
    stored = paper("2401.00001", "A Long Enough Title About Graph Networks")
    fakes = Fakes([stored])
    (result,) = fakes.resolve(
        [entry(1, arxiv_id="2405.15738", title="A long enough title about graph networks")]
    )
    assert result.how == "title"
    assert not any(c[0] == "fetch" for c in fakes.calls)


def test_fetch_miss_and_no_fetcher() -> None:
    fakes = Fakes([])
    (result,) = fakes.resolve([entry(1, "k", arxiv_id="2405.15738")])
    assert (result.how, result.message) == (
        "not_found",
        "1. k: not found (arXiv has no paper 2405.15738)",
    )
    (result,) = fakes.resolve([entry(1, "k", arxiv_id="2405.15738")], fetch=None)
    assert result.message == ("1. k: not found (arXiv 2405.15738 not in Paperboy, and no title)")


def test_fetch_failure_reports_not_fetched() -> None:
    def down(ids: Sequence[str]) -> Mapping[str, Paper]:
        raise PaperboyError("timed out")

    (result,) = Fakes([]).resolve([entry(1, arxiv_id="2405.15738")], fetch=down)
    assert result.how == "not_fetched"
    assert "arXiv could not be reached (timed out)" in result.message


def test_messages_and_invalid_entries() -> None:
    fakes = Fakes([paper("1706.03762", "Attention Is All You Need")])
    entries = [
        entry(1, "vaswani", arxiv_id="1706.03762"),
        entry(2, "line 4", problem="not valid BibTeX: unexpected end"),
        entry(3, "“Attention Is All You Need”", title="Attention Is All You Need"),
        entry(4, "smith2020", title="A Paper Nobody Has"),
        entry(5, "x", doi="10.1/none", title="Another Missing Paper"),
        entry(6, "y"),
    ]
    messages = [r.message for r in fakes.resolve(entries)]
    assert messages == [
        "1. vaswani: found 1706.03762",
        "2. line 4: skipped, not valid BibTeX: unexpected end",
        "3. “Attention Is All You Need”: duplicate of entry 1 (1706.03762)",
        "4. smith2020: not found (no arXiv id or DOI, and no paper with that title)",
        "5. x: not found (10.1/none not in Paperboy, and no paper with that title)",
        "6. y: not found (no arXiv id or DOI, and no title)",
    ]
    assert [r.how for r in fakes.resolve(entries)][1] == "invalid"


def test_resolving_a_parsed_file_end_to_end() -> None:
    store = [
        paper("1706.03762", "Attention Is All You Need", doi="10.48550/arXiv.1706.03762"),
        paper("1512.03385", "Deep Residual Learning for Image Recognition"),
        paper("2404.19756", "KAN: Kolmogorov-Arnold Networks"),
    ]
    fakes = Fakes(store, arxiv=[paper("2312.00752", "Mamba")])
    results = fakes.resolve(read("scholar.bib"))
    assert [r.message for r in results] == [
        "1. vaswani2017attention: matched by title to 1706.03762",
        "2. liu2024kan: found 2404.19756",
        "3. dao2022flashattention: not found (no arXiv id or DOI, and no paper with that title)",
        "4. gu2023mamba: fetched from arXiv: 2312.00752",
    ]
