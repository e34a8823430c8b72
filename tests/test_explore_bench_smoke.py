"""The explorer's benches run in their quickest form on the demo model: structure only, no
timings judged."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from bench.ahead_yield import main as ahead_yield
from bench.explore_latency import main as latency
from bench.walk_smoothness import VARIANTS, delta_e, rgb_rms
from bench.walk_smoothness import main as smoothness
from lib_couple.demo.model import weights_present

needs_weights = pytest.mark.skipif(not weights_present(), reason="the demo weights are not present")


def test_the_distances_are_zero_for_equal_pictures_and_grow_with_the_change() -> None:
    black, grey, white = (Image.new("RGB", (4, 4), (v, v, v)) for v in (0, 128, 255))
    assert delta_e(grey, grey) == rgb_rms(grey, grey) == 0.0
    assert 0 < delta_e(black, grey) < delta_e(black, white)
    assert delta_e(black, white) == pytest.approx(100.0, abs=0.1)  # L* runs 0 to 100
    assert rgb_rms(black, white) == pytest.approx(255.0)


@needs_weights
def test_smoothness_reports_every_variant_and_the_kde_walk_takes_more_frames() -> None:
    results = smoothness(["--size", "32", "--steps", "1", "--step", "0.5"])
    assert len(results) == len(VARIANTS)
    for result in results:
        assert math.isfinite(result.delta_e_mean)
        assert result.delta_e_std >= 0
    fixed, kde = results[0], results[2]  # slerp with and without the KDE step
    assert kde.frames > fixed.frames  # revisited ground is crossed in smaller steps


@needs_weights
def test_latency_measures_a_plain_sample_and_both_kinds_of_move() -> None:
    plain, sampled, ready = latency(["--rounds", "1", "--size", "32", "--steps", "1"])
    assert plain > 0
    assert sampled > 0
    assert ready > 0


@needs_weights
def test_ahead_yield_times_a_generation_alone_and_during_a_pre_render() -> None:
    medians = ahead_yield(["--rounds", "2", "--size", "32", "--steps", "4"])
    assert set(medians) == {"alone", "within", "between", "handover_within", "handover_between"}
    assert all(ms > 0 for ms in medians.values())


def test_ahead_yield_refuses_out_of_range_arguments() -> None:
    with pytest.raises(SystemExit):
        ahead_yield(["--steps", "0"])
