"""The Latent Space Explorer in Forge, through doubles of Forge's processing: each pad point
samples the mapped conditioning and slerped noise, revisits sample nothing, Stop drops the frame."""

from __future__ import annotations

import types

import pytest
import torch

from lib_couple.hosts.forge import ahead_queue
from lib_couple.hosts.forge.ahead_queue import ForgeAheadQueue
from lib_couple.hosts.forge.explore_frames import ForgeExplorePad
from lib_couple.hosts.forge.walk_frames import per_prompt
from lib_couple.hosts.forge.walk_host import ForgeWalkServices
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadPoint, PadState, compass_directions
from lib_couple.walk.pad_space import PadSpace
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next
from tests.doubles.forge_walk import WalkModel, fake_forge_walk

SETTINGS = WalkSettings(64, 64, 2, 5.0, "blurry", "Euler")


def new_state() -> PadState:
    return PadState("a red apple", compass_directions(["a blue ball", "a green cube <lora:x:1>"]), 3, 4)


def test_a_pad_point_samples_its_mapped_conditioning_and_noise_once() -> None:
    with fake_forge_walk() as forge:
        state = new_state()
        pad = ForgeExplorePad(ForgeWalkServices(), FrameCache(), state, SETTINGS)
        state.move(1, 0, 0.5)  # east: the green cube
        state.move(0, 0, 0.5, mode="seed")
        state.move(1, 0, 0.5, mode="seed")
        assert pad.render(state.point) is not None
        expected = PadSpace(lambda prompt: WalkModel().get_learned_conditioning([prompt]))
        clean = PadState("a red apple", compass_directions(["a blue ball", "a green cube"]), 3, 4)
        [sampled] = forge.model.samples
        want = per_prompt(expected.conditioning(clean, state.point))
        assert isinstance(want, torch.Tensor)
        torch.testing.assert_close(sampled.cond, want)
        assert torch.equal(sampled.noise, expected.noise(clean, (1, 4, 8, 8), state.point))
        assert "<lora:x:1>" in sampled.prompt  # the direction prompt's LoRA is active
        assert pad.cached(state.point) is not None
        assert pad.render(state.point) is not None
        assert len(forge.model.samples) == 1  # the revisit came from the cache
        assert pad.cached(PadPoint()) is None


def test_a_frame_no_longer_wanted_once_the_queue_is_held_is_not_sampled() -> None:
    with fake_forge_walk() as forge:
        state = new_state()
        pad = ForgeExplorePad(ForgeWalkServices(), FrameCache(), state, SETTINGS)
        assert pad.render(state.point, lambda: False) is None
        assert forge.model.samples == []
        assert pad.cached(state.point) is None
        assert pad.render(state.point, lambda: True) is not None
        assert len(forge.model.samples) == 1


def test_stop_drops_the_interrupted_frame() -> None:
    with fake_forge_walk() as forge:
        state = new_state()
        pad = ForgeExplorePad(ForgeWalkServices(), FrameCache(), state, SETTINGS)
        forge.model.on_sample = lambda index: forge.shared.state.interrupt()  # Stop mid-frame
        assert pad.render(state.point) is None
        assert pad.cached(state.point) is None
        assert forge.shared.state.ended == 1


def ahead_pad(forge: types.SimpleNamespace, steps: int = 4) -> ForgeExplorePad:
    """A pad that renders ahead through the fake Forge queue, its step check registered as the
    walk script registers it."""
    services = ForgeWalkServices()
    ahead_queue.register_step_checks()
    settings = WalkSettings(64, 64, steps, 5.0, "blurry", "Euler")
    return ForgeExplorePad(services, FrameCache(), new_state(), settings, ForgeAheadQueue(services))


def neighbours(pad: ForgeExplorePad) -> list[PadPoint]:
    return likely_next(pad.state, 0.5, False, "prompt")


def run_ahead(pad: ForgeExplorePad) -> None:
    thread = pad.look_ahead(neighbours(pad))
    assert thread is not None
    thread.join()


def test_the_pre_render_fills_the_cache_under_the_queue_lock_and_leaves_state_clean() -> None:
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)
        held: list[bool] = []
        forge.model.on_step = lambda step: held.append(forge.queue_lock.locked())
        run_ahead(pad)
        points = neighbours(pad)
        assert all(pad.cached(point) is not None for point in points)
        assert len(forge.model.samples) == len(points)
        assert forge.model.steps_run == 4 * len(points)
        assert held
        assert all(held)
        assert not forge.queue_lock.locked()
        assert forge.shared.state.jobs == [ahead_queue.PRE_RENDER_JOB] * len(points)
        assert forge.shared.state.ended == len(points)
        assert not forge.shared.state.interrupted


def user_generation(forge: types.SimpleNamespace, pad: ForgeExplorePad) -> None:
    """What Forge's wrap_gradio_gpu_call does for a txt2img: the task is pending, then it takes
    the queue, begins, samples, and ends."""
    with forge.queue_lock:
        forge.progress.pending_tasks.pop("task(user)", None)
        forge.shared.state.begin(job="task(user)")
        assert ForgeWalkServices().render_in_queue(pad._job(PadPoint(0.25, 0.25))) is not None
        forge.shared.state.end()


