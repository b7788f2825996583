"""The arXiv Atom API parser, against real recorded responses and hostile bodies."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_path
from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.ingest.atom import ArxivApiError, AtomError, AtomPage, parse_atom
from paperboy.models import Paper

ATOM_DIR = "data/arxiv-fixtures/atom_api"
BODIES = f"{ATOM_DIR}/xml_bodies"


@cache
def body(name: str) -> bytes:
    folder = ATOM_DIR if name.startswith("legacy_") else BODIES
    return shared_path(f"{folder}/{name}.xml").read_bytes()


def page(name: str) -> AtomPage:
    return parse_atom(body(name))


def only_paper(name: str) -> Paper:
    result = page(name)
    assert result.problems == []
    assert len(result.records) == 1
    assert result.records[0].feed is None
    return result.records[0].paper


# --- real single-id responses ---------------------------------------------------------------


def test_new_style_id_with_version() -> None:
    paper = only_paper("id_2104.12255v1_s0_m100_6ae69987ffe1")
    assert paper.id == "2104.12255"
    assert paper.version == 1
    assert paper.title == "0"  # a real one-character title: must not be taken for "no title"
    assert paper.abstract.startswith("What is the funniest number in cryptography? 0.")
    assert paper.authors == ("Quan Thoi Minh Nguyen",)
    assert paper.categories == ("cs.CR",)
    assert paper.published == datetime(2021, 4, 20, 16, 7, 14)
    assert paper.updated == datetime(2021, 4, 20, 16, 7, 14)
    assert paper.published.tzinfo is None
    assert paper.comments is None and paper.journal_ref is None and paper.doi is None
    assert paper.withdrawn is False


def test_cross_listed_paper() -> None:
    paper = only_paper("id_1605.08386_s0_m100_199195aa31ad")
    assert paper.id == "1605.08386"
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert paper.authors == ("Caprice Stanley", "Tobias Windisch")
    assert paper.categories == ("math.CO", "math.ST")
    assert paper.primary_category == "math.CO"
    assert paper.published == datetime(2016, 5, 26, 17, 59, 46)
    assert paper.comments == "20 pages, 3 figures"


def test_old_style_id_is_canonical() -> None:
    paper = only_paper("id_astro-ph_0601001_s0_m100_3150dca9dc76")
    assert paper.id == "astro-ph/0601001"
    assert paper.version == 1
    assert paper.title.startswith("Frequency of Hot Jupiters and Very Hot Jupiters")
    assert paper.authors[0] == "Andrew Gould"
    assert paper.authors[-1] == "Andrzej Udalski"
    assert len(paper.authors) == 4  # affiliations are not authors
    assert paper.categories == ("astro-ph",)
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert paper.published == datetime(2006, 1, 2, 14, 57, 58)
    assert "V_max<17.5" in paper.abstract  # entities in the summary are decoded
    assert not paper.abstract.startswith(" ")


def test_old_style_id_with_version() -> None:
    paper = only_paper("id_quant-ph_0201082v1_s0_m100_86989fe779ef")
    assert paper.id == "quant-ph/0201082"
    assert paper.version == 1
    assert paper.authors == ("Stephen Blaha",)
    assert paper.categories == ("quant-ph", "cs.PL")
    assert paper.comments == "32 pages"


def test_many_authors_in_order() -> None:
    paper = only_paper("id_1707.08567_s0_m100_6a1afebfc6a3")
    assert paper.id == "1707.08567"
    assert len(paper.authors) == 34
    assert paper.authors[0] == "Kees A. Schouhamer Immink"
    assert paper.authors[-1] == "Hirosuke Yamamoto"
    assert paper.categories == ("cs.IT",)


def test_two_id_list_with_one_id_arxiv_does_not_know() -> None:
    # id_list=0808.05394,1707.08567: 0808.05394 (five digits in 2008) matches nothing, so arXiv
    # answers with the other paper only.
    result = page("id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af")
    assert [r.paper.id for r in result.records] == ["1707.08567"]
    assert result.total_results == 1
    assert result.problems == []


@pytest.mark.parametrize(
    "name", ["id_0000.0000_s0_m100_8b51d9633a68", "id_0808.05394_s0_m100_7b0c7d0a7cdd"]
)
def test_empty_result(name: str) -> None:
    result = page(name)
    assert result == AtomPage([], [], total_results=0, start_index=0, items_per_page=100)


def test_error_entry_raises_with_arxivs_message() -> None:
    with pytest.raises(ArxivApiError) as caught:
        parse_atom(body("id_abc_s0_m100_b79c8dcf6bc3"))
    assert caught.value.message == "incorrect id format for abc"
    assert "incorrect id format for abc" in str(caught.value)


# --- legacy responses (older API: opensearch declared per element, arxiv:doi) -----------------


def test_legacy_id_list_with_doi_and_versions() -> None:
    result = page("legacy_id_list_1111.2011v2")
    assert (result.total_results, result.start_index, result.items_per_page) == (1, 0, 10)
    paper = result.records[0].paper
    assert paper.id == "1111.2011"
    assert paper.version == 2
    # the title is hard-wrapped in the response
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert paper.authors == ("James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic")
    assert paper.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert paper.published == datetime(2011, 11, 8, 18, 48, 36)
    assert paper.updated == datetime(2012, 4, 2, 12, 38, 54)
    assert paper.doi == "10.1103/PhysRevB.85.115117"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.comments == "8 pages, 3 figures. Published version"
    assert "\n" not in paper.abstract and paper.abstract.startswith("Theoretical description")


def test_legacy_search_mixes_old_and_new_ids() -> None:
    result = page("legacy_search_query_au_del_maestro")
    assert (result.total_results, result.start_index, result.items_per_page) == (31, 0, 10)
    ids = [r.paper.id for r in result.records]
    assert len(ids) == 10 and result.problems == []
    assert ids[:2] == ["1201.4869", "cond-mat/0412498"]
    first = result.records[0].paper
    assert first.doi == "10.1142/S021797921244002X"
    assert first.authors == ("Adrian Del Maestro",)
    assert first.primary_category == "cond-mat.mes-hall"


# --- paged searches ---------------------------------------------------------------------------

SEARCHES = [
    "q_testing_s0_m100_cfe7536492ca",
    "q_testing_s0_m10_bc5a6c384fe9",
    "q_testing_s0_m15_80c242b59d59",
    "q_testing_s10_m10_34e56e15aaac",
    "q_testing_s20_m10_348a237fecab",
    "q_testing_s30_m10_f2e39f0143dc",
    "q_testing_s40_m10_96dd32eb854c",
    "q_testing_s50_m10_7f488ab8598c",
    "q_testing_s5_m10_c0e94a259d4a",
    "q_testing_s5_m15_bbcf6b23085b",
    "q_testing_s9_m15_0b78d4b4d476",
]


@pytest.mark.parametrize("name", SEARCHES)
def test_paged_search_matches_request(name: str) -> None:
    request = json.loads(shared_path(f"{ATOM_DIR}/{name}.json").read_text())
    start = int(re.search(r"[?&]start=(\d+)", request["url"])[1])  # type: ignore[index]
    max_results = int(re.search(r"[?&]max_results=(\d+)", request["url"])[1])  # type: ignore[index]
    result = page(name)
    assert result.total_results == 214881
    assert result.start_index == start
    assert result.items_per_page == max_results
    assert len(result.records) == max_results
    assert result.problems == []
    for record in result.records:
        paper = record.paper
        assert paper.title and paper.authors and paper.categories
        assert parse_arxiv_id(paper.id).canonical == paper.id
        assert paper.version is not None and paper.version >= 1
        assert paper.published is not None and paper.updated is not None
        assert paper.published <= paper.updated


def test_overlapping_pages_agree() -> None:
    ids_0_15 = [r.paper.id for r in page("q_testing_s0_m15_80c242b59d59").records]
    ids_5_10 = [r.paper.id for r in page("q_testing_s5_m10_c0e94a259d4a").records]
    assert ids_0_15[5:15] == ids_5_10


def test_search_first_hit_values() -> None:
    paper = page("q_testing_s0_m10_bc5a6c384fe9").records[0].paper
    assert paper.id == "2202.12139"
    assert paper.title.startswith("Testing Deep Learning Models: A First Comparative Study")
    assert paper.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert paper.categories == ("cs.SE", "cs.LG")
    assert paper.doi == "10.1109/ICSTW55395.2022.00035"
    assert paper.journal_ref is not None and paper.journal_ref.startswith("Artificial Intelligence")
    assert paper.published == datetime(2022, 2, 24, 15, 5, 19)


def test_version_two_and_three_categories() -> None:
    paper = page("q_testing_s10_m10_34e56e15aaac").records[0].paper
    assert (paper.id, paper.version) == ("2403.16981", 2)
    assert paper.categories == ("math.ST", "cs.IT", "stat.ML")
    assert paper.authors[0] == "Ankit Pensia"


# --- synthetic edits of real bodies -------------------------------------------------------------

TWO = "id_1605.08386_s0_m100_199195aa31ad"


def test_entry_without_title_is_a_problem_others_parse() -> None:
    text = body("q_testing_s0_m10_bc5a6c384fe9").decode()
    titles = re.findall(r"<title>.*?</title>", text, flags=re.S)
    assert titles[1].startswith("<title>Testing Deep Learning")  # [0] is the feed's own title
    result = parse_atom(text.replace(titles[1], "", 1).encode())
    assert len(result.problems) == 1
    index, reason = result.problems[0]
    assert index == 1 and "no title" in reason and "2202.12139" in reason
    assert len(result.records) == 9
    assert "2202.12139" not in [r.paper.id for r in result.records]


def test_entry_with_blank_title_is_a_problem() -> None:
    text = body(TWO).decode()
    result = parse_atom(text.replace("Heat-bath random walks with Markov bases", "  \n ").encode())
    assert result.records == [] and result.problems[0][0] == 1


def test_entry_with_bad_id_is_a_problem() -> None:
    text = body(TWO).decode().replace("abs/1605.08386v1</id>", "abs/1605.8386v1</id>")
    result = parse_atom(text.encode())
    assert result.records == []
    assert result.problems == [
        (1, "entry id 'http://arxiv.org/abs/1605.8386v1' is not an arXiv id")
    ]


def test_entry_with_bad_date_is_a_problem() -> None:
    text = body(TWO).decode().replace("<published>2016-05-26", "<published>2016-13-26")
    result = parse_atom(text.encode())
    assert result.records == [] and "published is not a date" in result.problems[0][1]


def test_primary_category_first_even_when_listed_last() -> None:
    text = (
        body(TWO)
        .decode()
        .replace('primary_category term="math.CO"', 'primary_category term="math.ST"')
    )
    assert parse_atom(text.encode()).records[0].paper.categories == ("math.ST", "math.CO")


def test_withdrawn_comment() -> None:
    text = (
        body(TWO)
        .decode()
        .replace("20 pages, 3 figures", "This paper has been withdrawn by the author")
    )
    assert parse_atom(text.encode()).records[0].paper.withdrawn is True


def test_timezone_offset_becomes_naive_utc() -> None:
    text = (
        body(TWO)
        .decode()
        .replace("<updated>2016-05-26T17:59:46Z", "<updated>2016-05-26T19:59:46+02:00")
    )
    assert parse_atom(text.encode()).records[0].paper.updated == datetime(2016, 5, 26, 17, 59, 46)


# --- bodies that are not Atom ---------------------------------------------------------------------


def test_truncated_body() -> None:
    data = body("q_testing_s0_m10_bc5a6c384fe9")
    with pytest.raises(AtomError, match="not well-formed XML"):
        parse_atom(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"<html>503</html>", b"\x00\xff\xfe garbage \x89PNG", b"{}", b"<feed/>"],
)
def test_not_atom(data: bytes) -> None:
    with pytest.raises(AtomError, match="Atom feed"):
        parse_atom(data)


def test_wrong_root_names_expected() -> None:
    with pytest.raises(AtomError, match=r"\{http://www.w3.org/2005/Atom\}feed"):
        parse_atom(b"<rss version='2.0'><channel/></rss>")


def _bomb(levels: int) -> bytes:
    defs = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels + 1):
        defs.append(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">')
    return (
        f'<?xml version="1.0"?><!DOCTYPE feed [{"".join(defs)}]>'
        f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/1605.08386v1</id>'
        f"<title>&lol{levels};</title></entry></feed>"
    ).encode()


@pytest.mark.parametrize("levels", [2, 9])
def test_entity_bomb_is_refused(levels: int) -> None:
    with pytest.raises(AtomError):
        parse_atom(_bomb(levels))


def test_external_entity_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/1605.08386v1</id>'
        b"<title>&x;</title></entry></feed>"
    )
    with pytest.raises(AtomError):
        parse_atom(data)


# --- properties ---------------------------------------------------------------------------------


def _check(data: bytes) -> None:
    try:
        result = parse_atom(data)
    except (AtomError, ArxivApiError):
        return
    for record in result.records:
        paper = record.paper
        assert paper.title.strip()
        assert parse_arxiv_id(paper.id).canonical == paper.id
    for index, reason in result.problems:
        assert index >= 1 and reason


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_raise_atom_errors(data: bytes) -> None:
    _check(data)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_mutated_real_bodies(data: st.DataObject) -> None:
    original = body("q_testing_s0_m10_bc5a6c384fe9")
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        size = len(mutated)
        start = data.draw(st.integers(0, size), label="start")
        end = data.draw(st.integers(start, min(size, start + 400)), label="end")
        kind = data.draw(st.sampled_from(["delete", "duplicate", "replace"]), label="kind")
        if kind == "delete":
            del mutated[start:end]
        elif kind == "duplicate":
            mutated[start:start] = mutated[start:end]
        else:
            mutated[start:end] = data.draw(st.binary(max_size=40), label="replacement")
    _check(bytes(mutated))
