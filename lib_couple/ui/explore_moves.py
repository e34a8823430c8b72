"""The explorer's moves: what each pad action does to the state (the page's buttons, keys and
clicks, and the fast path's look at where each would land)."""

from __future__ import annotations

import copy
from typing import Literal

from lib_couple.walk.pad import Mode, PadPoint, PadState

Action = Literal["show", "click", "north", "south", "east", "west", "undo", "redo", "start", "save", "load"]
ARROWS: dict[Action, tuple[float, float]] = {
    "north": (0.0, 1.0),
    "west": (-1.0, 0.0),
    "east": (1.0, 0.0),
    "south": (0.0, -1.0),
}


def apply(state: PadState, action: Action, step: float, adaptive: bool, mode: Mode, at: PadPoint) -> str:
    """Move the state; returns what happened, for the status line. `at` is a click's pad point."""
    if action in ARROWS or action == "click":
        if action == "click":
            dx, dy = at.x - state.point.x, at.y - state.point.y
        else:
            dx, dy = ARROWS[action]
        size = state.step_size(step, adaptive)
        state.move(dx, dy, size, mode)
        return f"step {size:.3f}"
    if action == "undo":
        return "undone" if state.undo() else "nothing to undo"
    if action == "redo":
        return "redone" if state.redo() else "nothing to redo"
    if action == "start":
        state.return_to_start()
        return "back at the start"
    if action == "save":
        return f"saved point {state.save_point() + 1}"
    return "loaded" if action == "load" else "here"


def reached(state: PadState, action: Action, step: float, adaptive: bool, mode: Mode) -> PadPoint:
    """Where `action` would take the pad, the state left as it is (a copy moves)."""
    probe = copy.deepcopy(state)
    apply(probe, action, step, adaptive, mode, probe.point)
    return probe.point
