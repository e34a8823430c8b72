"""The Latent Walk tab: its values become a checked plan, frames stream, a video is written."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from lib_couple.demo.model import load_demo_pipeline, write_untrained_weights
from lib_couple.errors import CoupleError
from lib_couple.hosts.progress import ProgressReport, RunningControls
from lib_couple.hosts.walk_standalone import demo_walk_frames
from lib_couple.ui.walk_tab import (
    WalkUpdate,
    build_walk_tab,
    make_walk_handler,
    parse_seeds,
    plan_from_values,
)
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.plan import WalkPlan, WalkSettings
from lib_couple.walk.video import count_frames

VALUES = ("a red circle\na blue square", "1, 2", 3, "linear", "slerp", 64, 64, 2, 5.0, "", 8, ".gif")


@given(st.lists(st.integers(-(2**31), 2**31), max_size=6), st.sampled_from([", ", " ", " ,  "]))
def test_seeds_parse_whatever_the_separator(seeds: list[int], separator: str) -> None:
    assert parse_seeds(separator.join(map(str, seeds))) == tuple(seeds)


def test_bad_values_name_the_field() -> None:
    with pytest.raises(CoupleError, match="whole numbers"):
        parse_seeds("1, two")
    with pytest.raises(CoupleError, match="at least two keyframe prompts"):
        plan_from_values("a red circle\n\n", "", 4, "linear", "slerp")
    with pytest.raises(CoupleError, match="2 seeds for 3 keyframes"):
        plan_from_values("a\nb\nc", "1 2", 4, "linear", "slerp")


class Recorder:
    """A renderer that makes flat frames and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[WalkPlan, WalkSettings]] = []

    def __call__(
        self, plan: WalkPlan, settings: WalkSettings, report: ProgressReport | None = None
    ) -> Iterator[Image.Image]:
        self.calls.append((plan, settings))
        for index, _ in enumerate(plan.positions()):
            yield Image.new("RGB", (settings.width, settings.height), (index * 20 % 256, 0, 0))


def test_frames_stream_then_the_video_holds_them_all(tmp_path: Path) -> None:
    render = Recorder()
    updates = list(make_walk_handler(render, tmp_path)(*VALUES))
    plan, settings = render.calls[0]
    assert plan.prompts == ("a red circle", "a blue square")
    assert plan.seeds == (1, 2)
    assert (settings.width, settings.steps) == (64, 2)
    expected = len(plan.positions())  # 3 frames a transition and the last keyframe
    assert expected == 4
    assert [len(frames) for frames, _, _ in updates] == [0, 1, 2, 3, 4, 4]
    assert updates[0][1] == "0 / 4 frames"  # before the first frame: the walk has started
    assert updates[1][1].startswith("1 / 4 frames, ETA ")
    assert updates[4][1] == "4 / 4 frames"
    assert all(video is None for _, _, video in updates[:-1])
    video = updates[-1][2]
    assert video is not None
    assert count_frames(video) == expected


def test_bad_values_reach_the_user_as_a_gradio_error(tmp_path: Path) -> None:
    handler = make_walk_handler(Recorder(), tmp_path)
    with pytest.raises(gr.Error, match="whole numbers"):
        next(handler(VALUES[0], "x", *VALUES[2:]))
    with pytest.raises(gr.Error, match="video format"):
        next(handler(*VALUES[:-1], ".avi"))


def test_stop_ends_the_walk_after_the_frame_in_progress_which_is_dropped(tmp_path: Path) -> None:
    stop = threading.Event()

    def render(plan: WalkPlan, settings: WalkSettings, report: ProgressReport) -> Iterator[Image.Image]:
        for index, frame in enumerate(Recorder()(plan, settings)):
            if index == 1:
                stop.set()  # Stop pressed while the second frame is being sampled
            yield frame

    updates = list(make_walk_handler(render, tmp_path, stop)(*VALUES))
    frames, progress, video = updates[-1]
    assert len(frames) == 1
    assert progress == "stopped after 1 / 4 frames"
    assert video is None
    again = list(make_walk_handler(Recorder(), tmp_path, stop)(*VALUES))  # the next walk starts clear
    assert len(again[-1][0]) == 4


def test_the_tabs_stop_button_raises_the_flag_and_calls_the_hosts_stop(tmp_path: Path) -> None:
    stopped: list[int] = []
    with gr.Blocks() as page:
        controls = build_walk_tab(Recorder(), tmp_path, on_stop=lambda: stopped.append(1))
    dependencies = page.get_config_file()["dependencies"]
    walk = [i for i, d in enumerate(dependencies) if d.get("api_name") == "walk"]
    assert len(walk) == 1
    assert len(dependencies[walk[0]]["outputs"]) == 3
    [stop] = [i for i, d in enumerate(dependencies) if d["targets"][0][0] == controls["stop"]._id]
    assert dependencies[stop]["queue"] is False  # runs at once, beside the walk that holds the queue
    page.fns[stop].fn()
    assert stopped == [1]


