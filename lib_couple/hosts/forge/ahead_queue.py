"""The explorer's pre-render through Forge's queue: one frame at a time under `queue_lock`, and
out of the way of any real request.

Forge's `wrap_gradio_gpu_call` registers a txt2img (or img2img) task in `progress.pending_tasks`
before it waits for `queue_lock` (FORGE_FACTS), so a pre-render that looks there before each
frame and around every model call of its sampling (`step_check`, on Forge's cfg-denoiser and
after-cfg callbacks) sees the user's generation coming, stops its sampler at the end of the step
in progress through `shared.state.interrupted` (Forge's denoiser raises at a step's start), and
lets the lock go. The flag is cleared again if the pre-render set it; a Stop the user pressed is left
as Forge leaves it after any interrupted job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from PIL import Image

from lib_couple.hosts.forge.walk_frames import FrameJob
from lib_couple.hosts.forge.walk_host import ForgeWalkServices
from lib_couple.hosts.progress import StepControl

PRE_RENDER_JOB = "forge couple explorer pre-render"

_active: list[tuple[StepControl, ForgeAheadQueue]] = []  # the frame sampling now, if ours
_guard = threading.Lock()


class ForgeAheadQueue:
    """Forge's side of the render-ahead: whether a real request waits, and the queue for one frame."""

    def __init__(self, services: ForgeWalkServices) -> None:
        self.services = services
        self.set_interrupt = False  # the pre-render stopped its own frame through Forge's flag

    def render(self, job: FrameJob) -> Image.Image | None:
        """One frame, inside `holding`; `step_check` also runs once its conds are made."""
        return self.services.render_in_queue(replace(job, before_sampling=step_check))

    def waiting(self) -> bool:
        """A real task is queued or running, or the user pressed Stop."""
        from modules import progress, shared

        busy = bool(progress.pending_tasks) or progress.current_task is not None
        return busy or bool(shared.state.interrupted)

    @contextmanager
    def holding(self, control: StepControl) -> Iterator[bool]:
        """Hold Forge's queue for one pre-render frame; False (nothing held) when a real request
        waits or the job was cancelled. Inside, `step_check` watches every sampling step."""
        from modules import shared
        from modules.call_queue import queue_lock

        with queue_lock:
            if control.cancelled or self.waiting():
                yield False
                return
            shared.state.begin(job=PRE_RENDER_JOB)
            self.set_interrupt = False
            with _guard:
                _active.append((control, self))
            try:
                yield True
            finally:
                with _guard:
                    _active.clear()
                if self.set_interrupt:
                    shared.state.interrupted = False  # ours, not the user's Stop
                    control.cancel()  # the frame is partial: keep nothing
                shared.state.end()


def register_step_checks() -> None:
    """`step_check` before and after each model call of every sampling: Forge's denoiser checks
    its interrupt flag at a step's start, before the cfg-denoiser callback, so that callback
    alone would let a task queued during a model call wait for one whole step more."""
    from modules import script_callbacks

    script_callbacks.on_cfg_denoiser(step_check)
    script_callbacks.on_cfg_after_cfg(step_check)


def step_check(params: Any = None) -> None:
    """Forge's cfg-denoiser and after-cfg callback: while a pre-render frame samples, a queued
    task or a cancelled job stops it at the next step's start."""
    from modules import progress, shared

    with _guard:
        if not _active:
            return
        control, queue = _active[0]
    if shared.state.interrupted:
        return  # the user's Stop already stops it
    if control.cancelled or bool(progress.pending_tasks):
        queue.set_interrupt = True
        shared.state.interrupted = True
