"""What the shipped-model tests share: in how many seeds a model draws the prompt's colours."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lib_couple.demo.evaluate import analyse_image
from lib_couple.demo.shapes import Colour


def seeds_followed(
    decoded: Callable[[int], torch.Tensor], colour: Colour, background: Colour, seeds: int = 3
) -> int:
    """How many of seeds 0 .. seeds - 1 give an image (`decoded(seed)`: `[1, 3, H, W]` in [0, 1])
    whose object is `colour` on `background`."""
    hits = 0
    for seed in range(seeds):
        report = analyse_image(decoded(seed)[0].permute(1, 2, 0).numpy())
        hits += (report.object_colour, report.background) == (colour, background)
    return hits
