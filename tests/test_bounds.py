"""Out-of-range input at the edge: every integer, date and body that once gave a 500 (or killed
the process) now gets a clear 4xx, and no engine ever sees an unbounded size."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from community import form, log_in, make_user
from demo import demo_record, rows_between
from paperboy.community.models import User
from paperboy.errors import InvalidPeriod
from paperboy.feed import parse_date, parse_month, parse_period, parse_week, period_of
from paperboy.rank.service import TrendingService
from paperboy.search.limits import MAX_RESULTS
from paperboy.search.query import parse_query
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from paperboy.web.bodies import MAX_BODY_BYTES, MAX_JSON_DEPTH, nesting_depth

BIG = 2**63  # one past the largest signed 64-bit integer: SQLite's OverflowError
PG_BIG = 2**31  # one past PostgreSQL's INTEGER, the type of every id column
HUGE = 10**30  # past every machine integer: tantivy's OverflowError
FIRST_DAY = "2025-03-03"


@pytest.fixture
def loaded(store: SQLStore) -> list[str]:
    rows = rows_between(FIRST_DAY, "2025-03-07")
    store.upsert([demo_record(row) for row in rows])
    return [row["id"] for row in rows]


@pytest.fixture
def bearer(store: SQLStore, alice: User) -> dict[str, str]:
    _, secret = store.accounts.create_api_token(alice.id, "bounds", ("read", "write"))
    return {"Authorization": f"Bearer {secret}"}


def _is_friendly_page(response: object, status: int) -> bool:
    text = getattr(response, "text", "")
    return (
        getattr(response, "status_code", None) == status
        and getattr(response, "headers", {}).get("content-type", "").startswith("text/html")
        and 'href="/"' in text
        and "Traceback" not in text
    )


# -- the crash: a page number that became tantivy's top-k size ------------------------------


def test_a_huge_search_page_is_refused_at_the_edge(client: TestClient, loaded: list[str]) -> None:
    for p in (2**31, BIG, HUGE):
        answer = client.get("/api/papers/search", params={"q": "model", "p": p})
        assert answer.status_code == 400, answer.text
        assert answer.json()["parameter"] == "p"
    assert client.get("/api/papers/search", params={"q": "model", "limit": 121}).status_code == 400
    widest = client.get("/api/papers/search", params={"q": "model", "limit": 120})
    assert widest.status_code == 200 and len(widest.json()) <= 120
    # The last page the API offers lies past the result window: empty, not an error.
    last = client.get("/api/papers/search", params={"q": "model", "p": 9999, "limit": 120})
    assert last.status_code == 200 and last.json() == []
    assert client.get("/search", params={"q": "model", "page": HUGE}).status_code == 400


def test_search_service_never_asks_an_engine_past_the_result_window(
    client: TestClient, loaded: list[str]
) -> None:
    service = client.app.state.search  # type: ignore[attr-defined]
    deep = service.search("model", page=2**31, per_page=100)
    assert deep.hits == [] and any("stop at" in note for note in deep.notes)
    near = service.search("model", page=MAX_RESULTS // 100, per_page=100)  # the last in window
    assert near.hits == []  # a few dozen demo papers: long past the end
    keyword = service.index.keyword
    for limit in (2**40, BIG, HUGE):
        assert {hit.paper_id for hit in keyword.search_parsed(parse_query("model"), limit)} <= set(
            loaded
        )
        assert len(keyword.search("model", limit)) <= MAX_RESULTS


@pytest.mark.sqlite_only
def test_a_huge_limit_does_not_abort_the_process_in_tantivy(tmp_path: Path) -> None:
    """Before the bound, ``limit=2**40`` made tantivy allocate terabytes and abort (no
    exception: the process died), so this runs in a child process and checks it lives."""
    script = textwrap.dedent(
        f"""
        from paperboy.search.keyword import IndexDoc, KeywordIndex
        from paperboy.search.vectors import VectorIndex
        import numpy as np
        index = KeywordIndex.create({str(tmp_path / "kw")!r})
        index.add([IndexDoc("2401.00001", "Language models", "about models")])
        index.commit()
        for limit in (2**31, 2**40, 2**63, 10**30):
            assert [h.paper_id for h in index.search("models", limit)] == ["2401.00001"]
        vectors = VectorIndex(4)
        vectors.upsert(["a", "b"], np.eye(2, 4, dtype=np.float32))
        for k in (2**40, 10**30):
            assert len(vectors.search(np.ones(4), k)) == 2
            assert len(vectors.search_within(np.ones(4), ["a"], k)) == 1
        print("alive")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alive"


