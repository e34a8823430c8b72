"""The explorer's fast path (`lib_couple/ui/explore_fast.py`): which next moves it offers, the
exact frames it serves, and what it refuses, through the real routes."""

from __future__ import annotations

import gc
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.ui.explore_fast import FAST_ACTIONS, KEPT_FRAMES, ROUTE, FastFrames, explore_router
from lib_couple.ui.explore_moves import Action, reached
from lib_couple.ui.explore_pad import DEFAULT_BASE, DEFAULT_DIRECTIONS, ExploreHandler, ExploreSession
from lib_couple.walk.pad import PadPoint, PadState
from lib_couple.walk.plan import WalkSettings

SETTINGS = WalkSettings(32, 32, 1)


class PointPad:
    """Frames drawn on request, a colour per point; `cached` knows only those drawn."""

    def __init__(self, state: PadState, _settings: WalkSettings) -> None:
        self.state = state
        self.frames: dict[PadPoint, Image.Image] = {}

    def draw(self, point: PadPoint) -> Image.Image:
        shade = len(self.frames) + 1
        return self.frames.setdefault(point, Image.new("RGB", (8, 8), (shade * 20 % 256, 7, 9)))

    def cached(self, point: PadPoint) -> Image.Image | None:
        return self.frames.get(point)

    def render(self, point: PadPoint, wanted: Callable[[], bool] | None = None) -> Image.Image | None:
        return self.draw(point)

    def look_ahead(self, points: Sequence[PadPoint]) -> None:
        pass

    def cancel_ahead(self) -> None:
        pass


def moved(action: Action, session: ExploreSession | None) -> ExploreSession:
    fields = (DEFAULT_BASE, "\n".join(DEFAULT_DIRECTIONS), 1, 2, 0.25, False, "prompt")
    update = ExploreHandler(PointPad).move(action, session, SETTINGS, *fields)  # type: ignore[arg-type]
    return update[0]


def served(frames: FastFrames) -> TestClient:
    app = FastAPI()
    app.include_router(explore_router(frames))
    return TestClient(app)


def pixels(png: bytes) -> np.ndarray[Any, Any]:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_it_offers_exactly_the_next_moves_whose_frames_are_cached_and_serves_them_exactly() -> None:
    session = moved("show", None)
    session = moved("north", session)  # undo now has somewhere to go
    pad = session.pad
    assert isinstance(pad, PointPad)
    state = session.state
    drawn: tuple[Action, ...] = ("east", "undo", "start")
    for action in drawn:
        pad.draw(reached(state, action, 0.25, False, "prompt"))
    frames = FastFrames()
    mark = frames.mark(session)
    assert f'data-token="{session.token}"' in mark
    assert f'data-move="{session.latest_move}"' in mark
    client = served(frames)
    answer = client.get(f"{ROUTE}/ahead", params={"token": session.token})
    assert answer.status_code == 200
    found = answer.json()
    assert found["move"] == session.moves.latest == 2
    # south, undo and start all land on the starting point: one frame, one number
    assert sorted(found["frames"]) == ["east", "south", "start", "undo"]
    assert found["frames"]["undo"] == found["frames"]["start"] == found["frames"]["south"]
    assert found["frames"]["east"] != found["frames"]["start"]
    for action in FAST_ACTIONS:
        if action not in found["frames"]:
            continue
        frame = client.get(found["frames"][action])
        assert frame.status_code == 200
        assert frame.headers["content-type"] == "image/png"
        point = reached(state, action, 0.25, False, "prompt")
        expected = pad.cached(point)
        assert expected is not None
        assert np.array_equal(pixels(frame.content), np.asarray(expected))
    assert state.point == PadPoint(0.0, 0.25, 0.0)  # looking moved nothing
    assert len(state.history) == 1


def test_every_fast_action_reaches_where_the_move_itself_goes() -> None:
    for action in FAST_ACTIONS:
        session = moved("show", None)
        session = moved("east", session)
        session = moved("undo", session)  # redo has somewhere to go as well
        expected = reached(session.state, action, 0.25, False, "prompt")
        assert moved(action, session).state.point == expected, action


def test_a_page_explorer_that_is_gone_is_forgotten() -> None:
    frames = FastFrames()
    session = moved("show", None)
    frames.mark(session)
    token = session.token
    client = served(frames)
    assert client.get(f"{ROUTE}/ahead", params={"token": token}).status_code == 200
    del session
    gc.collect()
    answer = client.get(f"{ROUTE}/ahead", params={"token": token})
    assert answer.status_code == 404
    assert "token" in answer.json()["error"]


def test_only_the_newest_frames_are_kept() -> None:
    session = moved("show", None)
    pad = session.pad
    assert isinstance(pad, PointPad)
    frames = FastFrames()
    frames.mark(session)
    client = served(frames)
    urls: list[str] = []
    for index in range(KEPT_FRAMES + 3):  # a new frame east each time
        session = moved("east" if index % 2 == 0 else "west", session)
        pad.frames.clear()
        pad.draw(reached(session.state, "east", 0.25, False, "prompt"))
        urls.append(client.get(f"{ROUTE}/ahead", params={"token": session.token}).json()["frames"]["east"])
    assert len(set(urls)) == len(urls)
    assert client.get(urls[-1]).status_code == 200
    gone = client.get(urls[0])
    assert gone.status_code == 404
    assert gone.json()["error"].startswith("id:")


@settings(deadline=None, max_examples=200)
@given(token=st.text(max_size=300), raw_id=st.text(max_size=40))
def test_any_query_is_answered_with_a_named_refusal_or_a_frame(token: str, raw_id: str) -> None:
    frames = FastFrames()
    client = served(frames)
    for path, params in (("ahead", {"token": token}), ("frame", {"token": token, "id": raw_id})):
        answer = client.get(f"{ROUTE}/{path}", params=params)
        assert answer.status_code in (400, 404), (path, params)
        message = answer.json()["error"]
        assert message.split()[0].rstrip(":") in ("token", "id"), message
        assert len(message) < 400  # the echo of a long value is cut (24 characters)


def test_a_missing_query_is_refused_naming_the_field() -> None:
    client = served(FastFrames())
    assert client.get(f"{ROUTE}/ahead").json()["error"].startswith("token must be")
    answer = client.get(f"{ROUTE}/frame", params={"token": "a" * 22})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("id must be")


@pytest.mark.parametrize("raw_id", ["0", "-1", "1.5", "\u0661\u0662", "9" * 13])
def test_frame_numbers_out_of_range_are_refused(raw_id: str) -> None:
    answer = served(FastFrames()).get(f"{ROUTE}/frame", params={"token": "a" * 22, "id": raw_id})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("id must be a whole number in [1, ")
