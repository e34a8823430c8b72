"""Move-to-frame latency of the Latent Space Explorer on the demo model, measured in-process.

    OMP_NUM_THREADS=1 python -m bench.explore_latency [--rounds 5] [--size 128] [--steps 12]

A plain sample of the same settings (the issue's yardstick: a sampled move may take at most
10% more), a sampled move (the page's move event, then its frame event, which samples) and a
move to a neighbour the render-ahead drew while the user looked (the move event returns the
cached frame). Both moves also run on a pad that forgets each point's conditioning, noise and
cache key after each use (as the pad did before it kept them), side by side. The browser and the network
are not included (`bench/explore_browser.py` has them). Medians over `rounds` each, after a
warm-up round.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch

from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.hosts.walk_standalone import DemoExplorePad, render_conditioned
from lib_couple.ui.explore_pad import DEFAULT_BASE, DEFAULT_DIRECTIONS, ExploreHandler, ExploreSession
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadPoint, PadState
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next


class ForgetfulPad(DemoExplorePad):
    """The demo pad recomputing a point's conditioning, noise and key at every ask."""

    def _latents(self, point: PadPoint) -> tuple[torch.Tensor, torch.Tensor, str]:
        self._known.clear()
        return super()._latents(point)


def moves(model: DemoComponents, pad: type[DemoExplorePad], values: tuple[Any, ...]) -> Any:
    """A handler on `pad` and its shown first frame; then (sampled, pre-rendered) move timers."""
    handler = ExploreHandler(lambda state, settings: pad(model, FrameCache(), state, settings))
    session: ExploreSession = handler("show", None, *values)[0]

    def sampled() -> float:
        nonlocal session
        started = time.perf_counter()
        session, frame, *_, ticket = handler.move("north", session, *values)  # new ground: samples
        assert frame is None
        assert handler.show(session, ticket) is not None
        return time.perf_counter() - started

    def ready() -> float:
        nonlocal session
        thread = session.pad.look_ahead(likely_next(session.pad.state, 0.1, False, "prompt"))
        if isinstance(thread, threading.Thread):
            thread.join()  # the user looks at the frame meanwhile
        started = time.perf_counter()
        session, frame, *_ = handler.move("east", session, *values)
        assert frame is not None  # pre-rendered: shown by the move itself
        return time.perf_counter() - started

    return sampled, ready, lambda: session.pad.state


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
    settings = WalkSettings(args.size, args.size, args.steps)
    values = (settings, DEFAULT_BASE, "\n".join(DEFAULT_DIRECTIONS), 1, 2, 0.1, False, "prompt")
    kept_sampled, kept_ready, state_of = moves(model, DemoExplorePad, values)
    forgot_sampled, forgot_ready, _ = moves(model, ForgetfulPad, values)
    times: dict[str, list[float]] = {name: [] for name in ("plain", "sampled", "ready", "sampled-", "ready-")}
    for index in range(args.rounds + 1):  # the first round warms up and is dropped
        if index == 1:
            times = {name: [] for name in times}
        state: PadState = state_of()
        probe = DemoExplorePad(model, FrameCache(), state, settings)
        cond, noise, key = probe._latents(state.point)
        started = time.perf_counter()
        render_conditioned(model, cond, noise, key, settings, FrameCache())  # an empty cache: samples
        times["plain"].append(time.perf_counter() - started)
        times["sampled"].append(kept_sampled())
        times["sampled-"].append(forgot_sampled())
        times["ready"].append(kept_ready())
        times["ready-"].append(forgot_ready())
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"{args.size} x {args.size}, {args.steps} steps, medians of {args.rounds}")
    print("| move | kept latents, median ms | recomputed latents, median ms |\n|---|---|---|")
    print(f"| plain sample (no explorer) | {ms['plain']:.1f} | |")
    print(f"| sampled (move + frame event) | {ms['sampled']:.1f} | {ms['sampled-']:.1f} |")
    print(f"| pre-rendered neighbour (move event) | {ms['ready']:.2f} | {ms['ready-']:.2f} |")
    print(
        f"sampled move / plain sample: {ms['sampled'] / ms['plain']:.3f} kept, "
        f"{ms['sampled-'] / ms['plain']:.3f} recomputed (the issue allows 1.10)"
    )
    return ms["plain"], ms["sampled"], ms["ready"]


if __name__ == "__main__":
    main()
