"""Docs are checked: every setting is documented, the README shows the two commands."""

from __future__ import annotations

from pathlib import Path

from paperboy.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name in Settings.model_fields if f"PAPERBOY_{name.upper()}" not in text]
    assert not missing, f"document these settings in docs/settings.md: {missing}"


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make run" in text and "make test" in text
    assert "PERF_PLACEHOLDER" not in text, "fill in the Performance section"
