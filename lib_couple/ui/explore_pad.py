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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import gradio as gr
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.limits import MAX_SEED
from lib_couple.ui.explore_export import build_explore_export
from lib_couple.ui.explore_fast import FAST, new_token
from lib_couple.ui.explore_moves import Action, apply
from lib_couple.ui.pad_image import PAD_PIXELS, draw_pad, pad_at
from lib_couple.walk.pad import COMPASS, MAX_DIRECTIONS, Direction, Mode, PadPoint, PadState
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import Tickets, likely_next

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

    def render(self, point: PadPoint, wanted: Callable[[], bool] | None = None) -> Image.Image | None:
        """The frame at `point`; None when the host's Stop interrupted it, or when `wanted()`
        is False once the model is held (a newer move superseded it while it waited)."""
        ...

    def look_ahead(self, points: Sequence[PadPoint]) -> object:
        """Render `points` into the cache in the background, yielding to any real request
        (a host that cannot does nothing)."""
        ...

    def cancel_ahead(self) -> None:
        """Drop the background renders planned so far."""
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


MAX_TICKET = 2**53 - 1  # the largest whole number the page's field holds exactly


def _whole(name: str, value: float | None, top: int = MAX_SEED) -> int:
    """`value` as a whole number in [0, top] (the state checks a seed's range again)."""
    if value is None or not math.isfinite(value) or value != int(value) or not 0 <= value <= top:
        raise CoupleError(f"{name} must be a whole number in [0, {top}], got {value!r}")
    return int(value)


@dataclass
class ExploreSession:
    """The explorer of one page: each move takes a ticket, and only the newest move's frame is
    rendered (an older one still waiting is superseded); `look` is its step, adaptive and mode."""

    settings: WalkSettings
    pad: ExplorePad
    moves: Tickets = field(default_factory=Tickets)
    target: PadPoint = field(default_factory=PadPoint)
    look: tuple[float, bool, Mode] = (0.25, False, "prompt")
    moved: str = "here"  # the last move, for the status line
    sampled: int = 0  # frames this explorer sampled for the page (the status line shows both)
    superseded: int = 0  # moves whose frame was never rendered: a newer move came first
    token: str = field(default_factory=new_token)  # the fast path's name for it (explore_fast.py)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def state(self) -> PadState:
        return self.pad.state

    @property
    def latest_move(self) -> int:
        return self.moves.latest

    def cached(self, point: PadPoint) -> Image.Image | None:
        return self.pad.cached(point)

    def look_ahead(self) -> None:
        """Pre-render where the next single move would go."""
        self.pad.look_ahead(likely_next(self.pad.state, *self.look))


def _same_walk(state: PadState, new: PadState) -> bool:
    fields = ("base", "directions", "seed", "other_seed")
    return all(getattr(state, name) == getattr(new, name) for name in fields)


ExploreUpdate = tuple[ExploreSession, Image.Image | None, Image.Image, str, str, str, str, int, int]
# a move's outputs, then the ticket its `show` takes: SHOWN when the move showed its frame from
# the cache, else the move's own ticket (the frame is None then: not cached yet)
SHOWN = 0
MoveUpdate = tuple[ExploreSession, Image.Image | None, Image.Image, str, str, str, str, int, int, int]


def _status(session: ExploreSession, source: str) -> str:
    """Where the pad is, how its frame came, and the counters that let a user (and the browser
    tests) see that the render-ahead works: frames sampled and superseded, neighbours ready."""
    state = session.pad.state
    point = state.point
    where = f"x {point.x:+.3f}, y {point.y:+.3f}, seed {point.seed_t:.3f}"
    undo = f"undo {len(state.history)} / redo {len(state.future)}"
    nexts = likely_next(state, *session.look)
    ready = sum(session.pad.cached(p) is not None for p in nexts)
    counts = f"sampled {session.sampled}, superseded {session.superseded}, ahead {ready}/{len(nexts)} ready"
    return f"{where} · {session.moved} · {source} · {undo} · {counts}"


