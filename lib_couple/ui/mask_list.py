"""Mask mode's list: `[{"mask": <base64 PNG>, "weight": w}, ...]` as JSON text, and its edits.

The list is the same JSON the API takes as the `mapping` argument, so the UI holds no server
state and a reloaded page or an API call sees exactly what the UI sends.
"""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any

import numpy as np
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.params import parse_mapping_value
from lib_couple.planning import decode_mask_image
from lib_couple.regions import MAX_WEIGHT

# Masks larger than this are scaled down: the JSON travels with every generate request.
MAX_MASK_SIDE = 1024

MaskEntry = dict[str, Any]


def encode_mask(image: Image.Image) -> str:
    """A grayscale PNG as base64 text, at most MAX_MASK_SIDE pixels on its longer side."""
    mask = image.convert("L")
    if max(mask.size) > MAX_MASK_SIDE:
        mask.thumbnail((MAX_MASK_SIDE, MAX_MASK_SIDE), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_mask(entry: MaskEntry, number: int) -> Image.Image:
    """The mask of one entry as a grayscale image (for the preview)."""
    values = decode_mask_image(entry.get("mask"), number)
    return Image.fromarray((values.clip(0.0, 1.0) * 255.0).round().astype("uint8"), mode="L")


def parse_masks(text: str | None) -> list[MaskEntry]:
    """The mask list from its JSON text; raises CoupleError naming the bad entry."""
    value = parse_mapping_value(text)
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict) or "mask" not in entry:
            raise CoupleError(f'mask {number} must be {{"mask": <base64 PNG>, "weight": <number>}}')
    return value


def masks_text(masks: list[MaskEntry]) -> str:
    return json.dumps(masks)


