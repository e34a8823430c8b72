"""The Latent Space Explorer: a 2D pad steered by direction prompts, with undo, redo and a seed walk.

A host passes an opener, (state, settings) -> a pad that renders (or recalls from the frame
cache) the frame at a pad point. The page keeps one pad per browser tab in session state; a
changed base prompt, direction list, seed or sampling setting opens a fresh explorer.
Clicking the pad moves one step toward the click; the arrow buttons (and the arrow keys, by
`javascript/forge_couple_explore.js`) move one step north, south, east or west.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

import gradio as gr
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.ui.pad_image import PAD_PIXELS, draw_pad, pad_at
from lib_couple.walk.pad import COMPASS, MAX_DIRECTIONS, Direction, Mode, PadPoint, PadState
from lib_couple.walk.plan import WalkSettings

Action = Literal["show", "click", "north", "south", "east", "west", "undo", "redo", "start", "save", "load"]
ARROWS: dict[Action, tuple[float, float]] = {
    "north": (0.0, 1.0),
    "west": (-1.0, 0.0),
    "east": (1.0, 0.0),
    "south": (0.0, -1.0),
}
BUTTONS: tuple[tuple[Action, str], ...] = (
    ("north", "↑"),
    ("west", "←"),
    ("east", "→"),
    ("south", "↓"),
    ("undo", "Undo"),
    ("redo", "Redo"),
    ("start", "Return to start"),
    ("save", "Save this point"),
)
PLACED = re.compile(r"^(?P<prompt>.*?)\s*@\s*(?P<x>[-+0-9.eE]+)\s*,\s*(?P<y>[-+0-9.eE]+)\s*$")
DEFAULT_BASE = "a red circle on a white background"
DEFAULT_DIRECTIONS = (
    "a blue circle on a white background",
    "a red square on a white background",
    "a green circle on a white background",
    "a red circle on a black background",
)


class ExplorePad(Protocol):
    """One explorer on the host's model: its state, and its frames."""

    @property
    def state(self) -> PadState: ...

    def cached(self, point: PadPoint) -> Image.Image | None: ...

    def render(self, point: PadPoint) -> Image.Image | None:
        """The frame at `point`; None when the host's Stop interrupted it."""
        ...


ExploreOpener = Callable[[PadState, WalkSettings], ExplorePad]


