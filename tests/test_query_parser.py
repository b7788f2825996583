"""The search query language (paperboy.search.query): examples for every rule, plus fuzzing."""

from __future__ import annotations

import dataclasses
import time
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.search.query import ParsedQuery, analyze_terms, parse_query


def _without_problems(parsed: ParsedQuery) -> ParsedQuery:
    return dataclasses.replace(parsed, problems=())


# --------------------------------------------------------------------------- words


def test_plain_words_keep_case_and_order() -> None:
    parsed = parse_query("Attention is all you need")
    assert parsed.words == ("Attention", "is", "all", "you", "need")
    assert parsed.semantic_text == "Attention is all you need"
    assert not parsed.has_filters
    assert not parsed.is_empty
    assert parsed.problems == ()


def test_duplicate_words_are_dropped_case_insensitively() -> None:
    assert parse_query("bias Bias BIAS fairness bias").words == ("bias", "fairness")


@pytest.mark.parametrize("operator", ["AND", "OR", "NOT", "NEAR", "and", "or", "not", "near"])
def test_boolean_operators_are_ordinary_words(operator: str) -> None:
    parsed = parse_query(f"cats {operator} dogs")
    assert parsed.words == ("cats", operator, "dogs")
    assert parsed.problems == ()


def test_search_syntax_characters_are_separators() -> None:
    parsed = parse_query(r"(transform* OR bert^2) ~ [a TO b] {c} \d +e NEAR/3 f:")
    assert parsed.words == (
        *("transform", "OR", "bert", "2", "a", "TO", "b", "c", "d", "e", "NEAR", "3", "f"),
    )
    assert parsed.problems == ()
    assert parse_query("C++ & C#").words == ("C",)


def test_hyphenated_and_dotted_compounds_stay_one_word() -> None:
    parsed = parse_query("self-supervised GPT-3.5 don't t-SNE snake_case e.g. end.")
    assert parsed.words == (
        "self-supervised",
        "GPT-3.5",
        "don't",
        "t-SNE",
        "snake_case",
        "e.g",
        "end",
    )
    assert parsed.phrases == ()  # parts are ranked words in the keyword index, not a phrase
    assert analyze_terms(parsed.words[0]) == ["self", "supervis"]


def test_stray_dashes_and_punctuation() -> None:
    assert parse_query("a -- b - c--d a--b").words == ("a", "b", "c", "d")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("注意力机制 研究", ("注意力机制", "研究")),
        ("Μηχανική μάθηση", ("Μηχανική", "μάθηση")),
        ("машинное обучение", ("машинное", "обучение")),
        ("हिन्दी भाषा", ("हिन्दी", "भाषा")),  # vowel signs and virama stay inside the word
        ("نموذج اللغة", ("نموذج", "اللغة")),
        ("Timothée Lacroix", ("Timothée", "Lacroix")),
        ("Timothe\u0301e", ("Timothée",)),  # decomposed accents are composed (NFC)
    ],
)
def test_non_latin_scripts_are_words(text: str, words: tuple[str, ...]) -> None:
    assert parse_query(text).words == words


def test_emoji_are_dropped() -> None:
    parsed = parse_query("🤖 robots 🚀 ❤️ 1️⃣ 👩‍🔬")
    assert parsed.words == ("robots", "1")


# --------------------------------------------------------------------------- phrases, exclusion


def test_phrases() -> None:
    parsed = parse_query('"large language models" alignment "in-context   learning"')
    assert parsed.phrases == ("large language models", "in-context learning")
    assert parsed.words == ("alignment",)
    assert parsed.has_filters
    assert parsed.semantic_text == "alignment large language models in-context learning"


def test_one_word_quote_is_a_required_one_word_phrase() -> None:
    parsed = parse_query('"BERT" tuning')
    assert parsed.phrases == ("BERT",)
    assert parsed.words == ("tuning",)


def test_punctuation_inside_phrases_only_separates() -> None:
    assert parse_query('"graph: neural, (networks)"').phrases == ("graph neural networks",)
    assert parse_query('"" "  " "!!!" x').phrases == ()


def test_typographic_quotes() -> None:
    assert parse_query("\u201cdiffusion models\u201d").phrases == ("diffusion models",)
    assert parse_query("\u00abmachine translation\u00bb").phrases == ("machine translation",)


