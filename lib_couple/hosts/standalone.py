"""The standalone host: regional generation with diffusers parts, without Forge.

It backs the command line and the standalone web app. The model is the embedded demo model;
the couple runs through the diffusers adapter, installed only for the sampling and removed
afterwards whatever happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import torch
from PIL import Image

from lib_couple import limits
from lib_couple.demo import DemoComponents, decode_latents, encode_prompts, sample
from lib_couple.demo.model import encode_images
from lib_couple.demo.tokenizer import unknown_words
from lib_couple.errors import CoupleError
from lib_couple.hosts.diffusers_host import DiffusersCouple
from lib_couple.hosts.model_lock import holding
from lib_couple.hosts.notices import collected_warnings
from lib_couple.hosts.progress import StepCallback, StepControl
from lib_couple.infotext import format_parameters, to_infotext
from lib_couple.memory.attention_cache import cache_key
from lib_couple.memory.manager import get_memory_manager
from lib_couple.params import CoupleParams
from lib_couple.planning import plan_regions, region_negatives
from lib_couple.regions import RegionPlan

logger = logging.getLogger("forge_couple")

MODEL_NAME = "forge-couple-demo"
UNCOND, COND = 1, 0


@dataclass(frozen=True)
class GenerationRequest:
    """A txt2img request as the CLI and the web app make it; with `init_image`, an img2img one."""

    prompt: str
    negative: str = ""
    width: int = 256
    height: int = 256
    steps: int = 20
    cfg: float = 5.0
    seed: int = 1
    couple: CoupleParams = field(default_factory=CoupleParams)
    init_image: Image.Image | None = None
    denoising_strength: float = 0.75

    def validate(self) -> None:
        """Every field within its limit (lib_couple/limits.py); raises CoupleError naming it."""
        limits.PROMPT.check(self.prompt)
        limits.NEGATIVE.check(self.negative)
        limits.WIDTH.check_int(self.width)
        limits.HEIGHT.check_int(self.height)
        limits.STEPS.check_int(self.steps)
        limits.CFG.check(self.cfg)
        limits.SEED.check_int(self.seed)
        if self.init_image is not None:
            limits.DENOISING.check(self.denoising_strength)
            _check_image_pixels(self.init_image)

    def regions(self) -> RegionPlan | None:
        """The validated regions, or None when the couple is off; raises CoupleError."""
        self.validate()
        if not self.couple.enabled:
            return None
        return plan_regions(self.couple, self.prompt, self.width, self.height)


def _check_image_pixels(image: Image.Image) -> None:
    if image.width * image.height > limits.MAX_MASK_PIXELS:
        raise CoupleError(
            f"the input image is {image.width}x{image.height} pixels; the limit is "
            f"{limits.MAX_MASK_PIXELS} pixels (4096x4096)"
        )


@dataclass(frozen=True)
class GenerationResult:
    image: Image.Image
    parameters: str
    notes: tuple[str, ...] = ()  # what the user should know: whether negatives went per region
    warnings: tuple[str, ...] = ()  # what the engine warned of (uncovered area, ...), for the page
    interrupted: bool = False  # Interrupt or a cancel ended the sampling early


class RequestSampling(TypedDict):
    """The sampler's keywords that come from the request and its control: `sample`'s and `sample_flux`'s."""

    height: int
    width: int
    steps: int
    cfg: float
    seed: int
    progress: bool
    on_step: StepCallback | None


def request_sampling(
    request: GenerationRequest, progress: bool, control: StepControl | None
) -> RequestSampling:
    """The request's size, steps, CFG and seed, the bar, and the control's step callback."""
    return RequestSampling(
        height=request.height,
        width=request.width,
        steps=request.steps,
        cfg=request.cfg,
        seed=request.seed,
        progress=progress,
        on_step=None if control is None else control.on_step,
    )