class ExploreHandler:
    """The pad's events in two steps: `move` (quick, no sampling: the state moves, a cached frame
    shows at once) and `show` (the move's frame, sampled in the model's queue unless a newer
    move superseded it). With `ahead`, every frame shown starts the render-ahead."""

    def __init__(self, open_pad: ExploreOpener, ahead: bool = False) -> None:
        self.open_pad = open_pad
        self.ahead = ahead

    def move(
        self,
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
    ) -> MoveUpdate:
        old = session
        if action == "load":
            session = ExploreSession(settings, self.open_pad(PadState.from_json(saved_json), settings))
        else:
            wanted = PadState(
                base, parse_directions(directions), _whole("seed", seed), _whole("other seed", other_seed)
            )
            if session is None or session.settings != settings or not _same_walk(session.pad.state, wanted):
                session = ExploreSession(settings, self.open_pad(wanted, settings))
        if old is not None and (action != "show" or old is not session):
            old.pad.cancel_ahead()  # a real move: the pre-render yields (and a replaced pad stops)
        if old is not None and old is not session:
            session.moves = old.moves  # one numbering a page: a stale ticket never matches anew
        state = session.pad.state
        with session.lock:  # the fast path reads the state and the look as one
            moved = apply(state, action, float(step), bool(adaptive), mode, PadPoint(*click))
            session.target, session.look = state.point, (float(step), bool(adaptive), mode)
            session.moved = moved
            ticket = session.moves.issue()  # issued even when cached: older frames waiting are stale
        frame = session.pad.cached(state.point)
        if frame is not None:
            ticket = SHOWN
            if self.ahead:
                session.look_ahead()
        status = _status(session, "rendering" if frame is None else "from the cache")
        texts = (state.base, directions_text(state.directions))
        return (
            session,
            frame,
            draw_pad(state),
            status,
            state.to_json(),
            *texts,
            state.seed,
            state.other_seed,
            ticket,
        )

    def show(self, session: ExploreSession, ticket: int) -> tuple[Image.Image | None, str] | None:
        """The frame and status of the move with `ticket`; None when its move showed it already
        (SHOWN: nothing counted) or when a newer move superseded it before its sampling began
        (it is never rendered, and counted)."""
        if ticket == SHOWN:
            return None
        if not session.moves.current(ticket):
            session.superseded += 1
            return None
        point = session.target
        recalled = session.pad.cached(point) is not None
        # asked again once the model is held: a move can come while this one waits for it
        frame = session.pad.render(point, lambda: session.moves.current(ticket))
        if frame is None and not session.moves.current(ticket):
            session.superseded += 1
            return None
        session.sampled += frame is not None and not recalled
        if frame is not None and self.ahead:
            session.look_ahead()
        source = "stopped" if frame is None else "from the cache" if recalled else "sampled"
        return frame, _status(session, source)

    def __call__(self, *args: Any, **kwargs: Any) -> ExploreUpdate:
        """A move and its frame in one call (scripts and tests; the page uses the two steps)."""
        update = self.move(*args, **kwargs)
        session, frame, status = update[0], update[1], update[3]
        if frame is None:
            shown = self.show(session, update[9])
            assert shown is not None  # nothing newer can come in between
            frame, status = shown
        return (session, frame, update[2], status, *update[4:9])


def make_explore_handler(open_pad: ExploreOpener) -> ExploreHandler:
    """One handler for every pad event: (session, frame, pad picture, status, state JSON, and the
    base, directions and seeds as the state has them: a loaded state writes its own back)."""
    return ExploreHandler(open_pad)


