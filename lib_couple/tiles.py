"""Tile mode for img2img's SD Upscale: the prompt of one tile from the regions it overlaps.

SD Upscale cuts the upscaled image into a grid of tiles and img2img's each one with the same
prompt; a regional prompt would draw every subject in every tile. Instead, each tile gets only
the lines of the regions it overlaps enough, and no regional attention (a tile is a small part
of one region or two, and the grid's position is not known to the attention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lib_couple.errors import CoupleError


@dataclass(frozen=True)
class Box:
    """A tile in pixels of the region masks: [left, right) x [top, bottom)."""

    left: int
    top: int
    right: int
    bottom: int


def grid_box(index: int, columns: int, rows: int, width: int, height: int) -> Box:
    """The `index`-th tile (row by row, as SD Upscale walks them) of a `columns` x `rows` grid."""
    if columns < 1 or rows < 1:
        raise CoupleError(f"Tile mode needs at least 1 column and 1 row, got {columns} x {rows}")
    column, row = index % columns, (index // columns) % rows
    return Box(
        column * width // columns,
        row * height // rows,
        (column + 1) * width // columns,
        (row + 1) * height // rows,
    )


def coverage(masks: torch.Tensor, box: Box) -> list[float]:
    """How much each region `[R, H, W]` and the tile hold of each other, 0..1.

    The overlap over the smaller of the two areas: 1 when the region lies wholly in the tile
    or covers it wholly, so both a small subject and a large one count in the tiles they fill.
    """
    tile_area = float((box.right - box.left) * (box.bottom - box.top))
    result = []
    for mask in masks.clamp(0.0, 1.0):
        inside = float(mask[box.top : box.bottom, box.left : box.right].sum())
        smaller = min(float(mask.sum()), tile_area)
        result.append(inside / smaller if smaller > 0 and inside > 0 else 0.0)
    return result


def included(masks: torch.Tensor, box: Box, threshold: float) -> list[int]:
    """The regions whose coverage of the tile reaches `threshold` (0: any overlap at all)."""
    return [i for i, share in enumerate(coverage(masks, box)) if share > 0 and share >= threshold - 1e-9]


def parse_replacements(text: str) -> list[tuple[str, str]]:
    """Subject replacement lines `key: tag, tag` as (key, tags) pairs; blank lines are skipped."""
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, tags = line.partition(":")
        if not colon or not key.strip():
            raise CoupleError(
                f'subject replacement line {number} must be "key: tag, tag", got {line.strip()!r:.60}'
            )
        pairs.append((key.strip(), tags.strip()))
    return pairs


def tile_prompt(
    lines: Sequence[str], masks: torch.Tensor, box: Box, threshold: float, replacements: str = ""
) -> str:
    """The prompt of one tile: the lines of the regions it holds, keys replaced by their tags.

    If no region reaches the threshold, the tile gets the line it overlaps most, and if it
    overlaps none, every line (as SD Upscale would without regions): no prompt is left empty.
    """
    chosen = included(masks, box, threshold)
    if not chosen:
        shares = coverage(masks, box)
        best = max(range(len(shares)), key=shares.__getitem__)
        chosen = [best] if shares[best] > 0 else list(range(len(shares)))
    pairs = parse_replacements(replacements)
    texts = []
    for index in chosen:
        text = lines[index]
        for key, tags in pairs:
            text = text.replace(key, tags)
        texts.append(text.strip())
    return ", ".join(text for text in texts if text)
