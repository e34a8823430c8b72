"""Forge's shared state belongs to whoever holds the queue: a walk or explorer frame requested
while a txt2img runs begins its own job only once it holds the queue lock, so the txt2img's
state (its job, its progress, the user's Stop) is not reset under it."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from lib_couple.hosts.forge.explore_frames import ForgeExplorePad
from lib_couple.hosts.forge.walk_frames import ForgeWalkPad, forge_walk_frames
from lib_couple.hosts.forge.walk_host import WALK_JOB, ForgeWalkServices
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadState, compass_directions
from lib_couple.walk.plan import WalkPlan, WalkSettings
from tests.doubles.forge_walk import fake_forge_walk

SETTINGS = WalkSettings(64, 64, 2, 5.0, "blurry", "Euler")
PLAN = WalkPlan(("a red apple", "a blue ball"), (3, 4), frames=2)
SAFETY_SECONDS = 30.0  # only ends a hung test; the order is decided by the lock's waiters


class WatchedLock:
    """Forge's queue lock that tells when a caller waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self.waiting = 0

    def __enter__(self) -> WatchedLock:
        with self._changed:
            self.waiting += 1
            self._changed.notify_all()
        self._lock.acquire()
        with self._changed:
            self.waiting -= 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def wait_for_a_waiter(self) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.waiting > 0, SAFETY_SECONDS)


def explorer_frame(services: ForgeWalkServices) -> Any:
    state = PadState("a red apple", compass_directions(["a blue ball"]), 3, 4)
    return ForgeExplorePad(services, FrameCache(), state, SETTINGS).render(state.point)


def walk_pad_frame(services: ForgeWalkServices) -> Any:
    return ForgeWalkPad(services, FrameCache(), PLAN, SETTINGS).render(0.5)


def walk(services: ForgeWalkServices) -> Any:
    return list(forge_walk_frames(services, FrameCache())(PLAN, SETTINGS))


@pytest.mark.parametrize("request_frames", [explorer_frame, walk_pad_frame, walk])
def test_a_frame_waiting_behind_a_txt2img_leaves_its_state_alone(
    request_frames: Callable[[ForgeWalkServices], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_forge_walk() as forge:
        services = ForgeWalkServices()
        # the checkpoint is loaded already: the frame's only wait for the queue is its render's
        monkeypatch.setattr(services, "architecture", lambda: "sd15")
        lock = WatchedLock()
        call_queue: types.ModuleType = sys.modules["modules.call_queue"]
        call_queue.queue_lock = lock  # type: ignore[attr-defined]
        state = forge.shared.state
        result: list[Any] = []
        with lock:  # the user's txt2img holds the queue, as wrap_gradio_gpu_call does
            state.begin(job="task(user)")
            state.job_count = 3
            state.interrupt()  # the user pressed Stop on it
            thread = threading.Thread(target=lambda: result.append(request_frames(services)))
            thread.start()
            lock.wait_for_a_waiter()  # the frame asked for the queue and waits
            assert state.jobs == ["task(user)"]
            assert state.interrupted
            assert state.job_count == 3
            state.end()
        thread.join(SAFETY_SECONDS)
        assert not thread.is_alive()
        [frames] = result
        assert frames  # the frame (or the walk) sampled once the queue was its
        assert state.jobs[0] == "task(user)"
        assert set(state.jobs[1:]) == {WALK_JOB}
        assert state.ended == len(state.jobs)
        assert not state.interrupted  # the frame's own job began afresh
