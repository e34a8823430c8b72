"""The explorer's fast path: the frames a page can show before Gradio brings them.

Gradio's front end takes 200-300 ms on this kind of machine to show an output, even one the
server had ready in 2 ms. So each explorer has a random token, written into the page by its
moves. The page's `javascript/forge_couple_explore_fast.js` then works with two read-only routes:

- `GET ROUTE/ahead?token=` says which of the next moves (arrows, undo, redo, return to start)
  land on a frame already in the cache;
- `GET ROUTE/frame?token=&id=` serves those frames, which the page preloads.

On such a move the page swaps the frame picture at once. The move's Gradio event still runs
and writes everything, the same frame included. A route never moves the pad or samples.
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from PIL import Image

from lib_couple.ui.explore_moves import Action, reached
from lib_couple.walk.pad import Mode, PadPoint, PadState

ROUTE = "/forge-couple/explore"
FAST_ACTIONS: tuple[Action, ...] = ("north", "south", "east", "west", "undo", "redo", "start")
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")  # what `new_token` makes: 16 random bytes, URL-safe
MAX_ID_DIGITS = 12
KEPT_FRAMES = 32  # encoded frames a page keeps ready: the next moves' and the recent ones


def new_token() -> str:
    """A page's explorer token: unguessable, so one page cannot read another's frames."""
    return secrets.token_urlsafe(16)


class FastSession(Protocol):
    """An explorer as the fast path reads it (`ExploreSession`)."""

    token: str
    lock: threading.Lock  # held while a move changes the state
    look: tuple[float, bool, Mode]

    @property
    def state(self) -> PadState: ...

    @property
    def latest_move(self) -> int: ...

    def cached(self, point: PadPoint) -> Image.Image | None: ...


class FastError(Exception):
    """A request the routes refuse: its HTTP status, and a message naming the field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_token(token: str) -> str:
    if len(token) > 64 or TOKEN.fullmatch(token) is None:
        raise FastError(400, f"token must be the explorer's 22-character token, got {token[:24]!r}")
    return token


def check_id(raw: str) -> int:
    if not 1 <= len(raw) <= MAX_ID_DIGITS or not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise FastError(400, f"id must be a whole number in [1, {10**MAX_ID_DIGITS - 1}], got {raw[:24]!r}")
    return int(raw)


class _Pngs:
    """One page's frames as PNG, encoded once each and numbered, the newest KEPT_FRAMES kept.
    Thread-safe with a lock of its own: one page's encoding never holds up another's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: OrderedDict[int, bytes] = OrderedDict()
        # id(image) -> (a weak reference to it, its number): an image is numbered once
        self._numbers: dict[int, tuple[weakref.ref[Image.Image], int]] = {}
        self._next = 1

    def number(self, image: Image.Image) -> int:
        with self._lock:
            return self._number(image)

    def _number(self, image: Image.Image) -> int:
        known = self._numbers.get(id(image))
        if known is not None and known[0]() is image and known[1] in self._by_id:
            self._by_id.move_to_end(known[1])
            return known[1]
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)  # lossless: the exact frame, quickly
        number, self._next = self._next, self._next + 1
        self._by_id[number] = buffer.getvalue()
        self._numbers[id(image)] = (weakref.ref(image), number)
        while len(self._by_id) > KEPT_FRAMES:
            self._by_id.popitem(last=False)
        if len(self._numbers) > 4 * KEPT_FRAMES:  # drop numbers of frames no longer kept
            self._numbers = {k: v for k, v in self._numbers.items() if v[1] in self._by_id}
        return number

    def get(self, number: int) -> bytes | None:
        with self._lock:
            return self._by_id.get(number)


class FastFrames:
    """The pages' explorers by token, held weakly (a page's session state keeps its explorer
    alive), and each one's encoded frames. Thread-safe: the routes run in the server's pool; the
    lock here guards the registry only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._pngs: dict[str, _Pngs] = {}

    def register(self, session: FastSession) -> None:
        with self._lock:
            if self._sessions.get(session.token) is session:
                return
            self._sessions[session.token] = session
            self._pngs[session.token] = _Pngs()
        weakref.finalize(session, self._forget, session.token)

    def mark(self, session: FastSession) -> str:
        """Register `session`; the page's mark of it (hidden): its token and its newest move."""
        self.register(session)
        return f'<span hidden data-token="{session.token}" data-move="{session.latest_move}"></span>'

    def _forget(self, token: str) -> None:
        with self._lock:
            self._pngs.pop(token, None)

    def _session(self, token: str) -> tuple[FastSession, _Pngs]:
        with self._lock:
            session = self._sessions.get(check_token(token))
            pngs = self._pngs.get(token)
        if session is None or pngs is None:
            raise FastError(404, "token: no explorer has it (this page's explorer was replaced or closed)")
        return session, pngs

    def ahead(self, token: str, url: Callable[[int], str]) -> dict[str, Any]:
        """Which next moves land on a cached frame: {"move": the newest move's ticket, "frames":
        {action: url}}; the page uses it only while that move is the last it made."""
        session, pngs = self._session(token)
        with session.lock:
            state, look, move = session.state, session.look, session.latest_move
            targets = {action: reached(state, action, *look) for action in FAST_ACTIONS}
        # undo, start and an arrow often land on one point: each point is looked up once
        found = {point: session.cached(point) for point in set(targets.values())}
        frames = {
            action: url(pngs.number(frame))
            for action, point in targets.items()
            if (frame := found[point]) is not None
        }
        return {"move": move, "frames": frames}

    def frame(self, token: str, raw_id: str) -> bytes:
        number = check_id(raw_id)
        _, pngs = self._session(token)
        png = pngs.get(number)
        if png is None:
            raise FastError(404, f"id: frame {number} is no longer kept (the page asks again)")
        return png


FAST = FastFrames()  # one per server process: the routes are the process's


def explore_router(frames: FastFrames = FAST) -> APIRouter:
    """The two routes, for `app.include_router` (Forge) or `FastAPI(routes=router.routes)`."""
    router = APIRouter()

    def refused(error: FastError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @router.get(f"{ROUTE}/ahead")
    def ahead(token: str = "") -> Response:
        try:
            found = frames.ahead(token, lambda number: f"{ROUTE}/frame?token={token}&id={number}")
        except FastError as error:
            return refused(error)
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    @router.get(f"{ROUTE}/frame")
    def frame(token: str = "", id: str = "") -> Response:
        try:
            png = frames.frame(token, id)
        except FastError as error:
            return refused(error)
        # a number is one frame for the page's life: the browser may keep it
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    return router
