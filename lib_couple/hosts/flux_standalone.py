"""The standalone host on the Flux demo model: plain txt2img (regional prompting on Flux is issue 19)."""

from __future__ import annotations

import logging

from lib_couple.demo.flux_model import SIZE_MULTIPLE, FluxDemo, encode_flux_prompts
from lib_couple.demo.flux_sampling import decode_flux_latents, sample_flux
from lib_couple.demo.tokenizer import unknown_words
from lib_couple.errors import CoupleError
from lib_couple.hosts.model_lock import holding
from lib_couple.hosts.notices import collected_warnings
from lib_couple.hosts.standalone import GenerationRequest, GenerationResult, parameters_text, to_pil

logger = logging.getLogger("forge_couple")

FLUX_MODEL_NAME = "forge-couple-flux-demo"
FLUX_SAMPLER = "Euler (flow, shifted)"


def check_flux_request(request: GenerationRequest) -> None:
    """The request's own limits, then what this host does not do yet; raises CoupleError."""
    request.validate()
    for field, value in (("width", request.width), ("height", request.height)):
        if value % SIZE_MULTIPLE:
            raise CoupleError(
                f"{field} must be a multiple of {SIZE_MULTIPLE} on the Flux demo model, got {value}"
            )
    if request.couple.enabled:
        raise CoupleError("regional prompting on the Flux demo model is not available yet: pass --no-couple")
    if request.init_image is not None:
        raise CoupleError("img2img on the Flux demo model is not available yet")


def generate_flux(demo: FluxDemo, request: GenerationRequest, *, progress: bool = True) -> GenerationResult:
    """One image from the request's prompt, negative as the unconditional side of CFG."""
    check_flux_request(request)
    ignored = unknown_words(f"{request.prompt}\n{request.negative}")
    if ignored:
        logger.warning("the demo model ignores the words it does not know: %s", ", ".join(ignored))
    with collected_warnings() as warned, holding(demo.transformer):
        latents = sample_flux(
            demo,
            encode_flux_prompts(demo, [request.prompt]),
            encode_flux_prompts(demo, [request.negative]),
            height=request.height,
            width=request.width,
            steps=request.steps,
            cfg=request.cfg,
            seed=request.seed,
            progress=progress,
        )
    image = to_pil(decode_flux_latents(demo, latents))
    text = parameters_text(request, FLUX_MODEL_NAME, FLUX_SAMPLER)
    return GenerationResult(image, text, warnings=tuple(warned))
