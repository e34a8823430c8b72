"""Both demo models side by side: one 256 px, 20-step, CFG 5 image each, after a warm-up.

    python -m bench.flux_demo [--size 256] [--steps 20] [--threads 2]

Prints each model's seconds for a whole image (text encoding, sampling, decoding) and the
Flux demo's time as a multiple of the UNet demo's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import torch

from lib_couple.demo.flux_model import load_flux_demo
from lib_couple.demo.model import load_demo_pipeline
from lib_couple.hosts.flux_standalone import generate_flux
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.params import CoupleParams

PROMPT = "a red circle on a white background"


def timed(run: Callable[[], object], rounds: int) -> float:
    """Median seconds of `rounds` calls after one warm-up call."""
    run()
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return sorted(seconds)[len(seconds) // 2]


def measure(size: int, steps: int, rounds: int = 1) -> dict[str, float]:
    request = GenerationRequest(
        PROMPT, width=size, height=size, steps=steps, couple=CoupleParams(enabled=False)
    )
    unet, flux = load_demo_pipeline(), load_flux_demo()
    results = {
        "unet_demo_s": timed(lambda: generate(unet, request, progress=False), rounds),
        "flux_demo_s": timed(lambda: generate_flux(flux, request, progress=False), rounds),
    }
    results["flux_over_unet"] = results["flux_demo_s"] / results["unet_demo_s"]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = measure(args.size, args.steps, args.rounds)
    print(
        f"{args.size} px, {args.steps} steps, {args.threads} threads: "
        f"UNet demo {results['unet_demo_s']:.2f} s, "
        f"Flux demo {results['flux_demo_s']:.2f} s, ratio {results['flux_over_unet']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
