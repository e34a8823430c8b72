"""The explorer's pad without a browser: arrows, clicks, undo/redo, return, save and load land
where they should, revisited points sample nothing, bad values are a Gradio error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.demo.model import load_demo_pipeline, write_untrained_weights
from lib_couple.errors import CoupleError
from lib_couple.hosts.walk_standalone import demo_explore_pad
from lib_couple.ui.explore_moves import Action
from lib_couple.ui.explore_pad import (
    DEFAULT_BASE,
    DEFAULT_DIRECTIONS,
    SHOWN,
    ExploreHandler,
    ExploreSession,
    ExploreUpdate,
    directions_text,
    make_explore_handler,
    parse_directions,
)
from lib_couple.ui.pad_image import PAD_PIXELS, draw_pad, pad_at, pixel_of
from lib_couple.ui.walk_tab import build_walk_tab
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import COMPASS, PadPoint, PadState
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next

SETTINGS = WalkSettings(32, 32, 1)
DIRECTIONS = "\n".join(DEFAULT_DIRECTIONS)


class CountingPad:
    """A pad whose frames are cached by point and counted when made."""

    def __init__(self, state: PadState, _settings: WalkSettings) -> None:
        self.state = state
        self.frames: dict[PadPoint, Image.Image] = {}
        self.made = 0
        self.ahead: list[list[PadPoint]] = []
        self.cancelled = 0
        self.waiting: Callable[[], object] = lambda: None  # what happens while a frame waits for the model

    def cached(self, point: PadPoint) -> Image.Image | None:
        return self.frames.get(point)

    def render(self, point: PadPoint, wanted: Callable[[], bool] | None = None) -> Image.Image | None:
        self.waiting()
        if wanted is not None and not wanted():
            return None
        if point not in self.frames:
            self.made += 1
            self.frames[point] = Image.new("RGB", (4, 4), (self.made % 256, 0, 0))
        return self.frames[point]

    def look_ahead(self, points: Sequence[PadPoint]) -> None:
        self.ahead.append(list(points))

    def cancel_ahead(self) -> None:
        self.cancelled += 1


def call(action: str, session: ExploreSession | None, **overrides: Any) -> ExploreUpdate:
    values: dict[str, Any] = {
        "settings": SETTINGS,
        "base": DEFAULT_BASE,
        "directions": DIRECTIONS,
        "seed": 1,
        "other_seed": 2,
        "step": 0.25,
        "adaptive": False,
        "mode": "prompt",
    }
    values.update(overrides)
    return make_explore_handler(CountingPad)(action, session, **values)


def test_arrows_clicks_undo_redo_return_and_save() -> None:
    session, _, pad, status, *_ = call("show", None)
    assert pad.size == (PAD_PIXELS, PAD_PIXELS)
    assert status.startswith("x +0.000, y +0.000")
    session, *_ = call("north", session)
    session, *_ = call("east", session)
    assert session.pad.state.point == PadPoint(0.25, 0.25, 0.0)
    session, *_ = call("click", session, click=(0.25, -2.0))  # straight down from here
    assert session.pad.state.point == PadPoint(0.25, 0.0, 0.0)
    session, *_ = call("east", session, mode="seed")
    assert session.pad.state.point == PadPoint(0.25, 0.0, 0.25)
    session, _, _, status, *_ = call("undo", session)
    assert session.pad.state.point == PadPoint(0.25, 0.0, 0.0)
    assert "from the cache" in status
    assert "undo 3 / redo 1" in status
    session, *_ = call("redo", session)
    session, _, _, status, *_ = call("start", session)
    assert session.pad.state.point == PadPoint()
    assert "from the cache" in status
    session, _, _, status, *_ = call("save", session)
    assert "saved point 1" in status
    pad_ = session.pad
    assert isinstance(pad_, CountingPad)
    assert pad_.made == 5  # start, N, NE, E, E+seed: every revisit came from the cache


def test_a_loaded_state_comes_back_with_its_prompts() -> None:
    session, *_ = call("north", None, directions="up\ndown @ 0, -1")
    saved = session.pad.state.to_json()
    fresh, *_ = call("show", None)
    loaded, _, _, _, text, base, directions, seed, other = call("load", fresh, saved_json=saved)
    assert loaded.pad.state.point == PadPoint(0.0, 0.25, 0.0)
    assert (base, seed, other) == (DEFAULT_BASE, 1, 2)
    assert directions == "up @ 0, 1\ndown @ 0, -1"
    assert text == saved
    # the written-back texts describe the same explorer: the next move keeps the session
    after, *_ = call("east", loaded, directions=directions)
    assert after is loaded
    with pytest.raises(CoupleError, match="not JSON"):
        call("load", fresh, saved_json="nonsense")


def test_changed_directions_or_settings_open_a_new_explorer() -> None:
    session, *_ = call("north", None)
    same, *_ = call("north", session)
    assert same is session
    other, *_ = call("north", session, directions="at night")
    assert other is not session
    assert other.pad.state.point == PadPoint(0.0, 0.25, 0.0)
    resized, *_ = call("show", other, directions="at night", settings=WalkSettings(64, 64, 1))
    assert resized is not other


def test_direction_text_places_prompts() -> None:
    directions = parse_directions("a\n\nb @ 0.5, -1.5\nc")
    assert [d.prompt for d in directions] == ["a", "b", "c"]
    assert directions[0].at == COMPASS[0]
    assert directions[1].at == (0.5, -1.5)
    assert directions[2].at == COMPASS[2]
    assert parse_directions(directions_text(directions)) == tuple(
        type(d)(d.prompt, (round(d.at[0], 3), round(d.at[1], 3))) for d in directions
    )
    with pytest.raises(CoupleError, match="1 to 8"):
        parse_directions("\n".join("p" for _ in range(9)))
    with pytest.raises(CoupleError, match="centre"):
        call("show", None, directions="x @ 0, 0")
    with pytest.raises(CoupleError, match="seed"):
        call("show", None, seed=1.5)


def test_the_picture_and_the_clicks_agree() -> None:
    for x, y in ((0.0, 0.0), (1.0, -0.5), (-2.0, 2.0)):
        assert pad_at(*pixel_of(x, y)) == pytest.approx((x, y))
    state = PadState("base", parse_directions("east @ 1, 0"))
    state.move(1, 0, 1.0)
    image = draw_pad(state)
    column, row = pixel_of(1.0, 0.0)
    assert image.getpixel((round(column), round(row))) != image.getpixel((5, 5))  # the point is drawn


def test_the_pad_click_and_buttons_are_wired_and_errors_are_gradio_errors(tmp_path: Path) -> None:
    with gr.Blocks() as page:
        controls = build_walk_tab(lambda plan, s, report: iter(()), tmp_path, open_explorer=CountingPad)
    explorer = controls["explorer"]
    dependencies = page.get_config_file()["dependencies"]

    def fn_of(component: Any) -> Any:
        [index] = [i for i, d in enumerate(dependencies) if d["targets"][0][0] == component._id]
        return page.fns[index].fn

    values: list[Any] = [DEFAULT_BASE, DIRECTIONS, 1, 2, 0.25, False, "prompt", ""]
    sampling: list[Any] = [32, 32, 1, 5.0, ""]
    session, *_ = fn_of(explorer["north"])(None, *values, *sampling)
    assert session.pad.state.point == PadPoint(0.0, 0.25, 0.0)
    event = gr.SelectData(explorer["pad"], {"index": list(pixel_of(1.0, 0.25)), "value": None})
    session, *_ = fn_of(explorer["pad"])(event, session, *values, *sampling)
    assert session.pad.state.point == PadPoint(0.25, 0.25, 0.0)
    with pytest.raises(gr.Error, match="direction prompts"):
        fn_of(explorer["east"])(session, DEFAULT_BASE, "", *values[2:], *sampling)


def test_on_the_demo_model_a_move_east_is_new_and_undo_recalls_it_exactly(tmp_path: Path) -> None:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    calls: list[int] = []
    model.unet.register_forward_hook(lambda *_: calls.append(1))
    handler = make_explore_handler(demo_explore_pad(lambda: model, FrameCache()))
    args = (SETTINGS, DEFAULT_BASE, DIRECTIONS, 1, 2, 0.5, False, "prompt")
    session, first, _, status, *_ = handler("show", None, *args)
    assert "· sampled ·" in status
    session, moved, _, status, *_ = handler("east", session, *args)
    assert "· sampled ·" in status
    sampled = len(calls)
    session, again, _, status, *_ = handler("undo", session, *args)
    assert "from the cache" in status
    assert len(calls) == sampled
    assert first is not None
    assert again is not None
    assert moved is not None
    assert again.tobytes() == first.tobytes()
    pad = session.pad
    east = pad.space.conditioning(pad.state, PadPoint(0.5, 0.0, 0.0))  # type: ignore[attr-defined]
    base = pad.space.encoded(DEFAULT_BASE)  # type: ignore[attr-defined]
    target = pad.space.encoded(DEFAULT_DIRECTIONS[1])  # type: ignore[attr-defined]
    assert isinstance(east, torch.Tensor)
    assert float((east - target).norm()) < float((base - target).norm())


def test_a_move_superseded_while_its_frame_waits_for_the_model_is_not_rendered() -> None:
    handler = ExploreHandler(CountingPad)
    args: tuple[Any, ...] = (SETTINGS, DEFAULT_BASE, DIRECTIONS, 1, 2, 0.25, False, "prompt")
    session, *_, first = handler.move("show", None, *args)
    pad = session.pad
    assert isinstance(pad, CountingPad)
    newer: list[int] = []
    pad.waiting = lambda: newer.append(handler.move("east", session, *args)[-1])  # a move meanwhile
    assert handler.show(session, first) is None
    assert pad.made == 0  # its ticket was current when it began waiting, stale once it was served
    pad.waiting = lambda: None
    shown = handler.show(session, newer[0])
    assert shown is not None
    assert "sampled 1, superseded 1" in shown[1]
    assert pad.made == 1


def test_a_superseded_move_is_never_rendered_and_frames_shown_start_the_render_ahead() -> None:
    handler = ExploreHandler(CountingPad, ahead=True)
    args: tuple[Any, ...] = (SETTINGS, DEFAULT_BASE, DIRECTIONS, 1, 2, 0.25, False, "prompt")
    session, frame, *_, ticket = handler.move("show", None, *args)
    assert frame is None  # nothing cached: the page keeps its frame until `show`
    assert handler.show(session, ticket) is not None
    pad = session.pad
    assert isinstance(pad, CountingPad)
    assert pad.ahead == [likely_next(pad.state, 0.25, False, "prompt")]
    _, _, *_, first = handler.move("north", session, *args)
    _, _, *_, second = handler.move("east", session, *args)
    assert pad.cancelled == 2  # each move makes the pre-render yield
    assert handler.show(session, first) is None  # superseded before its turn
    assert pad.made == 1
    shown = handler.show(session, second)
    assert shown is not None
    assert "· sampled ·" in shown[1]
    assert "sampled 2, superseded 1" in shown[1]  # the status line counts both
    assert pad.made == 2  # only the newest move was rendered
    assert PadPoint(0.0, 0.25, 0.0) not in pad.frames
    # back to a frame that is ready: it comes with the move, and the pre-render starts from there
    handler.move("undo", session, *args)
    session, frame, _, status, *_ = handler.move("undo", session, *args)
    assert frame is not None
    assert "from the cache" in status
    assert pad.ahead[-1] == likely_next(pad.state, 0.25, False, "prompt")
    # Show on a drawn point needs no model: the pre-render keeps going (it is planned again,
    # and a host keeps a running job with the same points)
    yielded = pad.cancelled
    handler.move("show", session, *args)
    assert pad.cancelled == yielded


ARGS: tuple[Any, ...] = (SETTINGS, DEFAULT_BASE, DIRECTIONS, 1, 2, 0.25, False, "prompt")
BURST: tuple[Action, ...] = ("north", "east", "south", "west", "undo", "show")


def test_each_waiting_frame_knows_its_own_move_and_a_cached_move_needs_none() -> None:
    """Three moves east while their frames wait behind a txt2img (the page's test): the first
    was drawn ahead, so its move showed it and its `show` does nothing; the second is superseded;
    only the third is sampled."""
    handler = ExploreHandler(CountingPad, ahead=True)
    session, _, *_, ticket = handler.move("show", None, *ARGS)
    assert handler.show(session, ticket) is not None
    pad = session.pad
    assert isinstance(pad, CountingPad)
    pad.frames[PadPoint(0.25, 0.0, 0.0)] = Image.new("RGB", (4, 4))  # the render-ahead drew it
    tickets = [handler.move("east", session, *ARGS)[-1] for _ in range(3)]
    assert tickets[0] == SHOWN
    planned = len(pad.ahead)
    assert handler.show(session, tickets[0]) is None
    assert (session.sampled, session.superseded, len(pad.ahead)) == (1, 0, planned)  # nothing done
    assert handler.show(session, tickets[1]) is None
    assert PadPoint(0.5, 0.0, 0.0) not in pad.frames  # never rendered
    shown = handler.show(session, tickets[2])
    assert shown is not None
    assert shown[1].startswith("x +0.750, y +0.000")
    assert "· sampled ·" in shown[1]
    assert "sampled 2, superseded 1" in shown[1]
    assert pad.made == 2


def test_a_ticket_of_a_replaced_explorer_is_stale_in_the_new_one() -> None:
    handler = ExploreHandler(CountingPad)
    session, *_, old = handler.move("show", None, *ARGS)
    fresh, *_, new = handler.move("north", session, SETTINGS, DEFAULT_BASE, "at night", *ARGS[3:])
    assert fresh is not session
    assert handler.show(fresh, old) is None  # the old explorer's move: never rendered here
    shown = handler.show(fresh, new)
    assert shown is not None
    assert "sampled 1, superseded 1" in shown[1]


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from(BURST), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_frames_served_after_a_burst_of_moves_render_only_the_newest(
    moves: list[tuple[Action, bool]],
) -> None:
    """Whatever the moves and whichever were drawn ahead: once their frames are served, in
    order, only the newest move's frame is sampled (if its move did not show it), and every
    other move not shown by itself is counted superseded."""
    handler = ExploreHandler(CountingPad)
    session, *_, first = handler.move("show", None, *ARGS)
    handler.show(session, first)
    pad = session.pad
    assert isinstance(pad, CountingPad)
    tickets = []
    for action, drawn_ahead in moves:
        if drawn_ahead:  # the render-ahead finished before this move
            for point in likely_next(pad.state, 0.25, False, "prompt"):
                pad.frames.setdefault(point, Image.new("RGB", (4, 4)))
        tickets.append(handler.move(action, session, *ARGS)[-1])
    made = pad.made
    shown = [handler.show(session, ticket) for ticket in tickets]
    waiting = [ticket != SHOWN for ticket in tickets]
    assert [s is not None for s in shown] == [*([False] * (len(moves) - 1)), waiting[-1]]
    assert session.superseded == sum(waiting[:-1])
    assert pad.made == session.sampled == made + waiting[-1]


def test_the_frame_event_reads_the_ticket_its_move_wrote_as_the_page_sent_it(tmp_path: Path) -> None:
    """Each move writes its ticket to a hidden field that its `show` reads: a gr.State would be
    read when the event is served (the newest ticket for every waiting frame)."""
    with gr.Blocks() as page:
        controls = build_walk_tab(lambda plan, s, report: iter(()), tmp_path, open_explorer=CountingPad)
    dependencies = page.get_config_file()["dependencies"]
    shows = [d for d in dependencies if d["trigger_after"] is not None and len(d["inputs"]) == 2]
    assert len(shows) == 11  # Show, Load, the 8 buttons and a click on the pad
    for show in shows:
        [move] = [d for d in dependencies if d["id"] == show["trigger_after"]]
        ticket = page.blocks[show["inputs"][1]]
        assert isinstance(ticket, gr.Number)
        assert not ticket.stateful
        assert ticket.visible is False
        assert move["outputs"][-2] == ticket._id
        assert move["outputs"][-1] == controls["explorer"]["fast"]._id  # the fast path's mark
    assert controls["explorer"]["status"]._id in shows[0]["outputs"]
    served = page.fns[dependencies.index(shows[0])].fn
    assert served(None, 3) == (gr.skip(), gr.skip())  # no explorer yet: nothing to show
    for bad in (-1, 2.5, float("nan"), 2.0**53, None):
        with pytest.raises(
            gr.Error, match=r"explorer ticket must be a whole number in \[0, 9007199254740991\]"
        ):
            served(None, bad)
