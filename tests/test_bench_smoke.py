"""The benchmark's quickest mode runs and reports every variant: structure only, no timings judged."""

from __future__ import annotations

import math

from bench.cases import SD15, VARIANTS, Case
from bench.run import MODES, CaseResult, collect, markdown, ratios, unet_mixes


def test_smoke_mode_reports_every_variant_with_finite_ratios() -> None:
    report = collect(MODES["smoke"], memory=False)
    assert len(report.cases) == 2
    for case in report.cases:
        assert set(case.ms) == set(VARIANTS)
        assert all(math.isfinite(value) and value > 0 for value in case.ms.values())
        assert all(math.isfinite(value) and value > 0 for value in case.ratios.values())
    assert report.pool["requests"] > 0
    assert "naive/ours" in markdown(report)


def test_only_keeps_the_cases_whose_name_contains_it() -> None:
    report = collect(MODES["smoke"], memory=False, only="r3")
    assert [case.case.endswith("r3 b1") for case in report.cases] == [True]


def test_a_whole_step_weights_each_level_by_its_blocks_and_needs_every_level() -> None:
    measured = []
    for index, level in enumerate(SD15):
        ms = {name: float(index + 1) * (2.0 if name == "naive" else 1.0) for name in VARIANTS}
        measured.append((Case(level, 3, 1), CaseResult("", ms, ratios(ms), {})))
    [mix] = unet_mixes(measured)
    assert mix.mix == "SD1.5 UNet step r3 b1"
    assert mix.ms["ours"] == sum(level.blocks * (i + 1) for i, level in enumerate(SD15))
    assert mix.ratios["naive/ours"] == 2.0
    assert unet_mixes(measured[:2]) == []  # a level missing: no whole step
