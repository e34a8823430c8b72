"""Synthetic captioned images of coloured shapes: the demo model's training data.

Every function is pure: a scene is drawn from a seeded generator, rendered with numpy
and described by a caption in the demo vocabulary. Boxes are in fractions of the image
side, so one scene renders at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Colour = Literal["red", "green", "blue", "yellow", "white", "black"]
Shape = Literal["circle", "square", "triangle"]

COLOURS: tuple[Colour, ...] = ("red", "green", "blue", "yellow", "white", "black")
SHAPES: tuple[Shape, ...] = ("circle", "square", "triangle")

# Saturated but not clipped, so a colour survives the VAE round trip recognisably.
PALETTE: dict[Colour, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.75, 0.15),
    "blue": (0.10, 0.20, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "white": (0.97, 0.97, 0.97),
    "black": (0.05, 0.05, 0.05),
}

# Fraction of its bounding box that each shape fills.
FILL_RATIO: dict[Shape, float] = {"circle": float(np.pi / 4), "square": 1.0, "triangle": 0.5}

# Words the captions may use; the tokenizer is built from this list.
FILLER_WORDS: tuple[str, ...] = ("a", "and", "on", "background", "shape")
VOCABULARY: tuple[str, ...] = FILLER_WORDS + COLOURS + SHAPES

Layout = Literal["single", "side_by_side", "stacked", "empty"]
Mention = Literal["full", "object", "colour", "shape", "background"]


@dataclass(frozen=True)
class Box:
    """Axis-aligned square box, in fractions of the image side."""

    cx: float
    cy: float
    half: float

    @property
    def x0(self) -> float:
        return self.cx - self.half

    @property
    def x1(self) -> float:
        return self.cx + self.half

    @property
    def y0(self) -> float:
        return self.cy - self.half

    @property
    def y1(self) -> float:
        return self.cy + self.half


@dataclass(frozen=True)
class ShapeObject:
    colour: Colour
    shape: Shape
    box: Box


@dataclass(frozen=True)
class Scene:
    """Objects in caption order (left to right, or top to bottom) over a flat background."""

    background: Colour
    objects: tuple[ShapeObject, ...]
    mention: Mention


def shape_mask(shape: Shape, box: Box, size: int) -> npt.NDArray[np.bool_]:
    """Boolean [size, size] mask of one shape, sampled at pixel centres."""
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size
    x = centres[None, :]
    y = centres[:, None]
    dx = (x - box.cx) / box.half
    dy = (y - box.cy) / box.half
    if shape == "circle":
        return np.asarray(dx**2 + dy**2 <= 1.0)
    inside_box = (np.abs(dx) <= 1.0) & (np.abs(dy) <= 1.0)
    if shape == "square":
        return np.asarray(inside_box)
    # Apex at the top centre, base along the bottom edge: half the box.
    return np.asarray(inside_box & (np.abs(dx) <= (dy + 1.0) / 2.0))


def render(scene: Scene, size: int, jitter: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
    """[size, size, 3] float image in [0, 1]; `jitter` ([1 + objects, 3]) shifts each colour slightly."""
    offsets = np.zeros((1 + len(scene.objects), 3), np.float32) if jitter is None else jitter
    image = np.empty((size, size, 3), np.float32)
    image[...] = np.clip(np.asarray(PALETTE[scene.background], np.float32) + offsets[0], 0.0, 1.0)
    for index, obj in enumerate(scene.objects, start=1):
        colour = np.clip(np.asarray(PALETTE[obj.colour], np.float32) + offsets[index], 0.0, 1.0)
        image[shape_mask(obj.shape, obj.box, size)] = colour
    return image


def caption(scene: Scene) -> str:
    """The scene's caption; how much it says depends on `scene.mention`."""
    background = f"on a {scene.background} background"
    if scene.mention == "background" or not scene.objects:
        return f"a {scene.background} background"
    if scene.mention == "colour":
        return f"a {scene.objects[0].colour} shape"
    if scene.mention == "shape":
        return f"a {scene.objects[0].shape}"
    objects = " and ".join(f"a {obj.colour} {obj.shape}" for obj in scene.objects)
    return f"{objects} {background}" if scene.mention == "full" else objects


def parse_caption(text: str) -> tuple[list[tuple[Colour | None, Shape | None]], Colour | None]:
    """(objects as (colour, shape) pairs, background colour) named by a caption."""
    words = text.lower().split()
    background: Colour | None = None
    if len(words) >= 2 and words[-1] == "background" and words[-2] in COLOURS:
        background = _as_colour(words[-2])
        words = words[:-2]
        if words[-2:] == ["on", "a"]:
            words = words[:-2]
        elif words == ["a"]:
            return [], background
    objects: list[tuple[Colour | None, Shape | None]] = []
    for phrase in " ".join(words).split(" and "):
        colour: Colour | None = None
        shape: Shape | None = None
        for word in phrase.split():
            if word in COLOURS:
                colour = _as_colour(word)
            elif word in SHAPES:
                shape = _as_shape(word)
        if colour is not None or shape is not None:
            objects.append((colour, shape))
    return objects, background


def _as_colour(word: str) -> Colour:
    for colour in COLOURS:
        if colour == word:
            return colour
    raise ValueError(f"not a colour: {word!r}")


