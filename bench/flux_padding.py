"""What trimming the region lines' T5 padding saves: padded vs trimmed region lines, one run.

    OMP_NUM_THREADS=1 python -m bench.flux_padding --preset cpu --rounds 5   # scaled down
    python -m bench.flux_padding --preset flux --device cuda --dtype bfloat16  # Flux's shapes

Forge pads every T5 line to 256 or 512 tokens; the runner cuts each region line to its real
tokens plus `flux_region_padding` pads (default 16). Per block (double, single), interleaved
round by round: `plain` (the block on `[own text ; image]`), then for the padded and the trimmed
region lines `masked` (dense additive mask, Neo's form) and `grouped` (rows of equal allowed keys
attended together: lllyasviel Forge's path). The whole step sums 19 double + 38 single blocks,
all masked (the default `flux_blocks` "all"); the generation ratio weighs it by the default
`flux_steps` share (0.4 of the schedule masked, the rest plain).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from bench.flux_attention import PRESETS as BLOCK_PRESETS
from bench.flux_attention import (
    Inputs,
    Shape,
    _peak,
    _times,
    block_inputs,
    column_mask,
    flux_blocks,
    joined,
    run_cli,
)
from lib_couple.attention.joint_attention import JointControls, row_plan
from lib_couple.hosts.forge.patchers.flux_blocks import JointMask, double_forward, single_forward
from lib_couple.params import DEFAULT_REGION_PADDING


@dataclass(frozen=True)
class Padding:
    """A preset: the block shape, each region line's padded length and its real tokens."""

    shape: Shape
    padded: int
    real: int
    padding: int = DEFAULT_REGION_PADDING

    @property
    def trimmed(self) -> int:
        return min(self.padded, self.real + self.padding)


PRESETS = {
    # Flux: 512 T5 tokens a padded line; a region line of about 24 real tokens, plus 16 pads
    "flux": Padding(BLOCK_PRESETS["flux"], padded=512, real=24),
    # CPU: the flux_attention cpu shape (a quarter of Flux's tokens); lines and pads scaled alike
    "cpu": Padding(BLOCK_PRESETS["cpu"], padded=128, real=6, padding=4),
    "smoke": Padding(BLOCK_PRESETS["smoke"], padded=8, real=2, padding=1),
}


def _always(mask: torch.Tensor) -> Callable[[Hashable], torch.Tensor]:
    return lambda _: mask


def _double_case(block: Any, ext: Inputs, form: JointMask) -> Callable[[], object]:
    return lambda: double_forward(block, *ext, form)


def _single_case(block: Any, ext: Inputs, form: JointMask) -> Callable[[], object]:
    return lambda: single_forward(block, joined(ext), ext[2], ext[3], form)


def measure(preset: Padding, rounds: int, device: torch.device, dtype: torch.dtype) -> dict[str, object]:
    torch.manual_seed(0)
    shape = preset.shape
    double, single = flux_blocks(shape, device, dtype)
    plain = block_inputs(shape, shape.own_tokens, device, dtype)
    cases: dict[str, Callable[[], object]] = {
        "double plain": lambda: double(*plain),
        "single plain": lambda: single(joined(plain), plain[2], plain[3]),
    }
    tokens = {"plain": int(plain[0].shape[1] + plain[1].shape[1])}
    for name, length in (("padded", preset.padded), ("trimmed", preset.trimmed)):
        dense = column_mask(shape, length)
        mask = dense.to(device, dtype)[None, None]
        plan = row_plan([0], _always(dense), device, dtype)
        ext = block_inputs(shape, shape.own_tokens + shape.regions * length, device, dtype)
        tokens[name] = int(dense.shape[0])
        forms: tuple[tuple[str, JointMask], ...] = (("masked", mask), ("grouped", plan))
        for form_name, form in forms:
            cases[f"double {name} {form_name}"] = _double_case(double, ext, form)
            cases[f"single {name} {form_name}"] = _single_case(single, ext, form)
    with torch.no_grad():
        ms = _times(cases, rounds)
        peak = {name: _peak(fn, device) for name, fn in cases.items()}
    blocks = {name: ms[name] / ms[f"{name.split()[0]} plain"] for name in ms if "plain" not in name}
    plain_step = shape.doubles * ms["double plain"] + shape.singles * ms["single plain"]
    share = JointControls().steps
    steps: dict[str, float] = {}
    for name in ("padded", "trimmed"):
        for form_name in ("masked", "grouped"):
            step = (
                shape.doubles * ms[f"double {name} {form_name}"]
                + shape.singles * ms[f"single {name} {form_name}"]
            )
            steps[f"step {name} {form_name}/plain"] = step / plain_step
            steps[f"generation {name} {form_name}/plain"] = share * step / plain_step + (1 - share)
    memory = {}
    if peak["double plain"]:
        memory = {k: (peak[k] or 0) / (peak[f"{k.split()[0]} plain"] or 1) for k in cases if "plain" not in k}
    return {
        "preset": {**asdict(preset), "trimmed": preset.trimmed},
        "tokens": tokens,
        "ms": ms,
        "blocks": blocks,
        "steps": steps,
        "memory": memory,
    }


if __name__ == "__main__":
    run_cli(__doc__, PRESETS, measure)
