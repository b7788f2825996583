"""Personal "for you" ranking on real reading histories (../shared/eval/recs, see its README).

Every event (a user's earlier papers, one week of the feed, the user's own papers of that week)
is ranked by ``paperboy.rank.personal.rank`` (the product's code) and by the baselines,
recomputed in the same run: popularity, centroid (MiniLM cosine to the mean profile vector),
zotero-arxiv-daily's weighting, shared author names (ties by centroid), and arxiv-sanity's
tf-idf LinearSVC with and without author names (scikit-learn, baseline only).

Each ranker is reported as is and with author names withheld: ``personal-text`` ranks papers
stripped of authors with the author signal off, against the content-only baselines. Per
protocol and their mean: nDCG@10 with a 95% bootstrap interval over users, MRR, recall@10;
then the paired difference of ours and the best allowed baseline, with its interval.
MiniLM vectors of all papers are cached under var/cache/eval (embedding them takes minutes).

    .venv/bin/python bench/eval_recs.py [--quick] [--variants] [--resamples 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, shared_file  # noqa: E402
from paperboy.embed.text import paper_text  # noqa: E402
from paperboy.rank import personal_score  # noqa: E402
from paperboy.rank.personal import (  # noqa: E402
    MAX_BACKGROUND,
    Idf,
    Profile,
    RankedPaper,
    Signals,
    author_key,
    rank,
)

sys.path.insert(0, str(shared_file("eval/recs/score.py").parent))
from score import METRICS, aggregate, per_user, score_ranking  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
PAPERS = "data/hf-daily-papers/hf_daily_papers.jsonl.gz"
EVENTS = "eval/recs/events.jsonl"


@dataclass(frozen=True, slots=True)
class PaperRow:
    """What the benchmarks read of one paper record (never submitted_by nor hf_author_users)."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    daily_date: str
    upvotes: int


def load_papers() -> list[PaperRow]:
    """The demo data set's paper records, in file order."""
    out: list[PaperRow] = []
    with gzip.open(shared_file(PAPERS), "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            raw = json.loads(line)
            out.append(
                PaperRow(
                    id=str(raw["id"]),
                    title=raw.get("title") or "",
                    abstract=raw.get("abstract") or "",
                    authors=tuple(str(a) for a in raw.get("authors") or ()),
                    daily_date=str(raw.get("daily_date") or ""),
                    upvotes=int(raw.get("upvotes") or 0),
                )
            )
    return out


def paper_vectors(papers: list[PaperRow]) -> np.ndarray:
    """MiniLM unit vectors of every paper (rows in ``papers`` order), cached under var/cache."""
    texts = [paper_text(p.title, p.abstract) for p in papers]
    key = "\x1e".join([MODEL, *(f"{p.id}\x1f{t}" for p, t in zip(papers, texts, strict=True))])
    digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    cache = ROOT / "var" / "cache" / "eval" / f"recs-{MODEL}-{digest}.npy"
    if cache.exists():
        return np.load(cache)
    from paperboy.embed.model import load_embedder

    encoder = load_embedder()
    started = time.perf_counter()
    matrix = encoder.encode(texts, batch_size=32)
    elapsed = time.perf_counter() - started
    emit(bench="eval_recs", stage="embed_papers", docs=len(texts), seconds=round(elapsed, 1))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, matrix.astype(np.float32))
    return matrix


