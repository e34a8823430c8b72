"""The benchmark's quickest mode runs and reports every variant: structure only, no timings judged."""

from __future__ import annotations

import math

from bench.cases import VARIANTS
from bench.run import MODES, collect, markdown


def test_smoke_mode_reports_every_variant_with_finite_ratios() -> None:
    report = collect(MODES["smoke"], memory=False)
    assert len(report.cases) == 2
    for case in report.cases:
        assert set(case.ms) == set(VARIANTS)
        assert all(math.isfinite(value) and value > 0 for value in case.ms.values())
        assert all(math.isfinite(value) and value > 0 for value in case.ratios.values())
    assert report.pool["requests"] > 0
    assert "naive/ours" in markdown(report)
