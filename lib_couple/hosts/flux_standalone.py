"""The standalone host on the Flux demo model: txt2img, plain or with Basic / Advanced / Mask regions.

The regions are the UNet demo's (`planning.plan_regions`); on this model they go through the joint
attention (`hosts/flux_regional.py`): each region line is encoded with the T5-like encoder and cut
to its real tokens plus `flux_region_padding` pads, the pooled vector stays the whole prompt's.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.joint_attention import trim_text
from lib_couple.demo.flux_model import SIZE_MULTIPLE, FluxDemo, encode_flux_prompts, token_counts
from lib_couple.demo.flux_sampling import FlowPredictor, decode_flux_latents, percent_to_sigma, sample_flux
from lib_couple.errors import CoupleError
from lib_couple.hosts.flux_regional import regional_predictor, regional_processors
from lib_couple.hosts.forge.patchers.flux import FluxCouple
from lib_couple.hosts.model_lock import holding
from lib_couple.hosts.notices import collected_warnings
from lib_couple.hosts.progress import StepControl
from lib_couple.hosts.standalone import (
    GenerationRequest,
    GenerationResult,
    negative_lines,
    parameters_text,
    request_sampling,
    to_pil,
    warn_unknown_words,
)
from lib_couple.params import NUMBER_LIMITS, CoupleParams
from lib_couple.regions import RegionPlan

FLUX_MODEL_NAME = "forge-couple-flux-demo"
FLUX_SAMPLER = "Euler (flow, shifted)"
# The masked share ends just before the step at `steps * share`: at 0.4 of 20 steps, 8 are masked.
_SHARE_EDGE = 1e-6
_FLUX_NUMBERS = (
    "flux_block_start",
    "flux_block_stop",
    "flux_steps",
    "flux_base_ratio",
    "flux_region_padding",
)


def check_flux_controls(params: CoupleParams) -> None:
    """The `flux_*` fields within their limits (also when set in code, not parsed); raises CoupleError."""
    for name in _FLUX_NUMBERS:
        limit, value = NUMBER_LIMITS[name], getattr(params, name)
        limit.check_int(value) if limit.whole else limit.check(value)
    params.joint_controls()  # the choices and the range


def check_flux_request(request: GenerationRequest) -> None:
    """The request's own limits, its regions, then what this host does not do; raises CoupleError."""
    request.validate()
    for field, value in (("width", request.width), ("height", request.height)):
        if value % SIZE_MULTIPLE:
            raise CoupleError(
                f"{field} must be a multiple of {SIZE_MULTIPLE} on the Flux demo model, got {value}"
            )
    if request.init_image is not None:
        raise CoupleError(
            "img2img on the Flux demo model is not available: use the UNet demo (--model demo) for img2img"
        )
    if request.couple.enabled:
        check_flux_controls(request.couple)


def _region_lines(demo: FluxDemo, lines: list[str], padding: int) -> list[torch.Tensor]:
    """Each line's T5 sequence `[1, T, D]`, cut to its real tokens plus `padding` pads."""
    sequence = encode_flux_prompts(demo, lines)["crossattn"]
    counts = token_counts(demo.tokenizer, lines)
    return [trim_text(sequence[i : i + 1], counts[i], padding) for i in range(len(lines))]


def flux_couple(
    demo: FluxDemo, request: GenerationRequest, plan: RegionPlan
) -> tuple[FluxCouple, tuple[str, ...]]:
    """The generation's regions on the joint attention, and the note on the negative lines."""
    padding = request.couple.flux_region_padding
    lines, notes = negative_lines(request, plan)
    region_set = RegionSet(
        _region_lines(demo, list(plan.prompts), padding),
        plan.masks,
        strict=request.couple.strict_coverage,
        negatives=None if lines is None else _region_lines(demo, lines, padding),
    )
    tokens = (request.height // SIZE_MULTIPLE) * (request.width // SIZE_MULTIPLE)
    controls = request.couple.joint_controls()
    couple = FluxCouple(
        [region_set], None, controls, lambda share: percent_to_sigma(share, tokens) + _SHARE_EDGE
    )
    return couple, notes


def generate_flux(
    demo: FluxDemo,
    request: GenerationRequest,
    *,
    progress: bool = True,
    control: StepControl | None = None,
) -> GenerationResult:
    """One image from the request's prompt, negative as the unconditional side of CFG; with the
    couple enabled each line drives its region. `control` can end the sampling after any step."""
    check_flux_request(request)
    warn_unknown_words(request)
    notes: tuple[str, ...] = ()
    with collected_warnings() as warned:
        plan = request.regions()
        predictor: FlowPredictor | None = None
        patched: AbstractContextManager[None] = nullcontext()
        if plan is not None:
            couple, notes = flux_couple(demo, request, plan)
            predictor = regional_predictor(demo.transformer, couple)
            patched = regional_processors(demo.transformer, couple.current)
        cond = encode_flux_prompts(demo, [request.prompt])  # the pooled vector: the whole prompt's
        uncond = encode_flux_prompts(demo, [request.negative])
        with holding(demo.transformer), patched:
            latents = sample_flux(
                demo, cond, uncond, **request_sampling(request, progress, control), predictor=predictor
            )
    image = to_pil(decode_flux_latents(demo, latents))
    text = parameters_text(request, FLUX_MODEL_NAME, FLUX_SAMPLER)
    interrupted = control is not None and control.interrupted
    return GenerationResult(image, text, notes, warnings=tuple(warned), interrupted=interrupted)
