"""The direction mapper's flags side by side: fp32, bf16, fp16, and fp32 through torch.compile.

    python -m bench.walk_mapper [--rounds 30] [--threads 1] [--anchors 4]

One call maps a pad move to a Flux-sized conditioning offset (T5 tokens [256, 4096] and the
pooled vector [768] per anchor). Variants run interleaved after a warm-up (which also pays the
compile); medians and their ratio to fp32 eager are printed, with each variant's error against it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from functools import partial

import torch

from bench.timing import interleaved_medians
from lib_couple.walk.directions import Anchor, DirectionMapper, MapperFlags

VARIANTS: dict[str, MapperFlags] = {
    "fp32": MapperFlags(),
    "bf16": MapperFlags(precision="bf16"),
    "fp16": MapperFlags(precision="fp16"),
    "fp32 compiled": MapperFlags(compile=True),
}


def flux_conditioning(
    seed: int, tokens: int = 256, width: int = 4096, pooled: int = 768
) -> dict[str, torch.Tensor]:
    """A random Flux-shaped conditioning: T5 sequence, pooled vector, guidance (full size by default)."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "crossattn": torch.randn(1, tokens, width, generator=generator),
        "vector": torch.randn(1, pooled, generator=generator),
        "guidance": torch.tensor([3.5]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--anchors", type=int, default=4)
    args = parser.parse_args(argv)
    if min(args.rounds, args.threads, args.anchors) < 1:
        parser.error("--rounds, --threads and --anchors must be at least 1")
    torch.set_num_threads(args.threads)
    base = flux_conditioning(0)
    pads = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]
    anchors = [Anchor(flux_conditioning(i + 1), pads[i % 4]) for i in range(args.anchors)]
    mappers = {name: DirectionMapper(base, anchors, flags=flags) for name, flags in VARIANTS.items()}
    move = (0.3, 0.4)
    started = time.perf_counter()
    mappers["fp32 compiled"].offset(move)  # the first call compiles (or falls back)
    first_call = time.perf_counter() - started
    reference = mappers["fp32"].offset(move)
    runners = {name: partial(mapper.offset, move) for name, mapper in mappers.items()}
    with torch.inference_mode():
        medians = interleaved_medians(runners, args.rounds)
    print(f"first compiled call (compile included): {first_call:.2f} s")
    print("| variant | median ms | fp32 / variant | max abs error vs fp32 |")
    print("|---|---|---|---|")
    for name, mapper in mappers.items():
        offset = mapper.offset(move)
        error = max(float((offset[key] - reference[key]).abs().max()) for key in reference)
        speedup = medians["fp32"] / medians[name]
        print(f"| {name} | {medians[name] * 1e3:.3f} | {speedup:.2f} | {error:.2e} |")


if __name__ == "__main__":
    main()
