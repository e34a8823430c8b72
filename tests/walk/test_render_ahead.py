"""The explorer's render-ahead: it draws exactly where the next move goes, a superseded or
cancelled job writes nothing, a real request takes the model back, and on the demo model a move
to a pre-rendered neighbour samples nothing."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.demo.model import load_demo_pipeline, write_untrained_weights
from lib_couple.hosts.model_lock import holding, holding_in_background
from lib_couple.hosts.progress import StepControl
from lib_couple.hosts.walk_standalone import DemoExplorePad
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PAD_RADIUS, Direction, PadPoint, PadState, compass_directions
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import ARROW_MOVES, RenderAhead, likely_next

DIRECTIONS = compass_directions(["at night", "smiling", "in the rain", "in a forest"])
FRAME = Image.new("RGB", (2, 2))


class Model:
    """Something to hold (the lock table keeps weak references)."""


coordinate = st.floats(-PAD_RADIUS, PAD_RADIUS, allow_nan=False)


@settings(deadline=None, max_examples=60)
@given(
    x=coordinate,
    y=coordinate,
    seed_t=st.floats(0.0, 1.0),
    step=st.floats(0.01, 1.0),
    adaptive=st.booleans(),
    spot=st.tuples(st.floats(0.1, 2.0), st.floats(-2.0, -0.1)),
)
def test_the_points_ahead_are_where_each_single_move_lands(
    x: float, y: float, seed_t: float, step: float, adaptive: bool, spot: tuple[float, float]
) -> None:
    state = PadState("base", (*DIRECTIONS, Direction("odd", spot)), point=PadPoint(x, y, seed_t))
    state.move(0.3, -0.2, 0.1)  # a trail for the adaptive step
    ahead = likely_next(state, step, adaptive, "prompt")
    assert len(set(ahead)) == len(ahead)
    assert state.point not in ahead
    moves = [*ARROW_MOVES, *(d.at for d in state.directions)]
    for dx, dy in moves:
        moved = copy.deepcopy(state)
        landed = moved.move(dx, dy, step, "prompt", adaptive)
        assert landed == state.point or landed in ahead
    assert len(ahead) <= len(moves)
    seed_ahead = likely_next(state, step, adaptive, "seed")
    for dx in (1.0, -1.0):
        landed = copy.deepcopy(state).move(dx, 0.0, step, "seed", adaptive)
        assert landed == state.point or landed in seed_ahead
    assert all((p.x, p.y) == (state.point.x, state.point.y) for p in seed_ahead)


def test_a_cached_point_is_not_planned() -> None:
    state = PadState("base", DIRECTIONS)
    points = likely_next(state, 0.5, False, "prompt")
    job = RenderAhead().plan(points, lambda p: p == points[0])
    assert job.points == tuple(points[1:])


def test_only_the_current_running_job_of_the_same_points_is_still_drawing() -> None:
    state = PadState("base", DIRECTIONS)
    points = likely_next(state, 0.5, False, "prompt")
    ahead = RenderAhead()
    release = threading.Event()
    job = ahead.plan(points, lambda p: False)

    def held(point: PadPoint, control: StepControl) -> None:
        release.wait()

    thread = ahead.start(job, held, lambda p, f: None)
    assert thread is not None
    assert ahead.still_drawing(points) is thread
    assert ahead.still_drawing(points[1:]) is None  # another plan
    ahead.cancel()
    assert ahead.still_drawing(points) is None  # stale
    release.set()
    thread.join()
    job = ahead.plan(points, lambda p: False)
    assert ahead.still_drawing(points) is None  # planned, not running


def test_a_superseded_job_renders_nothing() -> None:
    ahead = RenderAhead()
    rendered: list[PadPoint] = []
    stored: list[PadPoint] = []
    points = [PadPoint(0.5, 0.0), PadPoint(0.0, 0.5)]

    def render(point: PadPoint, _control: StepControl) -> Image.Image:
        rendered.append(point)
        return FRAME

    older = ahead.plan(points, lambda _: False)
    newer = ahead.plan(points[:1], lambda _: False)
    assert ahead.run(older, render, lambda p, _f: stored.append(p)) == 0
    assert rendered == stored == []
    assert ahead.run(newer, render, lambda p, _f: stored.append(p)) == 1
    assert rendered == stored == points[:1]


def test_a_job_cancelled_while_it_samples_writes_nothing_and_stops() -> None:
    ahead = RenderAhead()
    seen: list[StepControl] = []
    stored: list[PadPoint] = []

    def render(point: PadPoint, control: StepControl) -> Image.Image:
        seen.append(control)
        ahead.cancel()  # a real request arrives mid-sample
        return FRAME  # the sampler finished its step anyway

    job = ahead.plan([PadPoint(0.5, 0.0), PadPoint(0.0, 0.5)], lambda _: False)
    assert ahead.run(job, render, lambda p, _f: stored.append(p)) == 0
    assert stored == []
    assert len(seen) == 1  # the second point was never started
    assert seen[0].cancelled  # the sampler stops within a step
    assert seen[0].interrupted


def test_a_real_request_cancels_the_background_holder_and_waits_for_it() -> None:
    model = Model()
    took = threading.Event()
    cancelled = threading.Event()
    order: list[str] = []

    def background() -> None:
        with holding_in_background(model, cancelled.set, lambda: True) as held:
            assert held
            took.set()
            assert cancelled.wait(30)  # the sampler's next step sees the cancel
            order.append("background done")

    thread = threading.Thread(target=background)
    thread.start()
    assert took.wait(30)
    with holding(model):
        order.append("real request")
    thread.join()
    assert order == ["background done", "real request"]


def test_a_background_job_waits_while_a_real_request_holds_the_model() -> None:
    model = Model()
    looked = threading.Event()

    def wanted() -> bool:
        looked.set()
        return not stop.is_set()

    stop = threading.Event()
    result: list[bool] = []
    with holding(model):
        thread = threading.Thread(target=lambda: result.append(_try(model, wanted)))
        thread.start()
        assert looked.wait(30)
        stop.set()  # the job went stale before the model was free
        thread.join()
    assert result == [False]


def _try(model: object, wanted: Callable[[], bool]) -> bool:
    with holding_in_background(model, lambda: None, wanted) as held:
        return held


def test_on_the_demo_model_a_pre_rendered_neighbour_samples_nothing(tmp_path: Path) -> None:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    calls: list[int] = []
    model.unet.register_forward_hook(lambda *_: calls.append(1))
    cache = FrameCache()
    pad = DemoExplorePad(model, cache, PadState("a red circle", DIRECTIONS), WalkSettings(32, 32, 2))
    assert pad.render(pad.state.point, lambda: False) is None  # superseded once the model was held
    assert not calls
    assert pad.cached(pad.state.point) is None
    assert pad.render(pad.state.point, lambda: True) is not None
    points = likely_next(pad.state, 0.5, False, "prompt")
    assert points
    assert all(pad.cached(p) is None for p in points)
    thread = pad.look_ahead(points)
    assert thread is not None
    thread.join()
    assert pad.ahead.written == len(points)
    sampled = len(calls)
    for dx, dy in ARROW_MOVES:
        pad.state.move(dx, dy, 0.5)
        assert pad.cached(pad.state.point) is not None
        assert pad.render(pad.state.point) is not None
        pad.state.undo()
    assert len(calls) == sampled  # every neighbour came from the cache
    assert pad.look_ahead(points) is None  # nothing left to draw


def test_on_the_demo_model_a_real_request_stops_the_pre_render_and_it_caches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    cache = FrameCache()
    pad = DemoExplorePad(model, cache, PadState("a red circle", DIRECTIONS), WalkSettings(32, 32, 4))
    calls: list[int] = []
    cancelled = threading.Event()
    real: list[threading.Thread] = []
    cancel = pad.ahead.cancel

    def traced_cancel() -> None:
        cancel()
        if calls:  # not the plan's own cancel, before any sampling
            cancelled.set()

    def real_request() -> None:
        with holding(model.unet):
            calls.append(0)  # the real request got the model

    def unet_called(*_: object) -> None:
        calls.append(1)
        if len(calls) == 2:  # a real generation asks for the model mid-sample
            real.append(threading.Thread(target=real_request))
            real[0].start()
            assert cancelled.wait(30)

    monkeypatch.setattr(pad.ahead, "cancel", traced_cancel)
    model.unet.register_forward_hook(unet_called)
    thread = pad.look_ahead(likely_next(pad.state, 0.5, False, "prompt"))
    assert thread is not None
    thread.join(120)
    real[0].join(120)
    assert len(cache) == 0
    assert pad.ahead.written == 0
    assert calls[-1] == 0  # the real request ran after the background frame stopped
    assert len(calls) - 1 < 4 * 2  # stopped before its 4 steps (CFG: two UNet calls a step)


@pytest.mark.parametrize("mode", ["prompt", "seed"])
def test_at_the_pad_edge_no_point_leaves_the_pad(mode: str) -> None:
    state = PadState("base", DIRECTIONS, point=PadPoint(PAD_RADIUS, -PAD_RADIUS, 1.0))
    for p in likely_next(state, 1.0, False, mode):  # type: ignore[arg-type]
        assert -PAD_RADIUS <= p.x <= PAD_RADIUS
        assert -PAD_RADIUS <= p.y <= PAD_RADIUS
        assert 0.0 <= p.seed_t <= 1.0
