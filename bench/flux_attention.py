"""Masked vs plain joint attention in Flux-shaped blocks: per block, per whole step, mask cost.

    OMP_NUM_THREADS=1 python -m bench.flux_attention --preset cpu      # scaled down (see --help)
    python -m bench.flux_attention --preset flux --device cuda          # Flux's shapes, on a GPU

Variants per block (double and single), all in one run so the ratios share the machine's state:
- plain: the block on the unregioned sequence `[own text ; image]`;
- masked: the regional forward with the dense additive mask on `[own ; R regions ; image]` (Neo's form);
- grouped: the same with rows of equal allowed keys attended together, no mask (Forge's path);
- free: the block itself on the extended sequence (an unmasked block of a regional call);
- base: masked plus the unmasked pass blended in (base ratio > 0, instantX's extra pass).
The whole step is the 19 double + 38 single blocks summed from the per-block times, for all blocks
masked and for every other; outside the step share the step costs plain.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from lib_couple.attention.joint_attention import AttentionGroups, image_grid, joint_mask, row_plan
from lib_couple.hosts.forge.patchers.flux_blocks import double_forward, single_forward
from lib_couple.token_masks import patch_token_weights
from tests.doubles.flux_model import Attend, DoubleStreamBlock, SingleStreamBlock, rope_table


@dataclass(frozen=True)
class Shape:
    width: int
    heads: int
    px: int
    own_tokens: int
    region_tokens: int
    regions: int
    doubles: int = 19
    singles: int = 38


PRESETS = {
    "flux": Shape(3072, 24, 1024, 512, 512, 3),
    # CPU: a quarter of the width and of each side, token counts kept in Flux's proportions
    "cpu": Shape(768, 6, 512, 128, 128, 3),
    "smoke": Shape(64, 2, 64, 8, 8, 2),
}


def _times(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median ms per case, the cases interleaved round by round so they share the machine's load."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()  # warm-up
    for _ in range(rounds):
        for name, fn in cases.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            samples[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in samples.items()}


def _peak(fn: Callable[[], object], device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    return int(torch.cuda.max_memory_allocated(device) - base)


Inputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # img, txt, vec, pe


def column_mask(shape: Shape, region_tokens: int) -> torch.Tensor:
    """The joint mask of `shape.regions` equal columns, each region line `region_tokens` long."""
    latent = shape.px // 8
    masks = torch.zeros(shape.regions, shape.px, shape.px)
    for r in range(shape.regions):
        masks[r, :, r * shape.px // shape.regions : (r + 1) * shape.px // shape.regions] = 1
    lengths = [region_tokens] * shape.regions
    weights = patch_token_weights(masks, (latent, latent))
    return joint_mask(weights, lengths, shape.own_tokens, has_fallback=False)


def flux_blocks(shape: Shape, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """One random-weight double and one single block of the shape (MLP ratio 4, as Flux)."""
    owner = Attend()
    double = DoubleStreamBlock(shape.width, shape.heads, owner, mlp=4).to(device, dtype).eval()
    single = SingleStreamBlock(shape.width, shape.heads, owner, mlp=4).to(device, dtype).eval()
    return double, single


def block_inputs(shape: Shape, text: int, device: torch.device, dtype: torch.dtype) -> Inputs:
    """Random image and text streams with Flux's rotary positions (text at 0, image on its grid)."""
    grid = image_grid(shape.px // 8, shape.px // 8)
    images = grid[0] * grid[1]
    head = shape.width // shape.heads
    axes = (head // 8, head * 7 // 16, head - head // 8 - head * 7 // 16)
    ids = torch.zeros(1, text + images, 3)
    ids[0, text:, 1] = torch.arange(images).div(grid[1], rounding_mode="floor").float()
    ids[0, text:, 2] = (torch.arange(images) % grid[1]).float()
    pe = rope_table(ids, axes).to(device)
    img = torch.randn(1, images, shape.width, device=device, dtype=dtype)
    txt = torch.randn(1, text, shape.width, device=device, dtype=dtype)
    vec = torch.randn(1, shape.width, device=device, dtype=dtype)
    return img, txt, vec, pe


def joined(args: Inputs) -> torch.Tensor:
    """The single blocks' input: text then image."""
    return torch.cat([args[1], args[0]], dim=1)


def measure(shape: Shape, rounds: int, device: torch.device, dtype: torch.dtype) -> dict[str, object]:
    torch.manual_seed(0)
    built = time.perf_counter()
    dense = column_mask(shape, shape.region_tokens)
    mask = dense.to(device, dtype)[None, None]
    build_ms = 1000 * (time.perf_counter() - built)
    plan = row_plan([0], lambda _: dense, device, dtype)
    form = plan.parts[0][1]
    groups = len(form.groups) if isinstance(form, AttentionGroups) else 0
    double, single = flux_blocks(shape, device, dtype)
    images = int(dense.shape[0]) - shape.own_tokens - shape.regions * shape.region_tokens
    text_plain, text_ext = shape.own_tokens, shape.own_tokens + shape.regions * shape.region_tokens
    plain_in, ext_in = (
        block_inputs(shape, text_plain, device, dtype),
        block_inputs(shape, text_ext, device, dtype),
    )
    seq = joined

    cases: dict[str, Callable[[], object]] = {
        "double plain": lambda: double(*plain_in),
        "double masked": lambda: double_forward(double, *ext_in, mask),
        "double grouped": lambda: double_forward(double, *ext_in, plan),
        "double free": lambda: double(*ext_in),
        "double base": lambda: (double_forward(double, *ext_in, mask), double(*ext_in)),
        "single plain": lambda: single(seq(plain_in), plain_in[2], plain_in[3]),
        "single masked": lambda: single_forward(single, seq(ext_in), ext_in[2], ext_in[3], mask),
        "single grouped": lambda: single_forward(single, seq(ext_in), ext_in[2], ext_in[3], plan),
        "single free": lambda: single(seq(ext_in), ext_in[2], ext_in[3]),
        "single base": lambda: (
            single_forward(single, seq(ext_in), ext_in[2], ext_in[3], mask),
            single(seq(ext_in), ext_in[2], ext_in[3]),
        ),
    }
    with torch.no_grad():
        ms = _times(cases, rounds)
        peak = {name: _peak(fn, device) for name, fn in cases.items()}
    ratios = {
        f"{kind} {v}/plain": ms[f"{kind} {v}"] / ms[f"{kind} plain"]
        for kind in ("double", "single")
        for v in ("masked", "free", "base")
    }

    def step(variant_double: str, variant_single: str, every_other: bool) -> float:
        def blocks(kind: str, count: int, variant: str) -> float:
            masked = (count + 1) // 2 if every_other else count
            return masked * ms[f"{kind} {variant}"] + (count - masked) * ms[f"{kind} free"]

        return blocks("double", shape.doubles, variant_double) + blocks(
            "single", shape.singles, variant_single
        )

    plain_step = shape.doubles * ms["double plain"] + shape.singles * ms["single plain"]
    steps = {
        "step all grouped/plain": step("grouped", "grouped", False) / plain_step,
        "step every other grouped/plain": step("grouped", "grouped", True) / plain_step,
        "step all masked/plain": step("masked", "masked", False) / plain_step,
        "step every other/plain": step("masked", "masked", True) / plain_step,
        "step all base/plain": step("base", "base", False) / plain_step,
    }
    memory = {}
    if peak["double plain"]:
        memory = {f"{k} peak/plain": (peak[k] or 0) / (peak[f"{k.split()[0]} plain"] or 1) for k in cases}
    return {
        "shape": asdict(shape),
        "tokens": {"plain": text_plain + images, "regional": text_ext + images},
        "mask_mb": mask.numel() * mask.element_size() / 2**20,
        "mask_build_ms": build_ms,
        "groups": groups,
        "ms": ms,
        "ratios": ratios,
        "steps": steps,
        "memory": memory,
    }


def run_cli(doc: str | None, presets: Mapping[str, Any], measure: Callable[..., dict[str, object]]) -> None:
    """The command line of a Flux bench: a preset, rounds, device, dtype; JSON out."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(presets), default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    result = measure(
        presets[args.preset], max(1, args.rounds), torch.device(args.device), getattr(torch, args.dtype)
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    run_cli(__doc__, PRESETS, measure)
