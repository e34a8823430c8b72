"""The explorer's saved points export as a walk: the path runs through every saved point in
order, the record holds what re-renders it, and the folder is the Latent Walk's."""

from __future__ import annotations

import json
import math
from dataclasses import astuple
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.ui.explore_export import make_export_handler
from lib_couple.ui.explore_pad import ExploreHandler
from lib_couple.walk.pad import PAD_RADIUS, PadPoint, PadState
from lib_couple.walk.pad_walk import pad_walk_positions, point_at
from lib_couple.walk.video import count_frames
from tests.ui.test_explore_pad import DIRECTIONS, SETTINGS, CountingPad

points = st.builds(
    PadPoint,
    st.floats(-PAD_RADIUS, PAD_RADIUS),
    st.floats(-PAD_RADIUS, PAD_RADIUS),
    st.floats(0.0, 1.0),
)


@settings(deadline=None, max_examples=50)
@given(saved=st.lists(points, min_size=2, max_size=6), frames=st.integers(1, 6))
def test_the_path_passes_every_saved_point_and_moves_straight_between(
    saved: list[PadPoint], frames: int
) -> None:
    positions = pad_walk_positions(saved, frames, "linear")
    assert len(positions) == (len(saved) - 1) * frames + 1
    path = [point_at(saved, p) for p in positions]
    for index, point in enumerate(saved):
        assert path[index * frames] == point  # exactly: the frame the user saw, from the cache
    for position, point in zip(positions, path, strict=True):
        a, b = saved[min(int(position), len(saved) - 2)], saved[min(int(position), len(saved) - 2) + 1]
        between = math.dist(astuple(a), astuple(point)) + math.dist(astuple(point), astuple(b))
        assert between == pytest.approx(math.dist(astuple(a), astuple(b)), abs=1e-9)  # on the segment


def test_too_few_points_or_bad_values_are_refused() -> None:
    with pytest.raises(CoupleError, match="two saved points"):
        pad_walk_positions([PadPoint()], 4, "linear")
    with pytest.raises(CoupleError, match="frames per transition"):
        pad_walk_positions([PadPoint(), PadPoint(1, 0)], 0, "linear")
    with pytest.raises(CoupleError, match="easing"):
        pad_walk_positions([PadPoint(), PadPoint(1, 0)], 2, "wobbly")


def test_exporting_the_saved_points_writes_a_walk_folder(tmp_path: Path) -> None:
    handler = ExploreHandler(CountingPad)
    args = (SETTINGS, "base", DIRECTIONS, 1, 2, 0.5, False, "prompt")
    session, *_ = handler("save", None, *args)
    session, *_ = handler("east", session, *args)
    session, *_ = handler("north", session, *args)
    session, *_ = handler("save", session, *args)
    session, *_ = handler("start", session, *args)
    session, *_ = handler("save", session, *args)
    state: PadState = session.pad.state
    assert len(state.saved) == 3
    export = make_export_handler(tmp_path)
    video, status = export(session, 2, "linear", 4, ".gif")
    assert video is not None
    assert "5 frames" in status
    folder = Path(video).parent
    assert sorted(p.name for p in folder.glob("frame_*.png")) == [f"frame_{i:04d}.png" for i in range(1, 6)]
    assert count_frames(video) == 5
    record = json.loads((folder / "walk.json").read_text())
    assert (
        PadState.from_json(json.dumps({k: v for k, v in record["explorer"].items() if k != "easing"})).saved
        == state.saved
    )
    assert [PadPoint(**p) for p in record["points"]][::2] == state.saved
    assert record["positions"] == pad_walk_positions(state.saved, 2, "linear")
    with pytest.raises(CoupleError, match="video format"):
        export(session, 2, "linear", 4, ".avi")
    with pytest.raises(CoupleError, match="Show"):
        export(None, 2, "linear", 4, ".gif")