def warn_unknown_words(request: GenerationRequest) -> None:
    """Log the prompt's and negative's words the demo tokenizer drops (the demo models know few)."""
    ignored = unknown_words(f"{request.prompt}\n{request.negative}")
    if ignored:
        logger.warning("the demo model ignores the words it does not know: %s", ", ".join(ignored))


def negative_lines(request: GenerationRequest, plan: RegionPlan) -> tuple[list[str] | None, tuple[str, ...]]:
    """The request's negative line per region (None: the whole one everywhere) and the note to show."""
    lines, message = region_negatives(request.couple, request.negative, plan)
    if message:
        logger.info("Forge Couple: %s", message)
    return lines, (message,) if message else ()


def to_pil(images: torch.Tensor) -> Image.Image:
    """The first image of `[N, 3, H, W]` in [0, 1]."""
    array = (images[0].permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array)


def parameters_text(request: GenerationRequest, model_name: str = MODEL_NAME, sampler: str = "DDIM") -> str:
    values: dict[str, Any] = {
        "Steps": request.steps,
        "Sampler": sampler,
        "CFG scale": request.cfg,
        "Seed": request.seed,
        "Size": f"{request.width}x{request.height}",
        "Model": model_name,
    }
    if request.init_image is not None:
        values["Denoising strength"] = request.denoising_strength
    if request.couple.enabled:
        values.update(to_infotext(request.couple))
    return format_parameters(request.prompt, request.negative, values)


def image_latents(model: DemoComponents, image: Image.Image, width: int, height: int) -> torch.Tensor:
    """An img2img input at the request's size, encoded by the demo VAE."""
    resized = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        return encode_images(model, pixels)


def generate(
    model: DemoComponents,
    request: GenerationRequest,
    *,
    progress: bool = True,
    control: StepControl | None = None,
) -> GenerationResult:
    """One image; with the couple enabled each prompt line drives its region.

    `control` sees every step and can end the sampling (the image of the steps done is kept)."""
    with collected_warnings() as warned:
        result = _generate(model, request, progress, control)
    return GenerationResult(
        result.image, result.parameters, result.notes, tuple(warned), interrupted=result.interrupted
    )


def _generate(
    model: DemoComponents, request: GenerationRequest, progress: bool, control: StepControl | None
) -> GenerationResult:
    plan = request.regions()
    warn_unknown_words(request)
    manager = get_memory_manager()
    # Entries are keyed by the encoder's id: tracking it drops them when it is collected.
    manager.track_model(model.text_encoder)

    def encode(prompts: list[str]) -> torch.Tensor:
        key = cache_key(id(model.text_encoder), tuple(prompts))
        encoded: torch.Tensor = manager.cache.get_or_compute(key, lambda: encode_prompts(model, prompts))
        return encoded

    cond = encode([request.prompt])
    uncond = encode([request.negative])
    init = (
        None
        if request.init_image is None
        else image_latents(model, request.init_image, request.width, request.height)
    )

    def run() -> torch.Tensor:
        return sample(
            model,
            cond,
            uncond,
            **request_sampling(request, progress, control),
            init_latents=init,
            strength=request.denoising_strength,
        )

    notes: tuple[str, ...] = ()
    if plan is None:
        with holding(model.unet), manager.generation():
            latents = run()
    else:
        encoded = encode(list(plan.prompts))
        region_conds = [encoded[index : index + 1] for index in range(encoded.shape[0])]
        lines, notes = negative_lines(request, plan)
        negatives = None if lines is None else [encode([line]) for line in lines]
        couple = DiffusersCouple(
            region_conds,
            plan.masks,
            strict=request.couple.strict_coverage,
            cond_or_uncond=[UNCOND, COND],
            negatives=negatives,
        )
        with holding(model.unet), manager.generation(), couple.applied(model.unet):
            latents = run()
    interrupted = control is not None and control.interrupted
    image = to_pil(decode_latents(model, latents))
    return GenerationResult(image, parameters_text(request), notes, interrupted=interrupted)