@pytest.mark.postgres_only
def test_postgres_search_bounds_every_limit(client: TestClient, loaded: list[str]) -> None:
    index = client.app.state.search.index  # type: ignore[attr-defined]
    for limit in (BIG, HUGE):
        assert len(index.keyword.search("model", limit)) <= MAX_RESULTS
        assert index.vectors.search_within([0.0] * 384, loaded[:3], limit) == []
    # until:9999 ends on date.max: no "day after" to bind (OverflowError before).
    assert isinstance(index.keyword.search("model until:9999", 10), list)


# -- integers past 64 bits in pages and path ids ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        (f"/api/daily_papers?p={BIG}", "p"),
        (f"/api/daily_papers?limit={BIG}", "limit"),
        (f"/api/papers/trending?p={BIG}", "p"),
        (f"/api/collections/{BIG}", "collection_id"),
        (f"/api/collections/{PG_BIG}", "collection_id"),
        (f"/api/papers/2503.08588/similar?limit={BIG}", "limit"),
    ],
)
def test_api_integers_past_64_bits_are_400_naming_the_parameter(
    client: TestClient, loaded: list[str], path: str, parameter: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/?page={BIG}", 400),
        (f"/papers?date={FIRST_DAY}&page={BIG}", 400),
        (f"/papers/trending?page={BIG}", 400),
        (f"/collections/{BIG}", 404),
        (f"/collections/{PG_BIG}", 404),
        (f"/collections/{PG_BIG}.bib", 404),
        (f"/collections/{BIG}.bib", 404),
        (f"/collections/{BIG}/feed.rss", 404),
        (f"/collections/1?page={BIG}", 400),
    ],
)
def test_pages_with_integers_past_64_bits_get_the_friendly_error_page(
    client: TestClient, loaded: list[str], path: str, status: int
) -> None:
    assert _is_friendly_page(client.get(path), status)


@pytest.mark.parametrize("big", [PG_BIG, BIG], ids=["past-32-bits", "past-64-bits"])
def test_posts_naming_ids_past_the_id_columns_are_not_found(
    client: TestClient, store: SQLStore, alice: User, big: int
) -> None:
    BIG = big  # noqa: N806  (the value under test, as in the paths below)
    admin = make_user(store, "root", admin=True)
    log_in(client, store, alice)
    edit = client.post(f"/comments/{BIG}/edit", data=form(client, body="hello"))
    assert _is_friendly_page(edit, 404)
    revoke = client.post(f"/settings/tokens/{BIG}/revoke", data=form(client))
    assert _is_friendly_page(revoke, 404)
    saved = client.post(
        "/collections/save", data=form(client, paper_id="2503.08588", collection_id=str(BIG))
    )
    assert saved.status_code in (400, 404) and "Traceback" not in saved.text
    log_in(client, store, admin)
    hide = client.post(f"/admin/users/{BIG}/hide", data=form(client))
    assert _is_friendly_page(hide, 404)


def test_api_deletes_naming_ids_past_the_id_columns_are_400(
    client: TestClient, bearer: dict[str, str]
) -> None:
    for big in (PG_BIG, BIG):
        answer = client.delete(f"/api/alerts/{big}", headers=bearer)
        assert answer.status_code == 400 and answer.json()["parameter"] == "alert_id"


