"""Latent walks rendered on the embedded demo model (the CLI's `walk` and the web app's tab)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import torch
from PIL import Image

from lib_couple.demo import DemoComponents, decode_latents, encode_prompts, sample
from lib_couple.demo.architecture import LATENT_CHANNELS, VAE_SCALE
from lib_couple.hosts.model_lock import holding, holding_in_background
from lib_couple.hosts.progress import ProgressReport, RunningControls, StepControl
from lib_couple.hosts.standalone import MODEL_NAME, RequestSampling, to_pil
from lib_couple.infotext import format_parameters
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache, frame_key
from lib_couple.walk.interpolate import Method
from lib_couple.walk.output import PARAMETERS_KEY
from lib_couple.walk.pad import PadPoint, PadState
from lib_couple.walk.pad_space import PadSpace
from lib_couple.walk.plan import WalkPlan, WalkSettings
from lib_couple.walk.render_ahead import RenderAhead

__all__ = [
    "DemoExplorePad",
    "DemoWalkPad",
    "FrameInterruptedError",
    "FrameRenderer",
    "WalkSettings",
    "demo_explore_pad",
    "demo_explorer",
    "demo_walk_frames",
    "demo_walk_pad",
    "render_frame",
    "render_walk",
    "tab_walk_frames",
    "walk_frames",
]

KNOWN_POINTS = 64  # the explorer's points whose conditioning, noise and key are kept

# One frame of an opened walk at a position (its conditioning, noise, cache and model bound);
# the walk runner below drives the UNet demo's and the Flux demo's (hosts/flux_walk.py) alike.
FrameRenderer = Callable[[float], Image.Image]


def demo_explorer(
    model: DemoComponents, keyframes: Sequence[Keyframe], method: Method = "slerp"
) -> LatentSpaceExplorer:
    """An explorer whose prompts are encoded with the demo model's text encoder."""

    def encode(prompt: str) -> torch.Tensor:
        return encode_prompts(model, [prompt])

    return LatentSpaceExplorer(keyframes, encode, architecture="sd15", method=method)