def test_unbalanced_quote_is_ignored() -> None:
    parsed = parse_query('"attention is all you need')
    assert parsed.words == ("attention", "is", "all", "you", "need")
    assert parsed.phrases == ()
    assert any("unpaired quote" in p for p in parsed.problems)
    # the first two quotes pair up; the third is ignored
    parsed = parse_query('"a b" c "d e')
    assert parsed.phrases == ("a b",)
    assert parsed.words == ("c", "d", "e")
    # an unpaired quote never glues words together
    assert parse_query('foo"bar').words == ("foo", "bar")


def test_excluded_words_and_phrases() -> None:
    parsed = parse_query('transformers -vision -"object detection" (-audio)')
    assert parsed.words == ("transformers",)
    assert parsed.excluded == ("vision", "object detection", "audio")
    assert parsed.has_filters
    assert parsed.semantic_text == "transformers"
    assert parse_query('-"single"').excluded == ("single",)


def test_dash_inside_a_word_is_not_exclusion() -> None:
    parsed = parse_query("t-SNE x-ray foo-")
    assert parsed.excluded == ()
    assert parsed.words == ("t-SNE", "x-ray", "foo")


def test_only_excluded_words_is_reported() -> None:
    parsed = parse_query("-vision")
    assert parsed.excluded == ("vision",)
    assert not parsed.is_empty
    assert parsed.semantic_text == ""
    assert any("only excluded" in p for p in parsed.problems)


# --------------------------------------------------------------------------- filters


def test_author_filter() -> None:
    assert parse_query("author:lecun").authors == ("lecun",)
    parsed = parse_query('convolution author:"Yann LeCun"')
    assert parsed.authors == ("Yann LeCun",)
    assert parsed.words == ("convolution",)
    assert parsed.semantic_text == "convolution"
    assert parsed.has_filters


def test_author_filter_variants() -> None:
    assert parse_query("AUTHOR:Hinton au:bengio").authors == ("Hinton", "bengio")
    assert parse_query("author:lecun,bengio").authors == ("lecun", "bengio")
    assert parse_query('author:"Yann   LeCun, Yoshua Bengio"').authors == (
        "Yann LeCun",
        "Yoshua Bengio",
    )
    assert parse_query("author:O'Neil author:Jean-Pierre").authors == ("O'Neil", "Jean-Pierre")
    assert parse_query("(author:lecun)").authors == ("lecun",)


def test_category_filter() -> None:
    parsed = parse_query("cat:cs.CL cat:cs category:hep-th cat:math.AG cat:cond-mat.stat-mech")
    assert parsed.categories == ("cs.CL", "cs", "hep-th", "math.AG", "cond-mat.stat-mech")
    assert parsed.words == ()
    assert parsed.has_filters
    assert not parsed.is_empty


def test_category_is_spelled_as_arxiv_does() -> None:
    assert parse_query("cat:CS.cl cat:Physics.Acc-Ph").categories == ("cs.CL", "physics.acc-ph")
    assert parse_query("cat:cs.CL cat:cs.cl").categories == ("cs.CL",)
    assert parse_query("cat:cs.LG,").categories == ("cs.LG",)


@pytest.mark.parametrize("bad", ["cat:cs/CL", "cat:123", "cat:cs..CL", "cat:cs.CL.x", "cat:é"])
def test_bad_category_is_a_problem(bad: str) -> None:
    parsed = parse_query(f"{bad} words")
    assert parsed.categories == ()
    assert parsed.words == ("words",)
    assert any("not an arXiv category" in p for p in parsed.problems)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("since:2024", date(2024, 1, 1), None),
        ("since:2024-03", date(2024, 3, 1), None),
        ("since:2024-03-15", date(2024, 3, 15), None),
        ("until:2024", None, date(2024, 12, 31)),
        ("until:2024-02", None, date(2024, 2, 29)),
        ("until:2023-02", None, date(2023, 2, 28)),
        ("until:2024-04", None, date(2024, 4, 30)),
        ("until:2024-02-10", None, date(2024, 2, 10)),
        ("year:2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("since:2023-06 until:2024-01", date(2023, 6, 1), date(2024, 1, 31)),
        # several date filters narrow each other
        ("year:2024 since:2024-06", date(2024, 6, 1), date(2024, 12, 31)),
        ("since:2020 since:2022 until:2025 until:2023", date(2022, 1, 1), date(2023, 12, 31)),
        ('Since:"2024-05"', date(2024, 5, 1), None),
    ],
)
def test_date_filters_are_inclusive_periods(
    text: str, start: date | None, end: date | None
) -> None:
    parsed = parse_query(text)
    assert (parsed.date_from, parsed.date_to) == (start, end)
    assert parsed.problems == ()
    assert parsed.has_filters
    assert parsed.words == ()


