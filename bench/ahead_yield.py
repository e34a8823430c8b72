"""What the explorer's render-ahead costs a real generation that starts while it samples, on the
demo model (the app's path), measured side by side in one run.

    OMP_NUM_THREADS=1 python -m bench.ahead_yield [--rounds 5] [--size 128] [--steps 12]

Each round times one plain txt2img alone, then the same txt2img started while the pad pre-renders
its neighbours (it starts once a background frame holds the model: the real request cancels it,
the background sampler stops within a step, and the generation takes the model). Medians.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence

from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.hosts.model_lock import model_lock
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.hosts.walk_standalone import DemoExplorePad
from lib_couple.ui.explore_pad import DEFAULT_BASE, DEFAULT_DIRECTIONS, parse_directions
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadState
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next

WAIT_SECONDS = 30.0


def timed(model: DemoComponents, request: GenerationRequest) -> float:
    started = time.perf_counter()
    generate(model, request, progress=False)
    return time.perf_counter() - started


def during_pre_render(model: DemoComponents, request: GenerationRequest, settings: WalkSettings) -> float:
    """The generation's time when it starts while a background frame samples."""
    state = PadState(DEFAULT_BASE, parse_directions("\n".join(DEFAULT_DIRECTIONS)), 1, 2)
    pad = DemoExplorePad(model, FrameCache(), state, settings)  # a fresh cache: all to draw
    thread = pad.look_ahead(likely_next(state, 0.1, False, "prompt"))
    assert isinstance(thread, threading.Thread)
    deadline = time.monotonic() + WAIT_SECONDS
    while not model_lock(model.unet).locked():  # the pre-render's frame holds the model
        if time.monotonic() > deadline:
            raise SystemExit("the pre-render never took the model")
        time.sleep(0.001)
    seconds = timed(model, request)
    pad.cancel_ahead()
    thread.join()
    return seconds


def main(argv: Sequence[str] | None = None) -> tuple[float, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="generations of each kind (1 to 50)")
    parser.add_argument("--size", type=int, default=128, help="width and height (8 to 512)")
    parser.add_argument("--steps", type=int, default=12, help="sampling steps (1 to 50)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50 or not 8 <= args.size <= 512 or args.size % 8 or not 1 <= args.steps <= 50:
        parser.error("--rounds 1-50, --size a multiple of 8 in 8-512, --steps 1-50")
    model = load_demo_pipeline()
    request = GenerationRequest("a red circle", width=args.size, height=args.size, steps=args.steps)
    settings = WalkSettings(args.size, args.size, args.steps)
    timed(model, request)  # warm-up
    alone: list[float] = []
    meanwhile: list[float] = []
    for _ in range(args.rounds):
        alone.append(timed(model, request))
        meanwhile.append(during_pre_render(model, request, settings))
    alone_ms, meanwhile_ms = statistics.median(alone) * 1000, statistics.median(meanwhile) * 1000
    print("| txt2img | median ms |\n|---|---|")
    print(f"| alone | {alone_ms:.1f} |")
    print(f"| started while the pad pre-renders | {meanwhile_ms:.1f} |")
    print(f"slower by {100 * (meanwhile_ms / alone_ms - 1):+.1f}%")
    return alone_ms, meanwhile_ms


if __name__ == "__main__":
    main()
