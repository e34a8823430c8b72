"""Regions from the UI's modes: one prompt line and one weight map per region, at image resolution.

Basic tiles the image in columns or rows, Advanced takes boxes `[x1, x2, y1, y2, weight]` in
fractions of width and height, Mask takes grayscale images with a weight each. Basic and Mask may
add a global line (first or last) that covers the whole image with its own weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from lib_couple.errors import CoupleError
from lib_couple.limits import REGIONS, WEIGHT, check_mask_budget

Direction = Literal["Horizontal", "Vertical"]
Background = Literal["None", "First Line", "Last Line"]
DIRECTIONS: tuple[Direction, ...] = ("Horizontal", "Vertical")
BACKGROUNDS: tuple[Background, ...] = ("None", "First Line", "Last Line")

MAX_WEIGHT = WEIGHT.high
# The peer's floor for the global line's weight (its Python side clamps, its slider starts there).
MIN_BACKGROUND_WEIGHT = 0.1
# A mask may differ from the image's aspect ratio by this much before it counts as another shape.
ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class AdvancedRow:
    """One Advanced-mode box, in fractions of the image: x1 < x2, y1 < y2, weight 0..5."""

    x1: float
    x2: float
    y1: float
    y2: float
    weight: float


@dataclass(frozen=True)
class MaskLayer:
    """One Mask-mode layer: grayscale values in 0..1 (white = the region) and a weight."""

    mask: npt.NDArray[np.float32]
    weight: float = 1.0


@dataclass(frozen=True)
class RegionPlan:
    """What a generation needs from the regions: a prompt and a weight map `[H, W]` per region."""

    prompts: tuple[str, ...]
    masks: torch.Tensor  # [R, H, W], float32, >= 0

    def __post_init__(self) -> None:
        if self.masks.ndim != 3 or self.masks.shape[0] != len(self.prompts):
            raise CoupleError(
                f"internal: {len(self.prompts)} prompts but masks of shape {tuple(self.masks.shape)}"
            )


def _check_size(width: int, height: int, regions: int) -> None:
    if width < 8 or height < 8:
        raise CoupleError(f"image size {width}x{height} is too small; width and height must be at least 8")
    check_mask_budget(regions, width, height)


def _finite(value: object) -> float | None:
    """The value as a finite float, or None for anything else (bools, text, NaN, huge integers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _check_weight(weight: object, what: str) -> float:
    number = _finite(weight)
    if number is None:
        raise CoupleError(
            f"{what}: weight {weight!r:.40} is not a number; use a value from 0 to {MAX_WEIGHT:g}"
        )
    if not 0.0 <= number <= MAX_WEIGHT:
        raise CoupleError(
            f"{what}: weight {number:g} is outside 0..{MAX_WEIGHT:g}; use a value in that range"
        )
    return number


def _span(start: float, end: float, size: int) -> tuple[int, int]:
    """Pixel span of the fractions [start, end) at `size`, at least one pixel wide."""
    first = min(round(start * size), size - 1)
    return first, max(first + 1, min(round(end * size), size))


def _with_background(
    lines: Sequence[str],
    region_masks: list[torch.Tensor],
    background: Background,
    weight: float,
    shape: tuple[int, int],
) -> RegionPlan:
    """Attach the global line (first or last) as a full-image region of its weight."""
    if background == "None":
        return RegionPlan(tuple(lines), torch.stack(region_masks))
    full = torch.full(shape, max(MIN_BACKGROUND_WEIGHT, _check_weight(weight, "global line")))
    if background == "First Line":
        return RegionPlan(tuple(lines), torch.stack([full, *region_masks]))
    return RegionPlan(tuple(lines), torch.stack([*region_masks, full]))


def _check_background(background: str) -> int:
    if background not in BACKGROUNDS:
        raise CoupleError(f"global line {background!r} is not one of {', '.join(BACKGROUNDS)}")
    return 0 if background == "None" else 1


def basic_regions(
    lines: Sequence[str],
    width: int,
    height: int,
    direction: Direction = "Horizontal",
    background: Background = "None",
    background_weight: float = 0.5,
) -> RegionPlan:
    """Equal tiles, one per line: columns left to right (Horizontal) or rows top to bottom (Vertical)."""
    _check_size(width, height, len(lines))
    if direction not in DIRECTIONS:
        raise CoupleError(f"tile direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    extra = _check_background(background)
    tiles = len(lines) - extra
    if tiles < 2:
        needed = 2 + extra
        raise CoupleError(
            f"Basic mode needs at least {needed} prompt lines{' (one of them global)' if extra else ''}, "
            f"the prompt has {len(lines)}: put each region's prompt on its own line, or check the separator"
        )
    masks = []
    along = width if direction == "Horizontal" else height
    for index in range(tiles):
        start, end = _span(index / tiles, (index + 1) / tiles, along)
        mask = torch.zeros(height, width)
        if direction == "Horizontal":
            mask[:, start:end] = 1.0
        else:
            mask[start:end, :] = 1.0
        masks.append(mask)
    return _with_background(lines, masks, background, background_weight, (height, width))


def parse_mapping(mapping: object) -> list[AdvancedRow]:
    """Validate an Advanced mapping: a non-empty list of `[x1, x2, y1, y2, weight]` numbers."""
    if not isinstance(mapping, (list, tuple)):
        raise CoupleError(
            f"the Advanced mapping is {type(mapping).__name__}, not a list of [x1, x2, y1, y2, weight] rows"
        )
    if not mapping:
        raise CoupleError(
            "the Advanced mapping is empty; add at least one region row [x1, x2, y1, y2, weight]"
        )
    REGIONS.check(len(mapping))
    rows = []
    for number, row in enumerate(mapping, start=1):
        where = f"mapping row {number}"
        if not isinstance(row, (list, tuple)) or len(row) != 5:
            raise CoupleError(f"{where} is {row!r:.60}; write it as [x1, x2, y1, y2, weight] with 5 numbers")
        values = []
        for name, value in zip(("x1", "x2", "y1", "y2", "weight"), row, strict=True):
            finite = _finite(value)
            if finite is None:
                raise CoupleError(f"{where}: {name} is {value!r:.40}; it must be a finite number")
            values.append(finite)
        x1, x2, y1, y2, weight = values
        for name, value in (("x1", x1), ("x2", x2), ("y1", y1), ("y2", y2)):
            if not 0.0 <= value <= 1.0:
                raise CoupleError(
                    f"{where}: {name} = {value:g} is outside 0..1; positions are fractions of the image"
                )
        if x1 >= x2:
            raise CoupleError(f"{where}: x1 = {x1:g} must be smaller than x2 = {x2:g}")
        if y1 >= y2:
            raise CoupleError(f"{where}: y1 = {y1:g} must be smaller than y2 = {y2:g}")
        rows.append(AdvancedRow(x1, x2, y1, y2, _check_weight(weight, where)))
    return rows


def advanced_regions(lines: Sequence[str], mapping: object, width: int, height: int) -> RegionPlan:
    """One box per line; overlapping boxes blend by their weights."""
    _check_size(width, height, len(lines))
    rows = parse_mapping(mapping)
    if len(rows) != len(lines):
        raise CoupleError(
            f"Advanced mode has {len(rows)} region rows but the prompt has {len(lines)} lines: "
            "give exactly one prompt line per row (add or remove lines or rows)"
        )
    masks = []
    for row in rows:
        left, right = _span(row.x1, row.x2, width)
        top, bottom = _span(row.y1, row.y2, height)
        mask = torch.zeros(height, width)
        mask[top:bottom, left:right] = row.weight
        masks.append(mask)
    return RegionPlan(tuple(lines), torch.stack(masks))


def _layer_tensor(layer: MaskLayer, number: int, width: int, height: int) -> torch.Tensor:
    where = f"mask {number}"
    data = np.asarray(layer.mask, dtype=np.float32)
    if data.ndim != 2 or data.size == 0:
        raise CoupleError(f"{where} has shape {data.shape}; a mask is one grayscale image (height x width)")
    if not np.isfinite(data).all():
        raise CoupleError(f"{where} contains NaN or infinite values; use grayscale values from 0 to 1")
    if data.min() < 0.0 or data.max() > 1.0:
        raise CoupleError(f"{where} has values outside 0..1; scale grayscale images by 1/255")
    mask_h, mask_w = data.shape
    if abs(mask_w / mask_h - width / height) > ASPECT_TOLERANCE * (width / height):
        raise CoupleError(
            f"{where} is {mask_w}x{mask_h} but the image is {width}x{height}: "
            "masks must have the image's aspect ratio (draw them on a canvas of the image size)"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(data))
    if (mask_h, mask_w) != (height, width):
        # Painted masks have hard edges: keep them when enlarging, average when shrinking.
        mode = "area" if mask_h >= height and mask_w >= width else "nearest-exact"
        tensor = F.interpolate(tensor[None, None], size=(height, width), mode=mode)[0, 0]
    return tensor.clamp(0.0, 1.0) * _check_weight(layer.weight, where)


def mask_regions(
    lines: Sequence[str],
    layers: Sequence[MaskLayer],
    width: int,
    height: int,
    background: Background = "None",
    background_weight: float = 0.5,
) -> RegionPlan:
    """One painted or uploaded mask per line, scaled by its weight."""
    _check_size(width, height, len(lines))
    extra = _check_background(background)
    if not layers:
        raise CoupleError("Mask mode has no masks; paint or upload at least one mask")
    if len(layers) + extra != len(lines):
        raise CoupleError(
            f"Mask mode has {len(layers)} masks{' and a global line' if extra else ''}, "
            f"so the prompt needs {len(layers) + extra} lines, but it has {len(lines)}: "
            "give one prompt line per mask"
        )
    masks = [_layer_tensor(layer, number, width, height) for number, layer in enumerate(layers, start=1)]
    return _with_background(lines, masks, background, background_weight, (height, width))