def check_weight(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CoupleError(f"{what}: weight {value!r} is not a number; use a value from 0 to {MAX_WEIGHT:g}")
    if not 0.0 <= value <= MAX_WEIGHT:
        raise CoupleError(f"{what}: weight {value:g} is outside 0..{MAX_WEIGHT:g}")
    return float(value)


def masks_status(masks: list[MaskEntry]) -> str:
    if not masks:
        return "No masks yet: upload a mask (white = region) and press **Add mask**."
    count, plural = len(masks), "" if len(masks) == 1 else "s"
    return f"✅ {count} mask{plural}: the prompt needs {count} line{plural}, plus the global line if set"


def _edit(text: str | None, change: Any) -> tuple[str | None, str]:
    """Apply `change(masks) -> masks`; (new text or None to keep it, status line)."""
    try:
        masks = change(parse_masks(text))
    except CoupleError as error:
        return None, f"⚠️ {error}"
    return masks_text(masks), masks_status(masks)


def add_mask(text: str | None, image: Image.Image | None, weight: object) -> tuple[str | None, str]:
    """Append the uploaded image with its weight."""

    def change(masks: list[MaskEntry]) -> list[MaskEntry]:
        if image is None:
            raise CoupleError("upload a mask image first (white = region)")
        value = check_weight(weight, f"mask {len(masks) + 1}")
        return [*masks, {"mask": encode_mask(image), "weight": value}]

    return _edit(text, change)


def blank_canvas(width: object, height: object) -> dict[str, Any]:
    """An ImageEditor value: a black canvas of the image's size to paint a region on in white."""
    sizes = []
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 8 <= value <= 8192:
            raise CoupleError(f"canvas {name} must be a number of pixels from 8 to 8192, got {value!r}")
        sizes.append(int(value))
    background = Image.new("RGB", (sizes[0], sizes[1]), (0, 0, 0))
    return {"background": background, "layers": [], "composite": background.copy()}


def _as_image(value: object, what: str) -> Image.Image | None:
    if value is None or isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    raise CoupleError(f"the canvas {what} is not an image (got {type(value).__name__})")


def _painted(layer: Image.Image) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Where a layer is painted: its alpha if it has one (any brush colour), else its light pixels."""
    if "A" in layer.getbands():
        return np.asarray(layer.getchannel("A")) > 0
    return np.asarray(layer.convert("L")) > 127


def painted_mask(value: object) -> Image.Image:
    """The painted area of a gr.ImageEditor value (background, layers, composite) as a mask.

    The mask is white where any layer is painted and has the canvas's size; the background (a
    black canvas or the img2img input) never counts. With no layers, what the composite adds to
    the background counts, and with neither, the composite's light pixels (white on black).
    """
    if not isinstance(value, dict):
        raise CoupleError("nothing is painted yet: paint the region with the brush first")
    background = _as_image(value.get("background"), "background")
    composite = _as_image(value.get("composite"), "composite")
    layers = [layer for layer in (_as_image(item, "layer") for item in value.get("layers") or []) if layer]
    canvas = background or composite or (layers[0] if layers else None)
    if canvas is None:
        raise CoupleError("nothing is painted yet: paint the region with the brush first")
    size = canvas.size
    painted = np.zeros((size[1], size[0]), dtype=bool)
    for layer in layers:
        if layer.size != size:
            layer = layer.resize(size, Image.Resampling.NEAREST)
        painted |= _painted(layer)
    if not layers and composite is not None:
        composite = composite.resize(size, Image.Resampling.NEAREST) if composite.size != size else composite
        if background is not None:
            difference = np.abs(
                np.asarray(composite.convert("RGB"), dtype=np.int16)
                - np.asarray(background.convert("RGB"), dtype=np.int16)
            )
            painted |= difference.max(axis=2) > 8
        else:
            painted |= _painted(composite.convert("RGB"))
    if not painted.any():
        raise CoupleError("nothing is painted yet: paint the region with the brush first")
    return Image.fromarray(painted.astype(np.uint8) * 255, mode="L")


def add_painted_mask(text: str | None, value: object, weight: object) -> tuple[str | None, str]:
    """Append the painted region of the canvas as a new mask with its weight."""
    try:
        image = painted_mask(value)
    except CoupleError as error:
        return None, f"⚠️ {error}"
    return add_mask(text, image, weight)


def remove_mask(text: str | None, number: object) -> tuple[str | None, str]:
    """Delete the mask at `number` (counted from 1, as the preview shows)."""

    def change(masks: list[MaskEntry]) -> list[MaskEntry]:
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise CoupleError("give the number of the mask to delete")
        index = int(number)
        if index != number or not 1 <= index <= len(masks):
            raise CoupleError(f"there is no mask {number:g}; masks are numbered 1 to {len(masks)}")
        return masks[: index - 1] + masks[index:]

    return _edit(text, change)


def set_weights(text: str | None, weights: str | None) -> tuple[str | None, str]:
    """Set every mask's weight from comma-separated numbers, one per mask."""

    def change(masks: list[MaskEntry]) -> list[MaskEntry]:
        parts = [part.strip() for part in (weights or "").split(",") if part.strip()]
        if len(parts) != len(masks):
            raise CoupleError(f"give {len(masks)} comma-separated weights, one per mask; got {len(parts)}")
        values = []
        for number, part in enumerate(parts, start=1):
            try:
                value = float(part)
            except ValueError:
                raise CoupleError(f"mask {number}: weight {part!r} is not a number") from None
            values.append(check_weight(value, f"mask {number}"))
        return [{**entry, "weight": value} for entry, value in zip(masks, values, strict=True)]

    return _edit(text, change)


def weights_text(masks: list[MaskEntry]) -> str:
    return ", ".join(f"{float(entry.get('weight', 1.0)):g}" for entry in masks)


def gallery_items(text: str | None) -> list[tuple[Image.Image, str]]:
    """Preview images captioned with their number and weight; unreadable entries are left out."""
    try:
        masks = parse_masks(text)
    except CoupleError:
        return []
    items = []
    for number, entry in enumerate(masks, start=1):
        try:
            image = decode_mask(entry, number)
        except CoupleError:
            continue
        items.append((image, f"#{number} · weight {entry.get('weight', 1.0)}"))
    return items
