"""Latent walks on the Flux demo model, rendered by the standalone walk runner (hosts/walk_standalone.py).

The explorer walks the Flux conditioning (`crossattn` T5 sequence and pooled `vector`; this model is
not guidance-distilled, so there is no `guidance` entry and CFG stays a setting) and slerps the noise
between the keyframes' seeds; frames share the runner's cache and infotext.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from PIL import Image

from lib_couple.demo.architecture import LATENT_CHANNELS, VAE_SCALE
from lib_couple.demo.flux_model import SIZE_MULTIPLE, FluxDemo, encode_flux_prompts
from lib_couple.demo.flux_sampling import decode_flux_latents, sample_flux
from lib_couple.errors import CoupleError
from lib_couple.hosts.flux_standalone import FLUX_MODEL_NAME, FLUX_SAMPLER
from lib_couple.hosts.progress import RunningControls, StepControl
from lib_couple.hosts.walk_standalone import (
    FrameRenderer,
    frame_parameters_text,
    frame_sampling,
    sampled_frame,
    tab_walk_frames,
)
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache, frame_key
from lib_couple.walk.interpolate import Method
from lib_couple.walk.plan import WalkPlan, WalkSettings


def check_flux_walk_settings(settings: WalkSettings) -> None:
    """The settings' own limits, then the sides this model takes; raises CoupleError naming the field."""
    settings.validate()
    for field, value in (("width", settings.width), ("height", settings.height)):
        if value % SIZE_MULTIPLE:
            raise CoupleError(
                f"{field} must be a multiple of {SIZE_MULTIPLE} on the Flux demo model, got {value}"
            )


def flux_explorer(
    demo: FluxDemo, keyframes: Sequence[Keyframe], method: Method = "slerp"
) -> LatentSpaceExplorer:
    """An explorer whose prompts are encoded with the Flux demo's T5-like and CLIP-like encoders."""
    return LatentSpaceExplorer(
        keyframes, lambda prompt: encode_flux_prompts(demo, [prompt]), architecture="flux", method=method
    )


def render_flux_frame(
    demo: FluxDemo,
    explorer: LatentSpaceExplorer,
    position: float,
    settings: WalkSettings,
    cache: FrameCache,
    control: StepControl | None = None,
) -> Image.Image:
    """The frame at a walk position, from the cache when rendered before; FrameInterruptedError
    once `control` stops the sampling."""
    cond = explorer.conditioning(position)
    assert isinstance(cond, dict)  # Flux-shaped conditioning
    shape = (1, LATENT_CHANNELS, settings.height // VAE_SCALE, settings.width // VAE_SCALE)
    noise = explorer.noise(shape, position)
    parameters = frame_parameters_text(explorer, position, settings, FLUX_MODEL_NAME, FLUX_SAMPLER)

    def sample() -> torch.Tensor:
        negative = encode_flux_prompts(demo, [settings.negative])
        return sample_flux(demo, cond, negative, **frame_sampling(settings, noise, control))

    def render() -> Image.Image:
        return sampled_frame(
            demo.transformer, sample, lambda latents: decode_flux_latents(demo, latents), control, parameters
        )

    # The model's name in the key: a UNet frame of the same settings is another frame.
    return cache.get_or_render(frame_key(cond, noise, {**vars(settings), "model": FLUX_MODEL_NAME}), render)


def flux_frame_renderer(
    demo: FluxDemo, plan: WalkPlan, settings: WalkSettings, cache: FrameCache
) -> FrameRenderer:
    """The walk's frames by position (the runner's `walk_frames` drives it)."""
    check_flux_walk_settings(settings)
    explorer = flux_explorer(demo, plan.keyframes(), plan.method)
    return lambda position: render_flux_frame(demo, explorer, position, settings, cache)


def flux_walk_frames(
    model: Callable[[], FluxDemo], cache: FrameCache, controls: RunningControls | None = None
) -> Callable[..., Iterator[Image.Image]]:
    """The web tab's renderer on the Flux demo, as `demo_walk_frames` is on the UNet demo."""

    def start(plan: WalkPlan, settings: WalkSettings) -> Callable[[float, StepControl], Image.Image]:
        check_flux_walk_settings(settings)
        demo = model()
        explorer = flux_explorer(demo, plan.keyframes(), plan.method)
        return lambda position, control: render_flux_frame(demo, explorer, position, settings, cache, control)

    return tab_walk_frames(start, controls)
