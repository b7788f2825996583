"""The OAI-PMH ListRecords (arXivRaw) parser, against a real recorded page and hostile bodies."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_path
from paperboy.arxiv_ids import is_valid_arxiv_id
from paperboy.ingest.oai import OaiError, OaiPage, OaiParseError, parse_list_records

FIXTURE = "data/arxiv-fixtures/oai_pmh/ListRecords_arXivRaw_2016-10-20.xml"
_RECORD = re.compile(rb"<record>.*?</record>", re.S)


@pytest.fixture(scope="module")
def body() -> bytes:
    return shared_path(FIXTURE).read_bytes()


@pytest.fixture(scope="module")
def page(body: bytes) -> OaiPage:
    return parse_list_records(body)


@pytest.fixture(scope="module")
def small(body: bytes) -> bytes:
    return _small(body)


def _papers(page: OaiPage) -> dict[str, object]:
    return {r.paper.id: r.paper for r in page.records}


def _wrap(inner: bytes | str) -> bytes:
    if isinstance(inner, str):
        inner = inner.encode()
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b"<responseDate>2016-10-21T04:36:53Z</responseDate>" + inner + b"</OAI-PMH>"
    )


def _small(body: bytes, count: int = 4) -> bytes:
    """The fixture cut down to its first ``count`` records, still a valid page."""
    head = body[: body.index(b"<ListRecords>") + len(b"<ListRecords>")]
    kept = _RECORD.findall(body)[:count]
    tail = b'<resumptionToken cursor="0" completeListSize="1440">1403493|1001</resumptionToken>'
    return head + b"".join(kept) + tail + b"</ListRecords></OAI-PMH>"


# --- the real page -------------------------------------------------------------------------


def test_real_page_counts_and_paging(page: OaiPage) -> None:
    assert len(page.records) == 387  # every record of the page is usable
    assert page.problems == []
    assert page.deleted == []
    assert page.resumption_token == "1403493|1001"
    assert page.complete_list_size == 1440
    assert page.cursor == 0
    assert page.max_datestamp == "2016-10-21"  # 182 records are 2016-10-20, 205 are 2016-10-21
    assert all(r.feed is None for r in page.records)


def test_real_records_field_by_field(page: OaiPage) -> None:
    papers = _papers(page)
    flare = papers["1503.04634"]
    assert flare.title == "On flare predictability based on sunspot group evolution"
    assert flare.version == 1
    assert flare.published == flare.updated == datetime(2015, 3, 16, 13, 9, 45)
    assert flare.authors == ("Marianna Korsos", "Andras Ludmany", "Robert Erdelyi", "Tunde Baranyi")
    assert flare.categories == ("astro-ph.SR",)
    assert flare.journal_ref == "ApJ, 802, L21, 2015"
    assert flare.doi == "10.1088/2041-8205/802/2/L21"
    assert flare.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert flare.abstract.startswith("The forecast method introduced by Kors\\'os et al.(2014)")
    assert "\n" not in flare.abstract and not flare.withdrawn

    groups = papers["1007.2706"]
    assert groups.title == "Finitely annihilated groups"
    assert groups.version == 3
    assert groups.published == datetime(2010, 7, 16, 6, 59, 46)
    assert groups.updated == datetime(2016, 10, 19, 10, 43, 36)
    assert groups.authors == ("Maurice Chiodo",)
    assert groups.categories == ("math.GR",)
    assert groups.doi == "10.1017/S0004972714000355"
    assert groups.journal_ref == "Bull. Aust. Math. Soc. 90 (2014), no. 3, 404-417"
    assert groups.comments == "13 pages. This is the version submitted for publication"

    sat = papers["0808.3386"]
    assert sat.title == "Linear Programming Formulation of the Boolean Satisfiability Problem"
    assert sat.version == 8
    assert sat.published == datetime(2008, 8, 25, 17, 20, 16)
    assert sat.updated == datetime(2016, 10, 20, 16, 52, 0)
    assert sat.categories == ("cs.DM", "cs.CC")  # primary first, as listed
    assert sat.doi is None and sat.journal_ref is None
    assert sat.withdrawn  # "This paper has been withdrawn. ..."


def test_authors_oxford_comma_and_affiliations(page: OaiPage) -> None:
    papers = _papers(page)
    ionica = papers["1407.6672"].authors
    assert ionica == ("Sorina Ionica", "Emmanuel Thom\\'e")  # "(LFANT, UB)" dropped, not split
    for paper in papers.values():
        for name in paper.authors:
            assert name and not name.startswith("and ") and "(" not in name, (paper.id, name)


def test_withdrawn_by_comment_or_empty_latest_version(page: OaiPage) -> None:
    withdrawn = sorted(r.paper.id for r in page.records if r.paper.withdrawn)
    # two say so in the comment; the others' latest version is an empty 0kb one
    assert withdrawn == [
        "0803.4354",
        "0808.3386",
        "1502.02762",
        "1505.00300",
        "1603.06854",
        "1605.00928",
    ]


def test_file_object_and_bytes_agree(body: bytes, page: OaiPage) -> None:
    with shared_path(FIXTURE).open("rb") as handle:
        assert parse_list_records(handle) == page
    assert parse_list_records(io.BytesIO(body)) == page


# --- OAI-PMH errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "words"),
    [
        ("noRecordsMatch", "", "up to date"),
        ("badResumptionToken", "Token 1403493|1001 is not valid", "restart the harvest"),
        ("badArgument", "Illegal argument: frm", "illegal"),
    ],
)
def test_oai_error_answers(code: str, text: str, words: str) -> None:
    body = _wrap(
        '<request verb="ListRecords" metadataPrefix="arXivRaw">http://export.arxiv.org/oai2'
        f'</request><error code="{code}">{text}</error>'
    )
    with pytest.raises(OaiError) as caught:
        parse_list_records(body)
    assert caught.value.code == code
    assert words in str(caught.value)
    assert code in str(caught.value)
    if text:
        assert text in str(caught.value)


def test_unknown_error_code_still_raises() -> None:
    with pytest.raises(OaiError, match="cannotDisseminateFormat.*arXivRaw") as caught:
        parse_list_records(_wrap('<error code="cannotDisseminateFormat"/>'))
    assert caught.value.code == "cannotDisseminateFormat"
    with pytest.raises(OaiError) as other:
        parse_list_records(_wrap('<error code="somethingNew">odd</error>'))
    assert other.value.code == "somethingNew"


# --- unusable bodies -----------------------------------------------------------------------


def test_truncated_page(body: bytes) -> None:
    with pytest.raises(OaiParseError, match="truncated"):
        parse_list_records(body[: len(body) // 2])


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"   \n",
        b"Service Unavailable",
        b"\xff\xfe\x00garbage",
        b"<html><head><title>503 Service Unavailable</title></head>"
        b"<body><h1>Service Unavailable</h1><p>Retry after 30s<br></body></html>",
        b"<html><body><h1>503</h1></body></html>",
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
        _wrap("<Identify><repositoryName>arXiv</repositoryName></Identify>"),
    ],
)
def test_unusable_bodies(bad: bytes) -> None:
    with pytest.raises(OaiParseError):
        parse_list_records(bad)


def test_entity_bomb_is_refused() -> None:
    lol = ['<!ENTITY lol "lol">']
    lol += [f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">' for i in range(1, 10)]
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE OAI-PMH [' + "".join(lol) + "]>"
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        "<record><header><identifier>oai:arXiv.org:0704.0001</identifier></header>"
        '<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0704.0001</id>'
        "<title>&lol9;</title></arXivRaw></metadata></record></ListRecords></OAI-PMH>"
    ).encode()
    with pytest.raises(OaiParseError, match="DOCTYPE"):
        parse_list_records(bomb)


def test_not_bytes() -> None:
    with pytest.raises(OaiParseError, match="bytes"):
        parse_list_records("<OAI-PMH/>")  # type: ignore[arg-type]


# --- single bad records, deleted headers, duplicates ---------------------------------------


def test_record_without_title_is_a_problem(body: bytes) -> None:
    small = _small(body)
    first = small.index(b"<title>")
    cut = small[:first] + small[small.index(b"</title>", first) + len(b"</title>") :]
    result = parse_list_records(cut)
    assert len(result.records) == 3
    assert result.problems == [("oai:arXiv.org:0803.4354", "record 0803.4354 has no title")]


def test_bad_id_is_a_problem(body: bytes) -> None:
    small = _small(body).replace(b"<id>0803.4354</id>", b"<id>not-an-id</id>", 1)
    result = parse_list_records(small)
    assert len(result.records) == 3
    assert result.problems[0][0] == "oai:arXiv.org:0803.4354"
    assert "not an arXiv id" in result.problems[0][1]


def test_deleted_header() -> None:
    result = parse_list_records(
        _wrap(
            '<ListRecords><record><header status="deleted">'
            "<identifier>oai:arXiv.org:math/0309136</identifier>"
            "<datestamp>2016-10-22</datestamp><setSpec>math</setSpec></header></record>"
            '<resumptionToken cursor="1000" completeListSize="1440"/></ListRecords>'
        )
    )
    assert result.deleted == ["math/0309136"]
    assert result.records == [] and result.problems == []
    assert result.resumption_token is None  # empty token: the last page
    assert (result.cursor, result.complete_list_size) == (1000, 1440)
    assert result.max_datestamp == "2016-10-22"


def test_same_id_twice_keeps_higher_version(body: bytes) -> None:
    small = _small(body, 2)
    records = _RECORD.findall(small)
    newer = records[1]  # 0808.3386, v1..v8
    older = re.sub(rb'<version version="v[2-8]">.*?</version>', b"", newer, flags=re.S)
    start = small.index(records[0])
    for order in ([newer, older], [older, newer]):
        doubled = small[:start] + b"".join(order) + small[start + len(records[0] + newer) :]
        result = parse_list_records(doubled)
        assert [r.paper.id for r in result.records] == ["0808.3386"]
        assert result.records[0].paper.version == 8
        assert result.problems == []


# --- memory ---------------------------------------------------------------------------------


def _big_page(body: bytes, copies: int = 20) -> bytes:
    head = body[: body.index(b"<ListRecords>") + len(b"<ListRecords>")]
    records = _RECORD.findall(body)
    out = [head]
    serial = 0
    for _ in range(copies):
        for record in records:
            serial += 1
            fresh = f"{1501 + serial // 90000:04d}.{serial % 90000 + 10000:05d}".encode()
            record = re.sub(rb"<id>[^<]*</id>", b"<id>" + fresh + b"</id>", record, count=1)
            record = re.sub(
                rb"<identifier>[^<]*</identifier>",
                b"<identifier>oai:arXiv.org:" + fresh + b"</identifier>",
                record,
                count=1,
            )
            out.append(record)
    out.append(b"</ListRecords></OAI-PMH>")
    return b"".join(out)


_PROBE = textwrap.dedent(
    """
    import gc, sys
    from lxml import etree
    from paperboy.ingest.oai import parse_list_records

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1])

    gc.collect()
    before = status("VmRSS:")
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as handle:
        if mode == "stream":
            result = len(parse_list_records(handle).records)
        else:
            result = len(etree.parse(handle).getroot()[-1])
    print(result, status("VmHWM:") - before)
    """
)


def _probe(mode: str, path: Path) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(x) for x in done.stdout.split()]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
def test_memory_stays_flat_on_a_huge_page(body: bytes, tmp_path: Path) -> None:
    """libxml2 allocates outside Python, so tracemalloc cannot see a tree: compare peak RSS.

    Each measurement runs in a fresh interpreter; the streaming parse is measured against a
    whole-tree ``etree.parse`` of the same 7,740-record (23 MB) file.
    """
    path = tmp_path / "big.xml"
    path.write_bytes(_big_page(body))
    count, stream_kib = _probe("stream", path)
    assert count == 387 * 20
    children, tree_kib = _probe("tree", path)
    assert children == 387 * 20  # the records under <ListRecords>
    assert stream_kib < 0.5 * tree_kib, (stream_kib, tree_kib)


def test_python_side_keeps_little_beyond_the_records(body: bytes) -> None:
    """tracemalloc sees only Python objects: the transient part of the peak stays small."""
    tracemalloc.start()
    try:
        result = parse_list_records(io.BytesIO(body))
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.records) == 387
    assert peak - current < 2**20, (current, peak)


# --- robustness -----------------------------------------------------------------------------


def _check(result: OaiPage) -> None:
    for record in result.records:
        assert record.paper.title.strip()
        assert is_valid_arxiv_id(record.paper.id)
    for paper_id in result.deleted:
        assert is_valid_arxiv_id(paper_id)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        _check(parse_list_records(data))
    except (OaiError, OaiParseError):
        pass


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_mutated_pages(small: bytes, data: st.DataObject) -> None:
    mutated = bytearray(small)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        size = len(mutated)
        start = data.draw(st.integers(0, size), label="start")
        end = data.draw(st.integers(start, min(size, start + 200)), label="end")
        action = data.draw(st.sampled_from(["delete", "duplicate", "replace"]), label="action")
        if action == "delete":
            del mutated[start:end]
        elif action == "duplicate":
            mutated[end:end] = mutated[start:end]
        else:
            mutated[start:end] = data.draw(st.binary(max_size=40), label="with")
    try:
        _check(parse_list_records(bytes(mutated)))
    except (OaiError, OaiParseError):
        pass