@pytest.mark.parametrize(
    "bad",
    [
        "since:2024-13",
        "since:2023-02-29",
        "until:2024-00",
        "since:24",
        "since:2024-3",
        "until:yesterday",
        "since:0000",
        "since:２０２４",  # full-width digits
    ],
)
def test_bad_dates_are_problems(bad: str) -> None:
    parsed = parse_query(f"graphs {bad}")
    assert parsed.date_from is None and parsed.date_to is None
    assert parsed.words == ("graphs",)
    (problem,) = parsed.problems
    assert problem.startswith(f'ignored "{bad}": not a date')
    assert "YYYY-MM-DD" in problem


def test_year_needs_a_year() -> None:
    parsed = parse_query("year:2024-03")
    assert parsed.date_from is None
    assert parsed.problems == ('ignored "year:2024-03": not a year (use YYYY)',)


def test_dates_that_leave_nothing_are_reported() -> None:
    parsed = parse_query("since:2025 until:2024")
    assert (parsed.date_from, parsed.date_to) == (date(2025, 1, 1), date(2024, 12, 31))
    assert any("leave nothing" in p for p in parsed.problems)


@pytest.mark.parametrize("text", ["author:", 'author:""', "cat: cs.CL", "since:", 'year:"  "'])
def test_empty_filter_value_is_a_problem(text: str) -> None:
    parsed = parse_query(text)
    assert parsed.authors == () and parsed.categories == () and parsed.date_from is None
    assert any("no value" in p for p in parsed.problems)


def test_negated_filter_is_ignored() -> None:
    parsed = parse_query("-author:lecun -cat:cs.CV vision")
    assert parsed.authors == () and parsed.categories == () and parsed.excluded == ()
    assert parsed.words == ("vision",)
    assert len(parsed.problems) == 2
    assert all("cannot be negated" in p for p in parsed.problems)


def test_unknown_filter_is_words() -> None:
    parsed = parse_query("title:attention before:2024")
    assert parsed.words == ("title", "attention", "before", "2024")
    assert parsed.problems[0].startswith('unknown filter "title:" treated as words')
    assert parsed.problems[1].startswith('unknown filter "before:" treated as words')
    # a colon followed by a space is just punctuation
    assert parse_query("Note: graphs").problems == ()
    parsed = parse_query("https://arxiv.org/abs/2401.12345")
    assert parsed.words == ("https", "arxiv.org", "abs", "2401.12345")


def test_everything_together() -> None:
    parsed = parse_query(
        'sparse attention "long context" -vision author:"Iz Beltagy" cat:cs.CL year:2020'
    )
    assert parsed == ParsedQuery(
        words=("sparse", "attention"),
        phrases=("long context",),
        excluded=("vision",),
        authors=("Iz Beltagy",),
        categories=("cs.CL",),
        date_from=date(2020, 1, 1),
        date_to=date(2020, 12, 31),
    )
    assert parsed.describe() == (
        'sparse attention "long context" -vision author:"Iz Beltagy" cat:cs.CL year:2020'
    )


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("since:2024-01-01", "since:2024"),
        ("since:2024-03-01 until:2024-03-31", "since:2024-03 until:2024-03"),
        ("until:2024-12-31", "until:2024"),
        ("since:2024-02-02", "since:2024-02-02"),
        ('-"x" author:"y"', "-x author:y"),
        ("\u201cA  B\u201d", '"A B"'),
    ],
)
def test_describe_is_canonical(text: str, described: str) -> None:
    assert parse_query(text).describe() == described


