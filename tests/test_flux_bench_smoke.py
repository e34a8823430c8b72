"""The Flux attention benchmark's smallest preset runs and reports every variant (no timings judged)."""

from __future__ import annotations

import math

import torch

from bench.flux_attention import PRESETS, measure


def test_smoke_preset_reports_every_variant_and_step() -> None:
    result = measure(PRESETS["smoke"], rounds=1, device=torch.device("cpu"), dtype=torch.float32)
    ms = result["ms"]
    assert isinstance(ms, dict)
    assert {name.split()[1] for name in ms} == {"plain", "masked", "grouped", "free", "base"}
    steps = result["steps"]
    assert isinstance(steps, dict)
    assert all(math.isfinite(value) and value > 0 for value in steps.values())
    tokens = result["tokens"]
    assert isinstance(tokens, dict)
    assert tokens["regional"] == tokens["plain"] + 2 * 8
