"""The walk-overhead benchmark measures both sides and refuses bad settings (no timing asserted)."""

from __future__ import annotations

import math

import pytest

from bench.walk_overhead import OverheadResult, main, measure
from lib_couple.demo import load_demo_pipeline


def test_measure_times_both_sides_and_reports_their_ratio() -> None:
    result = measure(load_demo_pipeline(), rounds=2, size=64)
    assert result.walk_seconds > 0
    assert result.sample_seconds > 0
    assert math.isclose(result.ratio, result.walk_seconds / result.sample_seconds)
    assert f"{result.ratio:.4f}" in result.table()


def test_ratio_formats_as_a_percentage() -> None:
    assert "(2.50%)" in OverheadResult(0.025, 1.0).table()


@pytest.mark.parametrize("argv", [["--rounds", "0"], ["--threads", "0"]])
def test_bad_settings_exit_with_status_two(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
