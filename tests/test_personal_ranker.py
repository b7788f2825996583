"""The personal "for you" ranker (paperboy.rank.personal) on small hand-made papers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from paperboy.rank import personal, personal_score
from paperboy.rank.personal import (
    Idf,
    Profile,
    RankedPaper,
    Rating,
    Signals,
    author_key,
    rank,
)


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


DIFFUSION = RankedPaper(
    "p-diff",
    "Diffusion models for image synthesis",
    "We train latent diffusion models that synthesise images from text prompts.",
    ("Yann LeCun", "Alice Martin"),
    ("cs.CV",),
    unit(1, 0, 0, 0),
)
REASONING = RankedPaper(
    "p-reason",
    "Chain of thought reasoning in language models",
    "Large language models solve maths word problems with chain of thought prompting.",
    ("Bob Stone",),
    ("cs.CL",),
    unit(0, 1, 0, 0),
)
CAND_DIFF = RankedPaper(
    "c-diff",
    "Faster latent diffusion sampling",
    "Latent diffusion models synthesise images in four steps.",
    ("Carol King",),
    ("cs.CV",),
    unit(0.95, 0.05, 0.1, 0),
)
CAND_REASON = RankedPaper(
    "c-reason",
    "Reasoning benchmarks for language models",
    "We test chain of thought prompting of large language models on maths.",
    ("Dan Brown",),
    ("cs.CL",),
    unit(0.05, 0.95, 0.1, 0),
)
CAND_PROTEIN = RankedPaper(
    "c-protein",
    "Protein structure prediction",
    "Predicting folded protein structures from amino acid sequences.",
    ("Eve Adams",),
    ("q-bio.BM",),
    unit(0, 0, 0.2, 1),
)
CANDIDATES = [CAND_PROTEIN, CAND_REASON, CAND_DIFF]


def ids(recs: list[personal.Recommendation]) -> list[str]:
    return [r.paper_id for r in recs]


def scores(recs: list[personal.Recommendation]) -> dict[str, float]:
    return {r.paper_id: r.score for r in recs}


def test_positive_pulls_similar_papers_up() -> None:
    assert ids(rank(Profile(positives=[DIFFUSION]), CANDIDATES))[0] == "c-diff"
    assert ids(rank(Profile(positives=[REASONING]), CANDIDATES))[0] == "c-reason"


def test_negative_demotes_its_neighbourhood() -> None:
    near = RankedPaper("c-near", "Reasoning", "", vector=unit(0.05, 0.97, 0.05, 0))
    pool = [*CANDIDATES, near]
    table = Idf.fit([p.text for p in (DIFFUSION, REASONING, *pool)] * 2)  # fixed: isolates it
    liked, bg = [DIFFUSION, REASONING], pool  # a fixed background: the same vector reference
    without = scores(rank(Profile(positives=liked), pool, idf=table, background=bg))
    disliked = Profile(positives=liked, negatives=[CAND_REASON])
    with_neg = scores(rank(disliked, pool, idf=table, background=bg))
    assert "c-reason" not in with_neg  # a rated paper is never recommended back
    assert with_neg["c-near"] < without["c-near"] - 0.05  # its close neighbour drops
    assert with_neg["c-protein"] == pytest.approx(without["c-protein"])  # far ones: untouched
    assert with_neg["c-diff"] == pytest.approx(without["c-diff"])
    order = ids(rank(disliked, pool, idf=table, background=bg))
    assert order.index("c-near") > order.index("c-diff")


def test_negative_only_keeps_order_except_neighbourhood() -> None:
    recs = rank(Profile(negatives=[REASONING]), CANDIDATES)
    assert ids(recs) == ["c-protein", "c-diff", "c-reason"]
    assert scores(recs)["c-reason"] < 0.0
    unlike = [r for r in recs[-1].why if r.kind == "unlike"]
    assert unlike and unlike[0].paper_id == "p-reason"
    assert sum(r.weight for r in unlike) == pytest.approx(recs[-1].score)


def test_one_rating_works_and_no_rating_keeps_order() -> None:
    assert len(rank(Profile(positives=[CAND_PROTEIN]), [CAND_DIFF, CAND_REASON])) == 2
    recs = rank(Profile(), CANDIDATES)
    assert ids(recs) == ids([RankedPaper(c.paper_id) for c in CANDIDATES])
    assert all(r.score == 0.0 and r.why == () for r in recs)
    assert rank(Profile(positives=[DIFFUSION]), []) == []


def test_author_signal_on_and_off() -> None:
    by_lecun = RankedPaper(
        "c-lecun", "Protein folding", "Proteins fold.", ("yann  le-cun",), (), CAND_PROTEIN.vector
    )
    pool = [*CANDIDATES, by_lecun]
    on = rank(Profile(positives=[DIFFUSION]), pool)
    off = rank(Profile(positives=[DIFFUSION], signals=Signals(authors=False)), pool)
    assert ids(off)[:2] == ["c-diff", "c-reason"]
    assert ids(on).index("c-lecun") < ids(off).index("c-lecun")  # the shared author lifts it
    assert ids(on).index("c-lecun") < ids(on).index("c-protein")
    gain = scores(on)["c-lecun"] - scores(off)["c-lecun"]
    assert gain == pytest.approx(personal_score.W_AUTHOR)  # on every rated paper
    lecun = next(r for r in on if r.paper_id == "c-lecun")
    author = [r for r in lecun.why if r.kind == "author"]
    assert [r.label for r in author] == ["yann  le-cun"]
    assert author[0].weight == pytest.approx(gain)
    assert not any(r.kind == "author" for rec in off for r in rec.why)


def test_followed_author_and_category() -> None:
    recs = rank(Profile(followed_authors=("Eve ADAMS",)), CANDIDATES)
    assert ids(recs)[0] == "c-protein"
    recs = rank(Profile(followed_categories=("q-bio.bm",)), CANDIDATES)
    assert ids(recs)[0] == "c-protein"
    assert recs[0].why[0].kind == "category"


def test_reasons_are_truthful() -> None:
    recs = rank(Profile(positives=[DIFFUSION, REASONING]), CANDIDATES)
    for rec in recs:
        similar = [r for r in rec.why if r.kind == "similar"]
        if rec.paper_id == "c-diff":
            assert similar[0].paper_id == "p-diff"
            words = {r.label for r in rec.why if r.kind == "words"}
            assert "diffusion" in words and "latent diffusion" in words
        if rec.paper_id == "c-reason":
            assert similar[0].paper_id == "p-reason"
        # when both rated papers are shown, the reasons other than "words" (which split the text
        # part over terms instead of papers) add up to the score exactly
        if len(similar) == 2:
            parts = sum(r.weight for r in rec.why if r.kind != "words")
            assert parts == pytest.approx(rec.score, abs=1e-6)
        assert all(r.weight > 0 for r in similar)
    diff = next(r for r in recs if r.paper_id == "c-diff")
    category = [r for r in diff.why if r.kind == "category"]
    assert [r.label for r in category] == ["cs.cv"]


def test_author_key_folding() -> None:
    assert author_key("Yann LeCun") == author_key("yann lecun") == author_key("Yann Le-Cun")
    assert author_key("José  Álvarez") == author_key("jose alvarez")
    assert author_key("Zoë O'Brien") == "zoeobrien"
    assert author_key("  ") == ""
    assert author_key("Yann LeCun") != author_key("Yann Dauphin")


def test_empty_and_duplicate_ids() -> None:
    pool = [CAND_DIFF, RankedPaper(""), CAND_DIFF, CAND_REASON]
    recs = rank(Profile(positives=[DIFFUSION, DIFFUSION]), pool)
    assert sorted(ids(recs)) == ["c-diff", "c-reason"]
    assert rank(Profile(positives=[DIFFUSION]), CANDIDATES, limit=1)[0].paper_id == "c-diff"
    assert rank(Profile(positives=[DIFFUSION]), CANDIDATES, limit=0) == []


def test_ratings_with_time_and_weight() -> None:
    newer_reasoning = Profile(
        positives=[Rating(REASONING, at=2.0), Rating(DIFFUSION, at=1.0, weight=0.5)]
    )
    assert ids(rank(newer_reasoning, CANDIDATES))[0] == "c-reason"


def test_idf_table_and_mapping() -> None:
    texts = [p.text for p in (DIFFUSION, REASONING, *CANDIDATES)] * 2
    table = Idf.fit(texts)
    assert ids(rank(Profile(positives=[DIFFUSION]), CANDIDATES, idf=table))[0] == "c-diff"
    mapping = {"diffusion": 3.0, "latent": 3.0, "models": 1.0}
    assert ids(rank(Profile(positives=[DIFFUSION]), CANDIDATES, idf=mapping))[0] == "c-diff"
    background = [REASONING, CAND_PROTEIN]
    recs = rank(Profile(positives=[DIFFUSION]), CANDIDATES, background=background)
    assert ids(recs)[0] == "c-diff"


def test_papers_without_vectors() -> None:
    bare = [RankedPaper(c.paper_id, c.title, c.abstract) for c in CANDIDATES]
    liked = RankedPaper(DIFFUSION.paper_id, DIFFUSION.title, DIFFUSION.abstract)
    assert ids(rank(Profile(positives=[liked]), bare))[0] == "c-diff"
    recs = rank(Profile(positives=[liked], negatives=[bare[2]]), bare[:2])
    assert len(recs) == 2


def _synthetic(n: int, rng: np.random.Generator, prefix: str) -> list[RankedPaper]:
    words = [f"w{i}" for i in range(400)]
    out = []
    for i in range(n):
        text = " ".join(rng.choice(words, size=60))
        out.append(
            RankedPaper(
                f"{prefix}{i}",
                f"title {i}",
                text,
                (f"Author {rng.integers(500)}",),
                vector=unit(*rng.normal(size=16)),
            )
        )
    return out


def test_cost_is_bounded_by_caps() -> None:
    rng = np.random.default_rng(0)
    many = _synthetic(5000, rng, "r")
    cands = _synthetic(200, rng, "c")
    scorer_inputs: list[int] = []
    original = personal.Scorer

    class Spy(original):  # type: ignore[misc, valid-type]
        def __init__(self, profile, rated, *args, **kwargs):  # type: ignore[no-untyped-def]
            scorer_inputs.append(len(rated[0]))
            super().__init__(profile, rated, *args, **kwargs)

    personal.Scorer = Spy  # type: ignore[misc]
    try:
        started = time.perf_counter()
        recs = rank(Profile(positives=many, negatives=many[:300]), cands, limit=10)
        elapsed = time.perf_counter() - started
    finally:
        personal.Scorer = original  # type: ignore[misc]
    assert len(recs) == 10
    assert scorer_inputs == [personal.MAX_POSITIVES]
    assert elapsed < 5.0


def test_prepared_candidates_rank_the_same() -> None:
    table = Idf.fit([p.text for p in (DIFFUSION, REASONING, *CANDIDATES)] * 2)
    bg = [DIFFUSION, REASONING, *CANDIDATES]
    profile = Profile(positives=[DIFFUSION], negatives=[CAND_REASON])
    plain = rank(profile, CANDIDATES, idf=table, background=bg)
    prepared = personal.Candidates([*CANDIDATES, CAND_DIFF], idf=table, background=bg)
    assert len(prepared) == 3
    again = rank(profile, prepared)
    assert ids(again) == ids(plain) == ["c-diff", "c-protein"]
    assert [r.score for r in again] == pytest.approx([r.score for r in plain])
    assert again[0].why == plain[0].why
    with pytest.raises(ValueError):
        rank(profile, prepared, idf=table)
