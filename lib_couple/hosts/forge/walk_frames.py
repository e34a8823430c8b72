"""A latent walk's frames in Forge, as plain logic over a small services protocol (no Forge import).

Each frame is one Forge txt2img generation whose conditioning and starting noise are injected
(FACTS: WALK_FACTS 4.4 A and 4.5): the walked conditioning replaces `p.c` in `setup_conds`, so
Forge's prompt cache never decides it, and the slerped seed noise replaces the sampler's noise.
Keyframe prompts are encoded lazily inside the first frame's `setup_conds`, after Forge has
activated the walk's extra networks, so a LoRA's text-encoder part is in the encodings; every
frame carries the same tags, so the LoRA set is loaded once and stays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.hosts.progress import ProgressReport
from lib_couple.prompts import extra_network_tags, strip_extra_networks
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.interpolate import Architecture, Conditioning
from lib_couple.walk.plan import WalkPlan, WalkSettings

FLUX_CFG = 1.0  # distilled Flux samples without an unconditional pass; the guidance key steers it


@dataclass(frozen=True)
class FrameJob:
    """One frame for the host to sample: what Forge sees, and what replaces its conditioning."""

    prompt: str  # the frame's infotext prompt, with every extra-network tag of the walk
    negative: str
    seed: int
    position: float
    settings: WalkSettings
    conditioning: Callable[[], Conditioning]  # called inside setup_conds, extra networks active
    noise: Callable[[Sequence[int]], torch.Tensor]  # the starting noise for a latent shape
    # called once the conds are made, before the first step: the encoding (a fresh explorer
    # encodes every prompt) has no sampler callback to see a request come meanwhile
    before_sampling: Callable[[], None] | None = None


class WalkServices(Protocol):
    """What the walk needs from Forge."""

    def architecture(self) -> Architecture | None:
        """The loaded model's conditioning form; None when the walk cannot drive it."""
        ...

    def model_label(self) -> str: ...

    def identity(self) -> str:
        """The loaded checkpoint and its settings, for the frame cache's keys."""
        ...

    def encode(self, prompt: str, settings: WalkSettings) -> Conditioning:
        """The prompt's conditioning from the loaded model, without a batch dimension's copies."""
        ...

    def render(
        self, job: FrameJob, wanted: Callable[[], bool] | None = None, frame: int = 0, frames: int = 1
    ) -> Image.Image | None:
        """Sample one frame as its own Forge job (frame `frame` of `frames`, for the progress
        bar); None when it was interrupted (the frame is dropped), or when `wanted()` is False
        once Forge's queue is held (nothing sampled)."""
        ...


def walk_tags(prompts: Sequence[str]) -> str:
    """Every extra-network tag of the keyframes, each once, in order of appearance."""
    tags = (tag for prompt in prompts for tag in extra_network_tags(prompt))
    return " ".join(dict.fromkeys(tags))


def frame_settings(settings: WalkSettings, architecture: Architecture) -> WalkSettings:
    """Flux frames run at CFG 1 with no negative prompt; the others as asked."""
    if architecture != "flux":
        return settings
    return WalkSettings(settings.width, settings.height, settings.steps, FLUX_CFG, "", settings.sampler)


def walk_architecture_of(services: WalkServices) -> Architecture:
    """The loaded model's conditioning form, or CoupleError saying which models the walk drives."""
    architecture = services.architecture()
    if architecture is None:
        raise CoupleError(
            f"Latent Walk works with SD1.5, SDXL and Flux models; {services.model_label()} is not "
            "one: load one of those in the checkpoint list"
        )
    return architecture