# --------------------------------------------------------------------------- empty and limits


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "🤖🚀", '""', "-", "*()^~", ":::"])
def test_empty_queries(text: str) -> None:
    parsed = parse_query(text)
    assert parsed.is_empty
    assert not parsed.has_filters
    assert parsed.semantic_text == ""
    assert parsed.describe() == ""


def test_filters_only_is_not_empty() -> None:
    parsed = parse_query("cat:cs.CL")
    assert not parsed.is_empty
    assert parsed.semantic_text == ""


def test_long_input_is_cut_quickly() -> None:
    text = ("transformers " * 800)[:10_000] + " -excluded"
    start = time.perf_counter()
    parsed = parse_query(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.01
    assert "query cut to 1,000 characters" in parsed.problems
    assert parsed.excluded == ()  # it was past the cut


def test_long_input_of_filters_and_junk_is_fast() -> None:
    text = ('author:"a b" -x "p q" cat:cs.CL since:2024 🤖 *^( ' * 500)[:10_000]
    start = time.perf_counter()
    for _ in range(10):
        parse_query(text)
    assert (time.perf_counter() - start) / 10 < 0.01


def test_term_limit() -> None:
    text = " ".join(f"w{n}" for n in range(100))
    parsed = parse_query(text)
    assert len(parsed.words) == 64
    assert parsed.words[-1] == "w63"
    assert "query cut to its first 64 words" in parsed.problems
    parsed = parse_query('a b "c d e" f', max_terms=4)
    assert parsed.words == ("a", "b")
    assert parsed.phrases == ()  # a phrase is kept whole or not at all; what follows is dropped
    assert parse_query("a b c", max_terms=3).problems == ()


def test_max_chars_argument() -> None:
    parsed = parse_query("abcdef ghi", max_chars=3)
    assert parsed.words == ("abc",)
    assert parsed.problems == ("query cut to 3 characters",)


def test_problem_count_is_bounded() -> None:
    parsed = parse_query(" ".join(f"since:20{n:02d}-99" for n in range(50)))
    assert 0 < len(parsed.problems) <= 10


def test_non_string_input() -> None:
    assert parse_query(None).is_empty  # type: ignore[arg-type]


# --------------------------------------------------------------------------- analyze_terms


def test_analyze_terms_matches_the_index_analyzer() -> None:
    assert analyze_terms("Transformers") == ["transform"]
    assert analyze_terms("Timothée") == analyze_terms("timothee")
    assert analyze_terms("self-supervised") == ["self", "supervis"]
    assert analyze_terms("") == []
    assert analyze_terms("x" * 41) == []  # long tokens are dropped, as in the index
    assert analyze_terms("a\ud800b") == ["a", "b"]  # lone surrogates don't raise


# --------------------------------------------------------------------------- fuzzing

QUERYISH = st.lists(
    st.one_of(
        st.sampled_from(list("\"-:*()^~[]{}\\+ ,.'_\u201c\u201d")),
        st.sampled_from(["author:", "cat:", "since:", "until:", "year:", "AU:", "foo:", "NOT "]),
        st.sampled_from(["2024", "-03", "-15", "cs.CL", "hep-th", "Yann LeCun", "é", "\u0301"]),
        st.characters(),
    ),
    max_size=30,
).map("".join)


def _check_shape(parsed: ParsedQuery) -> None:
    for name in ("words", "phrases", "excluded", "authors", "categories", "problems"):
        value = getattr(parsed, name)
        assert isinstance(value, tuple), name
        for item in value:
            assert isinstance(item, str) and item, name
            if name != "problems":
                assert '"' not in item, name
                assert item == item.strip(), name
    for word in parsed.words:
        assert " " not in word


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), QUERYISH))
def test_fuzz_parse_never_raises_and_round_trips(text: str) -> None:
    parsed = parse_query(text)
    _check_shape(parsed)
    again = parse_query(parsed.describe())
    assert _without_problems(again) == _without_problems(parsed)
    assert parsed.is_empty == (parsed.describe() == "")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=())))
def test_fuzz_analyze_terms_never_raises(text: str) -> None:
    terms = analyze_terms(text)
    assert all(isinstance(t, str) and t for t in terms)
