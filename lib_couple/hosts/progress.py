"""A running generation's control: per-step progress, Interrupt and Skip, and cancel.

The sampler calls `StepControl.on_step(done, total)` before the first step and after every step,
and stops as soon as it answers True, so Interrupt, Skip or a cancelled request end the sampling
within one step. The page's buttons reach every running generation through `RunningControls`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# (steps done, steps in all) -> stop now?
StepCallback = Callable[[int, int], bool]
# (steps done, steps in all, a line such as "step 3/20, ETA 4 s")
ProgressReport = Callable[[int, int, str], None]


def eta_seconds(done: int, total: int, elapsed: float) -> float | None:
    """The time left at the rate so far; None before the first step is done."""
    if done <= 0 or total <= 0:
        return None
    return max(0.0, elapsed / done * (total - done))


def progress_line(done: int, total: int, elapsed: float) -> str:
    """`step 3/20, ETA 4 s`, as a progress bar's text."""
    eta = eta_seconds(done, total, elapsed)
    left = "ETA ..." if eta is None else f"ETA {eta:.0f} s"
    return f"step {done}/{total}, {left}"


class StepControl:
    """One generation's flags and progress report; `on_step` is the sampler's callback."""

    def __init__(self, report: ProgressReport | None = None) -> None:
        self._report = report
        self._interrupted = threading.Event()
        self._skipped = threading.Event()
        self._cancelled = threading.Event()
        self._started: float | None = None
        self.steps_done = 0

    def interrupt(self) -> None:
        """Stop the generation (and a walk) after the step in progress."""
        self._interrupted.set()

    def skip(self) -> None:
        """Stop sampling the current image after the step in progress; a walk goes on."""
        self._skipped.set()

    def cancel(self) -> None:
        """The request is gone: stop after the step in progress, and keep nothing."""
        self._cancelled.set()
        self._interrupted.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def interrupted(self) -> bool:
        return self._interrupted.is_set()

    @property
    def skipped(self) -> bool:
        return self._skipped.is_set()

    def next_image(self) -> None:
        """A walk's next frame starts: a Skip applied to the frame before."""
        self._skipped.clear()
        self._started = None

    def on_step(self, done: int, total: int) -> bool:
        now = time.monotonic()
        if self._started is None or done == 0:
            self._started = now
        self.steps_done = done
        if self._report is not None:
            self._report(done, total, progress_line(done, total, now - self._started))
        return self.interrupted or self.skipped


class RunningControls:
    """The generations running now, so Interrupt and Skip reach them (as Forge's shared state)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[StepControl] = []

    @contextmanager
    def running(self, control: StepControl) -> Iterator[StepControl]:
        with self._lock:
            self._running.append(control)
        try:
            yield control
        finally:
            with self._lock:
                self._running.remove(control)

    def interrupt(self) -> None:
        with self._lock:
            for control in self._running:
                control.interrupt()

    def skip(self) -> None:
        with self._lock:
            for control in self._running:
                control.skip()

    def __len__(self) -> int:
        with self._lock:
            return len(self._running)
