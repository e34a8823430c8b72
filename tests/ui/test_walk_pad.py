"""The walk tab's pad: moves, undo and redo land where they should, revisits sample nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.demo.model import load_demo_pipeline, write_untrained_weights
from lib_couple.hosts.walk_standalone import demo_walk_pad
from lib_couple.ui.walk_pad import Action, make_pad_handler, step_size
from lib_couple.ui.walk_tab import build_walk_tab
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.plan import WalkPlan, WalkSettings

PLAN = WalkPlan(("a red circle", "a blue circle", "a green square"), (1, 2, 3), frames=2)
SETTINGS = WalkSettings(32, 32, 1)


class CountingPad:
    """A pad whose frames are cached by position and counted when made."""

    def __init__(self, plan: WalkPlan, _settings: WalkSettings) -> None:
        self.explorer = LatentSpaceExplorer(plan.keyframes(), lambda prompt: None, architecture="sd15")  # type: ignore[arg-type,return-value]
        self.frames: dict[float, Image.Image] = {}
        self.made = 0

    def cached(self, position: float) -> Image.Image | None:
        return self.frames.get(position)

    def render(self, position: float) -> Image.Image | None:
        if position not in self.frames:
            self.made += 1
            self.frames[position] = Image.new("RGB", (4, 4), (int(position * 50), 0, 0))
        return self.frames[position]


actions = st.lists(st.sampled_from(["forward", "back", "undo", "redo", "show"]), max_size=25)


@settings(max_examples=60)
@given(actions, st.sampled_from([0.25, 0.5, 1.0]))
def test_moves_undo_and_redo_follow_a_history_and_revisits_sample_nothing(
    sequence: list[Action], size: float
) -> None:
    handler = make_pad_handler(CountingPad)
    session, _, status = handler("show", None, PLAN, SETTINGS, size, False)
    assert session is not None
    # The reference: a list of positions and a cursor, as a text editor's undo works.
    history: list[float] = []
    future: list[float] = []
    position = 0.0
    end = len(PLAN.prompts) - 1
    for action in sequence:
        session, frame, status = handler(action, session, PLAN, SETTINGS, size, False)
        if action in ("forward", "back"):
            history.append(position)
            future.clear()
            position = min(end, max(0.0, position + (size if action == "forward" else -size)))
        elif action == "undo" and history:
            future.append(position)
            position = history.pop()
        elif action == "redo" and future:
            history.append(position)
            position = future.pop()
        assert session.pad.explorer.position == pytest.approx(position)
        assert frame is not None
        assert status.startswith(f"position {position:.3f}")
    pad = session.pad
    assert isinstance(pad, CountingPad)
    assert pad.made == len({round(p, 9) for p in pad.explorer.visited})


def test_a_changed_walk_opens_a_new_pad() -> None:
    handler = make_pad_handler(CountingPad)
    session, _, _ = handler("forward", None, PLAN, SETTINGS, 0.5, False)
    same, _, _ = handler("forward", session, PLAN, SETTINGS, 0.5, False)
    assert same is session
    other, _, _ = handler("forward", session, PLAN, WalkSettings(32, 32, 2), 0.5, False)
    assert other is not session
    assert other is not None
    assert other.pad.explorer.position == 0.5


def test_the_adaptive_step_shrinks_where_the_walk_has_been() -> None:
    explorer = LatentSpaceExplorer(
        [Keyframe("a", 1), Keyframe("b", 2)],
        lambda prompt: None,  # type: ignore[arg-type,return-value]
        architecture="sd15",
    )
    assert step_size(explorer, 0.2, adaptive=False) == 0.2
    fresh = step_size(explorer, 0.2, adaptive=True)  # one visit: nothing to estimate yet
    for position in (0.1, 0.0, 0.05, 0.0, 0.1, 0.0):
        explorer.go_to(position)
    crowded = step_size(explorer, 0.2, adaptive=True)
    assert fresh == 0.2
    assert 0.2 * 0.125 <= crowded < 0.2 / 1.5


def test_undo_on_the_demo_model_shows_the_cached_frame_without_sampling(tmp_path: Path) -> None:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    calls: list[int] = []
    model.unet.register_forward_hook(lambda *_: calls.append(1))
    handler = make_pad_handler(demo_walk_pad(lambda: model, FrameCache()))
    session, first, status = handler("show", None, PLAN, SETTINGS, 0.5, False)
    assert status.endswith("sampled")
    session, _, status = handler("forward", session, PLAN, SETTINGS, 0.5, False)
    assert status.endswith("sampled")
    sampled = len(calls)
    session, again, status = handler("undo", session, PLAN, SETTINGS, 0.5, False)
    assert status.endswith("from the cache")
    assert len(calls) == sampled
    assert first is not None
    assert again is not None
    assert again.tobytes() == first.tobytes()


def test_the_pad_reports_bad_walk_values_as_a_gradio_error(tmp_path: Path) -> None:
    with gr.Blocks() as page:
        controls = build_walk_tab(lambda plan, s, report: iter(()), tmp_path, open_pad=CountingPad)
    dependencies = page.get_config_file()["dependencies"]
    [forward] = [
        i for i, d in enumerate(dependencies) if d["targets"][0][0] == controls["pad"]["forward"]._id
    ]
    values: list[Any] = ["only one keyframe", "1", 2, "linear", "slerp", 32, 32, 1, 5.0, ""]
    with pytest.raises(gr.Error, match="at least two keyframe prompts"):
        page.fns[forward].fn(None, 0.25, False, *values)
