"""The direction mapper's performance flags: off by default, same offsets within precision, and
an eager fallback when torch.compile fails."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.walk_mapper import flux_conditioning
from lib_couple.walk.directions import Anchor, DirectionMapper, MapperFlags


def conditioning(seed: int) -> dict[str, torch.Tensor]:
    return flux_conditioning(seed, tokens=16, width=32, pooled=8)


def mapper(flags: MapperFlags) -> DirectionMapper:
    anchors = [Anchor(conditioning(i), pad) for i, pad in enumerate([(1.0, 0.0), (0.0, 1.0), (-1.0, 0.5)], 1)]
    return DirectionMapper(conditioning(0), anchors, flags=flags)


def test_flags_are_off_by_default() -> None:
    assert mapper(MapperFlags()).flags == MapperFlags(precision="fp32", compile=False)


@settings(max_examples=30)
@given(st.floats(-2, 2), st.floats(-2, 2), st.sampled_from(["bf16", "fp16"]))
def test_lower_precision_offsets_match_fp32_within_its_resolution(
    dx: float, dy: float, precision: Any
) -> None:
    exact = mapper(MapperFlags()).offset((dx, dy))
    low = mapper(MapperFlags(precision=precision)).offset((dx, dy))
    for key, value in exact.items():
        assert low[key].dtype == torch.float32
        # bf16 keeps 8 bits of mantissa (2^-8); the blend of 3 rounded terms and its rounded sum
        # can be off by a few of those: 2^-6 of the offset's size bounds it.
        assert torch.allclose(low[key], value, atol=2**-6 * max(1.0, float(value.abs().max())))


def test_a_failing_compile_falls_back_to_eager_once_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_compile(function: Any, **_: Any) -> Any:
        def run(*args: Any) -> Any:
            raise RuntimeError("no C++ compiler")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    compiled = mapper(MapperFlags(compile=True))
    eager = mapper(MapperFlags())
    with caplog.at_level(logging.WARNING, logger="forge_couple"):
        for move in [(0.5, 0.1), (-0.3, 0.9), (1.0, 1.0)]:
            first, second = compiled.offset(move), eager.offset(move)
            assert all(torch.equal(first[key], second[key]) for key in second)
    warnings = [r for r in caplog.records if "torch.compile of the direction mapper failed" in r.message]
    assert len(warnings) == 1
    assert "guidance" not in compiled.offset((0.5, 0.1))
