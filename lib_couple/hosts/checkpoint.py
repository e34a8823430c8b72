"""A user's SD1.5 or SDXL single-file checkpoint, loaded offline with diffusers, for the CLI.

diffusers builds the pipeline from the file's weights and the components' configs in diffusers
format: pass a folder of them (`--config`), or have them in the Hugging Face cache for the base
repository diffusers infers (`stable-diffusion-v1-5/stable-diffusion-v1-5`,
`stabilityai/stable-diffusion-xl-base-1.0`). Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

import torch

from lib_couple.errors import CoupleError
from lib_couple.hosts.diffusers_host import DiffusersCouple
from lib_couple.hosts.standalone import (
    COND,
    UNCOND,
    GenerationRequest,
    GenerationResult,
    negative_lines,
    parameters_text,
)

Architecture = Literal["SD1.5", "SDXL"]
# A key only each architecture's single-file layout has.
MARKER_KEYS: tuple[tuple[str, Architecture], ...] = (
    ("conditioner.embedders.1.model.ln_final.weight", "SDXL"),
    ("cond_stage_model.transformer.text_model.final_layer_norm.weight", "SD1.5"),
    ("cond_stage_model.transformer.final_layer_norm.weight", "SD1.5"),
)


def detect_architecture(path: Path) -> Architecture:
    """SD1.5 or SDXL from the checkpoint's keys; anything else is refused."""
    from safetensors import SafetensorError, safe_open  # type: ignore[attr-defined]

    if path.suffix != ".safetensors":
        raise CoupleError(
            f"{path}: only .safetensors checkpoints are loaded (pickled .ckpt files can run code)"
        )
    try:
        with cast(Any, safe_open)(str(path), framework="pt") as handle:
            keys = set(handle.keys())
    except (OSError, ValueError, SafetensorError) as error:
        raise CoupleError(f"cannot read {path} as a safetensors checkpoint: {error}") from None
    for key, architecture in MARKER_KEYS:
        if key in keys:
            return architecture
    raise CoupleError(
        f"{path} is not an SD1.5 or SDXL single-file checkpoint; Forge Couple needs a UNet model"
    )


def load_checkpoint(path: Path, config: Path | None = None) -> Any:
    """The diffusers pipeline of a single-file checkpoint, offline, on the CPU in fp32."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    architecture = detect_architecture(path)
    pipeline_class = StableDiffusionXLPipeline if architecture == "SDXL" else StableDiffusionPipeline
    options: dict[str, Any] = {"local_files_only": True, "torch_dtype": torch.float32}
    if config is not None:
        if not (config / "model_index.json").is_file():
            raise CoupleError(f"{config} has no model_index.json: give a folder of diffusers-format configs")
        options["config"] = str(config)
    try:
        pipeline = pipeline_class.from_single_file(str(path), **options)
    except (OSError, ValueError) as error:
        raise CoupleError(
            f"cannot build the {architecture} pipeline offline: {error}. Pass --config with a folder of the "
            "base model's diffusers configs (model_index.json, unet/, vae/, text_encoder/, tokenizer/, "
            "scheduler/; SDXL also text_encoder_2/ and tokenizer_2/)"
        ) from None
    pipeline.set_progress_bar_config(disable=False)
    return pipeline


def encode_lines(pipeline: Any, lines: list[str]) -> torch.Tensor:
    """`[R, T, D]` cross-attention conditionings of the region lines with the pipeline's encoders."""
    embeds = pipeline.encode_prompt(
        prompt=lines, device=pipeline.device, num_images_per_prompt=1, do_classifier_free_guidance=False
    )[0]
    encoded: torch.Tensor = embeds.detach()
    return encoded


def generate_with_pipeline(pipeline: Any, request: GenerationRequest, model_name: str) -> GenerationResult:
    """One image from a diffusers SD pipeline, with the regions installed for the sampling only."""
    plan = request.regions()
    options = {
        "prompt": request.prompt,
        "negative_prompt": request.negative,
        "width": request.width,
        "height": request.height,
        "num_inference_steps": request.steps,
        "guidance_scale": request.cfg,
        "generator": torch.Generator().manual_seed(request.seed),
    }
    notes: tuple[str, ...] = ()
    if plan is None:
        image = pipeline(**options).images[0]
    else:
        lines, notes = negative_lines(request, plan)
        negatives = None if lines is None else [row[None] for row in encode_lines(pipeline, lines)]
        encoded = encode_lines(pipeline, list(plan.prompts))
        conds = [encoded[index : index + 1] for index in range(encoded.shape[0])]
        # diffusers batches [negative, positive] under guidance, only the positive without it.
        layout = [UNCOND, COND] if request.cfg > 1.0 else [COND]
        couple = DiffusersCouple(
            conds,
            plan.masks,
            strict=request.couple.strict_coverage,
            cond_or_uncond=layout,
            negatives=negatives if UNCOND in layout else None,
        )
        with couple.applied(pipeline.unet):
            image = pipeline(**options).images[0]
    return GenerationResult(image, parameters_text(request, model_name), notes)