# -- NUL: no text here may hold one (PostgreSQL cannot store it) -----------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [("/users/a%00b/collections", 400), ("/search?q=a%00b", 400), ("/papers/2503%0008588", 400)],
)
def test_a_nul_in_a_page_url_gets_the_friendly_error_page(
    client: TestClient, path: str, status: int
) -> None:
    assert _is_friendly_page(client.get(path), status)


def test_a_nul_anywhere_in_an_api_request_is_400_naming_where(
    client: TestClient, bearer: dict[str, str]
) -> None:
    bearer = {**bearer, "Content-Type": "application/json"}
    search = client.get("/api/papers/search", params={"q": "a\x00b"})
    assert search.status_code == 400 and search.json()["parameter"] == "q"
    escaped = client.post(
        "/api/papers/2503.08588/comments", content='{"body": "a\\u0000b"}', headers=bearer
    )
    assert escaped.status_code == 400 and escaped.json()["parameter"] == "body"
    # A backslash written out before "u0000" is text, not a NUL: it reaches the route (which
    # has no such paper: the store is empty).
    literal = client.post(
        "/api/papers/2503.08588/comments", content='{"body": "a\\\\u0000b"}', headers=bearer
    )
    assert literal.status_code == 404, literal.text


def test_a_nul_in_a_form_field_is_400_naming_the_field(
    client: TestClient, store: SQLStore, alice: User
) -> None:
    login = client.post("/login", data=form(client, login="a\x00b", password="x"))
    assert _is_friendly_page(login, 400)
    log_in(client, store, alice)
    made = client.post("/collections", data=form(client, name="a\x00b"))
    assert _is_friendly_page(made, 400)
    api = client.post(
        "/collections", data=form(client, name="a\x00b"), headers={"Accept": "application/json"}
    )
    assert api.status_code == 400


# -- the calendar's edges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("month=9999-12", "month"),
        ("week=9999-W52", "week"),
        ("date=9999-12-31", "date"),
        ("date=0001-01-01", "date"),
        ("month=0001-01", "month"),
        ("week=0001-W01", "week"),
    ],
)
def test_periods_at_the_calendars_edges_are_400(
    client: TestClient, loaded: list[str], query: str, parameter: str
) -> None:
    assert _is_friendly_page(client.get(f"/papers?{query}"), 400)
    answer = client.get(f"/api/daily_papers?{query}")
    assert answer.status_code == 400 and answer.json()["parameter"] == parameter
    trending = client.get(f"/api/daily_papers?{query}&sort=trending")
    assert trending.status_code == 400 and trending.json()["parameter"] == parameter
    feed = client.get(f"/feeds/daily.rss?{query}") if parameter == "date" else None
    assert feed is None or _is_friendly_page(feed, 400)


def test_the_period_parsers_raise_invalid_period_not_overflow_error() -> None:
    for parse, value in (
        (parse_date, "9999-12-31"),
        (parse_week, "9999-W52"),
        (parse_month, "9999-12"),
        (parse_date, "0001-01-01"),
    ):
        with pytest.raises(InvalidPeriod):
            parse(value)
    with pytest.raises(InvalidPeriod) as caught:
        period_of("week", date.max)
    assert caught.value.parameter == "week"
    with pytest.raises(InvalidPeriod):
        period_of("month", date.max)
    assert parse_period("2200-12-31") is not None and parse_period(None, "1900-W01") is not None


def test_trending_order_of_the_calendars_last_days_measures_at_the_reference_time(
    store: SQLStore, loaded: list[str]
) -> None:
    service = TrendingService(store.engine)
    scored, now = service.feed_order(date.max - timedelta(days=6), date.max)
    assert scored == [] and now == service.now()


# -- bodies: nesting and size, for every kind of request ------------------------------------


