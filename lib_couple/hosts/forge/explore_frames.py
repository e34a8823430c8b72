"""The Latent Space Explorer in Forge: each pad point's frame is one Forge job (as a walk frame),
its conditioning from the direction mapper over the loaded model's encodings, cached by point."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict

from PIL import Image

from lib_couple.hosts.forge.walk_frames import (
    FrameJob,
    WalkServices,
    frame_settings,
    walk_architecture_of,
    walk_tags,
)
from lib_couple.prompts import strip_extra_networks
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.interpolate import Conditioning
from lib_couple.walk.pad import PadPoint, PadState
from lib_couple.walk.pad_space import PadSpace
from lib_couple.walk.plan import WalkSettings


class ForgeExplorePad:
    """One explorer on the loaded model; prompts are encoded inside the first frame's
    `setup_conds` (extra networks active), as the walk's keyframes are."""

    def __init__(
        self, services: WalkServices, cache: FrameCache, state: PadState, settings: WalkSettings
    ) -> None:
        self.services = services
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

    def render(self, point: PadPoint) -> Image.Image | None:
        """The point's frame: from the cache, or one Forge job; None when Stop interrupted it."""
        key = self._key(point)
        frame = self.cache.get(key)
        if frame is not None:
            return frame
        state, space = self.state, self.space
        job = FrameJob(
            prompt=f"{strip_extra_networks(state.base).strip()} {self.tags}".strip(),
            negative=self.settings.negative,
            seed=state.seed,
            position=0.0,
            settings=self.settings,
            conditioning=lambda: space.conditioning(state, point),
            noise=lambda shape: space.noise(state, shape, point),
        )
        self.services.begin(1)
        try:
            frame = self.services.render(job)
            if frame is None or self.services.interrupted():
                return None  # a partial frame is dropped
        finally:
            self.services.end()
        self.cache.put(key, frame)
        return frame

    def look_ahead(self, points: Sequence[PadPoint]) -> None:
        """Forge renders nothing ahead: its queue has no way to yield a frame to the user's
        next generation, so a pre-render could hold up a txt2img by a whole frame."""

    def cancel_ahead(self) -> None:
        """Nothing renders ahead in Forge."""


def forge_explore_pad(
    services: WalkServices, cache: FrameCache
) -> Callable[[PadState, WalkSettings], ForgeExplorePad]:
    """The explorer's opener for Forge; its frames share the walk's cache."""
    return lambda state, settings: ForgeExplorePad(services, cache, state, settings)