def test_a_queued_txt2img_stops_the_pre_render_within_a_step_and_then_runs() -> None:
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)

        def user_queues(step: int) -> None:
            if step == 1 and len(forge.model.samples) == 1:
                forge.progress.pending_tasks["task(user)"] = 0.0  # the user pressed Generate

        forge.model.on_step = user_queues
        run_ahead(pad)
        assert len(forge.model.samples) == 1  # no later neighbour was started
        assert forge.model.steps_run == 2  # the step that saw the task, then no other
        assert all(pad.cached(point) is None for point in neighbours(pad))  # the partial frame dropped
        assert not forge.shared.state.interrupted  # the pre-render's own stop is cleared
        assert not forge.queue_lock.locked()
        assert pad.look_ahead(neighbours(pad)) is None  # nothing starts while the task waits
        forge.model.on_step = lambda step: None
        user_generation(forge, pad)
        assert forge.model.steps_run == 2 + 4  # the user's generation sampled every step
        assert forge.shared.state.jobs[-1] == "task(user)"
        assert not forge.shared.state.interrupted


@pytest.mark.parametrize("hook", ["on_step", "on_model"])
def test_a_txt2img_queued_at_any_point_of_a_step_waits_for_that_step_only(hook: str) -> None:
    """Queued as a step starts, or while its model call runs (where Forge's own check and the
    cfg-denoiser callback are behind it): the pre-render ends with that step."""
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)

        def user_queues(step: int) -> None:
            if step == 1:
                forge.progress.pending_tasks["task(user)"] = 0.0

        setattr(forge.model, hook, user_queues)
        run_ahead(pad)
        assert forge.model.steps_run == 2  # steps 0 and 1, the one the task came in
        assert all(pad.cached(point) is None for point in neighbours(pad))
        assert not forge.shared.state.interrupted
        assert not forge.queue_lock.locked()


def test_a_txt2img_queued_while_a_frame_encodes_stops_it_before_its_first_step() -> None:
    """A fresh explorer's first frame encodes the base and direction prompts before it samples;
    a task queued meanwhile is seen before the first step, not at its end."""
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)
        encode = forge.model.get_learned_conditioning

        def user_queues_while_encoding(texts: list[str]) -> object:
            forge.progress.pending_tasks["task(user)"] = 0.0
            return encode(texts)

        forge.model.get_learned_conditioning = user_queues_while_encoding
        run_ahead(pad)
        assert len(forge.model.samples) == 1
        assert forge.model.steps_run == 0  # no step of the frame ran
        assert all(pad.cached(point) is None for point in neighbours(pad))
        assert not forge.shared.state.interrupted
        assert not forge.queue_lock.locked()


def test_stop_ends_the_pre_render_and_stays_the_users() -> None:
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)
        forge.model.on_step = lambda step: forge.shared.state.interrupt() if step == 2 else None
        run_ahead(pad)
        assert len(forge.model.samples) == 1
        assert forge.model.steps_run == 2
        assert all(pad.cached(point) is None for point in neighbours(pad))
        assert forge.shared.state.interrupted  # the user's Stop, left as Forge leaves it
        assert not forge.queue_lock.locked()
        forge.model.on_step = lambda step: None
        user_generation(forge, pad)  # the next generation begins afresh
        assert forge.model.steps_run == 2 + 4


def test_a_pad_move_cancels_the_pre_render_within_a_step() -> None:
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)
        forge.model.on_step = lambda step: pad.cancel_ahead() if step == 1 else None
        run_ahead(pad)
        assert len(forge.model.samples) == 1
        assert forge.model.steps_run == 2
        assert all(pad.cached(point) is None for point in neighbours(pad))
        assert not forge.shared.state.interrupted
        assert not forge.queue_lock.locked()


def test_without_a_queue_nothing_renders_ahead() -> None:
    with fake_forge_walk() as forge:
        pad = ForgeExplorePad(ForgeWalkServices(), FrameCache(), new_state(), SETTINGS)
        assert pad.look_ahead(neighbours(pad)) is None
        assert forge.model.samples == []


def test_a_show_while_the_same_neighbours_are_drawn_keeps_the_job_going() -> None:
    with fake_forge_walk() as forge:
        pad = ahead_pad(forge)
        again: list[object] = []
        # a Show of the same point while the first neighbour samples: the same plan again
        forge.model.on_step = (
            lambda step: again.append(pad.look_ahead(neighbours(pad))) if not again else None
        )
        thread = pad.look_ahead(neighbours(pad))
        assert thread is not None
        thread.join()
        assert again == [thread]  # kept, not started over
        points = neighbours(pad)
        assert all(pad.cached(point) is not None for point in points)
        assert len(forge.model.samples) == len(points)  # no frame drawn twice or dropped
        assert not forge.queue_lock.locked()
