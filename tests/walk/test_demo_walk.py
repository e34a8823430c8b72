"""A walk on the embedded demo model: colour moves in order, revisits come from the cache."""

from __future__ import annotations

import numpy as np
import pytest

from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.demo.model import weights_present
from lib_couple.hosts.walk_standalone import WalkSettings, demo_explorer, render_frame, render_walk
from lib_couple.walk.easing import frame_schedule
from lib_couple.walk.explorer import Keyframe
from lib_couple.walk.frame_cache import FrameCache
from tests.walk.colour_walk import assert_colour_moves

pytestmark = pytest.mark.skipif(
    not weights_present(), reason="the demo weights are not in lib_couple/demo/weights"
)

KEYFRAMES = [
    Keyframe("a red circle on a black background", 3),
    Keyframe("a blue circle on a black background", 3),
]
SETTINGS = WalkSettings(width=128, height=128, steps=12)


@pytest.fixture(scope="module")
def model() -> DemoComponents:
    return load_demo_pipeline()


def test_red_to_blue_walk_moves_the_colour_in_order(model: DemoComponents) -> None:
    explorer = demo_explorer(model, KEYFRAMES)
    frames = render_walk(model, explorer, frame_schedule(2, 4), SETTINGS, FrameCache())
    arrays = [np.asarray(frame, dtype=np.float32) / 255.0 for frame in frames]
    assert_colour_moves(arrays, "red", "blue")


def test_undo_and_redo_show_cached_frames_without_sampling(model: DemoComponents) -> None:
    explorer = demo_explorer(model, KEYFRAMES)
    cache = FrameCache()
    first = render_frame(model, explorer, explorer.position, SETTINGS, cache)
    explorer.step(1, 0.5)
    render_frame(model, explorer, explorer.position, SETTINGS, cache)
    assert explorer.undo()
    again = render_frame(model, explorer, explorer.position, SETTINGS, cache)
    assert explorer.redo()
    render_frame(model, explorer, explorer.position, SETTINGS, cache)
    assert (cache.misses, cache.hits) == (2, 2)
    assert again.tobytes() == first.tobytes()
