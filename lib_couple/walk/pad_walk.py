"""The explorer's saved points as a walk: frames along the path through them, and its record.

A pad point's frame depends on the point alone (`walk/pad_space.py`), so the path is drawn in
pad coordinates: between two saved points x, y and `seed_t` move straight, with the Latent
Walk's easing per transition. Frames the user already saw come from the frame cache.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.walk.easing import EASINGS, frame_schedule
from lib_couple.walk.output import RECORD_VERSION
from lib_couple.walk.pad import PadPoint, PadState
from lib_couple.walk.plan import WalkSettings


def point_at(saved: Sequence[PadPoint], position: float) -> PadPoint:
    """The pad point at a walk position (transition index + fraction) through `saved`."""
    index = min(int(position), len(saved) - 2)
    t = position - index
    a, b = saved[index], saved[index + 1]

    def mix(u: float, v: float) -> float:
        return (1 - t) * u + t * v  # exact at both ends: a saved point's frame is the one seen

    return PadPoint(mix(a.x, b.x), mix(a.y, b.y), mix(a.seed_t, b.seed_t))


def pad_walk_positions(saved: Sequence[PadPoint], frames: int, easing: str) -> list[float]:
    """Every frame's position through the saved points, checked before anything is built."""
    if len(saved) < 2:
        raise CoupleError(f"exporting a walk needs at least two saved points, got {len(saved)}")
    frames = limits.FRAMES_PER_TRANSITION.check_int(frames)
    limits.WALK_FRAMES.check((len(saved) - 1) * frames + 1)
    if easing not in EASINGS:
        raise CoupleError(f"easing {easing!r} is not one of {', '.join(sorted(EASINGS))}")
    return frame_schedule(len(saved), frames, easing)


def pad_walk_record(
    state: PadState, settings: WalkSettings, positions: Sequence[float], easing: str
) -> dict[str, Any]:
    """`walk.json` of an explorer walk: the Latent Walk's version, settings and positions, with
    `explorer` (the state, whose saved points are the keyframes) in place of the keyframe plan,
    and each frame's pad point."""
    return {
        "version": RECORD_VERSION,
        "explorer": {**json.loads(state.to_json()), "easing": easing},
        "settings": dataclasses.asdict(settings),
        "positions": list(positions),
        "points": [dataclasses.asdict(point_at(state.saved, p)) for p in positions],
    }
