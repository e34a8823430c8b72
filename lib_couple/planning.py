"""From the script's parameters and the prompt to the regions of one image."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.params import CoupleParams
from lib_couple.prompts import expand_common_prompts, resolve_separator, split_lines
from lib_couple.regions import MaskLayer, RegionPlan, advanced_regions, basic_regions, mask_regions

logger = logging.getLogger("forge_couple")


def decode_mask_image(data: object, number: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A mask from a PIL image, an array, or base64 PNG text (with or without a data: prefix)."""
    where = f"mask {number}"
    if isinstance(data, str):
        replace(limits.MASK_BASE64, field=f"{where}'s base64 text").check(data)
        text = data.split(",", 1)[1] if data.startswith("data:") else data
        try:
            data = Image.open(io.BytesIO(base64.b64decode(text, validate=True)))
        except (ValueError, OSError, Image.DecompressionBombError):
            raise CoupleError(f"{where} is not a base64-encoded PNG or JPEG image") from None
    if isinstance(data, Image.Image):
        _check_pixels(data.width, data.height, where)  # the header's size, before decoding
        try:
            return np.asarray(data.convert("L"), dtype=np.float32) / 255.0
        except (OSError, ValueError, Image.DecompressionBombError):
            raise CoupleError(f"{where} is a truncated or damaged image; upload it again") from None
    if isinstance(data, np.ndarray):
        _check_pixels(data.shape[1] if data.ndim > 1 else 1, data.shape[0] if data.ndim else 1, where)
        if data.dtype.kind not in "biuf":
            raise CoupleError(f"{where} is an array of {data.dtype}; a mask holds numbers")
        array = data.astype(np.float32)
        if array.ndim == 3:
            array = array.mean(axis=2)
        return array / 255.0 if array.max(initial=0.0) > 1.0 else array
    raise CoupleError(f"{where} must be an image, got {type(data).__name__}")


def _check_pixels(width: int, height: int, where: str) -> None:
    if width * height > limits.MAX_MASK_PIXELS:
        raise CoupleError(
            f"{where} is {width}x{height} pixels; the limit is {limits.MAX_MASK_PIXELS} pixels "
            "(4096x4096): scale it down to the image's size"
        )


def mask_layers(mapping: Sequence[Any]) -> list[MaskLayer]:
    """Mask-mode mapping entries `{"mask": image, "weight": w}` as layers."""
    if mapping:
        limits.REGIONS.check(len(mapping))
    layers = []
    for number, entry in enumerate(mapping, start=1):
        if not isinstance(entry, dict) or "mask" not in entry:
            raise CoupleError(
                f'mask {number} must be {{"mask": <base64 PNG>, "weight": <number>}}, got {entry!r:.80}'
            )
        weight = entry.get("weight", 1.0)
        limit = replace(limits.WEIGHT, field=f"mask {number}: weight")
        if isinstance(weight, str):  # the API's JSON gives numbers as numbers
            raise CoupleError(f"{limit.field} must be {limit.allowed()}; got the text {weight!r:.40}")
        layers.append(MaskLayer(decode_mask_image(entry["mask"], number), limit.check(weight)))
    return layers


def region_lines(params: CoupleParams, prompt: str) -> list[str]:
    """The prompt's region lines after common prompts are expanded."""
    limits.PROMPT.check(prompt)
    expanded = expand_common_prompts(prompt, params.common_parser, params.def_in_prompt)
    lines = split_lines(expanded, params.separator)
    if params.common_debug:
        logger.info("region lines: %s", lines)
    return lines


def plan_regions(params: CoupleParams, prompt: str, width: int, height: int) -> RegionPlan:
    """The regions of one image of `width` x `height` for this prompt."""
    lines = region_lines(params, prompt)
    limits.check_mask_budget(len(lines), width, height)  # before any mask is made
    if params.mode == "Basic":
        return basic_regions(
            lines, width, height, params.direction, params.background, params.background_weight
        )
    if params.mode == "Advanced":
        return advanced_regions(lines, params.mapping, width, height)
    if params.mode == "Mask":
        layers = mask_layers(params.mapping)
        return mask_regions(lines, layers, width, height, params.background, params.background_weight)
    raise CoupleError(f"unknown mode {params.mode!r}; use Basic, Advanced or Mask")


def region_negatives(params: CoupleParams, negative: str, plan: RegionPlan) -> tuple[list[str] | None, str]:
    """The negative prompt's line for each region of `plan` (None: the whole one everywhere), and
    a sentence saying which of the two happened ("" when the option is off).

    The lines are split as the positive prompt is, in its order (a global line where it has
    one), but trailing empty lines count while the regions need them ("red\\n": nothing for the
    second region); a single line is never split, so it stays exactly as without the option.
    """
    if not params.region_negatives:
        return None, ""
    expanded = expand_common_prompts(negative, params.common_parser, params.def_in_prompt)
    lines = [line.strip() for line in expanded.split(resolve_separator(params.separator))]
    count = len(plan.prompts)
    while lines and not lines[-1] and len(lines) > count:
        lines.pop()
    if len(lines) == count and count > 1:
        return lines, f"per-region negative prompts: {count} lines, one per region"
    return None, (
        f"the negative prompt has {len(lines)} line{'s' * (len(lines) != 1)} and the regions are "
        f"{count}, so the whole negative prompt applies everywhere (give one line per region, "
        "the global line included, to set one per region)"
    )
