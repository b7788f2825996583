"""The daemon's schedule: after arXiv's announcements, Sunday to Thursday, US Eastern."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paperboy.errors import PaperboyError
from paperboy.ingest.schedule import harvest_sets, next_runs
from paperboy.settings import Settings


def test_default_schedule_follows_arxiv_announcements() -> None:
    friday_noon = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    runs = next_runs(Settings(), friday_noon, count=5)
    local = [run.strftime("%a %H:%M %Z") for run in runs]
    assert local == [
        "Sun 20:30 EST",
        "Mon 20:30 EST",
        "Tue 20:30 EST",
        "Wed 20:30 EST",
        "Thu 20:30 EST",
    ]
    assert runs[0].astimezone(UTC) == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)


def test_daylight_saving_time_keeps_local_time() -> None:
    runs = next_runs(Settings(), datetime(2026, 7, 1, tzinfo=UTC), count=1)
    assert runs[0].astimezone(UTC).hour == 0  # 20:30 EDT is 00:30 UTC


def test_bad_schedule_is_a_clear_error() -> None:
    with pytest.raises(PaperboyError, match="not a valid crontab line"):
        next_runs(Settings(harvest_schedule="every day"), datetime(2026, 1, 1, tzinfo=UTC))


def test_sets_are_a_comma_separated_list() -> None:
    assert harvest_sets(Settings(harvest_sets=" cs, stat ,,math")) == ["cs", "stat", "math"]
