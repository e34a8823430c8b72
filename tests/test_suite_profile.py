"""The suite's hypothesis profile (tests/conftest.py) reaches every test, with or without @settings."""

from __future__ import annotations

from hypothesis import settings


def test_the_suite_profile_has_no_deadline() -> None:
    assert settings.default.deadline is None


def test_a_test_with_its_own_settings_keeps_no_deadline() -> None:
    # What `@settings(max_examples=...)` builds: the loaded profile with one field changed.
    assert settings(max_examples=3).deadline is None
    assert settings(max_examples=3).max_examples == 3
