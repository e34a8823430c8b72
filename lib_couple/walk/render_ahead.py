"""The explorer's render-ahead: which points to draw while the user looks, and when to stop.

Pure scheduling, no model: a host passes `render(point, control)` (a frame, or None when it was
stopped) and `store(point, frame)` (into the frame cache). Each pad move plans a new job; a job
is numbered by `Tickets`, so planning or cancelling makes every older job stale: a stale job
renders no further point and writes nothing, not even the frame it was sampling when it went
stale (its sampler is stopped within one step through its `StepControl`). A host whose queue
others wait in also passes `yields()`: true while a real request waits, checked before each point
(the host's `render` checks it per step as well), so the job ends and the queue is the user's.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from lib_couple.hosts.progress import StepControl
from lib_couple.walk.pad import Mode, PadPoint, PadState, stepped

# the page's arrow moves, as (dx, dy): ↑ → ↓ ←
ARROW_MOVES: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0))
RenderOne = Callable[[PadPoint, StepControl], Image.Image | None]
Store = Callable[[PadPoint, Image.Image], None]
# whether a real request waits for the host's queue (the job then stops before its next point)
Yields = Callable[[], bool]


def never_yields() -> bool:
    """The app's policy: its real requests cancel the job themselves (`RenderAhead.cancel`)."""
    return False


def likely_next(state: PadState, step: float, adaptive: bool, mode: Mode) -> list[PadPoint]:
    """The points the next single move would reach: the four arrows, then one step toward each
    direction prompt (in seed mode only → and ←), with the step the move would take; the
    current point and repeats left out, nearest to the page's buttons first."""
    size = state.step_size(step, adaptive)
    here = state.point
    if mode == "seed":
        moves = [stepped(here, dx, 0.0, size, "seed") for dx in (1.0, -1.0)]
    else:
        moves = [stepped(here, dx, dy, size) for dx, dy in ARROW_MOVES]
        moves += [stepped(here, d.at[0], d.at[1], size) for d in state.directions]
    out: list[PadPoint] = []
    for point in moves:
        if point != here and point not in out:
            out.append(point)
    return out


class Tickets:
    """Numbers in order; only the newest is current. Thread-safe; `lock` (re-entrant) lets a
    caller check and act as one step."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._latest = 0

    def issue(self) -> int:
        with self.lock:
            self._latest += 1
            return self._latest

    def current(self, ticket: int) -> bool:
        with self.lock:
            return ticket == self._latest

    @property
    def latest(self) -> int:
        """The newest number (0 before the first)."""
        with self.lock:
            return self._latest


@dataclass(frozen=True)
class AheadJob:
    """One planned pre-render: its ticket and the points still to draw, in order."""

    ticket: int
    points: tuple[PadPoint, ...]


_live: weakref.WeakSet[RenderAhead] = weakref.WeakSet()
EXIT_WAIT_SECONDS = 5.0


@atexit.register
def _stop_all() -> None:
    """At exit, stop the jobs and let their threads end: a daemon thread still inside torch
    when the interpreter finalises aborts the process."""
    for ahead in list(_live):
        ahead.cancel()
        if ahead.thread is not None:
            ahead.thread.join(EXIT_WAIT_SECONDS)


class RenderAhead:
    """One explorer's background pre-render: one job at a time, the newest plan wins, and any
    real request cancels it."""

    def __init__(self) -> None:
        self.tickets = Tickets()
        self._control: StepControl | None = None
        self.written = 0  # frames stored, in all jobs
        self.thread: threading.Thread | None = None  # the latest job's
        self._planned: tuple[int, tuple[PadPoint, ...]] = (0, ())  # the latest plan: ticket, points
        _live.add(self)

    def plan(self, points: Sequence[PadPoint], is_cached: Callable[[PadPoint], bool]) -> AheadJob:
        """A new job for the points not cached yet; the job before is cancelled."""
        self.cancel()
        ticket = self.tickets.issue()
        self._planned = (ticket, tuple(points))
        return AheadJob(ticket, tuple(p for p in points if not is_cached(p)))

    def still_drawing(self, points: Sequence[PadPoint]) -> threading.Thread | None:
        """The running job's thread when it is current and was planned for exactly `points`: a
        Show on a point whose neighbours are being drawn keeps the job rather than starting over."""
        ticket, planned = self._planned
        thread = self.thread
        alive = thread is not None and thread.is_alive()
        return thread if alive and planned == tuple(points) and self.tickets.current(ticket) else None

    def cancel(self) -> None:
        """Stop the running job within one sampling step and keep nothing of it (a real
        request, a move, or a new plan calls this)."""
        self.tickets.issue()
        with self.tickets.lock:
            control = self._control
        if control is not None:
            control.cancel()

    def wanted(self, job: AheadJob) -> Callable[[], bool]:
        """Whether `job` is still the current one, as a callable for a lock's wait."""
        return lambda: self.tickets.current(job.ticket)

    def run(self, job: AheadJob, render: RenderOne, store: Store, yields: Yields = never_yields) -> int:
        """Render the job's points in order until it goes stale or `yields()`; the frames stored."""
        stored = 0
        for point in job.points:
            control = StepControl()
            if yields():
                break  # a real request waits: the queue is its
            with self.tickets.lock:
                if not self.tickets.current(job.ticket):
                    break
                self._control = control
            try:
                frame = render(point, control)
            finally:
                with self.tickets.lock:
                    if self._control is control:
                        self._control = None
            # the check and the write under one lock: a cancel lands before or after both
            with self.tickets.lock:
                if frame is None or control.cancelled or not self.tickets.current(job.ticket):
                    break
                store(point, frame)
                stored += 1
                self.written += 1
        return stored

    def start(
        self, job: AheadJob, render: RenderOne, store: Store, yields: Yields = never_yields
    ) -> threading.Thread | None:
        """Run the job in a daemon thread (None when there is nothing to draw)."""
        if not job.points:
            return None
        thread = threading.Thread(target=self.run, args=(job, render, store, yields), daemon=True)
        thread.start()
        self.thread = thread
        return thread
