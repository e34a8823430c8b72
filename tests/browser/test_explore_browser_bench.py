"""The explorer's browser bench (`bench/explore_browser.py`) end to end in its quickest form on
the trained demo model: every kind of move measured, in the page, with the long-task observer
working. Structure only: no time is judged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bench.explore_browser import KINDS, PROBE_MS, main

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_every_kind_is_measured_in_the_page_with_its_longest_task(
    browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    results = main(["--rounds", "1", "--size", "64", "--steps", "1"], browser=browser)
    for kind in KINDS:
        assert len(results.times[kind]) == 1, kind  # the warm-up round is not counted
        assert results.times[kind][0] > 0
        ((start, end),) = results.spans[kind]
        assert end - start == results.times[kind][0]
        ((whole_start, whole_end),) = results.whole[kind]
        assert whole_start == start
        assert whole_end >= end  # the last output comes with or after the frame
        task = results.longest_task(kind)
        assert task is None or task >= 50  # the Long Tasks API reports tasks over 50 ms (whole ms)
        late = results.longest_task(kind, whole=True)
        assert task is None or (late is not None and late >= task)  # the whole span holds the first
        assert 0.0 <= results.busy_share(kind) <= 1.0
        assert (results.busy_share(kind) == 0.0) == (task is None)
    # the observer saw the bench's own busy task, so "none" in the table means none
    assert results.probe_ms >= PROBE_MS - 1  # durations are whole ms
    assert all(duration >= 50 for _, duration in results.long_tasks)
    printed = capsys.readouterr().out
    for kind in KINDS:
        assert f"| {kind} |" in printed
    assert printed.count(": pass") + printed.count(": FAIL") == 3  # the three bounds


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--rounds", "0"), ("--rounds", "31"), ("--size", "60"), ("--size", "100"), ("--steps", "51")],
)
def test_out_of_range_arguments_are_refused_naming_the_flag(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([flag, value])
    assert f"{flag} must be" in capsys.readouterr().err
