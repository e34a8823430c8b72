"""One regional check on both demo models: held-out colour lines in 2 or 3 strips, with and without regions.

    python -m bench.demo_regions [--models demo flux-demo] [--seeds 1 2 3] [--cases 5]
        [--steps 20] [--threads 1] [--json out/regions.json]

Each case is two or three lines ("a green square" / "a blue circle") in Basic columns or rows at
the engine's defaults (the Flux controls' included), then the same lines as one prompt without
regions. A seed-case passes when each line's colour covers more of its own strip than of any
other strip (`evaluate.colour_share`, the measure of tests/test_demo_regions.py); separation is
the share of the named colours' pixels that lie in their own strips, over all seed-cases
(1 / strips: none). Neither the colour lists nor the sizes and layouts are the tests' (those use
red / blue and green / yellow / white, in two columns at 64 or 256 px and rows at 200 x 264).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lib_couple.demo.evaluate import colour_share
from lib_couple.demo.shapes import Colour
from lib_couple.hosts.standalone import GenerationRequest, GenerationResult
from lib_couple.params import CoupleParams
from lib_couple.regions import Direction


@dataclass(frozen=True)
class Case:
    lines: tuple[tuple[Colour, str], ...]  # (colour, shape) per strip, left to right or top to bottom
    direction: Direction
    width: int
    height: int

    @property
    def prompt(self) -> str:
        return "\n".join(f"a {colour} {shape}" for colour, shape in self.lines)


HELD_OUT: tuple[Case, ...] = (
    Case((("green", "square"), ("blue", "circle")), "Horizontal", 288, 224),
    Case((("yellow", "triangle"), ("red", "square")), "Vertical", 224, 288),
    Case((("blue", "circle"), ("yellow", "triangle"), ("green", "square")), "Horizontal", 336, 208),
    Case((("red", "triangle"), ("green", "circle")), "Horizontal", 288, 224),
    Case((("yellow", "square"), ("blue", "triangle"), ("red", "circle")), "Vertical", 208, 336),
)
MODELS = ("demo", "flux-demo")
Shares = tuple[tuple[float, ...], ...]  # [line][strip]: share of the strip's pixels in the line's colour
Generate = Callable[[GenerationRequest], GenerationResult]


def generator_for(model: str) -> Generate:
    """The standalone host's generation on one of the shipped demo models."""
    if model == "flux-demo":
        from lib_couple.demo.flux_model import load_flux_demo
        from lib_couple.hosts.flux_standalone import generate_flux

        flux = load_flux_demo()
        return lambda request: generate_flux(flux, request, progress=False)
    if model == "demo":
        from lib_couple.demo import load_demo_pipeline
        from lib_couple.hosts.standalone import generate

        unet = load_demo_pipeline()
        return lambda request: generate(unet, request, progress=False)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


def strip_shares(image: Image.Image, colours: Sequence[Colour], direction: Direction) -> Shares:
    """Each colour's share of each equal strip (columns for Horizontal, rows for Vertical)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    if direction == "Vertical":
        pixels = pixels.transpose(1, 0, 2)
    edges = np.linspace(0, pixels.shape[1], len(colours) + 1).round().astype(int)
    strips = [pixels[:, a:b] for a, b in pairwise(edges)]
    return tuple(tuple(colour_share(strip, colour) for strip in strips) for colour in colours)


def passes(shares: Shares) -> bool:
    """Every line's colour covers more of its own strip than of any other."""
    return all(row[own] > other for own, row in enumerate(shares) for j, other in enumerate(row) if j != own)


def separation(cases: Sequence[Shares]) -> float:
    """The named colours' pixels in their own strips, as a share of all of them (1 / strips: none)."""
    own = sum(row[i] for shares in cases for i, row in enumerate(shares))
    total = sum(sum(row) for shares in cases for row in shares)
    if total:
        return own / total
    return 1.0 / len(cases[0]) if cases else 0.5


def check_model(make: Generate, cases: Sequence[Case], seeds: Sequence[int], steps: int) -> dict[str, object]:
    """The model's seed-cases with and without regions, and their summary."""
    regional: list[Shares] = []
    plain: list[Shares] = []
    for case in cases:
        colours = [colour for colour, _ in case.lines]
        for seed in seeds:
            for enabled, found in ((True, regional), (False, plain)):
                couple = CoupleParams(enabled=enabled, direction=case.direction)
                request = GenerationRequest(
                    case.prompt, width=case.width, height=case.height, steps=steps, seed=seed, couple=couple
                )
                found.append(strip_shares(make(request).image, colours, case.direction))
    return {
        "cases": len(regional),
        "pass_regions": sum(map(passes, regional)),
        "pass_plain": sum(map(passes, plain)),
        "separation_regions": separation(regional),
        "separation_plain": separation(plain),
    }


def measure(
    models: Sequence[str] = MODELS,
    cases: Sequence[Case] = HELD_OUT,
    seeds: Sequence[int] = (1, 2, 3),
    steps: int = 20,
) -> dict[str, dict[str, object]]:
    if not cases or not seeds:
        raise ValueError("cases and seeds must not be empty")
    return {model: check_model(generator_for(model), cases, seeds, steps) for model in models}


def table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| model | seed-cases passing, regions | without regions | separation, regions | without regions |",
        "|---|---|---|---|---|",
    ]
    for model, r in results.items():
        cases = r["cases"]
        lines.append(
            f"| {model} | {r['pass_regions']}/{cases} | {r['pass_plain']}/{cases} | "
            f"{r['separation_regions']:.2f} | {r['separation_plain']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument(
        "--cases", type=int, default=len(HELD_OUT), help=f"the first N held-out cases, 1 to {len(HELD_OUT)}"
    )
    parser.add_argument("--steps", type=int, default=20, help="1 to 150")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if not 1 <= args.cases <= len(HELD_OUT):
        parser.error(f"--cases must be 1 to {len(HELD_OUT)}, got {args.cases}")
    torch.set_num_threads(args.threads)
    results = measure(args.models, HELD_OUT[: args.cases], args.seeds, args.steps)
    print(f"{args.cases} cases x {len(args.seeds)} seeds, {args.steps} steps, CFG 5")
    print(table(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