def frame_cache_key(identity: str, plan: WalkPlan, settings: WalkSettings, position: float) -> str:
    """The same checkpoint, keyframes (tags included), seeds, method and settings at the same
    position make the same frame."""
    text = json.dumps(
        [identity, list(plan.prompts), list(plan.seeds), plan.method, asdict(settings), round(position, 9)]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def per_prompt(cond: Conditioning) -> Conditioning:
    """One prompt's conditioning without its batch dimension, the form Forge's schedules hold."""
    if isinstance(cond, torch.Tensor):
        return cond[0]
    return {key: value[0] for key, value in cond.items()}


class ForgeWalk:
    """One walk on the loaded model: its explorer, and its frames through Forge (cached)."""

    def __init__(
        self, services: WalkServices, cache: FrameCache, plan: WalkPlan, settings: WalkSettings
    ) -> None:
        architecture = walk_architecture_of(services)
        self.services = services
        self.cache = cache
        self.plan = plan
        self.settings = frame_settings(settings, architecture)
        self.tags = walk_tags(plan.prompts)
        self.identity = services.identity()
        keyframes = [Keyframe(strip_extra_networks(k.prompt).strip(), k.seed) for k in plan.keyframes()]
        self.explorer = LatentSpaceExplorer(
            keyframes, self._encode, architecture=architecture, method=plan.method
        )

    def _encode(self, prompt: str) -> Conditioning:
        return self.services.encode(prompt, self.settings)

    def cached(self, position: float) -> Image.Image | None:
        return self.cache.get(frame_cache_key(self.identity, self.plan, self.settings, position))

    def frame(self, position: float, index: int = 0, frames: int = 1) -> Image.Image | None:
        """The frame at `position` (frame `index` of `frames`): from the cache, or sampled; None
        when Stop interrupted it (the partial frame is dropped)."""
        key = frame_cache_key(self.identity, self.plan, self.settings, position)
        frame = self.cache.get(key)
        if frame is not None:
            return frame
        job = _job(self.explorer, position, self.tags, self.settings)
        frame = self.services.render(job, frame=index, frames=frames)
        if frame is None:
            return None
        self.cache.put(key, frame)
        return frame


class ForgeWalkPad(ForgeWalk):
    """A walk explored one frame at a time (the tab's pad): each frame is its own Forge job."""

    def render(self, position: float) -> Image.Image | None:
        return self.frame(position)


def forge_walk_pad(
    services: WalkServices, cache: FrameCache
) -> Callable[[WalkPlan, WalkSettings], ForgeWalkPad]:
    """The pad's walk opener for Forge; the pad and the walk share `cache`."""
    return lambda plan, settings: ForgeWalkPad(services, cache, plan, settings)


def forge_walk_frames(
    services: WalkServices, cache: FrameCache | None = None
) -> Callable[..., Iterator[Image.Image]]:
    """The Latent Walk tab's renderer for Forge: the walk's frames one by one."""
    frame_cache = cache if cache is not None else FrameCache()

    def frames(
        plan: WalkPlan, settings: WalkSettings, report: ProgressReport | None = None
    ) -> Iterator[Image.Image]:
        del report  # Forge's own progress bar follows its sampling (each frame's job)
        walk = ForgeWalk(services, frame_cache, plan, settings)
        positions = plan.positions()
        for index, position in enumerate(positions):
            frame = walk.frame(position, index, len(positions))
            if frame is None:
                return
            yield frame

    return frames


def _job(explorer: LatentSpaceExplorer, position: float, tags: str, settings: WalkSettings) -> FrameJob:
    at = explorer.point(position)
    nearest = at.start if at.t < 0.5 else at.end
    return FrameJob(
        prompt=f"{nearest.prompt} {tags}".strip(),
        negative=settings.negative,
        seed=nearest.seed,
        position=position,
        settings=settings,
        conditioning=lambda: explorer.conditioning(position),
        noise=lambda shape: explorer.noise(shape, position),
    )


def multicond(prompt_parser: Any, cond: Conditioning, steps: int, batch: int) -> Any:
    """`cond` as Forge's `MulticondLearnedConditioning` for a batch of `batch` identical frames."""
    schedule = prompt_parser.ScheduledPromptConditioning(end_at_step=steps, cond=per_prompt(cond))
    composable = prompt_parser.ComposableScheduledPromptConditioning([schedule], 1.0)
    return prompt_parser.MulticondLearnedConditioning(shape=(batch,), batch=[[composable]] * batch)
