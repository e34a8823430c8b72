"""Easing curves [0, 1] -> [0, 1] (monotone, exact endpoints) and frame schedules along a keyframe path."""

from __future__ import annotations

import math
from collections.abc import Callable

Easing = Callable[[float], float]


def linear(t: float) -> float:
    """Constant speed."""
    return t


def ease_in_out_cosine(t: float) -> float:
    """Half a cosine period: slow at both keyframes (ComfyUI-LatentWalk's "circle")."""
    if t <= 0.0 or t >= 1.0:
        return 0.0 if t <= 0.0 else 1.0
    return (1.0 - math.cos(math.pi * t)) / 2.0


def ease_in_out_cubic(t: float) -> float:
    """Piecewise cubic: 4t³ then its mirror; slower at the keyframes than the cosine."""
    if t < 0.5:
        return 4.0 * t**3
    return 1.0 - (-2.0 * t + 2.0) ** 3 / 2.0


def ease_in_quad(t: float) -> float:
    """Slow start, fast arrival."""
    return t * t


def ease_out_quad(t: float) -> float:
    """Fast start, slow arrival."""
    return 1.0 - (1.0 - t) * (1.0 - t)


def smoothstep(t: float) -> float:
    """3t² - 2t³: zero slope at both ends."""
    return t * t * (3.0 - 2.0 * t)


EASINGS: dict[str, Easing] = {
    "linear": linear,
    "ease_in_out_cosine": ease_in_out_cosine,
    "ease_in_out_cubic": ease_in_out_cubic,
    "ease_in_quad": ease_in_quad,
    "ease_out_quad": ease_out_quad,
    "smoothstep": smoothstep,
}


def ease(name: str, t: float) -> float:
    """Apply the named easing to t clamped to [0, 1]."""
    try:
        curve = EASINGS[name]
    except KeyError:
        raise ValueError(f"unknown easing {name!r}; choose one of {sorted(EASINGS)}") from None
    return curve(min(1.0, max(0.0, t)))


def frame_schedule(
    n_keyframes: int, frames_per_transition: int, easing: str = "linear", include_end: bool = True
) -> list[float]:
    """Path positions (transition index + eased fraction) for a whole walk.

    Each transition k contributes `frames_per_transition` frames at k + ease(i / frames) for
    i = 0..frames-1, so keyframe k is its transition's first frame; the last keyframe is appended
    once when `include_end`.
    """
    if n_keyframes < 2:
        raise ValueError("a walk needs at least two keyframes")
    if frames_per_transition < 1:
        raise ValueError("frames_per_transition must be at least 1")
    positions = [
        k + ease(easing, i / frames_per_transition)
        for k in range(n_keyframes - 1)
        for i in range(frames_per_transition)
    ]
    if include_end:
        positions.append(float(n_keyframes - 1))
    return positions
