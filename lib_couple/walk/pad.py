"""The 2D explorer's state: direction prompts on a pad, a point, bounded undo/redo, JSON save/load.

Pure data, no tensors: a point is (x, y) on the pad plus `seed_t`, how far the noise has moved
toward the other seed. The conditioning is a function of the point alone (`walk/pad_space.py`),
so coming back to a point (undo, return to start, a loop) gives the very same frame, and the
trail of visited pad points is what the KDE step sees.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lib_couple.errors import CoupleError
from lib_couple.walk.adaptive import adaptive_step
from lib_couple.walk.history import History

FORMAT_VERSION = 1
MAX_DIRECTIONS = 8
MAX_PROMPT_CHARS = 2000
PAD_RADIUS = 2.0  # the pad spans [-2, 2]²; 1 is about one anchor's distance from the base
MAX_SEED = 2**32 - 1
MAX_HISTORY = 1000
MAX_TRAIL = 2000  # the trail keeps its newest points: the KDE's cost grows with it
MAX_SAVED = 64
MAX_STEP = 1.0
MIN_STEP_SHARE = 0.125  # the adaptive step never falls below 1/8 of the chosen step
DIAGONAL = math.sqrt(0.5)
COMPASS: tuple[tuple[float, float], ...] = (  # N, E, S, W, then NE, SE, SW, NW
    (0.0, 1.0),
    (1.0, 0.0),
    (0.0, -1.0),
    (-1.0, 0.0),
    (DIAGONAL, DIAGONAL),
    (DIAGONAL, -DIAGONAL),
    (-DIAGONAL, -DIAGONAL),
    (-DIAGONAL, DIAGONAL),
)
Mode = Literal["prompt", "seed"]


@dataclass(frozen=True)
class Direction:
    """A direction prompt and where it sits on the pad (a non-zero vector; +y is up)."""

    prompt: str
    at: tuple[float, float]


@dataclass(frozen=True)
class PadPoint:
    """A frame's address: the pad position and the fraction of the way to the other seed's noise."""

    x: float = 0.0
    y: float = 0.0
    seed_t: float = 0.0


def compass_directions(prompts: Sequence[str]) -> tuple[Direction, ...]:
    """Prompts at the compass points in order N, E, S, W, NE, SE, SW, NW (the pad's defaults)."""
    if len(prompts) > len(COMPASS):
        raise CoupleError(f"compass directions: at most {len(COMPASS)} prompts, got {len(prompts)}")
    return tuple(Direction(p.strip(), at) for p, at in zip(prompts, COMPASS, strict=False))


def _finite(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CoupleError(f"{name} must be a finite number in [{low:g}, {high:g}], got {value!r}")
    if not low <= value <= high:
        raise CoupleError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CoupleError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return value


def _prompt(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PROMPT_CHARS:
        raise CoupleError(f"{name} must be non-empty text of at most {MAX_PROMPT_CHARS} characters")
    return value


def check_directions(directions: Sequence[Direction]) -> tuple[Direction, ...]:
    """The directions, or CoupleError: 1..8 prompts, each at a non-zero spot inside the pad."""
    if not 1 <= len(directions) <= MAX_DIRECTIONS:
        raise CoupleError(f"direction prompts: give 1 to {MAX_DIRECTIONS}, got {len(directions)}")
    for i, d in enumerate(directions):
        _prompt(f"direction {i + 1} prompt", d.prompt)
        x = _finite(f"direction {i + 1} x", d.at[0], -PAD_RADIUS, PAD_RADIUS)
        y = _finite(f"direction {i + 1} y", d.at[1], -PAD_RADIUS, PAD_RADIUS)
        if math.hypot(x, y) < 1e-6:
            raise CoupleError(f"direction {i + 1} must not sit at the pad's centre (the base prompt)")
    return tuple(directions)


def _point(name: str, raw: object) -> PadPoint:
    if not isinstance(raw, dict) or set(raw) != {"x", "y", "seed_t"}:
        raise CoupleError(f"{name} must be an object with x, y and seed_t")
    return PadPoint(
        _finite(f"{name} x", raw["x"], -PAD_RADIUS, PAD_RADIUS),
        _finite(f"{name} y", raw["y"], -PAD_RADIUS, PAD_RADIUS),
        _finite(f"{name} seed_t", raw["seed_t"], 0.0, 1.0),
    )


def _points(name: str, raw: object, limit: int) -> list[PadPoint]:
    if not isinstance(raw, list) or len(raw) > limit:
        raise CoupleError(f"{name} must be a list of at most {limit} points")
    return [_point(f"{name}[{i}]", p) for i, p in enumerate(raw)]


def stepped(point: PadPoint, dx: float, dy: float, size: float, mode: Mode = "prompt") -> PadPoint:
    """The point one step of `size` along the unit direction of (dx, dy), clamped to the pad; in
    seed mode dx alone moves `seed_t` (right: toward the other seed), clamped to [0, 1]."""
    dx = _finite("dx", dx, -1e6, 1e6)
    dy = _finite("dy", dy, -1e6, 1e6)
    if mode == "seed":
        seed_t = point.seed_t + math.copysign(size, dx) if dx else point.seed_t
        return PadPoint(point.x, point.y, min(1.0, max(0.0, seed_t)))
    if mode != "prompt":
        raise CoupleError(f"pad mode must be 'prompt' or 'seed', got {mode!r}")
    largest = max(abs(dx), abs(dy))
    if largest == 0:
        return point
    dx, dy = dx / largest, dy / largest  # scaled first: the length of subnormal ones rounds badly
    length = math.hypot(dx, dy)
    x = min(PAD_RADIUS, max(-PAD_RADIUS, point.x + size * dx / length))
    y = min(PAD_RADIUS, max(-PAD_RADIUS, point.y + size * dy / length))
    return PadPoint(x, y, point.seed_t)


@dataclass
class PadState:
    """Where the explorer stands, where it has been, and what undo and redo would restore."""

    base: str
    directions: tuple[Direction, ...]
    seed: int = 1
    other_seed: int = 2
    max_history: int = 100
    point: PadPoint = field(default_factory=PadPoint)
    moves: History[PadPoint] = field(init=False)
    trail: deque[tuple[float, float]] = field(init=False)
    saved: list[PadPoint] = field(default_factory=list)

    def __post_init__(self) -> None:
        _prompt("base prompt", self.base)
        self.directions = check_directions(self.directions)
        _whole("seed", self.seed, 0, MAX_SEED)
        _whole("other seed", self.other_seed, 0, MAX_SEED)
        _whole("max history", self.max_history, 1, MAX_HISTORY)
        self.moves = History(self.max_history)
        self.trail = deque([(self.point.x, self.point.y)], maxlen=MAX_TRAIL)

    @property
    def history(self) -> deque[PadPoint]:
        """Points undo would return to, oldest first."""
        return self.moves.past

    @property
    def future(self) -> deque[PadPoint]:
        """Points redo would return to, next last."""
        return self.moves.future

    def _go(self, point: PadPoint) -> PadPoint:
        self.moves.moved(self.point)
        return self._visit(point)

    def _visit(self, point: PadPoint) -> PadPoint:
        self.point = point
        self.trail.append((point.x, point.y))
        return point

    def step_size(self, base: float, adaptive: bool) -> float:
        """The chosen step, or with `adaptive` the KDE step over the trail (smaller where visited)."""
        step = _finite("step", base, 0.0, MAX_STEP)
        if not adaptive:
            return step
        here = [self.point.x, self.point.y]
        return adaptive_step(list(self.trail), here, step, min_step=step * MIN_STEP_SHARE)

    def move(
        self, dx: float, dy: float, step: float, mode: Mode = "prompt", adaptive: bool = False
    ) -> PadPoint:
        """Move by `stepped` from here with the (adaptive) step; an undoable move."""
        return self._go(stepped(self.point, dx, dy, self.step_size(step, adaptive), mode))

    def return_to_start(self) -> PadPoint:
        """Back to the base prompt and seed; an undoable move."""
        return self._go(PadPoint())

    def undo(self) -> bool:
        """Return to the previous point; False when there is none."""
        previous = self.moves.undo(self.point)
        if previous is None:
            return False
        self._visit(previous)
        return True

    def redo(self) -> bool:
        """Re-apply the last undone move; False when there is none."""
        following = self.moves.redo(self.point)
        if following is None:
            return False
        self._visit(following)
        return True

    def save_point(self) -> int:
        """Keep the current point as a keyframe of the explorer's walk; its index."""
        if len(self.saved) >= MAX_SAVED:
            raise CoupleError(f"saved points: at most {MAX_SAVED}; remove some first")
        self.saved.append(self.point)
        return len(self.saved) - 1

    def neighbours(self, step: float) -> list[PadPoint]:
        """One step from here toward each direction prompt (what the render-ahead draws)."""
        size = _finite("step", step, 0.0, MAX_STEP)
        return [stepped(self.point, d.at[0], d.at[1], size) for d in self.directions]

    def to_json(self) -> str:
        """The whole state, tensors excluded: the same encoder re-renders every point."""
        state: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "base": self.base,
            "directions": [{"prompt": d.prompt, "at": list(d.at)} for d in self.directions],
            "seed": self.seed,
            "other_seed": self.other_seed,
            "max_history": self.max_history,
            "point": asdict(self.point),
            "history": [asdict(p) for p in self.history],
            "future": [asdict(p) for p in self.future],
            "trail": [list(t) for t in self.trail],
            "saved": [asdict(p) for p in self.saved],
        }
        return json.dumps(state, indent=2)

    @classmethod
    def from_json(cls, text: str) -> PadState:
        """A saved state, or CoupleError naming the first malformed field."""
        if len(text) > 10_000_000:
            raise CoupleError("explorer state: at most 10 MB of JSON")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise CoupleError(f"explorer state is not JSON: {error}") from None
        keys = {"version", "base", "directions", "seed", "other_seed", "max_history"}
        keys |= {"point", "history", "future", "trail", "saved"}
        if not isinstance(raw, dict) or set(raw) != keys:
            raise CoupleError(f"explorer state must be an object with exactly: {', '.join(sorted(keys))}")
        if raw["version"] != FORMAT_VERSION:
            raise CoupleError(f"explorer state version must be {FORMAT_VERSION}, got {raw['version']!r}")
        directions = raw["directions"]
        if not isinstance(directions, list) or len(directions) > MAX_DIRECTIONS:
            raise CoupleError(f"directions must be a list of at most {MAX_DIRECTIONS}")
        parsed = []
        for i, d in enumerate(directions):
            if not isinstance(d, dict) or set(d) != {"prompt", "at"}:
                raise CoupleError(f"direction {i + 1} must be an object with prompt and at")
            if not isinstance(d["at"], list) or len(d["at"]) != 2:
                raise CoupleError(f"direction {i + 1} at must be [x, y]")
            parsed.append(Direction(d["prompt"], (d["at"][0], d["at"][1])))
        max_history = _whole("max history", raw["max_history"], 1, MAX_HISTORY)
        state = cls(
            raw["base"],
            tuple(parsed),
            raw["seed"],
            raw["other_seed"],
            max_history,
            _point("point", raw["point"]),
        )
        state.moves.restore(
            _points("history", raw["history"], max_history), _points("future", raw["future"], max_history)
        )
        trail = raw["trail"]
        if not isinstance(trail, list) or not 1 <= len(trail) <= MAX_TRAIL:
            raise CoupleError(f"trail must be a list of 1 to {MAX_TRAIL} [x, y] points")
        state.trail.clear()
        for i, t in enumerate(trail):
            if not isinstance(t, list) or len(t) != 2:
                raise CoupleError(f"trail[{i}] must be [x, y]")
            x = _finite(f"trail[{i}] x", t[0], -PAD_RADIUS, PAD_RADIUS)
            state.trail.append((x, _finite(f"trail[{i}] y", t[1], -PAD_RADIUS, PAD_RADIUS)))
        state.saved = _points("saved", raw["saved"], MAX_SAVED)
        return state
