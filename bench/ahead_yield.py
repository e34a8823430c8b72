"""What the explorer's render-ahead costs a real generation that starts while it samples, on the
demo model (the app's path), measured side by side in one run.

    OMP_NUM_THREADS=1 python -m bench.ahead_yield [--rounds 15] [--size 128] [--steps 12]

Each round times, in an order that rotates from round to round: one plain txt2img alone; the
same txt2img started while the pad pre-renders its neighbours (at a seeded random moment of a
background frame's step, after its first: the real request cancels it, and the frame stops
inside the UNet block in progress); the same with the frame stopping only between sampling
steps (as before the UNet checks); and for both kinds of stop, the hand-over alone: how long a
real request waits for the model held by a background frame. Medians with quartiles and
extremes, and the median CPU time of the measuring thread (the txt2img's own work, which other
programs on a shared machine stretch less than its wall time); the slowdown is the median of
each round's own ratio to that round's txt2img alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.hosts.model_lock import holding, model_lock
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.hosts.walk_standalone import DemoExplorePad
from lib_couple.ui.explore_pad import DEFAULT_BASE, DEFAULT_DIRECTIONS, parse_directions
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadState
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next

WAIT_SECONDS = 30.0
ATTEMPTS = 20
KINDS = ("alone", "within", "between", "handover_within", "handover_between")
LABELS = {
    "alone": "txt2img alone",
    "within": "txt2img during a pre-render (stops within a UNet block)",
    "between": "txt2img during a pre-render (stops between steps only)",
    "handover_within": "hand-over: model free for the txt2img (within a block)",
    "handover_between": "hand-over: model free for the txt2img (between steps)",
}


# (wall seconds, CPU seconds of the measuring thread): the CPU time is the txt2img's own work,
# which the other programs on a shared machine do not stretch as they stretch the wall time
Timing = tuple[float, float]


def timed(model: DemoComponents, request: GenerationRequest) -> Timing:
    started, cpu = time.perf_counter(), time.thread_time()
    generate(model, request, progress=False)
    return time.perf_counter() - started, time.thread_time() - cpu


def handed_over(model: DemoComponents) -> Timing:
    """How long a real request waits for the model (what `generate` takes first)."""
    started, cpu = time.perf_counter(), time.thread_time()
    with holding(model.unet):
        return time.perf_counter() - started, time.thread_time() - cpu


class BackgroundSteps:
    """Counts the UNet calls made off the main thread (the pre-render's sampling steps)."""

    def __init__(self, model: DemoComponents) -> None:
        self.calls = 0
        model.unet.register_forward_hook(self._called)

    def _called(self, *_: object) -> None:
        if threading.current_thread() is not threading.main_thread():
            self.calls += 1


@dataclass
class Arrival:
    """When the txt2img comes: a seeded random moment within a step of the background frame."""

    steps: BackgroundSteps
    step_seconds: float
    rng: random.Random
    missed: int = 0  # tries whose moment fell where no frame held the model (tried again)


def during_pre_render(
    model: DemoComponents,
    settings: WalkSettings,
    within_step: bool,
    measure: Callable[[], Timing],
    arrival: Arrival,
) -> Timing:
    """`measure()` run at a random moment of a background frame's second step or later (after
    its first step and up to one step more), while the frame holds the model."""
    for _ in range(ATTEMPTS):
        timing = _one_try(model, settings, within_step, measure, arrival)
        if timing is not None:
            return timing
        arrival.missed += 1
    raise SystemExit(f"no frame held the model at {ATTEMPTS} moments in a row: use more --steps")


def _one_try(
    model: DemoComponents,
    settings: WalkSettings,
    within_step: bool,
    measure: Callable[[], Timing],
    arrival: Arrival,
) -> Timing | None:
    state = PadState(DEFAULT_BASE, parse_directions("\n".join(DEFAULT_DIRECTIONS)), 1, 2)
    pad = DemoExplorePad(model, FrameCache(), state, settings)  # a fresh cache: all to draw
    pad.stop_within_step = within_step
    before = arrival.steps.calls
    thread = pad.look_ahead(likely_next(state, 0.1, False, "prompt"))
    assert isinstance(thread, threading.Thread)
    deadline = time.monotonic() + WAIT_SECONDS
    while arrival.steps.calls == before:  # the frame's first step is done
        if time.monotonic() > deadline:
            raise SystemExit("the pre-render never sampled")
        time.sleep(0.0005)
    time.sleep(arrival.rng.uniform(0.0, arrival.step_seconds))
    timing = measure() if model_lock(model.unet).locked() else None
    pad.cancel_ahead()
    thread.join()
    return timing


def spread(values: Sequence[float]) -> str:
    """`median [q1, q3] (min-max)` in ms."""
    ms = sorted(v * 1000 for v in values)
    q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else (ms[0], ms[0], ms[0])
    return f"{statistics.median(ms):.1f} | {q1:.1f} - {q3:.1f} | {ms[0]:.1f} - {ms[-1]:.1f}"


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15, help="rounds of every kind (1 to 50)")
    parser.add_argument("--size", type=int, default=128, help="width and height (8 to 512)")
    parser.add_argument("--steps", type=int, default=12, help="sampling steps (1 to 50)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50 or not 8 <= args.size <= 512 or args.size % 8 or not 1 <= args.steps <= 50:
        parser.error("--rounds 1-50, --size a multiple of 8 in 8-512, --steps 1-50")
    model = load_demo_pipeline()
    request = GenerationRequest("a red circle", width=args.size, height=args.size, steps=args.steps)
    settings = WalkSettings(args.size, args.size, args.steps)
    timed(model, request)  # warm-up
    # a step's time: what a txt2img's steps after its first add
    one_step = replace(request, steps=1)
    step_seconds = max(0.0, timed(model, request)[0] - timed(model, one_step)[0]) / max(1, args.steps - 1)
    arrival = Arrival(BackgroundSteps(model), step_seconds, random.Random(0))

    def meanwhile(within_step: bool, measure: Callable[[], Timing]) -> Callable[[], Timing]:
        return lambda: during_pre_render(model, settings, within_step, measure, arrival)

    runs: dict[str, Callable[[], Timing]] = {
        "alone": lambda: timed(model, request),
        "within": meanwhile(True, lambda: timed(model, request)),
        "between": meanwhile(False, lambda: timed(model, request)),
        "handover_within": meanwhile(True, lambda: handed_over(model)),
        "handover_between": meanwhile(False, lambda: handed_over(model)),
    }
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_no in range(args.rounds):
        shift = round_no % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:  # interleaved, each kind in every place in turn
            wall, used = runs[kind]()
            times[kind].append(wall)
            cpu[kind].append(used)
    print(
        f"{args.size} x {args.size}, {args.steps} steps, {args.rounds} rounds; a step"
        f" {step_seconds * 1000:.1f} ms; {arrival.missed} moments tried again (no frame held the model)"
    )
    print("| run | median ms | quartiles ms | min - max ms | its thread's CPU, median ms |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        print(f"| {LABELS[kind]} | {spread(times[kind])} | {statistics.median(cpu[kind]) * 1000:.1f} |")
    for kind in ("within", "between"):
        print(f"{kind}: wall {slower(times[kind], times['alone'])}; CPU {slower(cpu[kind], cpu['alone'])}")
    return {kind: statistics.median(values) * 1000 for kind, values in times.items()}


def slower(meanwhile: Sequence[float], alone: Sequence[float]) -> str:
    """Each round's slowdown against that round's txt2img alone: median and quartiles."""
    ratios = [100 * (m / a - 1) for m, a in zip(meanwhile, alone, strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else (ratios[0],) * 3
    return f"slower by {statistics.median(ratios):+.1f}% (quartiles {q1:+.1f}% to {q3:+.1f}%)"


if __name__ == "__main__":
    main()
