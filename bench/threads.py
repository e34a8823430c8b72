"""Which torch thread count samples the demo model fastest: `make demo`'s image at each count.

    python -m bench.threads [--rounds 3] [--counts 1 2 4] [--steps 20] [--size 256]

Every count runs the same two-region generation (256 px, 20 steps, the CLI's defaults),
interleaved round by round in one process, so a machine's load weighs on each count alike.
The counts default to 1, 2 and the machine's CPU count; the default of torch is the last.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

import torch

from bench.timing import interleaved_medians
from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.params import CoupleParams


def demo_request(size: int, steps: int) -> GenerationRequest:
    """`make demo`'s generation: two Basic columns, red circle left, blue square right."""
    couple = CoupleParams(enabled=True, mode="Basic", direction="Horizontal")
    return GenerationRequest(
        "a red circle\na blue square", width=size, height=size, steps=steps, couple=couple
    )


def runner(model: DemoComponents, request: GenerationRequest, threads: int) -> Callable[[], object]:
    def run() -> object:
        torch.set_num_threads(threads)
        return generate(model, request, progress=False)

    return run


def thread_counts(given: Sequence[int]) -> list[int]:
    counts = list(given) or [1, 2, os.cpu_count() or 1]
    return sorted(set(counts))


def main(argv: Sequence[str] | None = None) -> dict[int, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--counts", type=int, nargs="*", default=[])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    default = torch.get_num_threads()
    model = load_demo_pipeline()
    request = demo_request(args.size, args.steps)
    counts = thread_counts(args.counts)
    medians = interleaved_medians(
        {str(n): runner(model, request, n) for n in counts}, rounds=args.rounds, warmup=1
    )
    torch.set_num_threads(default)
    best = min(counts, key=lambda n: medians[str(n)])
    print(f"demo generation, {args.size} px, {args.steps} steps, median of {args.rounds}", end="")
    print(f" (torch default: {default} threads)")
    for n in counts:
        mark = "  <- fastest" if n == best else ""
        print(f"  {n:2d} threads: {medians[str(n)]:7.2f} s{mark}")
    return {n: medians[str(n)] for n in counts}


if __name__ == "__main__":
    main()
