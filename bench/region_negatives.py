"""Per-region negatives on the demo model: `python -m bench.region_negatives [--seeds 8]`.

"a red circle" left, "a blue square" right (Basic columns, 256 px, 20 steps, CFG 5). Negatives:
none (today); empty lines per region (the regional uncond path alone: a control that should change
nothing); each region's own line as its negative, the other region's empty; the left line as the
whole negative (everywhere). For each, the share of red pixels in the left half and of blue in
the right half, per seed; the paired change against none (mean, median, standard error across
seeds: the noise a change must exceed to count) and the seeds where the share fell.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lib_couple.demo import DemoComponents
from lib_couple.demo.evaluate import colour_share
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.params import CoupleParams

PROMPT = "a red circle\na blue square"
CASES = {
    "none": ("", False),
    "empty lines per region": ("\n", True),
    "left line, left region": ("a red circle\n", True),
    "right line, right region": ("\na blue square", True),
    "left line everywhere": ("a red circle", False),
}


@dataclass(frozen=True)
class Change:
    """A share's mean under a negative, and its paired change against no negative."""

    mean: float
    change: float
    median_change: float
    standard_error: float
    lower_in: int  # seeds where the share fell


def shares(model: DemoComponents, negative: str, per_region: bool, seed: int) -> tuple[float, float]:
    """(red share of the left half, blue share of the right half) of one image."""
    couple = CoupleParams(enabled=True, region_negatives=per_region)
    request = GenerationRequest(
        PROMPT, negative=negative, width=256, height=256, steps=20, cfg=5.0, seed=seed, couple=couple
    )
    image = np.asarray(generate(model, request, progress=False).image, dtype=np.float32) / 255.0
    return colour_share(image[:, :128], "red"), colour_share(image[:, 128:], "blue")


def _change(values: Sequence[float], base: Sequence[float]) -> Change:
    deltas = [v - b for v, b in zip(values, base, strict=True)]
    error = statistics.stdev(deltas) / len(deltas) ** 0.5 if len(deltas) > 1 else float("nan")
    return Change(
        statistics.fmean(values),
        statistics.fmean(deltas),
        statistics.median(deltas),
        error,
        sum(d < 0 for d in deltas),
    )


def measure(
    model: DemoComponents, seeds: Sequence[int], names: Sequence[str] = tuple(CASES)
) -> dict[str, dict[str, Change]]:
    """Per case named (and "none"): the red-left and blue-right shares' changes against none."""
    cases = {name: CASES[name] for name in dict.fromkeys(["none", *names])}
    raw = {
        name: [shares(model, negative, on, seed) for seed in seeds] for name, (negative, on) in cases.items()
    }
    base_red, base_blue = (list(column) for column in zip(*raw["none"], strict=True))
    result = {}
    for name, rows in raw.items():
        red, blue = (list(column) for column in zip(*rows, strict=True))
        result[name] = {"red left": _change(red, base_red), "blue right": _change(blue, base_blue)}
    return result


def main(argv: list[str] | None = None) -> int:
    import torch

    from lib_couple.demo import load_demo_pipeline

    parser = argparse.ArgumentParser(prog="python -m bench.region_negatives", description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = measure(load_demo_pipeline(), range(1, args.seeds + 1))
    print("| negative | red left | change (median; fell in) | blue right | change (median; fell in) |")
    print("|---|---|---|---|---|")
    for name, changes in result.items():
        cells = [
            f"{c.mean:.3f} | {c.change:+.3f} ± {c.standard_error:.3f} ({c.median_change:+.3f}; "
            f"{c.lower_in}/{args.seeds})"
            for c in (changes["red left"], changes["blue right"])
        ]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print(json.dumps({name: {k: vars(v) for k, v in c.items()} for name, c in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