def test_a_100000_deep_json_array_is_400_before_any_parser(
    client: TestClient, bearer: dict[str, str]
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for headers in (bearer, {}):
        answer = client.post(
            "/api/papers/submit",
            content=deep,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["parameter"] == "body"
    untyped = client.post("/api/papers/submit", content=deep, headers=bearer)
    assert untyped.status_code == 400 and untyped.json()["parameter"] == "body"
    comment = client.post(
        "/api/papers/2503.08588/comments", content='{"body": ' + deep + "}", headers=bearer
    )
    assert comment.status_code == 400


def test_a_json_number_of_5000_digits_is_400(client: TestClient, bearer: dict[str, str]) -> None:
    answer = client.post(
        "/api/papers/submit", content='{"paperId": ' + "1" * 5000 + "}", headers=bearer
    )
    assert answer.status_code == 400 and answer.json()["parameter"] == "body"


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth(b"") == 0
    assert nesting_depth(b'{"a": [1, {"b": "[[[[[[[["}]}') == 3
    assert nesting_depth(json.dumps({"t": '\\"[[[' * 100}).encode()) == 1
    assert nesting_depth(b"[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
    assert nesting_depth('{"é": ["ü"]}'.encode()) == 2


def test_json_nested_within_the_limit_still_reaches_the_route(
    client: TestClient, bearer: dict[str, str]
) -> None:
    body = {"paperId": "not an id", "x": json.loads("[" * 60 + "]" * 60)}
    answer = client.post("/api/papers/submit", json=body, headers=bearer)
    assert answer.status_code in (400, 404) and answer.json()["parameter"] == "paperId"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer pb_not-a-real-token"}, {"Authorization": "Bearer abc"}],
)
def test_the_body_cap_holds_for_every_request_bearer_or_not(
    client: TestClient, bearer: dict[str, str], headers: dict[str, str]
) -> None:
    big = b'{"paperId": "' + b"1" * (MAX_BODY_BYTES + 10) + b'"}'
    for given in (headers, bearer):
        answer = client.post(
            "/api/papers/submit", content=big, headers={**given, "Content-Type": "application/json"}
        )
        assert answer.status_code == 413, answer.text
        assert answer.json()["parameter"] == "body"
    page = client.post("/submit", content=b"ref=" + b"x" * (MAX_BODY_BYTES + 10), headers=bearer)
    assert _is_friendly_page(page, 413)


def test_a_streamed_body_without_length_is_capped_too(
    client: TestClient, bearer: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * (MAX_BODY_BYTES // 10)

    answer = client.post("/api/papers/submit", content=chunks(), headers=bearer)
    assert answer.status_code == 413


def test_the_push_route_takes_up_to_its_own_configurable_cap(
    settings: Settings, store: SQLStore
) -> None:
    token = "push-token"
    changed = settings.model_copy(
        update={"ingest_token": SecretStr(token), "push_max_bytes": 3 * MAX_BODY_BYTES}
    )
    items = [
        {"id": f"2611.{n:05d}", "title": f"Paper {n}", "summary": "s" * 8_000} for n in range(200)
    ]
    body = json.dumps(items).encode()
    assert MAX_BODY_BYTES < len(body) < 3 * MAX_BODY_BYTES
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with TestClient(create_app(changed, store=store)) as pusher:
        answer = pusher.post("/api/papers/import", content=body, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json()["inserted"] == 200
        over = pusher.post("/api/papers/import", content=body * 2, headers=auth)
        assert over.status_code == 413 and over.json()["parameter"] == "body"
        # The larger cap is the push route's alone.
        other = pusher.post("/api/papers/submit", content=body, headers=auth)
        assert other.status_code == 413


def test_a_recursion_error_anywhere_is_a_400_not_a_500(settings: Settings, store: SQLStore) -> None:
    app = create_app(settings, store=store)

    def recurse() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    app.add_api_route("/api/recurse", recurse)
    app.add_api_route("/recurse", recurse)
    with TestClient(app) as client:
        answer = client.get("/api/recurse")
        assert answer.status_code == 400 and answer.json()["parameter"] == "body"
        assert _is_friendly_page(client.get("/recurse"), 400)
