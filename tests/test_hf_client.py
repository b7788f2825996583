"""The real ``huggingface_hub`` client against a real Paperboy server holding real papers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import PaperInfo

from conftest import LiveServer
from demo import demo_record, rows_between
from paperboy.models import Record, clean_abstract, clean_title
from paperboy.store import SQLStore

pytestmark = pytest.mark.slow

FIRST_DAY, LAST_DAY = "2026-07-29", "2026-08-04"  # W31: Jul 29-31, W32: Aug 3-4


def window_rows() -> list[dict[str, Any]]:
    return rows_between(FIRST_DAY, LAST_DAY)


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def to_record(row: dict[str, Any]) -> Record:
    return demo_record(row)


@pytest.fixture
def rows(store: SQLStore) -> list[dict[str, Any]]:
    loaded = window_rows()
    store.upsert([to_record(row) for row in loaded])
    return loaded


@pytest.fixture
def api(
    rows: list[dict[str, Any]], live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HfApi]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # Both are read when huggingface_hub is imported; make the running process agree.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    yield HfApi(endpoint=live_server.url, token=False)


def by_upvotes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["upvotes"], r["daily_date"], r["id"]), reverse=True)


def between(rows: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    return [r for r in rows if first <= r["daily_date"] <= last]


def assert_matches(info: PaperInfo, row: dict[str, Any]) -> None:
    assert info.id == row["id"]
    assert info.title == clean_title(row["title"])
    assert info.summary == clean_abstract(row["abstract"])
    assert info.authors is not None
    assert [author.name for author in info.authors] == row["authors"]
    assert all(author.hidden is False for author in info.authors)
    assert info.published_at == utc(row["published_at"])
    assert info.submitted_at == datetime.fromisoformat(row["daily_date"]).replace(tzinfo=UTC)
    # The client reads upvotes as ``paper.upvotes or upvotes``: 0 comes back as None.
    assert (info.upvotes or 0) == row["upvotes"]
    assert info.comments == row["num_comments"]
    assert info.github_repo == row["github_repo"]
    assert info.github_stars == row["github_stars"]
    assert info.project_page == row["project_page"]
    assert info.discussion_id


def check_page(infos: list[PaperInfo], expected: list[dict[str, Any]]) -> None:
    assert [info.id for info in infos] == [row["id"] for row in expected]
    for info, row in zip(infos, expected, strict=True):
        assert_matches(info, row)


def test_list_daily_papers_by_date(api: HfApi, rows: list[dict[str, Any]]) -> None:
    day = "2026-07-31"
    infos = list(api.list_daily_papers(date=day, token=False))
    expected = by_upvotes(between(rows, day, day))
    assert len(expected) == 34
    check_page(infos, expected)
    assert any(info.github_repo for info in infos) and any(info.project_page for info in infos)


def test_list_daily_papers_latest_day(api: HfApi, rows: list[dict[str, Any]]) -> None:
    infos = list(api.list_daily_papers(token=False))
    check_page(infos, by_upvotes(between(rows, LAST_DAY, LAST_DAY)))


def test_list_daily_papers_by_week(api: HfApi, rows: list[dict[str, Any]]) -> None:
    infos = list(api.list_daily_papers(week="2026-W32", token=False))
    check_page(infos, by_upvotes(between(rows, "2026-08-03", "2026-08-09")))


def test_list_daily_papers_by_month_paged(api: HfApi, rows: list[dict[str, Any]]) -> None:
    expected = by_upvotes(between(rows, "2026-07-01", "2026-07-31"))
    pages = [
        list(api.list_daily_papers(month="2026-07", limit=25, p=p, token=False))
        for p in (0, 1, 2, 3)
    ]
    assert [len(page) for page in pages] == [25, 25, 20, 0]
    check_page(pages[0] + pages[1] + pages[2], expected)


def by_trending(rows: list[dict[str, Any]], end: datetime) -> list[dict[str, Any]]:
    """paperboy.rank.trending's order at ``end`` (naive UTC): upvotes / (hours since the feed
    day + 2)^1.8, then upvotes, newer feed day, id."""

    def key(r: dict[str, Any]) -> tuple[float, int, int, str]:
        day = datetime.fromisoformat(r["daily_date"])
        hours = (end - day).total_seconds() / 3600
        return (-r["upvotes"] / (hours + 2) ** 1.8, -r["upvotes"], -day.toordinal(), r["id"])

    return sorted(rows, key=key)


def test_list_daily_papers_trending(api: HfApi, rows: list[dict[str, Any]]) -> None:
    infos = list(api.list_daily_papers(sort="trending", week="2026-W31", token=False))
    week = between(rows, "2026-07-27", "2026-08-02")
    check_page(infos, by_trending(week, datetime(2026, 8, 3))[:50])
    latest = list(api.list_daily_papers(sort="trending", token=False))
    check_page(latest, by_trending(between(rows, LAST_DAY, LAST_DAY), datetime(2026, 8, 5)))


def test_list_daily_papers_published_at(api: HfApi, rows: list[dict[str, Any]]) -> None:
    infos = list(api.list_daily_papers(sort="publishedAt", week="2026-W31", limit=100))
    submitted = [info.submitted_at for info in infos]
    assert len(infos) == 70
    assert submitted == sorted(submitted, reverse=True)  # type: ignore[type-var]


def test_paper_info(api: HfApi, rows: list[dict[str, Any]]) -> None:
    with_links = [r for r in rows if r["github_repo"] and r["project_page"] and r["upvotes"]]
    for row in (with_links[0], rows[0], rows[-1]):
        assert_matches(api.paper_info(row["id"]), row)
    versioned = api.paper_info(f"{with_links[0]['id']}v2")
    assert versioned.id == with_links[0]["id"]


def test_paper_info_unknown_is_http_404(api: HfApi, rows: list[dict[str, Any]]) -> None:
    with pytest.raises(HfHubHTTPError) as caught:
        api.paper_info("2401.99999")
    assert caught.value.response is not None
    assert caught.value.response.status_code == 404


def test_bad_parameter_is_http_400(api: HfApi, rows: list[dict[str, Any]]) -> None:
    with pytest.raises(HfHubHTTPError) as caught:
        list(api.list_daily_papers(limit=1000, token=False))
    assert caught.value.response is not None
    assert caught.value.response.status_code == 400