def build_explore_pad(
    open_pad: ExploreOpener,
    read_settings: Callable[..., WalkSettings],
    settings_inputs: list[Any],
    concurrency_id: str | None = None,
    export: tuple[list[Any], Path] | None = None,
) -> dict[str, Any]:
    """The explorer's controls, built inside the tab; `read_settings(*values of settings_inputs)`
    gives the sampling settings (the tab's own). With `export` (the tab's frames per transition,
    easing, fps and video format, and the walks' folder), saved points export as a walk."""
    c: dict[str, Any] = {}
    handler = ExploreHandler(open_pad, ahead=True)

    def act(action: Action, values: tuple[Any, ...], *at: Any) -> tuple[Any, ...]:
        """One move; `values` are the inputs in order, the tab's settings last."""
        session, base, directions, seed, other, step, adaptive, mode, saved, *rest = values
        try:
            settings = read_settings(*rest)
            fields = (base, directions, seed, other, step, adaptive, mode, saved)
            session, frame, *update = handler.move(action, session, settings, *fields, *at)
        except CoupleError as error:
            raise gr.Error(str(error)) from None
        shown = gr.skip() if frame is None else frame  # not ready: keep the old
        return (session, shown, *update, FAST.mark(session))

    def run(action: Action, *values: Any) -> tuple[Any, ...]:
        return act(action, values)

    def clicked(event: gr.SelectData, *values: Any) -> tuple[Any, ...]:
        column, row = event.index
        return act("click", values, pad_at(float(column), float(row)))

    def show(session: ExploreSession | None, ticket: float | None) -> tuple[Any, Any]:
        try:
            number = _whole("explorer ticket", ticket, MAX_TICKET)  # the page's hidden field
        except CoupleError as error:
            raise gr.Error(str(error)) from None
        shown = None if session is None else handler.show(session, number)
        return (gr.skip(), gr.skip()) if shown is None else shown

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
                    seed_id = "forge_couple_explore_seed"
                    c["seed"] = gr.Number(
                        1, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, elem_id=seed_id
                    )
                    c["other_seed"] = gr.Number(
                        2, label="Other seed", precision=0, minimum=0, maximum=MAX_SEED
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
                c["frame"] = gr.Image(
                    label="Frame",
                    interactive=False,
                    type="pil",
                    format="png",  # the exact frame, as the fast path shows it (webp is lossy)
                    height=PAD_PIXELS,
                    elem_id="forge_couple_explore_frame",
                )
                c["status"] = gr.Textbox(
                    label="Where", interactive=False, elem_id="forge_couple_explore_status"
                )
                c["fast"] = gr.HTML("", elem_id="forge_couple_explore_fast")  # the fast path's mark
        with gr.Accordion("State (JSON): copy to keep, paste and Load to return", open=False):
            c["state"] = gr.Code(language="json", interactive=True)
            c["load"] = gr.Button("Load", size="sm")
        if export is not None:
            c.update(build_explore_export(session, *export, concurrency_id))
    names = ("base", "directions", "seed", "other_seed", "step", "adaptive", "mode", "state")
    # The move's ticket rides in a hidden field, not a gr.State: gradio reads a State when the
    # event is served (every waiting `show` would get the newest ticket), a field's value when
    # the event is sent (each `show` gets its own move's ticket).
    ticket = gr.Number(SHOWN, visible=False, precision=0)
    inputs = [session, *(c[name] for name in names), *settings_inputs]
    outputs = [session, c["frame"], c["pad"], c["status"], c["state"], c["base"], c["directions"]]
    outputs += [c["seed"], c["other_seed"], ticket, c["fast"]]
    # moves never sample, so they run in their own queue and are not held behind a frame; each
    # press and drag step queues (gradio's default drops events while one is pending), and the
    # frames behind a newer move are skipped by `show`
    queued = {"concurrency_limit": 1, "trigger_mode": "multiple", "api_name": False}
    moves: dict[str, Any] = {**queued, "concurrency_id": "forge_couple_explore_moves"}
    frames: dict[str, Any] = {**queued, "concurrency_id": concurrency_id}
    events: tuple[Action, ...] = ("show", "load", *(a for a, _ in BUTTONS))
    for event in events:
        moved = c[event].click(partial(run, event), inputs=inputs, outputs=outputs, **moves)
        moved.then(show, inputs=[session, ticket], outputs=[c["frame"], c["status"]], **frames)
    clicked_event = c["pad"].select(clicked, inputs=inputs, outputs=outputs, **moves)
    clicked_event.then(show, inputs=[session, ticket], outputs=[c["frame"], c["status"]], **frames)
    return c
