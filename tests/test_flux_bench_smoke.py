"""The Flux attention benchmark's smallest preset runs and reports every variant (no timings judged)."""

from __future__ import annotations

import math

import torch

from bench import flux_padding
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


def test_padding_smoke_preset_compares_padded_and_trimmed_lines() -> None:
    preset = flux_padding.PRESETS["smoke"]
    result = flux_padding.measure(preset, rounds=1, device=torch.device("cpu"), dtype=torch.float32)
    tokens = result["tokens"]
    assert isinstance(tokens, dict)
    regions = preset.shape.regions
    assert tokens["padded"] - tokens["plain"] == regions * preset.padded
    assert tokens["trimmed"] - tokens["plain"] == regions * (preset.real + preset.padding)
    steps = result["steps"]
    assert isinstance(steps, dict)
    assert {key.split()[1] for key in steps} == {"padded", "trimmed"}
    assert all(math.isfinite(value) and value > 0 for value in steps.values())
