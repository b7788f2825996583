"""The stateless recommendations API: ``POST /api/recommendations`` and Semantic Scholar's
``/recommendations/v1`` shape (its real client: tests/test_semantic_scholar_client.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from community import csrf_token, log_in
from paperboy.community.models import User
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app

DAY = date(2026, 5, 20)
TOPICS: dict[str, tuple[str, str]] = {
    "2605.00001": ("Graph neural networks for molecules", "graph neural message passing molecules"),
    "2605.00002": ("Message passing graph networks", "graph neural message passing atoms bonds"),
    "2605.00003": ("Quantum error correction codes", "quantum qubits surface code decoding"),
    "2605.00004": ("Surface codes for qubits", "quantum qubits surface code threshold"),
    "2605.00005": ("Protein folding with transformers", "protein folding structure transformers"),
    "2605.00006": ("Galaxy cluster lensing", "galaxy cluster weak lensing dark matter"),
}


def records() -> list[Record]:
    return [
        Record(
            Paper(
                pid,
                title,
                abstract,
                (f"Author {pid[-1]}",),
                ("cs.LG",),
                published=datetime(2026, 5, 19, 12),
            ),
            FeedEntry(pid, DAY, upvotes=i),
        )
        for i, (pid, (title, abstract)) in enumerate(TOPICS.items())
    ]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, recommend_rate_per_minute=1000)


@pytest.fixture
def client(settings: Settings, store: SQLStore) -> Iterator[TestClient]:
    store.upsert(records())
    with TestClient(create_app(settings, store=store)) as c:
        yield c


def post(client: TestClient, body: Any, **kw: Any) -> Any:
    return client.post("/api/recommendations", json=body, **kw)


def ids(answer: dict[str, Any]) -> list[str]:
    return [p["id"] for p in answer["papers"]]


def test_shape_canonical_ids_and_unknown(client: TestClient) -> None:
    r = post(
        client,
        {"positive": ["arXiv:2605.00001v2", "2605.99999"], "negative": ["2501.12345"], "limit": 3},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unknown"] == ["2605.99999", "2501.12345"]
    assert len(body["papers"]) <= 3
    first = body["papers"][0]
    assert first["id"] == "2605.00002"
    assert first["title"] == "Message passing graph networks"
    assert isinstance(first["score"], float)
    assert all({"kind", "label", "weight", "paper"} <= set(w) for w in first["why"])
    assert "2605.00001" not in ids(body)  # a positive is not recommended back


def test_candidates_given_and_abs_urls(client: TestClient) -> None:
    r = post(
        client,
        {
            "positive": ["https://arxiv.org/abs/2605.00003"],
            "candidates": ["2605.00004", "2605.00006", "2605.00077"],
        },
    )
    assert r.status_code == 200, r.text
    assert ids(r.json())[0] == "2605.00004"
    assert set(ids(r.json())) <= {"2605.00004", "2605.00006"}
    assert r.json()["unknown"] == ["2605.00077"]


def test_dates_window(client: TestClient) -> None:
    body = {"positive": ["2605.00003"], "since": "2026-05-20", "until": "2026-05-20"}
    assert ids(post(client, body).json())[0] == "2605.00004"
    empty = {"positive": ["2605.00003"], "since": "2026-01-01", "until": "2026-01-02"}
    assert post(client, empty).json()["papers"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"positive": "2605.00001"}, "positive"),
        ({"positive": [1, 2]}, "positive"),
        ({"positive": ["x" * 65]}, "positive"),
        ({"positive": ["2605.00001"] * 501}, "positive"),
        ({"positive": ["not an id"]}, "positive"),
        ({"negative": [None]}, "negative"),
        ({"candidates": {"a": 1}}, "candidates"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"since": "2026-13-01"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "1899-12-31"}, "until"),
        ({"until": "2201-01-01"}, "until"),
        ({"since": "2026-01-01", "until": "2026-05-20"}, "since"),
        ({"since": "2026-05-20", "until": "2026-05-01"}, "since"),
        ({"signals": {"authors": "maybe"}}, "signals"),
        ({"signals": [True]}, "signals"),
    ],
)
def test_bad_bodies_name_the_field(client: TestClient, body: Any, field: str) -> None:
    r = post(client, body)
    assert r.status_code == 400, r.text
    assert r.json()["parameter"] == field
    assert r.json()["error"]


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"{", b"\xff\xfe", b"[" * 200 + b"]" * 200])
def test_hostile_bodies(client: TestClient, raw: bytes) -> None:
    r = client.post(
        "/api/recommendations", content=raw, headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (400, 413), r.text
    assert "error" in r.json()


def test_too_large_body(client: TestClient) -> None:
    raw = b'{"positive": ["' + b"1" * (1 << 20) + b'"]}'
    r = client.post(
        "/api/recommendations", content=raw, headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (400, 413)


def test_csrf_needed_with_a_cookie_only(client: TestClient, alice: User, store: SQLStore) -> None:
    body = {"positive": ["2605.00001"]}
    assert post(client, body).status_code == 200  # no cookie, no token
    assert client.post("/recommendations/v1/papers", json={"positivePaperIds": []}).is_success
    headers = log_in(client, store, alice)
    refused = post(client, body)
    assert refused.status_code == 403
    assert "error" in refused.json()
    s2 = client.post("/recommendations/v1/papers", json={"positivePaperIds": ["2605.00001"]})
    assert s2.status_code == 403
    assert s2.headers["content-type"].startswith("application/json")
    assert post(client, body, headers=headers).status_code == 200
    client.cookies.clear()
    client.cookies.set("pb_csrf", "visitor")
    assert post(client, body).status_code == 403
    assert post(client, body, headers={"X-CSRF-Token": csrf_token(client)}).status_code == 200


def test_rate_limit(settings: Settings, store: SQLStore) -> None:
    store.upsert(records())
    small = settings.model_copy(update={"recommend_rate_per_minute": 2})
    with TestClient(create_app(small, store=store)) as c:
        assert post(c, {"positive": []}).status_code == 200
        assert c.get("/recommendations/v1/papers/forpaper/arXiv:2605.00001").status_code == 200
        refused = post(c, {"positive": []})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "error" in refused.json()


def test_hidden_papers_never_returned(client: TestClient, store: SQLStore, admin: User) -> None:
    store.activity.set_paper_hidden(admin.id, "2605.00002", True, "spam")
    body = post(client, {"positive": ["2605.00001"], "candidates": list(TOPICS)}).json()
    assert "2605.00002" not in ids(body)
    assert "2605.00002" in body["unknown"]
    s2 = client.get("/recommendations/v1/papers/forpaper/2605.00001").json()
    assert "arXiv:2605.00002" not in [p["paperId"] for p in s2["recommendedPapers"]]


def test_a_negative_demotes_its_neighbour(client: TestClient) -> None:
    candidates = ["2605.00002", "2605.00004", "2605.00005"]
    base = {"positive": ["2605.00001", "2605.00003"], "candidates": candidates}
    plain = {p["id"]: p["score"] for p in post(client, base).json()["papers"]}
    against = post(client, {**base, "negative": ["2605.00002"]}).json()["papers"]
    demoted = {p["id"]: p["score"] for p in against}
    assert demoted.get("2605.00002", float("-inf")) < plain["2605.00002"]
    assert against[0]["id"] == "2605.00004"


def test_semantic_scholar_shape(client: TestClient) -> None:
    fields = "paperId,title,abstract,authors,year,externalIds,url,publicationDate,citationCount"
    r = client.post(
        f"/recommendations/v1/papers?fields={fields}&limit=2",
        json={"positivePaperIds": ["arXiv:2605.00003"], "negativePaperIds": None},
    )
    assert r.status_code == 200, r.text
    papers = r.json()["recommendedPapers"]
    assert len(papers) <= 2
    first = papers[0]
    assert first["paperId"] == "arXiv:2605.00004"
    assert first["externalIds"] == {"ArXiv": "2605.00004", "DOI": None}
    assert first["authors"] == [{"authorId": None, "name": "Author 4"}]
    assert first["year"] == 2026
    assert first["publicationDate"] == "2026-05-19"
    assert first["url"].endswith("/papers/2605.00004")
    assert "citationCount" not in first  # never invented
    default = client.get("/recommendations/v1/papers/forpaper/2605.00003?from=all-cs").json()
    assert set(default["recommendedPapers"][0]) == {"paperId", "title"}


@pytest.mark.parametrize(
    "url",
    [
        "/recommendations/v1/papers/forpaper/not-an-id",
        "/recommendations/v1/papers/forpaper/2605.00001?limit=501",
        "/recommendations/v1/papers/forpaper/2605.00001?limit=0",
        "/recommendations/v1/papers/forpaper/2605.00001?from=everything",
    ],
)
def test_semantic_scholar_bad_requests(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, r.text
    assert "error" in r.json()


def test_a_bearer_token_gets_four_times_the_rate(
    settings: Settings, store: SQLStore, alice: User
) -> None:
    store.upsert(records())
    _token, secret = store.accounts.create_api_token(alice.id, "script", ("read", "write"))
    bearer = {"Authorization": f"Bearer {secret}"}
    small = settings.model_copy(update={"recommend_rate_per_minute": 1})
    with TestClient(create_app(small, store=store)) as c:
        answers = [post(c, {"positive": ["2605.00001"]}, headers=bearer) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        assert post(c, {"positive": []}).status_code == 200  # the address has its own count