def _latents_at(
    explorer: LatentSpaceExplorer, position: float, settings: WalkSettings
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The frame's conditioning, starting noise and cache key."""
    cond = explorer.conditioning(position)
    assert isinstance(cond, torch.Tensor)  # SD-shaped conditioning
    shape = (1, LATENT_CHANNELS, settings.height // VAE_SCALE, settings.width // VAE_SCALE)
    noise = explorer.noise(shape, position)
    return cond, noise, frame_key(cond, noise, vars(settings))


def frame_parameters_text(
    explorer: LatentSpaceExplorer,
    position: float,
    settings: WalkSettings,
    model: str = MODEL_NAME,
    sampler: str = "DDIM",
) -> str:
    """A frame's infotext, as the Forge host writes it: the nearest keyframe's prompt and seed,
    the sampling settings, and the frame's position on the walk."""
    nearest = explorer.keyframes[min(round(position), len(explorer.keyframes) - 1)]
    values = {
        "Steps": settings.steps,
        "Sampler": sampler,
        "CFG scale": settings.cfg,
        "Seed": nearest.seed,
        "Size": f"{settings.width}x{settings.height}",
        "Model": model,
        "Latent walk position": f"{position:.4f}",
    }
    return format_parameters(nearest.prompt, settings.negative, values)


class FrameInterruptedError(Exception):
    """The frame's sampling was interrupted: there is no frame (and nothing is cached)."""


def render_frame(
    model: DemoComponents,
    explorer: LatentSpaceExplorer,
    position: float,
    settings: WalkSettings,
    cache: FrameCache,
    control: StepControl | None = None,
) -> Image.Image:
    """The frame at a walk position; a frame rendered before comes from the cache, unsampled.

    `control` sees every step; once it stops the sampling, FrameInterruptedError is raised."""
    cond, noise, key = _latents_at(explorer, position, settings)
    parameters = frame_parameters_text(explorer, position, settings)
    return render_conditioned(model, cond, noise, key, settings, cache, control, parameters)


def render_conditioned(
    model: DemoComponents,
    cond: torch.Tensor,
    noise: torch.Tensor,
    key: str,
    settings: WalkSettings,
    cache: FrameCache,
    control: StepControl | None = None,
    parameters: str | None = None,
    wanted: Callable[[], bool] | None = None,
) -> Image.Image:
    """The frame of a conditioning and a starting noise, cached under `key`, with `parameters`
    as its infotext; FrameInterruptedError once `control` stops the sampling, or when
    `wanted()` is False once the model is held (nothing sampled)."""

    def render() -> Image.Image:
        return sampled_frame(
            model.unet,
            lambda: _sample(model, cond, noise, settings, control),
            lambda latents: decode_latents(model, latents),
            control,
            parameters,
            wanted,
        )

    return cache.get_or_render(key, render)


def sampled_frame(
    held: object,
    sample_latents: Callable[[], torch.Tensor],
    decode: Callable[[torch.Tensor], torch.Tensor],
    control: StepControl | None,
    parameters: str | None,
    wanted: Callable[[], bool] | None = None,
) -> Image.Image:
    """One frame sampled while `held` (the model) is held, decoded, with `parameters` as its
    infotext; FrameInterruptedError once `control` stopped the sampling, or when `wanted()` is
    False once the model is held (nothing sampled). The UNet and the Flux demo walk share it."""
    with holding(held):
        if wanted is not None and not wanted():
            raise FrameInterruptedError("the frame is no longer wanted")
        latents = sample_latents()
    if control is not None and (control.interrupted or control.skipped):
        raise FrameInterruptedError("the frame was interrupted")
    image = to_pil(decode(latents))
    if parameters is not None:
        image.info[PARAMETERS_KEY] = parameters
    return image


class FrameSampling(RequestSampling):
    """A walk frame's sampler keywords: `sample`'s and `sample_flux`'s."""

    latents: torch.Tensor


def frame_sampling(settings: WalkSettings, noise: torch.Tensor, control: StepControl | None) -> FrameSampling:
    """The settings' size, steps and CFG, the frame's noise as its start (so no seed), no bar,
    and the control's step callback."""
    return FrameSampling(
        height=settings.height,
        width=settings.width,
        steps=settings.steps,
        cfg=settings.cfg,
        seed=0,
        progress=False,
        on_step=None if control is None else control.on_step,
        latents=noise,
    )


def _sample(
    model: DemoComponents,
    cond: torch.Tensor,
    noise: torch.Tensor,
    settings: WalkSettings,
    control: StepControl | None,
    stop_within_step: Callable[[], bool] | None = None,
) -> torch.Tensor:
    negative = encode_prompts(model, [settings.negative])
    keywords = frame_sampling(settings, noise, control)
    return sample(model, cond, negative, **keywords, stop_within_step=stop_within_step)


def render_walk(
    model: DemoComponents,
    explorer: LatentSpaceExplorer,
    positions: Sequence[float],
    settings: WalkSettings,
    cache: FrameCache,
    on_frame: Callable[[int, Image.Image], None] | None = None,
) -> list[Image.Image]:
    """Frames at the given positions, in order."""
    return walk_frames(lambda p: render_frame(model, explorer, p, settings, cache), positions, on_frame)


def walk_frames(
    render: FrameRenderer,
    positions: Sequence[float],
    on_frame: Callable[[int, Image.Image], None] | None = None,
) -> list[Image.Image]:
    """Each position's frame from `render`, in order; `on_frame` sees each as it comes."""
    frames = []
    for index, position in enumerate(positions):
        frame = render(position)
        frames.append(frame)
        if on_frame is not None:
            on_frame(index, frame)
    return frames


class DemoWalkPad:
    """A walk on the demo model explored one frame at a time (the tab's pad)."""

    def __init__(
        self, model: DemoComponents, cache: FrameCache, plan: WalkPlan, settings: WalkSettings
    ) -> None:
        self.model = model
        self.cache = cache
        self.settings = settings
        self.explorer = demo_explorer(model, plan.keyframes(), plan.method)

    def cached(self, position: float) -> Image.Image | None:
        return self.cache.get(_latents_at(self.explorer, position, self.settings)[2])

    def render(self, position: float) -> Image.Image | None:
        return render_frame(self.model, self.explorer, position, self.settings, self.cache)


def demo_walk_pad(
    model: Callable[[], DemoComponents], cache: FrameCache
) -> Callable[[WalkPlan, WalkSettings], DemoWalkPad]:
    """The pad's walk opener on the demo model; the pad and the walk share `cache`."""
    return lambda plan, settings: DemoWalkPad(model(), cache, plan, settings)


class DemoExplorePad:
    """The Latent Space Explorer on the demo model; its frames share the walk's cache."""

    def __init__(
        self, model: DemoComponents, cache: FrameCache, state: PadState, settings: WalkSettings
    ) -> None:
        self.model = model
        self.cache = cache
        self.state = state
        self.settings = settings
        self.space = PadSpace(lambda prompt: encode_prompts(model, [prompt]))
        self.ahead = RenderAhead()
        self._known: dict[tuple[object, ...], tuple[torch.Tensor, torch.Tensor, str]] = {}

    def _latents(self, point: PadPoint) -> tuple[torch.Tensor, torch.Tensor, str]:
        # a move asks for its point and the neighbours' several times (status line, frame,
        # render-ahead plan): each is mixed, slerped and hashed once per walk and point
        state = self.state
        memo_key = (state.base, state.directions, state.seed, state.other_seed, point)
        known = self._known.get(memo_key)
        if known is not None:
            return known
        cond = self.space.conditioning(state, point)
        assert isinstance(cond, torch.Tensor)  # SD-shaped conditioning
        shape = (1, LATENT_CHANNELS, self.settings.height // VAE_SCALE, self.settings.width // VAE_SCALE)
        noise = self.space.noise(state, shape, point)
        found = (cond, noise, frame_key(cond, noise, vars(self.settings)))
        if len(self._known) >= KNOWN_POINTS:
            self._known.clear()  # a long walk: start over rather than grow
        self._known[memo_key] = found
        return found

    def cached(self, point: PadPoint) -> Image.Image | None:
        return self.cache.get(self._latents(point)[2])

    def render(self, point: PadPoint, wanted: Callable[[], bool] | None = None) -> Image.Image | None:
        try:
            return render_conditioned(
                self.model, *self._latents(point), self.settings, self.cache, wanted=wanted
            )
        except FrameInterruptedError:
            return None  # superseded while it waited for the model

    def look_ahead(self, points: Sequence[PadPoint]) -> threading.Thread | None:
        """Render `points` into the cache in the background (the job before is dropped); the
        thread, or None when all are cached."""
        drawing = self.ahead.still_drawing(points)
        if drawing is not None:
            return drawing  # the same plan, still drawing (a Show on a drawn point): keep it going
        job = self.ahead.plan(points, lambda point: self._latents(point)[2] in self.cache)
        return self.ahead.start(job, self._render_ahead, self._store)

    def cancel_ahead(self) -> None:
        self.ahead.cancel()

    # False: a background frame stops only between sampling steps (bench/ahead_yield.py compares)
    stop_within_step = True

    def _render_ahead(self, point: PadPoint, control: StepControl) -> Image.Image | None:
        cond, noise, _ = self._latents(point)
        stop = (lambda: control.interrupted) if self.stop_within_step else None
        with holding_in_background(self.model.unet, self.ahead.cancel, lambda: not control.cancelled) as held:
            if not held:
                return None
            # a real request cancels it: the UNet block in progress is its last
            latents = _sample(self.model, cond, noise, self.settings, control, stop)
        if control.interrupted:
            return None  # a real request took the model: the partial frame is dropped
        return to_pil(decode_latents(self.model, latents))

    def _store(self, point: PadPoint, frame: Image.Image) -> None:
        self.cache.put(self._latents(point)[2], frame)


def demo_explore_pad(
    model: Callable[[], DemoComponents], cache: FrameCache
) -> Callable[[PadState, WalkSettings], DemoExplorePad]:
    """The explorer's opener on the demo model."""
    return lambda state, settings: DemoExplorePad(model(), cache, state, settings)


ControlledFrames = Callable[[WalkPlan, WalkSettings], Callable[[float, StepControl], Image.Image]]


def tab_walk_frames(
    start: ControlledFrames, controls: RunningControls | None = None
) -> Callable[..., Iterator[Image.Image]]:
    """The web tab's renderer around `start(plan, settings)` (loads the model, gives the frame
    at a position under a step control): the walk's frames one by one; `report` sees each
    sampled frame's steps. With `controls`, the walk is one of them: their interrupt stops the
    frame being sampled within a step, and the walk ends there."""

    def frames(
        plan: WalkPlan, settings: WalkSettings, report: ProgressReport | None = None
    ) -> Iterator[Image.Image]:
        render = start(plan, settings)
        control = StepControl(report)
        running = RunningControls() if controls is None else controls
        with running.running(control):
            for position in plan.positions():
                try:
                    yield render(position, control)
                except FrameInterruptedError:
                    return

    return frames


def demo_walk_frames(
    model: Callable[[], DemoComponents], cache: FrameCache, controls: RunningControls | None = None
) -> Callable[..., Iterator[Image.Image]]:
    """The web tab's renderer on the UNet demo; revisited frames come from `cache`."""

    def start(plan: WalkPlan, settings: WalkSettings) -> Callable[[float, StepControl], Image.Image]:
        components = model()
        explorer = demo_explorer(components, plan.keyframes(), plan.method)
        return lambda position, control: render_frame(
            components, explorer, position, settings, cache, control
        )

    return tab_walk_frames(start, controls)
