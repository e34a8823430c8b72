"""The Latent Space Explorer in Forge: each pad point's frame is one Forge job (as a walk frame),
its conditioning from the direction mapper over the loaded model's encodings, cached by point.
With an `AheadQueue`, the likely next points are pre-rendered through Forge's queue, one frame
at a time, giving way to any real request (`ahead_queue.py`)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Protocol

from PIL import Image

from lib_couple.hosts.forge.walk_frames import (
    FrameJob,
    WalkServices,
    frame_settings,
    walk_architecture_of,
    walk_tags,
)
from lib_couple.hosts.progress import StepControl
from lib_couple.prompts import strip_extra_networks
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.interpolate import Conditioning
from lib_couple.walk.pad import PadPoint, PadState
from lib_couple.walk.pad_space import PadSpace
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import RenderAhead


class AheadQueue(Protocol):
    """The host's queue as the pre-render sees it."""

    def waiting(self) -> bool:
        """A real request waits (or the user pressed Stop): the pre-render gives way."""
        ...

    def holding(self, control: StepControl) -> AbstractContextManager[bool]:
        """The queue for one frame, stopping its sampler within a step when a request comes or
        `control` is cancelled; False when it could not be taken for the pre-render."""
        ...

    def render(self, job: FrameJob) -> Image.Image | None:
        """One frame, inside `holding`; None when it was stopped."""
        ...


class ForgeExplorePad:
    """One explorer on the loaded model; prompts are encoded inside the first frame's
    `setup_conds` (extra networks active), as the walk's keyframes are."""

    def __init__(
        self,
        services: WalkServices,
        cache: FrameCache,
        state: PadState,
        settings: WalkSettings,
        queue: AheadQueue | None = None,
    ) -> None:
        self.services = services
        self.queue = queue
        self.ahead = RenderAhead()
        self.cache = cache
        self.state = state
        self.settings = frame_settings(settings, walk_architecture_of(services))
        self.identity = services.identity()
        self.tags = walk_tags([state.base, *(d.prompt for d in state.directions)])
        self.space = PadSpace(self._encode)

    def _encode(self, prompt: str) -> Conditioning:
        return self.services.encode(strip_extra_networks(prompt).strip(), self.settings)

    def _key(self, point: PadPoint) -> str:
        directions = [[d.prompt, list(d.at)] for d in self.state.directions]
        seeds = [self.state.seed, self.state.other_seed]
        text = json.dumps(
            [self.identity, self.state.base, directions, seeds, asdict(self.settings), asdict(point)]
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def cached(self, point: PadPoint) -> Image.Image | None:
        return self.cache.get(self._key(point))

    def _job(self, point: PadPoint) -> FrameJob:
        state, space = self.state, self.space
        return FrameJob(
            prompt=f"{strip_extra_networks(state.base).strip()} {self.tags}".strip(),
            negative=self.settings.negative,
            seed=state.seed,
            position=0.0,
            settings=self.settings,
            conditioning=lambda: space.conditioning(state, point),
            noise=lambda shape: space.noise(state, shape, point),
        )

    def render(self, point: PadPoint, wanted: Callable[[], bool] | None = None) -> Image.Image | None:
        """The point's frame: from the cache, or one Forge job; None when Stop interrupted it or
        `wanted()` was False once Forge's queue was held."""
        key = self._key(point)
        frame = self.cache.get(key)
        if frame is not None:
            return frame
        frame = self.services.render(self._job(point), wanted)
        if frame is None:
            return None  # a partial frame is dropped
        self.cache.put(key, frame)
        return frame

    def look_ahead(self, points: Sequence[PadPoint]) -> threading.Thread | None:
        """Pre-render `points` into the cache in a background thread, through the queue (the
        job before is dropped); None without a queue, or when all are cached or a request waits."""
        queue = self.queue
        if queue is None or queue.waiting():
            return None
        drawing = self.ahead.still_drawing(points)
        if drawing is not None:
            return drawing  # the same plan, still drawing (a Show on a drawn point): keep it going
        job = self.ahead.plan(points, lambda point: self.cached(point) is not None)
        return self.ahead.start(job, self._render_ahead, self._store, queue.waiting)

    def cancel_ahead(self) -> None:
        self.ahead.cancel()

    def _render_ahead(self, point: PadPoint, control: StepControl) -> Image.Image | None:
        assert self.queue is not None  # look_ahead starts no job without one
        with self.queue.holding(control) as held:
            if not held:
                return None
            frame = self.queue.render(self._job(point))
        return None if control.cancelled else frame

    def _store(self, point: PadPoint, frame: Image.Image) -> None:
        self.cache.put(self._key(point), frame)


def forge_explore_pad(
    services: WalkServices, cache: FrameCache, queue: AheadQueue | None = None
) -> Callable[[PadState, WalkSettings], ForgeExplorePad]:
    """The explorer's opener for Forge; its frames share the walk's cache; with `queue`, the pad
    renders ahead through it."""
    return lambda state, settings: ForgeExplorePad(services, cache, state, settings, queue)
