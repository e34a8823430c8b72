"""The Latent Walk tab's pad: step along the walk, undo and redo, one frame at a time.

A host passes an opener, (plan, settings) -> a pad whose explorer holds the position and its
history, and whose frames come from the same cache as the tab's walks: a frame seen before (undo,
redo, a step back, a frame of a finished walk) is shown at once, without sampling. The pad lives
in the page's session state, so two browser tabs explore independently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

import gradio as gr
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.walk.adaptive import adaptive_step
from lib_couple.walk.explorer import LatentSpaceExplorer
from lib_couple.walk.plan import WalkPlan, WalkSettings

Action = Literal["show", "forward", "back", "undo", "redo"]
ACTIONS: tuple[tuple[Action, str], ...] = (
    ("back", "◀ Step back"),
    ("forward", "Step forward ▶"),
    ("undo", "Undo"),
    ("redo", "Redo"),
)
MIN_STEP_SHARE = 0.125  # the adaptive step never falls below 1/8 of the chosen step


class WalkPad(Protocol):
    """One walk explored frame by frame; the host renders (or recalls) the frames."""

    @property
    def explorer(self) -> LatentSpaceExplorer: ...

    def cached(self, position: float) -> Image.Image | None: ...

    def render(self, position: float) -> Image.Image | None:
        """The frame at `position`; None when the host's Stop interrupted it."""
        ...


PadOpener = Callable[[WalkPlan, WalkSettings], WalkPad]


@dataclass
class PadSession:
    """The pad of one page, and the walk it was opened for (a changed walk opens a new one)."""

    plan: WalkPlan
    settings: WalkSettings
    pad: WalkPad


def step_size(explorer: LatentSpaceExplorer, base: float, adaptive: bool) -> float:
    """The chosen step, or with `adaptive` the KDE step (smaller where the walk has been)."""
    if not adaptive:
        return base
    return adaptive_step(explorer.visited, [explorer.position], base, min_step=base * MIN_STEP_SHARE)


def apply_action(explorer: LatentSpaceExplorer, action: Action, base: float, adaptive: bool) -> str:
    """Move the explorer; returns what happened, for the pad's status line."""
    if action in ("forward", "back"):
        size = step_size(explorer, base, adaptive)
        explorer.step(1 if action == "forward" else -1, size)
        return f"step {size:.3f}"
    if action == "undo":
        return "undone" if explorer.undo() else "nothing to undo"
    if action == "redo":
        return "redone" if explorer.redo() else "nothing to redo"
    return "start"


PadUpdate = tuple[PadSession, Image.Image | None, str]


def make_pad_handler(open_pad: PadOpener) -> Callable[..., PadUpdate]:
    """One handler for every pad button: (session, frame, status)."""

    def act(
        action: Action,
        session: PadSession | None,
        plan: WalkPlan,
        settings: WalkSettings,
        base: float,
        adaptive: bool,
    ) -> PadUpdate:
        if session is None or (session.plan, session.settings) != (plan, settings):
            session = PadSession(plan, settings, open_pad(plan, settings))
        explorer = session.pad.explorer
        moved = apply_action(explorer, action, float(base), bool(adaptive))
        position = explorer.position
        recalled = session.pad.cached(position) is not None
        frame = session.pad.render(position)
        if frame is None:
            return session, None, f"position {position:.3f}: stopped"
        source = "from the cache" if recalled else "sampled"
        return session, frame, f"position {position:.3f} of {explorer.end:g} · {moved} · {source}"

    return act


def build_walk_pad(
    open_pad: PadOpener,
    read_walk: Callable[..., tuple[WalkPlan, WalkSettings]],
    walk_inputs: list[Any],
    concurrency_id: str | None = None,
) -> dict[str, Any]:
    """The pad's controls, built inside the tab; `read_walk(*values of walk_inputs)` gives the
    walk to explore (the tab's own keyframes and sampling settings)."""
    c: dict[str, Any] = {}
    handler = make_pad_handler(open_pad)

    def run(
        action: Action, session: PadSession | None, base: float, adaptive: bool, *values: Any
    ) -> PadUpdate:
        try:
            plan, settings = read_walk(*values)
            return handler(action, session, plan, settings, base, adaptive)
        except CoupleError as error:
            raise gr.Error(str(error)) from None

    with gr.Accordion("Explore: step, undo, redo", open=False):
        session = gr.State(None)
        with gr.Row():
            c["step"] = gr.Slider(0.01, 1.0, 0.25, step=0.01, label="Step size (in keyframes)")
            c["adaptive"] = gr.Checkbox(False, label="Adaptive step (smaller where you have been)")
        with gr.Row():
            c["show"] = gr.Button("Show the current frame", size="sm")
            for action, label in ACTIONS:
                c[action] = gr.Button(label, size="sm")
        c["frame"] = gr.Image(label="Frame", interactive=False, type="pil", height=320)
        c["status"] = gr.Textbox(label="Position", interactive=False)
    for action in ("show", *(a for a, _ in ACTIONS)):
        c[action].click(
            partial(run, action),
            inputs=[session, c["step"], c["adaptive"], *walk_inputs],
            outputs=[session, c["frame"], c["status"]],
            concurrency_limit=1,
            concurrency_id=concurrency_id,
            api_name=False,  # the page's buttons; the API has /walk
        )
    return c
