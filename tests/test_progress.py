"""A running generation's control: the sampler stops within one step; cancel stops the worker;
one generation holds a model at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import torch

from lib_couple.demo import DemoComponents, load_demo_pipeline, sample
from lib_couple.demo.model import write_untrained_weights
from lib_couple.hosts.model_lock import holding, model_lock
from lib_couple.hosts.progress import RunningControls, StepControl, eta_seconds, progress_line
from lib_couple.hosts.walk_standalone import (
    FrameInterruptedError,
    WalkSettings,
    demo_explorer,
    render_frame,
)
from lib_couple.walk.explorer import Keyframe
from lib_couple.walk.frame_cache import FrameCache


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> DemoComponents:
    return load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path_factory.mktemp("weights")))


def counting_predictor(calls: list[int]) -> object:
    def predict(latents: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        calls.append(int(timestep))
        return torch.zeros_like(latents)

    return predict


@pytest.mark.parametrize("stop_after", [0, 1, 3])
def test_the_sampler_stops_within_one_step_of_an_interrupt(model: DemoComponents, stop_after: int) -> None:
    calls: list[int] = []
    seen: list[tuple[int, int]] = []
    control = StepControl(lambda done, total, line: seen.append((done, total)))

    def on_step(done: int, total: int) -> bool:
        if done == stop_after:
            control.interrupt()  # as the Interrupt button does, from the page, mid-step
        return control.on_step(done, total)

    cond = torch.zeros(1, 77, model.text_encoder.config.hidden_size)
    sample(model, cond, cond, height=32, width=32, steps=10, cfg=5.0, seed=1, progress=False,
           predictor=counting_predictor(calls), on_step=on_step)  # type: ignore[arg-type]  # fmt: skip
    assert len(calls) == stop_after
    assert seen == [(done, 10) for done in range(stop_after + 1)]
    assert control.steps_done == stop_after


def test_an_uninterrupted_sampling_reports_every_step(model: DemoComponents) -> None:
    calls: list[int] = []
    seen: list[int] = []

    def on_step(done: int, total: int) -> bool:
        seen.append(done)
        return False

    cond = torch.zeros(1, 77, model.text_encoder.config.hidden_size)
    sample(model, cond, cond, height=32, width=32, steps=4, cfg=5.0, seed=1, progress=False,
           predictor=counting_predictor(calls), on_step=on_step)  # type: ignore[arg-type]  # fmt: skip
    assert len(calls) == 4
    assert seen == [0, 1, 2, 3, 4]


def test_eta_follows_the_rate_so_far() -> None:
    assert eta_seconds(0, 20, 5.0) is None
    assert eta_seconds(5, 20, 10.0) == pytest.approx(30.0)
    assert eta_seconds(20, 20, 10.0) == 0.0
    assert progress_line(5, 20, 10.0) == "step 5/20, ETA 30 s"
    assert progress_line(0, 20, 0.0) == "step 0/20, ETA ..."


def test_interrupt_and_skip_reach_only_the_running_generations() -> None:
    controls = RunningControls()
    done, running = StepControl(), StepControl()
    with controls.running(done):
        pass
    with controls.running(running):
        assert len(controls) == 1
        controls.skip()
        assert running.skipped
        assert not running.interrupted
        running.next_image()
        assert not running.skipped
        controls.interrupt()
    assert running.interrupted
    assert running.on_step(1, 2)
    assert not done.interrupted
    assert not done.skipped
    assert not done.on_step(1, 2)
    assert len(controls) == 0


def test_a_cancelled_event_stops_its_worker_within_a_step() -> None:
    from lib_couple.ui.run_control import controlled

    steps: list[int] = []
    finished = threading.Event()

    def run(control: StepControl, total: int) -> str:
        try:
            for done in range(total):
                if control.on_step(done, total):
                    return "stopped"
                steps.append(done)
                time.sleep(0.01)
            return "done"
        finally:
            finished.set()

    controls = RunningControls()
    event = controlled(run, controls)

    async def start_then_cancel() -> None:
        task = asyncio.ensure_future(event(100_000, lambda *args, **kwargs: None))  # values, progress
        while not steps:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # In a thread of its own: a session-wide Playwright fixture may hold a running loop in this one.
    errors: list[BaseException] = []

    def run_loop() -> None:
        try:
            asyncio.run(start_then_cancel())
        except BaseException as error:
            errors.append(error)

    runner = threading.Thread(target=run_loop)
    runner.start()
    runner.join(120)
    assert not runner.is_alive()
    if errors:
        raise errors[0]
    assert finished.wait(5.0)
    made = len(steps)
    time.sleep(0.05)
    assert len(steps) == made < 1000  # stopped, long before the 100000 steps
    assert len(controls) == 0


def test_one_generation_holds_a_model_at_a_time() -> None:
    model = torch.nn.Linear(1, 1)
    other = torch.nn.Linear(1, 1)
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with holding(model):
            entered.set()
            release.wait(5.0)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(5.0)
    assert not model_lock(model).acquire(timeout=0.05)  # a second generation waits
    assert model_lock(other).acquire(timeout=0.05)  # another model is free
    model_lock(other).release()
    release.set()
    holder.join(5.0)
    assert model_lock(model).acquire(timeout=1.0)
    model_lock(model).release()


def test_an_interrupted_walk_frame_is_neither_returned_nor_cached(
    model: DemoComponents, tmp_path: Path
) -> None:
    explorer = demo_explorer(model, [Keyframe("a red circle", 1), Keyframe("a blue circle", 2)])
    settings = WalkSettings(width=32, height=32, steps=3)
    cache = FrameCache()
    control = StepControl()
    control.interrupt()
    with pytest.raises(FrameInterruptedError):
        render_frame(model, explorer, 0.5, settings, cache, control)
    assert len(cache) == 0
    frame = render_frame(model, explorer, 0.5, settings, cache, StepControl())
    assert frame.size == (32, 32)
    assert len(cache) == 1


def test_walk_frames_carry_their_parameters(model: DemoComponents) -> None:
    from lib_couple.infotext import parse_parameters

    explorer = demo_explorer(model, [Keyframe("a red circle", 4), Keyframe("a blue circle", 9)])
    frame = render_frame(model, explorer, 0.75, WalkSettings(width=32, height=32, steps=2), FrameCache())
    prompt, _, values = parse_parameters(frame.info["parameters"])
    assert prompt == "a blue circle"  # the nearest keyframe
    assert (values["Seed"], values["Size"], values["Steps"]) == ("9", "32x32", "2")
    assert values["Latent walk position"] == "0.7500"
