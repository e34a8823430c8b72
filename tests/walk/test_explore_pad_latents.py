"""The demo explorer keeps each point's conditioning, noise and cache key: asked again (the status
line, the frame, the render-ahead plan all ask), it gives the same triple without recomputing,
and a point of another walk or settings never gets a kept one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.demo.model import DemoComponents, load_demo_pipeline, write_untrained_weights
from lib_couple.hosts.walk_standalone import KNOWN_POINTS, DemoExplorePad
from lib_couple.walk.frame_cache import FrameCache, frame_key
from lib_couple.walk.pad import PadPoint, PadState, compass_directions
from lib_couple.walk.plan import WalkSettings

DIRECTIONS = compass_directions(["a blue circle", "a red square"])
SETTINGS = WalkSettings(32, 32, 1)
coordinate = st.floats(-2.0, 2.0, allow_nan=False)
points = st.builds(PadPoint, coordinate, coordinate, st.floats(0.0, 1.0, allow_nan=False))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> DemoComponents:
    return load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path_factory.mktemp("weights")))


def counted(pad: DemoExplorePad) -> list[PadPoint]:
    """The points whose conditioning `pad` computes from here on (it still computes them)."""
    calls: list[PadPoint] = []
    conditioning: Callable[..., Any] = pad.space.conditioning

    def counting(state: PadState, point: PadPoint | None = None) -> Any:
        calls.append(state.point if point is None else point)
        return conditioning(state, point)

    pad.space.conditioning = counting  # type: ignore[method-assign]
    return calls


def fresh(model: DemoComponents, state: PadState, point: PadPoint) -> tuple[torch.Tensor, torch.Tensor, str]:
    return DemoExplorePad(model, FrameCache(), state, SETTINGS)._latents(point)


@settings(deadline=None, max_examples=15)
@given(point=points)
def test_a_kept_point_is_exactly_what_a_fresh_pad_computes(model: DemoComponents, point: PadPoint) -> None:
    state = PadState("a red circle", DIRECTIONS, 1, 2)
    pad = DemoExplorePad(model, FrameCache(), state, SETTINGS)
    first = pad._latents(point)
    calls = counted(pad)
    again = pad._latents(point)
    assert calls == []  # kept: nothing mixed, slerped or hashed again
    cond, noise, key = fresh(model, state, point)
    for found in (first, again):
        assert torch.equal(found[0], cond)
        assert torch.equal(found[1], noise)
        assert found[2] == key == frame_key(cond, noise, vars(SETTINGS))


def test_a_point_of_another_walk_is_computed_for_that_walk(model: DemoComponents) -> None:
    pad = DemoExplorePad(model, FrameCache(), PadState("a red circle", DIRECTIONS, 1, 2), SETTINGS)
    point = PadPoint(0.5, 0.25, 0.0)
    kept = pad._latents(point)[2]
    calls = counted(pad)
    for other in (PadState("a green circle", DIRECTIONS, 1, 2), PadState("a red circle", DIRECTIONS, 3, 2)):
        pad.state = other
        assert pad._latents(point)[2] == fresh(model, other, point)[2] != kept
    assert calls == [point, point]


def test_the_kept_points_stay_bounded_and_stay_right(model: DemoComponents) -> None:
    state = PadState("a red circle", DIRECTIONS, 1, 2)
    pad = DemoExplorePad(model, FrameCache(), state, SETTINGS)
    walk = [PadPoint(index / 100, 0.0, 0.0) for index in range(KNOWN_POINTS + 5)]
    for point in walk:
        pad._latents(point)
    assert len(pad._known) <= KNOWN_POINTS
    assert pad._latents(walk[0])[2] == fresh(model, state, walk[0])[2]
