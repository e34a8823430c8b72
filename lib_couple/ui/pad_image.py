"""The explorer's pad as a picture: direction prompts, the visited trail, the current point.

The page shows it as a clickable image; a click's pixel becomes a pad point by `pad_at`, so the
picture and the clicks agree on one mapping (+y is up, the centre is the base prompt).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from lib_couple.walk.pad import PAD_RADIUS, PadState

PAD_PIXELS = 320
BACKGROUND = (24, 26, 32)
GRID = (60, 64, 76)
TRAIL = (120, 160, 255)
ANCHOR = (255, 200, 80)
CURRENT = (255, 90, 90)
SAVED = (120, 230, 140)


def pixel_of(x: float, y: float, size: int = PAD_PIXELS) -> tuple[float, float]:
    """The pixel (column, row) of a pad point."""
    return ((x / PAD_RADIUS + 1) * size / 2, (1 - y / PAD_RADIUS) * size / 2)


def pad_at(column: float, row: float, size: int = PAD_PIXELS) -> tuple[float, float]:
    """The pad point (x, y) of a pixel; the inverse of `pixel_of`."""
    return ((2 * column / size - 1) * PAD_RADIUS, (1 - 2 * row / size) * PAD_RADIUS)


def _dot(
    draw: ImageDraw.ImageDraw, centre: tuple[float, float], radius: float, fill: tuple[int, int, int]
) -> None:
    cx, cy = centre
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)


def draw_pad(state: PadState, size: int = PAD_PIXELS) -> Image.Image:
    """The pad: axes, unit circle (one anchor distance), anchors with labels, trail, saved points,
    and the current point (its seed share as a ring)."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    half = size / 2
    draw.line((0, half, size, half), fill=GRID)
    draw.line((half, 0, half, size), fill=GRID)
    unit = size / (2 * PAD_RADIUS)
    draw.ellipse((half - unit, half - unit, half + unit, half + unit), outline=GRID)
    trail = [pixel_of(x, y, size) for x, y in state.trail]
    if len(trail) > 1:
        draw.line(trail, fill=TRAIL, width=2)
    for point in state.saved:
        _dot(draw, pixel_of(point.x, point.y, size), 4, SAVED)
    for index, direction in enumerate(state.directions):
        cx, cy = pixel_of(*direction.at, size)
        _dot(draw, (cx, cy), 5, ANCHOR)
        label = f"{index + 1} {direction.prompt[:24]}"
        draw.text((min(cx + 7, size - 6 * len(label)), max(0, cy - 12)), label, fill=ANCHOR)
    cx, cy = pixel_of(state.point.x, state.point.y, size)
    ring = 7 + 10 * state.point.seed_t
    draw.ellipse((cx - ring, cy - ring, cx + ring, cy + ring), outline=CURRENT, width=2)
    _dot(draw, (cx, cy), 5, CURRENT)
    return image
