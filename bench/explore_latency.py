"""Move-to-frame latency of the Latent Space Explorer on the demo model, measured in-process.

    OMP_NUM_THREADS=1 python -m bench.explore_latency [--rounds 5] [--size 128] [--steps 12]

A plain sample of the same settings (the issue's yardstick: a sampled move may take at most
10% more), a sampled move (the page's move event, then its frame event, which samples) and a
move to a neighbour the render-ahead drew while the user looked (the move event returns the
cached frame). The browser and the network are not included. Medians over `rounds` each.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from lib_couple.demo import load_demo_pipeline
from lib_couple.hosts.walk_standalone import demo_explore_pad, render_conditioned
from lib_couple.ui.explore_pad import DEFAULT_BASE, DEFAULT_DIRECTIONS, ExploreHandler
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next


def main(argv: Sequence[str] | None = None) -> tuple[float, float, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="moves of each kind (1 to 50)")
    parser.add_argument("--size", type=int, default=128, help="frame width and height (8 to 512)")
    parser.add_argument("--steps", type=int, default=12, help="sampling steps (1 to 50)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50 or not 8 <= args.size <= 512 or args.size % 8 or not 1 <= args.steps <= 50:
        parser.error("--rounds 1-50, --size a multiple of 8 in 8-512, --steps 1-50")
    model = load_demo_pipeline()
    handler = ExploreHandler(demo_explore_pad(lambda: model, FrameCache()))
    settings = WalkSettings(args.size, args.size, args.steps)
    values: tuple[Any, ...] = (
        settings,
        DEFAULT_BASE,
        "\n".join(DEFAULT_DIRECTIONS),
        1,
        2,
        0.1,
        False,
        "prompt",
    )
    session, *_ = handler("show", None, *values)
    sampled: list[float] = []
    ready: list[float] = []
    plain: list[float] = []
    for _ in range(args.rounds):
        cond, noise, key = session.pad._latents(session.pad.state.point)  # type: ignore[attr-defined]
        started = time.perf_counter()
        render_conditioned(model, cond, noise, key, settings, FrameCache())  # an empty cache: samples
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        session, frame, *_, ticket = handler.move("north", session, *values)  # new ground: samples
        assert frame is None
        assert handler.show(session, ticket) is not None
        sampled.append(time.perf_counter() - started)
        thread = session.pad.look_ahead(likely_next(session.pad.state, 0.1, False, "prompt"))
        if isinstance(thread, threading.Thread):
            thread.join()  # the user looks at the frame meanwhile
        started = time.perf_counter()
        session, frame, *_ = handler.move("east", session, *values)
        assert frame is not None  # pre-rendered: shown by the move itself
        ready.append(time.perf_counter() - started)
    sampled_ms, ready_ms = statistics.median(sampled) * 1000, statistics.median(ready) * 1000
    plain_ms = statistics.median(plain) * 1000
    print("| move | median ms |\n|---|---|")
    print(f"| plain sample (no explorer) | {plain_ms:.1f} |")
    print(f"| sampled (move + frame event) | {sampled_ms:.1f} |")
    print(f"| pre-rendered neighbour (move event) | {ready_ms:.1f} |")
    print(f"sampled move / plain sample: {sampled_ms / plain_ms:.3f} (the issue allows 1.10)")
    return plain_ms, sampled_ms, ready_ms


if __name__ == "__main__":
    main()
