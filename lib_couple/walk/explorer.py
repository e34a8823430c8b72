"""An interactive walk along keyframes (prompt + seed) with bounded undo/redo and JSON save/load."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, get_args

import torch

from lib_couple.errors import CoupleError
from lib_couple.saved_json import SavedJson
from lib_couple.walk.history import History
from lib_couple.walk.interpolate import (
    Architecture,
    Conditioning,
    Method,
    ScalarMode,
    interpolate_conditioning,
)
from lib_couple.walk.noise import noise_between

Encoder = Callable[[str], Conditioning]
FORMAT_VERSION = 1
MAX_SAVED_HISTORY = 1000  # moves kept for undo in a saved walk; a file cannot ask for more


@dataclass(frozen=True)
class Keyframe:
    """One stop of the walk: what to say and which noise to start from."""

    prompt: str
    seed: int


@dataclass(frozen=True)
class WalkPoint:
    """A frame's address: the transition, the fraction along it, and the keyframes at its ends."""

    transition: int
    t: float
    start: Keyframe
    end: Keyframe


class LatentSpaceExplorer:
    """A cursor on the path through keyframes; positions are floats in [0, n_keyframes - 1].

    Position p lies in transition k = min(floor(p), n - 2) at t = p - k. Every move pushes the old
    position on a bounded history (oldest dropped) and clears the future; undo/redo move between them.
    Only prompts, seeds and positions are stored, so `load` + the same `encode` re-renders any frame.
    """

    def __init__(
        self,
        keyframes: Sequence[Keyframe],
        encode: Encoder,
        *,
        architecture: Architecture,
        method: Method = "slerp",
        scalars: ScalarMode = "keep",
        max_history: int = 100,
        position: float = 0.0,
    ) -> None:
        if len(keyframes) < 2:
            raise ValueError("a walk needs at least two keyframes")
        if max_history < 1:
            raise ValueError("max_history must be at least 1")
        self.keyframes = tuple(keyframes)
        self.encode = encode
        self.architecture: Architecture = architecture
        self.method: Method = method
        self.scalars: ScalarMode = scalars
        self.max_history = max_history
        self.moves: History[float] = History(max_history)
        self._encoded: dict[str, Conditioning] = {}
        self.visited: list[float] = []
        self.position = self._clamp(position)
        self.visited.append(self.position)

    @property
    def end(self) -> float:
        """The last position (the final keyframe)."""
        return float(len(self.keyframes) - 1)

    @property
    def history(self) -> tuple[float, ...]:
        """Positions undo would return to, oldest first."""
        return tuple(self.moves.past)

    @property
    def future(self) -> tuple[float, ...]:
        """Positions redo would return to, next last."""
        return tuple(self.moves.future)

    def _clamp(self, position: float) -> float:
        if not math.isfinite(position):
            raise ValueError(f"position must be finite, got {position}")
        return min(self.end, max(0.0, float(position)))

    def _visit(self, position: float) -> float:
        self.position = position
        self.visited.append(position)
        return position

    def go_to(self, position: float) -> float:
        """Jump to a position (clamped); an undoable move."""
        self.moves.moved(self.position)
        return self._visit(self._clamp(position))

    def step(self, direction: int, size: float) -> float:
        """Move by direction (+1 forward, -1 back) x size along the path; an undoable move."""
        if direction not in (-1, 1):
            raise ValueError(f"direction must be -1 or +1, got {direction}")
        if size < 0:
            raise ValueError(f"size must be non-negative, got {size}")
        return self.go_to(self.position + direction * size)

    def undo(self) -> bool:
        """Return to the previous position; False when there is none."""
        previous = self.moves.undo(self.position)
        if previous is None:
            return False
        self._visit(previous)
        return True

    def redo(self) -> bool:
        """Re-apply the last undone move; False when there is none."""
        following = self.moves.redo(self.position)
        if following is None:
            return False
        self._visit(following)
        return True

    def point(self, position: float | None = None) -> WalkPoint:
        """The transition and fraction for a position (the current one by default)."""
        p = self.position if position is None else self._clamp(position)
        k = min(int(math.floor(p)), len(self.keyframes) - 2)
        return WalkPoint(k, p - k, self.keyframes[k], self.keyframes[k + 1])

    def _conditioning_of(self, prompt: str) -> Conditioning:
        if prompt not in self._encoded:
            self._encoded[prompt] = self.encode(prompt)
        return self._encoded[prompt]

    def conditioning(self, position: float | None = None) -> Conditioning:
        """The interpolated conditioning at a position; each keyframe prompt is encoded once."""
        at = self.point(position)
        a, b = self._conditioning_of(at.start.prompt), self._conditioning_of(at.end.prompt)
        return interpolate_conditioning(a, b, at.t, self.architecture, self.method, self.scalars)

    def noise(self, shape: Sequence[int], position: float | None = None) -> torch.Tensor:
        """The initial noise at a position: slerp between the two keyframes' seed noises."""
        at = self.point(position)
        return noise_between(at.start.seed, at.end.seed, at.t, shape)

    def to_json(self) -> str:
        """Everything needed to re-render the walk, without tensors."""
        state: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "architecture": self.architecture,
            "method": self.method,
            "scalars": self.scalars,
            "max_history": self.max_history,
            "keyframes": [asdict(k) for k in self.keyframes],
            "position": self.position,
            "history": list(self.moves.past),
            "future": list(self.moves.future),
            "visited": self.visited,
        }
        return json.dumps(state, indent=2)

    @classmethod
    def from_json(cls, text: str, encode: Encoder, source: str = "the saved walk") -> LatentSpaceExplorer:
        """Rebuild a saved walk; `encode` must be the one the walk was made with for identical frames.

        A malformed state is refused with a CoupleError naming `source` and the field."""
        state = SavedJson.parse(text, source)
        state.choice("version", [FORMAT_VERSION])
        keyframes = []
        for number, entry in enumerate(state.items("keyframes", "object"), start=1):
            keyframe = SavedJson(entry, f"{source} (keyframe {number})")
            keyframes.append(Keyframe(str(keyframe.text("prompt")), keyframe.integer("seed")))
        if len(keyframes) < 2:
            raise CoupleError(f"{source}: a walk needs at least two keyframes, got {len(keyframes)}")
        max_history = state.integer("max_history")
        if not 1 <= max_history <= MAX_SAVED_HISTORY:
            raise CoupleError(
                f"{source}: field 'max_history' must be 1 to {MAX_SAVED_HISTORY}, got {str(max_history)[:20]}"
            )
        explorer = cls(
            keyframes,
            encode,
            architecture=state.choice("architecture", get_args(Architecture)),
            method=state.choice("method", get_args(Method)),
            scalars=state.choice("scalars", get_args(ScalarMode)),
            max_history=max_history,
            position=state.number("position"),
        )
        explorer.moves.restore(
            (float(p) for p in state.items("history", "number")),
            (float(p) for p in state.items("future", "number")),
        )
        explorer.visited = [float(p) for p in state.items("visited", "number")]
        return explorer