def _as_shape(word: str) -> Shape:
    for shape in SHAPES:
        if shape == word:
            return shape
    raise ValueError(f"not a shape: {word!r}")


def _choice(rng: np.random.Generator, options: tuple[Colour, ...]) -> Colour:
    return options[int(rng.integers(len(options)))]


def _box_in(
    rng: np.random.Generator, x0: float, x1: float, y0: float, y1: float, lo: float, hi: float
) -> Box:
    """A random box whose half side is in [lo, hi] and which lies inside the given area."""
    limit = min(hi, (x1 - x0) / 2, (y1 - y0) / 2)
    half = float(rng.uniform(min(lo, limit), limit))
    cx = float(rng.uniform(x0 + half, x1 - half))
    cy = float(rng.uniform(y0 + half, y1 - half))
    return Box(cx, cy, half)


def random_scene(rng: np.random.Generator) -> Scene:
    """One random scene: layout, colours, shapes, boxes and how much the caption says."""
    layout: Layout = ("single", "single", "side_by_side", "stacked", "empty")[
        int(rng.choice(5, p=(0.30, 0.25, 0.2, 0.2, 0.05)))
    ]
    background = _choice(rng, COLOURS)
    if layout == "empty":
        return Scene(background, (), "background")
    others = tuple(c for c in COLOURS if c != background)
    margin = 0.04
    if layout == "single":
        boxes = [_box_in(rng, margin, 1 - margin, margin, 1 - margin, 0.18, 0.36)]
    elif layout == "side_by_side":
        boxes = [
            _box_in(rng, margin, 0.5, margin, 1 - margin, 0.13, 0.22),
            _box_in(rng, 0.5, 1 - margin, margin, 1 - margin, 0.13, 0.22),
        ]
    else:
        boxes = [
            _box_in(rng, margin, 1 - margin, margin, 0.5, 0.13, 0.22),
            _box_in(rng, margin, 1 - margin, 0.5, 1 - margin, 0.13, 0.22),
        ]
    colours = rng.permutation(len(others))[: len(boxes)]
    objects = tuple(
        ShapeObject(others[int(c)], SHAPES[int(rng.integers(len(SHAPES)))], box)
        for c, box in zip(colours, boxes, strict=False)
    )
    mention: Mention
    if len(objects) == 2:
        mention = "full" if rng.random() < 0.6 else "object"
    else:
        mention = ("full", "object", "colour", "shape")[int(rng.choice(4, p=(0.5, 0.3, 0.1, 0.1)))]
    return Scene(background, objects, mention)


def colour_jitter(rng: np.random.Generator, scene: Scene, amount: float = 0.04) -> npt.NDArray[np.float32]:
    """Small per-colour offsets so the model sees a neighbourhood of each palette colour."""
    return rng.uniform(-amount, amount, size=(1 + len(scene.objects), 3)).astype(np.float32)


def make_batch(seed: int, count: int, size: int) -> tuple[npt.NDArray[np.float32], list[str]]:
    """`count` images ([count, 3, size, size] in [-1, 1]) and their captions, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, 3, size, size), np.float32)
    captions: list[str] = []
    for index in range(count):
        scene = random_scene(rng)
        images[index] = render(scene, size, colour_jitter(rng, scene)).transpose(2, 0, 1) * 2.0 - 1.0
        captions.append(caption(scene))
    return images, captions


def strip_bounds(index: int, regions: int, columns: bool) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of strip `index` of `regions` equal columns (or rows), in fractions."""
    start, end = index / regions, (index + 1) / regions
    return (start, end, 0.0, 1.0) if columns else (0.0, 1.0, start, end)


def strip_scene(rng: np.random.Generator, regions: int, columns: bool) -> tuple[Scene, list[str]]:
    """One object of its own colour inside each strip, and a caption per strip.

    The captions are what each region's prompt line says at inference: the object, and
    usually the shared background.
    """
    background = _choice(rng, COLOURS)
    others = tuple(c for c in COLOURS if c != background)
    colours = rng.permutation(len(others))[:regions]
    margin = 0.03
    objects = []
    for index, colour in enumerate(colours):
        x0, x1, y0, y1 = strip_bounds(index, regions, columns)
        box = _box_in(rng, x0 + margin, x1 - margin, y0 + margin, y1 - margin, 0.12, 0.3)
        objects.append(ShapeObject(others[int(colour)], SHAPES[int(rng.integers(len(SHAPES)))], box))
    scene = Scene(background, tuple(objects), "full")
    with_background = rng.random() < 0.7
    captions = [
        f"a {obj.colour} {obj.shape}" + (f" on a {background} background" if with_background else "")
        for obj in objects
    ]
    return scene, captions


def make_strip_batch(
    seed: int, count: int, size: int, regions: int, columns: bool
) -> tuple[npt.NDArray[np.float32], list[list[str]]]:
    """`count` strip scenes ([count, 3, size, size] in [-1, 1]) and each one's per-strip captions."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, 3, size, size), np.float32)
    captions: list[list[str]] = []
    for index in range(count):
        scene, lines = strip_scene(rng, regions, columns)
        images[index] = render(scene, size, colour_jitter(rng, scene)).transpose(2, 0, 1) * 2.0 - 1.0
        captions.append(lines)
    return images, captions
