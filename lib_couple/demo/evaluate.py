"""Measure whether the demo model follows prompts: object colour, background colour, crude shape.

    python -m lib_couple.demo.evaluate [--model demo|flux-demo] [--seeds 3] [--steps 20] [--cfg 5]
        [--size 256] [--grid out.png]

The image analysis is plain numpy on an [H, W, 3] image in [0, 1], so it can be checked
against rendered scenes whose answers are known.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from lib_couple.demo.model import WEIGHTS_DIR, decode_latents, encode_prompts, load_demo_pipeline
from lib_couple.demo.sampling import sample
from lib_couple.demo.shapes import COLOURS, FILL_RATIO, PALETTE, SHAPES, Colour, Shape, parse_caption

Image3 = npt.NDArray[np.float32]

# A pixel belongs to an object when it is this far (RGB distance) from the background colour.
OBJECT_DISTANCE = 0.3
# Below this share of the image the "object" is treated as noise.
MIN_OBJECT_SHARE = 0.005


@dataclass(frozen=True)
class ImageReport:
    background: Colour
    object_colour: Colour | None
    fill_ratio: float | None
    shape: Shape | None
    object_share: float


def nearest_colour(rgb: npt.NDArray[np.floating[Any]]) -> Colour:
    """Palette colour nearest to an RGB triple."""
    distances = [float(np.sum((rgb - np.asarray(PALETTE[c])) ** 2)) for c in COLOURS]
    return COLOURS[int(np.argmin(distances))]


def nearest_shape(fill_ratio: float) -> Shape:
    """Shape whose bounding-box fill ratio is nearest (circle 0.785, square 1.0, triangle 0.5)."""
    return min(SHAPES, key=lambda shape: abs(FILL_RATIO[shape] - fill_ratio))


def background_rgb(image: Image3, border: int = 3) -> npt.NDArray[np.float32]:
    """Median colour of the image border."""
    edges = np.concatenate(
        [
            image[:border].reshape(-1, 3),
            image[-border:].reshape(-1, 3),
            image[:, :border].reshape(-1, 3),
            image[:, -border:].reshape(-1, 3),
        ]
    )
    return np.asarray(np.median(edges, axis=0), dtype=np.float32)


def object_mask(image: Image3, background: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    return np.asarray(np.linalg.norm(image - background, axis=-1) > OBJECT_DISTANCE)


def fill_ratio(mask: npt.NDArray[np.bool_]) -> float:
    """Share of its bounding box that a mask covers; the box spans the 1st-99th percentile (no specks)."""
    rows, cols = np.nonzero(mask)
    r0, r1 = np.percentile(rows, [1, 99])
    c0, c1 = np.percentile(cols, [1, 99])
    r0, r1, c0, c1 = int(r0), int(r1) + 1, int(c0), int(c1) + 1
    area = (r1 - r0) * (c1 - c0)
    return float(mask[r0:r1, c0:c1].sum() / area) if area > 0 else 0.0


def analyse_image(image: Image3) -> ImageReport:
    """Background colour, and colour and shape of everything that is not background."""
    background = background_rgb(image)
    mask = object_mask(image, background)
    share = float(mask.mean())
    if share < MIN_OBJECT_SHARE:
        return ImageReport(nearest_colour(background), None, None, None, share)
    ratio = fill_ratio(mask)
    colour = nearest_colour(np.median(image[mask], axis=0))
    return ImageReport(nearest_colour(background), colour, ratio, nearest_shape(ratio), share)


def colour_share(image: Image3, colour: Colour, distance: float = 0.35) -> float:
    """Share of pixels close to a palette colour."""
    return float((np.linalg.norm(image - np.asarray(PALETTE[colour], np.float32), axis=-1) < distance).mean())


def single_object_prompts() -> list[str]:
    """Every colour with every shape (18), on white or black in turn, plus four without a background."""
    prompts = []
    for i, colour in enumerate(COLOURS):
        for j, shape in enumerate(SHAPES):
            background = ("white", "black")[(i + j) % 2]
            if background == colour:
                background = "black" if colour == "white" else "white"
            prompts.append(f"a {colour} {shape} on a {background} background")
    return [*prompts, "a red circle", "a blue square", "a green triangle", "a yellow circle"]


TWO_OBJECT_PROMPTS: tuple[str, ...] = (
    "a red circle and a blue square on a white background",
    "a yellow triangle and a green circle on a black background",
)


@dataclass(frozen=True)
class PromptScore:
    prompt: str
    colour_right: int
    background_right: int
    shape_right: int
    seeds: int
    mean_fill: float


def score_prompt(prompt: str, images: Sequence[Image3]) -> PromptScore:
    """Count the images whose object colour, background and shape match the prompt."""
    objects, background = parse_caption(prompt)
    colour, shape = objects[0] if objects else (None, None)
    reports = [analyse_image(image) for image in images]
    fills = [r.fill_ratio for r in reports if r.fill_ratio is not None]
    return PromptScore(
        prompt,
        sum(r.object_colour == colour for r in reports) if colour else len(reports),
        sum(r.background == background for r in reports) if background else len(reports),
        sum(r.shape == shape for r in reports) if shape else len(reports),
        len(reports),
        float(np.mean(fills)) if fills else float("nan"),
    )


def generate(
    prompts: Sequence[str], seeds: Sequence[int], size: int, steps: int, cfg: float, weights: Path
) -> dict[str, list[Image3]]:
    components = load_demo_pipeline(weights_dir=weights)
    uncond = encode_prompts(components, [""])
    images: dict[str, list[Image3]] = {}
    for prompt in prompts:
        cond = encode_prompts(components, [prompt])
        images[prompt] = []
        for seed in seeds:
            latents = sample(
                components,
                cond,
                uncond,
                height=size,
                width=size,
                steps=steps,
                cfg=cfg,
                seed=seed,
                progress=False,
            )
            image = decode_latents(components, latents)[0].permute(1, 2, 0).numpy()
            images[prompt].append(image.astype(np.float32))
    return images


def generate_flux(
    prompts: Sequence[str], seeds: Sequence[int], size: int, steps: int, cfg: float, weights: Path
) -> dict[str, list[Image3]]:
    """The same images from the Flux demo model (Euler steps on its flow, same seeds and CFG)."""
    from lib_couple.demo.flux_model import encode_flux_prompts, load_flux_demo
    from lib_couple.demo.flux_sampling import decode_flux_latents, sample_flux

    demo = load_flux_demo(weights_dir=weights)
    uncond = encode_flux_prompts(demo, [""])
    images: dict[str, list[Image3]] = {}
    for prompt in prompts:
        cond = encode_flux_prompts(demo, [prompt])
        images[prompt] = []
        for seed in seeds:
            latents = sample_flux(
                demo, cond, uncond, height=size, width=size, steps=steps, cfg=cfg, seed=seed, progress=False
            )
            image = decode_flux_latents(demo, latents)[0].permute(1, 2, 0).numpy()
            images[prompt].append(image.astype(np.float32))
    return images


def format_table(scores: Sequence[PromptScore]) -> str:
    width = max(len(s.prompt) for s in scores)
    lines = [f"{'prompt':<{width}}  colour  backgr  shape  fill"]
    for s in scores:
        counts = (s.colour_right, s.background_right, s.shape_right)
        lines.append(
            f"{s.prompt:<{width}}  "
            + "  ".join(f"{c:>6}" for c in (f"{n}/{s.seeds}" for n in counts))
            + f"  {s.mean_fill:.2f}"
        )
    total = sum(s.seeds for s in scores)
    sums = (
        sum(s.colour_right for s in scores),
        sum(s.background_right for s in scores),
        sum(s.shape_right for s in scores),
    )
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{c:>6}" for c in (f"{n}/{total}" for n in sums)))
    return "\n".join(lines)


def save_grid(images: dict[str, list[Image3]], path: Path) -> None:
    """One row per prompt, one column per seed."""
    rows = [np.concatenate(row, axis=1) for row in images.values()]
    grid = np.concatenate(rows, axis=0)
    Image.fromarray((grid * 255).round().astype(np.uint8)).save(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--model", choices=("demo", "flux-demo"), default="demo")
    parser.add_argument(
        "--weights", type=Path, default=None, help="weights folder (default: the shipped one)"
    )
    parser.add_argument("--grid", type=Path, default=None, help="save all samples as one PNG")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    prompts = single_object_prompts()
    seeds = list(range(args.seeds))
    start = time.monotonic()
    if args.model == "flux-demo":
        from lib_couple.demo.flux_model import FLUX_WEIGHTS_DIR

        make, weights = generate_flux, args.weights or FLUX_WEIGHTS_DIR
    else:
        make, weights = generate, args.weights or WEIGHTS_DIR
    images = make([*prompts, *TWO_OBJECT_PROMPTS], seeds, args.size, args.steps, args.cfg, weights)
    seconds = (time.monotonic() - start) / sum(len(v) for v in images.values())
    print(format_table([score_prompt(p, images[p]) for p in prompts]))
    print("\ntwo objects: share of pixels near each named colour, per seed")
    for prompt in TWO_OBJECT_PROMPTS:
        named = [colour for colour, _ in parse_caption(prompt)[0] if colour is not None]
        shares = [" ".join(f"{c}={colour_share(image, c):.2f}" for c in named) for image in images[prompt]]
        print(f"{prompt}: {' | '.join(shares)}")
    print(f"\n{seconds:.2f} s per {args.size}x{args.size} image ({args.steps} steps, including decode)")
    if args.grid is not None:
        save_grid(images, args.grid)


if __name__ == "__main__":
    main()