def test_the_demo_renderer_samples_a_revisited_walk_only_once(tmp_path: Path) -> None:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    calls: list[int] = []
    model.unet.register_forward_hook(lambda *_: calls.append(1))
    render = demo_walk_frames(lambda: model, FrameCache())
    plan = WalkPlan(("a red circle", "a blue square"), (1, 2), frames=2)
    settings = WalkSettings(width=32, height=32, steps=2)
    first = list(render(plan, settings))
    sampled = len(calls)
    again = list(render(plan, settings))
    assert len(first) == 3
    assert sampled > 0
    assert len(calls) == sampled  # every frame came from the cache
    assert [f.tobytes() for f in first] == [f.tobytes() for f in again]


class Stopping(Recorder):
    """A host whose walk is interrupted after two frames (its renderer just ends)."""

    def __call__(
        self, plan: WalkPlan, settings: WalkSettings, report: ProgressReport | None = None
    ) -> Iterator[Image.Image]:
        yield from list(super().__call__(plan, settings))[:2]


def test_a_stopped_walk_is_not_saved(tmp_path: Path) -> None:
    updates = list(make_walk_handler(Stopping(), tmp_path)(*VALUES))
    frames, progress, video = updates[-1]
    assert len(frames) == 2
    assert progress == "stopped after 2 / 4 frames"
    assert video is None
    assert list(tmp_path.iterdir()) == []


def test_the_sampler_choice_reaches_the_settings(tmp_path: Path) -> None:
    render = Recorder()
    list(make_walk_handler(render, tmp_path)(*VALUES, "Euler a"))
    assert render.calls[0][1].sampler == "Euler a"
    with gr.Blocks():
        controls = build_walk_tab(Recorder(), tmp_path, samplers=["DPM++ 2M", "Euler a"])
    assert controls["sampler"].value == "DPM++ 2M"  # no default given: the first


class StepsSeen:
    """gradio's progress as the walk calls it: ((done, total), desc, unit) each time."""

    def __init__(self, on_call: Callable[[int], None] = lambda _: None) -> None:
        self.calls: list[tuple[tuple[int, int], str]] = []
        self.on_call = on_call

    def __call__(self, value: tuple[int, int], desc: str = "", unit: str = "") -> None:
        assert unit == "steps"
        self.calls.append((value, desc))
        self.on_call(len(self.calls))


def _demo_handler(tmp_path: Path, controls: RunningControls) -> Callable[..., Iterator[WalkUpdate]]:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    return make_walk_handler(demo_walk_frames(lambda: model, FrameCache(), controls), tmp_path / "walks")


def test_each_walk_frame_shows_its_steps_with_an_eta(tmp_path: Path) -> None:
    seen = StepsSeen()
    values = ("a red circle\na blue square", "1, 2", 2, "linear", "slerp", 32, 32, 3, 5.0, "", 8, ".gif")
    updates = list(_demo_handler(tmp_path, RunningControls())(*values, None, seen))
    assert len(updates[-1][0]) == 3
    assert updates[-1][2] is not None
    # Every frame reports its 3 steps (and the start, 0), in order, named by frame.
    assert [value for value, _ in seen.calls] == [(d, 3) for _ in range(3) for d in range(4)]
    assert seen.calls[5][1].startswith("frame 2/3: step 1/3, ETA ")
    assert seen.calls[4][1] == "frame 2/3: step 0/3, ETA ..."


def test_interrupt_from_the_generation_tabs_stops_the_walk_within_a_step(tmp_path: Path) -> None:
    controls = RunningControls()  # what txt2img's Interrupt reaches
    # Interrupt pressed when the second frame has done one step of its 5.
    seen = StepsSeen(lambda calls: controls.interrupt() if calls == 8 else None)
    values = ("a red circle\na blue square", "1, 2", 2, "linear", "slerp", 32, 32, 5, 5.0, "", 8, ".gif")
    updates = list(_demo_handler(tmp_path, controls)(*values, None, seen))
    frames, progress, video = updates[-1]
    assert (len(frames), progress, video) == (1, "stopped after 1 / 3 frames", None)
    assert seen.calls[-1][0] == (1, 5)  # no step sampled after the interrupt
    assert len(controls) == 0  # the walk left the running controls
    assert not (tmp_path / "walks").exists()
