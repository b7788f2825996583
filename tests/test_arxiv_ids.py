"""Tests for paperboy.arxiv_ids: example tables plus property-based checks."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.arxiv_ids import (
    OLD_ARCHIVES,
    ArxivId,
    abs_url,
    canonical_id,
    is_valid_arxiv_id,
    parse_arxiv_id,
    pdf_url,
)
from paperboy.errors import InvalidArxivId, PaperboyError

# --------------------------------------------------------------------------- examples

VALID_EXAMPLES: list[tuple[str, str, int | None, str, str | None]] = [
    # text, canonical, version, scheme, subject_class
    ("2401.12345", "2401.12345", None, "new", None),
    ("2401.12345v2", "2401.12345", 2, "new", None),
    ("2401.12345v10", "2401.12345", 10, "new", None),
    ("0704.0001", "0704.0001", None, "new", None),
    ("0704.0001v1", "0704.0001", 1, "new", None),
    ("1412.9999", "1412.9999", None, "new", None),
    ("1501.00001", "1501.00001", None, "new", None),
    ("0912.1234v3", "0912.1234", 3, "new", None),
    ("  2401.12345 \n", "2401.12345", None, "new", None),
    ("arXiv:2401.12345", "2401.12345", None, "new", None),
    ("arxiv:2401.12345v2", "2401.12345", 2, "new", None),
    ("ARXIV:0704.0001", "0704.0001", None, "new", None),
    ("arXiv: 2401.12345", "2401.12345", None, "new", None),
    ("hep-th/9901001", "hep-th/9901001", None, "old", None),
    ("hep-th/9901001v3", "hep-th/9901001", 3, "old", None),
    ("math/0309136", "math/0309136", None, "old", None),
    ("math.GT/0309136", "math/0309136", None, "old", "GT"),
    ("math.gt/0309136v1", "math/0309136", 1, "old", "GT"),
    ("cond-mat.stat-mech/0512345", "cond-mat/0512345", None, "old", "stat-mech"),
    ("physics.acc-ph/0101001", "physics/0101001", None, "old", "acc-ph"),
    ("HEP-TH/9901001", "hep-th/9901001", None, "old", None),
    ("Hep-Th/9108001", "hep-th/9108001", None, "old", None),
    ("cs/0703001", "cs/0703001", None, "old", None),
    ("solv-int/9901001", "solv-int/9901001", None, "old", None),
    ("arXiv:hep-th/9901001", "hep-th/9901001", None, "old", None),
    ("arXiv:math.CO/0601001v2", "math/0601001", 2, "old", "CO"),
    # URLs
    ("https://arxiv.org/abs/2401.12345", "2401.12345", None, "new", None),
    ("http://arxiv.org/abs/2401.12345v2", "2401.12345", 2, "new", None),
    ("https://www.arxiv.org/abs/2401.12345/", "2401.12345", None, "new", None),
    ("https://export.arxiv.org/abs/0704.0001", "0704.0001", None, "new", None),
    ("https://arxiv.org/pdf/2401.12345", "2401.12345", None, "new", None),
    ("https://arxiv.org/pdf/2401.12345v2.pdf", "2401.12345", 2, "new", None),
    ("https://arxiv.org/pdf/2401.12345.pdf", "2401.12345", None, "new", None),
    ("https://arxiv.org/abs/2401.12345?context=cs", "2401.12345", None, "new", None),
    ("https://arxiv.org/abs/2401.12345#section", "2401.12345", None, "new", None),
    ("https://arxiv.org/pdf/2401.12345v1.pdf?download=1", "2401.12345", 1, "new", None),
    ("HTTPS://ArXiv.org/abs/2401.12345", "2401.12345", None, "new", None),
    ("https://arxiv.org/abs/hep-th/9901001", "hep-th/9901001", None, "old", None),
    ("https://arxiv.org/abs/math.GT/0309136v2/", "math/0309136", 2, "old", "GT"),
    ("https://arxiv.org/pdf/hep-th/9901001v1.pdf", "hep-th/9901001", 1, "old", None),
    (" https://arxiv.org/abs/2401.12345 ", "2401.12345", None, "new", None),
]


@pytest.mark.parametrize(("text", "canonical", "version", "scheme", "subject"), VALID_EXAMPLES)
def test_valid_examples(
    text: str, canonical: str, version: int | None, scheme: str, subject: str | None
) -> None:
    parsed = parse_arxiv_id(text)
    assert parsed.canonical == canonical
    assert parsed.version == version
    assert parsed.scheme == scheme
    assert parsed.subject_class == subject
    assert canonical_id(text) == canonical
    assert is_valid_arxiv_id(text)


def test_properties_and_urls() -> None:
    versioned = parse_arxiv_id("2401.12345v2")
    assert versioned.versioned == "2401.12345v2"
    assert str(versioned) == "2401.12345v2"
    assert versioned.abs_url == "https://arxiv.org/abs/2401.12345v2"
    assert versioned.pdf_url == "https://arxiv.org/pdf/2401.12345v2"

    plain = parse_arxiv_id("arXiv:2401.12345")
    assert plain.versioned == "2401.12345"
    assert str(plain) == "2401.12345"
    assert plain.abs_url == "https://arxiv.org/abs/2401.12345"
    assert plain.pdf_url == "https://arxiv.org/pdf/2401.12345"

    old = parse_arxiv_id("math.GT/0309136v1")
    assert old.versioned == "math/0309136v1"
    assert old.abs_url == "https://arxiv.org/abs/math/0309136v1"
    assert old.pdf_url == "https://arxiv.org/pdf/math/0309136v1"


def test_module_level_url_helpers_keep_version() -> None:
    assert abs_url("arXiv:2401.12345v3") == "https://arxiv.org/abs/2401.12345v3"
    assert pdf_url("arXiv:2401.12345v3") == "https://arxiv.org/pdf/2401.12345v3"
    assert abs_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"
    assert pdf_url("https://arxiv.org/abs/0704.0001") == "https://arxiv.org/pdf/0704.0001"


def test_arxiv_id_is_frozen_hashable_and_ignores_subject_class_in_equality() -> None:
    parsed = parse_arxiv_id("math.GT/0309136")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.version = 3  # type: ignore[misc]
    assert parsed == parse_arxiv_id("math/0309136")
    assert hash(parsed) == hash(parse_arxiv_id("math/0309136"))
    assert parsed != parse_arxiv_id("math/0309136v1")
    assert ArxivId("2401.12345", None, "new") == parse_arxiv_id("2401.12345")


INVALID_EXAMPLES: list[str] = [
    "",
    "   ",
    "abc",
    "2401",
    "2401.",
    "2401.1234",  # 4 digits in 2024
    "1501.1234",  # 4 digits in 2015
    "1301.12345",  # 5 digits before 2015
    "1412.12345",
    "2413.12345",  # month 13
    "2400.12345",  # month 00
    "0703.0001",  # before the new scheme started
    "0612.1234",
    "2401.123456",
    "2401.12345v0",
    "2401.12345v01",
    "2401.12345v",
    "2401.12345V2",
    "2401.12345v-1",
    "2401.12345 v2",
    "2401.12345v2v3",
    "2401_12345",
    "24O1.12345",  # letter O
    "２４０１.１２３４５",  # fullwidth digits
    "٢٤٠١.١٢٣٤٥",  # Arabic-Indic digits
    "2401.12345\n2401.12345",
    "foo/9901001",
    "hep-th/9913001",  # month 13
    "hep-th/9900001",  # month 00
    "hep-th/0704001",  # after the old scheme ended
    "hep-th/0801001",
    "hep-th/9001001",  # 1990
    "hep-th/990100",
    "hep-th/99010011",
    "hep-th/9901001v0",
    "hep-th9901001",
    "hep-th/",
    "/9901001",
    "math./0309136",
    "math.G1/0309136",
    "math.ABCDEFGHIJKLM/0309136",  # subject class too long
    "hep-th/9901001/",
    "arXiv:",
    "arXiv:abc",
    "arXiv 2401.12345",
    "doi:2401.12345",
    "arXiv:arXiv:2401.12345",
    "https://arxiv.org/abs/",
    "https://arxiv.org/abs/2401.1234",
    "https://arxiv.org/abs/2401.12345.pdf",  # .pdf only on /pdf/ URLs
    "https://arxiv.org/list/2401.12345",
    "https://example.org/abs/2401.12345",
    "https://arxiv.org.evil.com/abs/2401.12345",
    "ftp://arxiv.org/abs/2401.12345",
    "https://arxiv.org/abs/2401.12345extra",
]


@pytest.mark.parametrize("text", INVALID_EXAMPLES)
def test_invalid_examples(text: str) -> None:
    with pytest.raises(InvalidArxivId) as info:
        parse_arxiv_id(text)
    assert repr(text) in str(info.value), "message should quote the input"
    assert "2401.12345" in str(info.value), "message should show what a valid id looks like"
    assert not is_valid_arxiv_id(text)
    for function in (canonical_id, abs_url, pdf_url):
        with pytest.raises(InvalidArxivId):
            function(text)


def test_invalid_arxiv_id_is_a_value_error_and_paperboy_error() -> None:
    with pytest.raises(ValueError):
        parse_arxiv_id("abc")
    with pytest.raises(PaperboyError):
        parse_arxiv_id("abc")


@pytest.mark.parametrize("value", [None, 2401.12345, b"2401.12345", 42])
def test_non_string_input_is_invalid(value: object) -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(value)  # type: ignore[arg-type]
    assert not is_valid_arxiv_id(value)  # type: ignore[arg-type]


def test_error_message_explains_digit_count() -> None:
    with pytest.raises(InvalidArxivId, match="5-digit"):
        parse_arxiv_id("2401.1234")
    with pytest.raises(InvalidArxivId, match="4-digit"):
        parse_arxiv_id("1301.12345")
    with pytest.raises(InvalidArxivId, match="not an arXiv archive"):
        parse_arxiv_id("foo/9901001")


# --------------------------------------------------------------------------- strategies


@st.composite
def new_style_ids(draw: st.DrawFn) -> str:
    """Canonical new-scheme ids, 0704.NNNN .. 9912.NNNNN."""
    yy = draw(st.integers(7, 99))
    mm = draw(st.integers(4 if yy == 7 else 1, 12))
    digits = 4 if yy < 15 else 5
    number = draw(st.integers(0, 10**digits - 1))
    return f"{yy:02d}{mm:02d}.{number:0{digits}d}"


SUBJECT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"


@st.composite
def old_style_ids(draw: st.DrawFn) -> tuple[str, str]:
    """(text as written, canonical) for old-scheme ids, possibly with a subject class."""
    archive = draw(st.sampled_from(sorted(OLD_ARCHIVES)))
    yy = draw(st.sampled_from([91, 92, 93, 94, 95, 96, 97, 98, 99, 0, 1, 2, 3, 4, 5, 6, 7]))
    mm = draw(st.integers(1, 3 if yy == 7 else 12))
    number = draw(st.integers(0, 999))
    tail = f"{yy:02d}{mm:02d}{number:03d}"
    canonical = f"{archive}/{tail}"
    written_archive = draw(st.sampled_from([archive, archive.upper(), archive.title()]))
    subject = draw(
        st.none()
        | st.sampled_from(["GT", "gt", "CO", "AI", "stat-mech", "acc-ph", "str-el", "Q"])
        | st.text(alphabet=SUBJECT_CHARS, min_size=1, max_size=12).filter(lambda s: s[0] != "-")
    )
    prefix = written_archive if subject is None else f"{written_archive}.{subject}"
    return f"{prefix}/{tail}", canonical


canonical_new_ids = new_style_ids()
canonical_old_ids = old_style_ids().map(lambda pair: pair[1])
canonical_ids = canonical_new_ids | canonical_old_ids
written_ids = canonical_new_ids | old_style_ids().map(lambda pair: pair[0])
versions = st.none() | st.integers(1, 10_000)
prefixes = st.sampled_from(["", "arXiv:", "arxiv:", "ARXIV:", "ArXiv:", "  ", "\tarXiv:"])
suffixes = st.sampled_from(["", " ", "\n", " \t "])

fast = settings(max_examples=100, deadline=None)


def _with_version(text: str, version: int | None) -> str:
    return text if version is None else f"{text}v{version}"


# --------------------------------------------------------------------------- properties


@fast
@given(canonical_ids)
def test_canonical_round_trips(text: str) -> None:
    parsed = parse_arxiv_id(text)
    assert parsed.canonical == text
    assert parsed.version is None
    assert parsed.versioned == text
    assert str(parsed) == text
    assert parsed.scheme == ("old" if "/" in text else "new")


@fast
@given(written_ids, prefixes, versions, suffixes)
def test_prefix_and_version_keep_canonical(
    text: str, prefix: str, version: int | None, suffix: str
) -> None:
    plain = parse_arxiv_id(text)
    decorated = parse_arxiv_id(prefix + _with_version(text, version) + suffix)
    assert decorated.canonical == plain.canonical
    assert decorated.version == version
    assert decorated.scheme == plain.scheme
    assert decorated.subject_class == plain.subject_class
    assert str(decorated) == _with_version(plain.canonical, version)


@fast
@given(written_ids, versions)
def test_urls_round_trip(text: str, version: int | None) -> None:
    parsed = parse_arxiv_id(_with_version(text, version))
    assert parse_arxiv_id(parsed.abs_url) == parsed
    assert parse_arxiv_id(parsed.pdf_url) == parsed
    assert parse_arxiv_id(parsed.pdf_url + ".pdf") == parsed
    assert parse_arxiv_id(parsed.abs_url + "/") == parsed
    assert parse_arxiv_id(parsed.abs_url + "?context=cs#top") == parsed
    assert parse_arxiv_id(str(parsed)) == parsed
    assert abs_url(text) == parse_arxiv_id(text).abs_url
    assert pdf_url(_with_version(text, version)) == parsed.pdf_url


@fast
@given(written_ids, prefixes, versions)
def test_canonical_id_is_idempotent(text: str, prefix: str, version: int | None) -> None:
    once = canonical_id(prefix + _with_version(text, version))
    assert canonical_id(once) == once
    assert parse_arxiv_id(once).version is None
    assert parse_arxiv_id(once).subject_class is None


@fast
@given(canonical_new_ids)
def test_wrong_digit_count_is_rejected(text: str) -> None:
    yymm, number = text.split(".")
    wrong = number[:-1] if len(number) == 5 else number + "0"
    assert not is_valid_arxiv_id(f"{yymm}.{wrong}")


def _check_parses_or_raises_invalid(text: str) -> None:
    try:
        parsed = parse_arxiv_id(text)
    except InvalidArxivId:
        assert not is_valid_arxiv_id(text)
        return
    assert isinstance(parsed, ArxivId)
    assert is_valid_arxiv_id(text)
    assert parse_arxiv_id(parsed.versioned) == parsed


@fast
@given(st.text())
def test_arbitrary_text_parses_or_raises_invalid(text: str) -> None:
    _check_parses_or_raises_invalid(text)


@fast
@given(st.text(alphabet="0123456789.v/-:abhmpstxAXriGT \n?#", max_size=30))
def test_id_like_text_parses_or_raises_invalid(text: str) -> None:
    _check_parses_or_raises_invalid(text)


@fast
@given(written_ids, st.integers(0, 40), st.text(max_size=3))
def test_mutated_ids_parse_or_raise_invalid(text: str, position: int, insert: str) -> None:
    position = min(position, len(text))
    _check_parses_or_raises_invalid(text[:position] + insert + text[position:])
    _check_parses_or_raises_invalid(text[:position] + text[position + 1 :])


@given(st.one_of(new_style_ids(), st.from_regex(r"\A\d{4}\.\d{4,5}\Z"), st.text(max_size=20)))
def test_canonical_id_fast_path_agrees_with_the_full_parser(text: str) -> None:
    try:
        expected = parse_arxiv_id(text).canonical
    except InvalidArxivId:
        with pytest.raises(InvalidArxivId):
            canonical_id(text)
    else:
        assert canonical_id(text) == expected
