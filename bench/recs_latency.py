"""Latency of the personal ranker (``paperboy.rank.personal.rank``), training included.

A realistic case from the real papers (../shared/data/hf-daily-papers) and their cached MiniLM
vectors (``bench/eval_recs.py`` builds the cache): a user with 200 ratings (180 "for me", the
newest first of a topic, and 20 "not for me"), 2,000 candidates (the newest papers) and 2,000
background papers, idf fitted once on every paper (as the product keeps it). ``rank()`` is timed
over ``--repeats`` calls, each fitting the profile from scratch:

- ``prepared``: the product's path, the day's candidates prepared once (``Candidates``: text
  vectors, embeddings, author keys) and each user's call fitting the profile, scoring all 2,000
  and explaining the top 50;
- ``warm``: a plain list of candidates per call (papers' text vectors cached across calls),
  top 50 with reasons;
- ``all``: the same, every candidate returned with its reasons;
- ``cold``: the first call after the text cache is cleared (every paper tokenised);
- ``local_idf``: no idf passed (derived per call from ratings, candidates and background).

The baseline in the same run: the plain centroid cosine over the same candidates (stack the
vectors, one matrix-vector product, sort), as a ratio.

    .venv/bin/python bench/recs_latency.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, summary_ms  # noqa: E402
from eval_recs import load_papers, paper_vectors  # noqa: E402
from paperboy.rank import personal_features, personal_score  # noqa: E402
from paperboy.rank.personal import Candidates, Idf, Profile, RankedPaper, rank  # noqa: E402

RATINGS, NEGATIVES, CANDIDATES, BACKGROUND = 200, 20, 2000, 2000
TARGETED = ("prepared", "warm")


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    rows = load_papers()
    vectors = paper_vectors(rows)
    order = np.argsort([p.daily_date for p in rows], kind="stable")
    papers = [
        RankedPaper(p.id, p.title, p.abstract, p.authors, (), vectors[i], p.upvotes)
        for i, p in enumerate(rows)
    ]
    candidates = [papers[i] for i in order[-CANDIDATES:]]
    older = order[:-CANDIDATES]
    background = [papers[i] for i in older[-BACKGROUND:]]
    # The user: the older papers nearest one topic (a real reading list is topical), oldest first.
    seed = vectors[older[len(older) // 2]]
    nearest = older[np.argsort(-(vectors[older] @ seed))[: RATINGS - NEGATIVES]]
    far = older[np.argsort(vectors[older] @ seed)[:NEGATIVES]]
    profile = Profile(
        positives=[papers[i] for i in sorted(nearest)],
        negatives=[papers[i] for i in sorted(far)],
    )
    idf = Idf.fit(p.text for p in papers)
    prepared = Candidates(candidates, idf=idf, background=background)
    cases: dict[str, Callable[[], object]] = {
        "prepared": lambda: rank(profile, prepared, limit=50),
        "warm": lambda: rank(profile, candidates, limit=50, idf=idf, background=background),
        "all": lambda: rank(profile, candidates, idf=idf, background=background),
        "local_idf": lambda: rank(profile, candidates, limit=50, background=background),
    }
    profile_vecs = [p.vector for p in profile.positives]  # type: ignore[union-attr]

    def centroid() -> list[int]:
        matrix = np.stack([c.vector for c in candidates])  # type: ignore[arg-type]
        scores = matrix @ np.mean(profile_vecs, axis=0)
        return np.argsort(-scores)[:50].tolist()

    base = summary_ms(timed(centroid, args.repeats))
    emit(bench="recs_latency", case="baseline_centroid", candidates=CANDIDATES, **base)
    cold = []
    for _ in range(5):
        personal_features.text_terms.cache_clear()
        personal_score._cached_vector.cache_clear()
        cold += timed(cases["warm"], 1)
    emit(bench="recs_latency", case="cold", candidates=CANDIDATES, **summary_ms(cold))
    for name, fn in cases.items():
        fn()  # fill the caches
        repeats = args.repeats if name != "local_idf" else max(20, args.repeats // 10)
        result = summary_ms(timed(fn, repeats))
        emit(
            bench="recs_latency",
            case=name,
            ratings=RATINGS,
            candidates=CANDIDATES,
            background=BACKGROUND,
            **result,
            p50_vs_centroid=round(result["p50_ms"] / max(base["p50_ms"], 1e-9), 1),
            p95_vs_centroid=round(result["p95_ms"] / max(base["p95_ms"], 1e-9), 1),
            target_p95_ms=20.0 if name in TARGETED else None,
            ok=result["p95_ms"] < 20.0 if name in TARGETED else None,
        )


if __name__ == "__main__":
    main()