def load_events(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tie_key(paper_id: str) -> int:
    """Baselines break ties by a hash of the paper id, as the README's numbers do."""
    return int.from_bytes(hashlib.blake2b(paper_id.encode(), digest_size=8).digest(), "big")


def order_by(candidates: list[str], scores: Sequence[float]) -> list[str]:
    keyed = sorted(zip(candidates, scores, strict=True), key=lambda t: (-t[1], tie_key(t[0])))
    return [pid for pid, _ in keyed]


class Data:
    """Papers, vectors, events and the per-event context every ranker reads."""

    def __init__(self, events_path: Path) -> None:
        self.papers = load_papers()
        self.index = {p.id: i for i, p in enumerate(self.papers)}
        self.vectors = paper_vectors(self.papers)
        self.events = load_events(events_path)
        self.texts = [paper_text(p.title, p.abstract) for p in self.papers]
        self.dates = np.array([p.daily_date for p in self.papers])
        self.by_date = np.argsort(self.dates, kind="stable")
        self.sorted_dates = self.dates[self.by_date]

    def rows(self, ids: Sequence[str]) -> list[int]:
        return [self.index[i] for i in ids]

    def before(self, as_of: str) -> np.ndarray:
        """Rows of the papers that entered the feed before ``as_of``, oldest first."""
        return self.by_date[: int(np.searchsorted(self.sorted_dates, as_of, "left"))]


Ranker = Callable[[dict], list[str]]


def popularity(data: Data) -> Ranker:
    def run(e: dict) -> list[str]:
        return order_by(
            e["candidates"], [data.papers[i].upvotes for i in data.rows(e["candidates"])]
        )

    return run


def centroid_scores(data: Data, e: dict) -> np.ndarray:
    profile = data.vectors[data.rows(e["profile"])].mean(axis=0)
    return data.vectors[data.rows(e["candidates"])] @ profile


def centroid(data: Data) -> Ranker:
    return lambda e: order_by(e["candidates"], centroid_scores(data, e).tolist())


def zotero(data: Data) -> Ranker:
    """zotero-arxiv-daily: newest profile paper first, weights 1 / (1 + log10(i + 1))."""

    def run(e: dict) -> list[str]:
        newest_first = data.rows(e["profile"])[::-1]
        w = 1.0 / (1.0 + np.log10(np.arange(len(newest_first)) + 1.0))
        sims = data.vectors[data.rows(e["candidates"])] @ data.vectors[newest_first].T
        return order_by(e["candidates"], (sims @ (w / w.sum())).tolist())

    return run


def shared_authors(data: Data) -> Ranker:
    """How many of the candidate's (folded) author names are among the profile's; ties by the
    centroid cosine."""

    def run(e: dict) -> list[str]:
        known = {author_key(a) for i in data.rows(e["profile"]) for a in data.papers[i].authors}
        known.discard("")
        counts = [
            len({author_key(a) for a in data.papers[i].authors} & known)
            for i in data.rows(e["candidates"])
        ]
        cos = centroid_scores(data, e)
        scores = np.asarray(counts, dtype=np.float64) + 0.25 * (1.0 + cos)
        return order_by(e["candidates"], scores.tolist())

    return run


def svm_tfidf(data: Data, with_authors: bool) -> Ranker:
    """arxiv-sanity-lite: tf-idf (1-2 grams, 20,000 features, sublinear, max_df 0.1, min_df 5,
    English stop words; fit on all papers), LinearSVC (balanced, C 0.01) per event: the profile
    against every other paper that entered the feed before ``as_of``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    docs = [
        f"{p.title} {p.abstract}" + (" " + " ".join(p.authors) if with_authors else "")
        for p in data.papers
    ]
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        max_features=20000,
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
        stop_words="english",
    )
    matrix = vectorizer.fit_transform(docs).tocsr()

    def run(e: dict) -> list[str]:
        profile = set(data.rows(e["profile"]))
        rows = [int(i) for i in data.before(e["as_of"]) if int(i) not in profile]
        x = matrix[sorted(profile) + rows]
        y = np.r_[np.ones(len(profile)), np.zeros(len(rows))]
        clf = LinearSVC(class_weight="balanced", C=0.01, max_iter=5000, tol=1e-6)
        clf.fit(x, y)
        return order_by(e["candidates"], clf.decision_function(matrix[data.rows(e["candidates"])]))

    return run


class Personal:
    """``paperboy.rank.personal.rank`` over the events: the product's own ranking code, with an
    idf fitted on every paper's title and abstract and the newest ``MAX_BACKGROUND`` papers
    before ``as_of`` as background."""

    def __init__(self, data: Data) -> None:
        self.data = data
        self.idf = Idf.fit(data.texts)
        self.full = [self._paper(i, True) for i in range(len(data.papers))]
        self.bare = [self._paper(i, False) for i in range(len(data.papers))]

    def _paper(self, i: int, authors: bool) -> RankedPaper:
        p = self.data.papers[i]
        return RankedPaper(
            paper_id=p.id,
            title=p.title,
            abstract=p.abstract,
            authors=p.authors if authors else (),
            vector=self.data.vectors[i],
            upvotes=p.upvotes,
        )

    def ranker(self, with_authors: bool, popularity: bool = False) -> Ranker:
        papers = self.full if with_authors else self.bare
        signals = Signals(authors=with_authors, categories=with_authors, popularity=popularity)

        def run(e: dict) -> list[str]:
            profile_rows = self.data.rows(e["profile"])
            skip = set(profile_rows)
            recent = [int(i) for i in self.data.before(e["as_of"])[::-1] if int(i) not in skip]
            profile = Profile(positives=[papers[i] for i in profile_rows], signals=signals)
            out = rank(
                profile,
                [papers[i] for i in self.data.rows(e["candidates"])],
                idf=self.idf,
                background=[papers[i] for i in recent[:MAX_BACKGROUND]],
            )
            return [r.paper_id for r in out]

        return run


class Scored:
    """One ranker's per-user metrics on every event, by protocol."""

    def __init__(self, name: str, authors: bool, data: Data, ranker: Ranker) -> None:
        self.name, self.authors = name, authors
        started = time.perf_counter()
        per_event = {e["event"]: score_ranking(ranker(e), e["relevant"]) for e in data.events}
        self.seconds = time.perf_counter() - started
        self.summary = aggregate(data.events, per_event)
        users = per_user(data.events, per_event)
        self.protocols = sorted(users, reverse=True)
        self.users = {p: sorted(users[p]) for p in self.protocols}
        self.values = {
            p: {m: np.array([users[p][u][m] for u in self.users[p]]) for m in METRICS}
            for p in self.protocols
        }


class Bootstrap:
    """Resamples of users per protocol (the same ones for every ranker: paired intervals)."""

    def __init__(self, scored: Scored, resamples: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.draws = {
            p: rng.integers(0, len(scored.users[p]), size=(resamples, len(scored.users[p])))
            for p in scored.protocols
        }

    def means(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Protocol (and "mean") -> the resampled means of per-user ``values``."""
        out = {p: values[p][d].mean(axis=1) for p, d in self.draws.items()}
        out["mean"] = np.mean([out[p] for p in self.draws], axis=0)
        return out


def interval(samples: np.ndarray) -> list[float]:
    return [
        round(float(np.percentile(samples, 2.5)), 4),
        round(float(np.percentile(samples, 97.5)), 4),
    ]


def report(scored: Scored, boot: Bootstrap) -> None:
    ndcg = boot.means({p: scored.values[p]["ndcg@10"] for p in scored.protocols})
    for proto, row in scored.summary.items():
        emit(
            bench="eval_recs",
            ranker=scored.name,
            authors=scored.authors,
            protocol=proto,
            users=row["users"],
            events=row["events"],
            ndcg_at_10=round(row["ndcg@10"], 4),
            ndcg_ci95=interval(ndcg[proto]),
            mrr=round(row["mrr"], 4),
            recall_at_10=round(row["recall@10"], 4),
            seconds=round(scored.seconds, 1),
        )


def paired(ours: Scored, other: Scored, boot: Bootstrap) -> None:
    diff = {p: ours.values[p]["ndcg@10"] - other.values[p]["ndcg@10"] for p in ours.protocols}
    samples = boot.means(diff)
    for proto in (*ours.protocols, "mean"):
        emit(
            bench="eval_recs",
            paired=f"{ours.name} - {other.name}",
            authors=ours.authors,
            protocol=proto,
            ndcg_at_10_diff=round(
                ours.summary[proto]["ndcg@10"] - other.summary[proto]["ndcg@10"], 4
            ),
            ci95=interval(samples[proto]),
        )


VARIANTS: dict[str, dict[str, float]] = {
    "text-only": {"W_VECTOR": 0.0},
    "vector-only": {"W_TEXT": 0.0, "W_VECTOR": 1.0},
    "idf-power-1": {"IDF_POWER": 1.0},
}


def variant_rows(personal: Personal, data: Data, boot: Bootstrap) -> None:
    """Ablations of the chosen model (the same code, one constant changed), both protocols."""
    for name, change in VARIANTS.items():
        saved = {k: getattr(personal_score, k) for k in change}
        for k, v in change.items():
            setattr(personal_score, k, v)
        personal_score._cached_vector.cache_clear()
        try:
            for with_authors in (True, False):
                label = f"personal[{name}]" + ("" if with_authors else "-text")
                report(Scored(label, with_authors, data, personal.ranker(with_authors)), boot)
        finally:
            for k, v in saved.items():
                setattr(personal_score, k, v)
            personal_score._cached_vector.cache_clear()
    for with_authors in (True, False):
        label = "personal[popularity]" + ("" if with_authors else "-text")
        ranker = personal.ranker(with_authors, popularity=True)
        report(Scored(label, with_authors, data, ranker), boot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=Path, default=None, help="events.jsonl (default: shared)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="skip the SVM baselines (minutes)")
    parser.add_argument("--variants", action="store_true", help="also score ablations")
    args = parser.parse_args()
    data = Data(args.events or shared_file(EVENTS))
    personal = Personal(data)
    rows: list[tuple[str, bool, Ranker]] = [
        ("personal", True, personal.ranker(True)),
        ("personal-text", False, personal.ranker(False)),
        ("popularity", False, popularity(data)),
        ("centroid", False, centroid(data)),
        ("zotero", False, zotero(data)),
        ("authors", True, shared_authors(data)),
    ]
    if not args.quick:
        rows += [
            ("svm-tfidf", True, svm_tfidf(data, with_authors=True)),
            ("svm-tfidf-text", False, svm_tfidf(data, with_authors=False)),
        ]
    scored = [Scored(name, authors, data, ranker) for name, authors, ranker in rows]
    boot = Bootstrap(scored[0], args.resamples, args.seed)
    for s in scored:
        report(s, boot)
    for ours in scored[:2]:
        # Baselines allowed to read what ours reads: with authors, every baseline; without, the
        # content-only ones.
        rivals = [s for s in scored[2:] if ours.authors or not s.authors]
        best = max(rivals, key=lambda s: s.summary["mean"]["ndcg@10"])
        paired(ours, best, boot)
    if args.variants:
        variant_rows(personal, data, boot)


if __name__ == "__main__":
    main()