def parse_directions(text: str) -> tuple[Direction, ...]:
    """One direction prompt a line, `prompt` (placed at the next compass point: N, E, S, W, NE,
    SE, SW, NW) or `prompt @ x, y`; blank lines skipped; 1 to 8 of them."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not 1 <= len(lines) <= MAX_DIRECTIONS:
        raise CoupleError(f"direction prompts: give 1 to {MAX_DIRECTIONS} (one a line), got {len(lines)}")
    directions = []
    for index, line in enumerate(lines):
        placed = PLACED.match(line)
        if placed is None:
            directions.append(Direction(line, COMPASS[index]))
            continue
        try:
            at = (float(placed["x"]), float(placed["y"]))
        except ValueError:
            raise CoupleError(f"direction {index + 1}: write its spot as '@ x, y', got {line!r}") from None
        directions.append(Direction(placed["prompt"], at))
    return tuple(directions)


def directions_text(directions: tuple[Direction, ...]) -> str:
    """The directions as the text box writes them (every spot explicit)."""
    return "\n".join(f"{d.prompt} @ {d.at[0]:.3g}, {d.at[1]:.3g}" for d in directions)


def _seed(name: str, value: float | None) -> int:
    if value is None or not math.isfinite(value) or value != int(value):
        raise CoupleError(f"{name} must be a whole number in [0, 4294967295], got {value!r}")
    return int(value)


@dataclass
class ExploreSession:
    """The explorer of one page."""

    settings: WalkSettings
    pad: ExplorePad


def _same_walk(state: PadState, new: PadState) -> bool:
    fields = ("base", "directions", "seed", "other_seed")
    return all(getattr(state, name) == getattr(new, name) for name in fields)


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


ExploreUpdate = tuple[ExploreSession, Image.Image | None, Image.Image, str, str, str, str, int, int]


def make_explore_handler(open_pad: ExploreOpener) -> Callable[..., ExploreUpdate]:
    """One handler for every pad event: (session, frame, pad picture, status, state JSON, and the
    base, directions and seeds as the state has them: a loaded state writes its own back)."""

    def act(
        action: Action,
        session: ExploreSession | None,
        settings: WalkSettings,
        base: str,
        directions: str,
        seed: float | None,
        other_seed: float | None,
        step: float,
        adaptive: bool,
        mode: Mode,
        saved_json: str = "",
        click: tuple[float, float] = (0.0, 0.0),
    ) -> ExploreUpdate:
        if action == "load":
            session = ExploreSession(settings, open_pad(PadState.from_json(saved_json), settings))
        else:
            wanted = PadState(
                base, parse_directions(directions), _seed("seed", seed), _seed("other seed", other_seed)
            )
            if session is None or session.settings != settings or not _same_walk(session.pad.state, wanted):
                session = ExploreSession(settings, open_pad(wanted, settings))
        state = session.pad.state
        moved = apply(state, action, float(step), bool(adaptive), mode, PadPoint(*click))
        point = state.point
        recalled = session.pad.cached(point) is not None
        frame = session.pad.render(point)
        where = f"x {point.x:+.3f}, y {point.y:+.3f}, seed {point.seed_t:.3f}"
        undo = f"undo {len(state.history)} / redo {len(state.future)}"
        source = "stopped" if frame is None else "from the cache" if recalled else "sampled"
        status = f"{where} · {moved} · {source} · {undo}"
        texts = (state.base, directions_text(state.directions))
        return session, frame, draw_pad(state), status, state.to_json(), *texts, state.seed, state.other_seed

    return act


def build_explore_pad(
    open_pad: ExploreOpener,
    read_settings: Callable[..., WalkSettings],
    settings_inputs: list[Any],
    concurrency_id: str | None = None,
) -> dict[str, Any]:
    """The explorer's controls, built inside the tab; `read_settings(*values of settings_inputs)`
    gives the sampling settings (the tab's own)."""
    c: dict[str, Any] = {}
    handler = make_explore_handler(open_pad)

    def act(action: Action, values: tuple[Any, ...], *at: Any) -> ExploreUpdate:
        """One move; `values` are the inputs in order, the tab's settings last."""
        session, base, directions, seed, other, step, adaptive, mode, saved, *rest = values
        try:
            settings = read_settings(*rest)
            fields = (base, directions, seed, other, step, adaptive, mode, saved)
            return handler(action, session, settings, *fields, *at)
        except CoupleError as error:
            raise gr.Error(str(error)) from None

    def run(action: Action, *values: Any) -> ExploreUpdate:
        return act(action, values)

    def clicked(event: gr.SelectData, *values: Any) -> ExploreUpdate:
        column, row = event.index
        return act("click", values, pad_at(float(column), float(row)))

    with gr.Accordion(
        "Latent Space Explorer: steer with direction prompts", open=False, elem_id="forge_couple_explore"
    ):
        session = gr.State(None)
        with gr.Row():
            with gr.Column():
                c["base"] = gr.Textbox(DEFAULT_BASE, label="Base prompt (the pad's centre)")
                c["directions"] = gr.Textbox(
                    "\n".join(DEFAULT_DIRECTIONS),
                    label="Direction prompts (one a line, up to 8; 'prompt @ x, y' to place one)",
                    lines=4,
                )
                with gr.Row():
                    c["seed"] = gr.Number(1, label="Seed", precision=0, minimum=0, maximum=4294967295)
                    c["other_seed"] = gr.Number(
                        2, label="Other seed", precision=0, minimum=0, maximum=4294967295
                    )
                with gr.Row():
                    c["step"] = gr.Slider(
                        0.01, 1.0, 0.25, step=0.01, label="Step (1: one direction prompt away)"
                    )
                    c["adaptive"] = gr.Checkbox(False, label="Adaptive step (smaller where you have been)")
                c["mode"] = gr.Radio(
                    ["prompt", "seed"], value="prompt", label="Pad moves (seed: → toward the other seed)"
                )
                with gr.Row(elem_id="forge_couple_explore_arrows"):
                    c["show"] = gr.Button("Show", size="sm")
                    for action, label in BUTTONS:
                        c[action] = gr.Button(label, size="sm", elem_id=f"forge_couple_explore_{action}")
            with gr.Column():
                # No picture at build time: gradio would write it to the host's temp folder, which
                # Neo launched directly lacks (the tab then fails); Show or any move draws it.
                c["pad"] = gr.Image(
                    None,
                    label="Pad (Show draws it; click to step toward a spot)",
                    interactive=False,
                    type="pil",
                    height=PAD_PIXELS,
                    elem_id="forge_couple_explore_pad",
                )
            with gr.Column():
                c["frame"] = gr.Image(label="Frame", interactive=False, type="pil", height=PAD_PIXELS)
                c["status"] = gr.Textbox(
                    label="Where", interactive=False, elem_id="forge_couple_explore_status"
                )
        with gr.Accordion("State (JSON): copy to keep, paste and Load to return", open=False):
            c["state"] = gr.Code(language="json", interactive=True)
            c["load"] = gr.Button("Load", size="sm")
    names = ("base", "directions", "seed", "other_seed", "step", "adaptive", "mode", "state")
    inputs = [session, *(c[name] for name in names), *settings_inputs]
    outputs = [session, c["frame"], c["pad"], c["status"], c["state"], c["base"], c["directions"]]
    outputs += [c["seed"], c["other_seed"]]
    common: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": concurrency_id, "api_name": False}
    events: tuple[Action, ...] = ("show", "load", *(a for a, _ in BUTTONS))
    for event in events:
        c[event].click(partial(run, event), inputs=inputs, outputs=outputs, **common)
    c["pad"].select(clicked, inputs=inputs, outputs=outputs, **common)
    return c
