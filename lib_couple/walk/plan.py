"""What a user asks of a walk, checked once for every front end (command line, web tab)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.walk.easing import EASINGS, frame_schedule
from lib_couple.walk.explorer import Keyframe
from lib_couple.walk.interpolate import Method

METHODS: tuple[Method, ...] = ("slerp", "lerp")


@dataclass(frozen=True)
class WalkSettings:
    """How each frame is sampled; part of every frame's cache key."""

    width: int = 256
    height: int = 256
    steps: int = 20
    cfg: float = 5.0
    negative: str = ""
    sampler: str | None = None  # a host's sampler name; None: the host's own

    def validate(self) -> None:
        """Every setting within its limit (lib_couple/limits.py); raises CoupleError naming it."""
        limits.WIDTH.check_int(self.width)
        limits.HEIGHT.check_int(self.height)
        limits.STEPS.check_int(self.steps)
        limits.CFG.check(self.cfg)
        limits.NEGATIVE.check(self.negative)


@dataclass(frozen=True)
class WalkPlan:
    """Keyframe prompts with a seed each, frames per transition, easing and interpolation."""

    prompts: tuple[str, ...]
    seeds: tuple[int, ...] = ()
    frames: int = 8
    easing: str = "linear"
    method: Method = "slerp"

    def validate(self) -> None:
        """Raise CoupleError naming the field and the fix."""
        if len(self.prompts) < 2:
            raise CoupleError("a walk needs at least two keyframe prompts")
        limits.KEYFRAMES.check(len(self.prompts))
        for prompt in self.prompts:
            limits.PROMPT.check(prompt)
        if any(not prompt.strip() for prompt in self.prompts):
            raise CoupleError("a keyframe prompt is empty; give each keyframe some text")
        if self.seeds and len(self.seeds) != len(self.prompts):
            raise CoupleError(f"{len(self.seeds)} seeds for {len(self.prompts)} keyframes; give one each")
        for seed in self.seeds:
            limits.WALK_SEED.check_int(seed)
        frames = limits.FRAMES_PER_TRANSITION.check_int(self.frames)
        # The whole walk's length, counted before its list of positions is built.
        limits.WALK_FRAMES.check((len(self.prompts) - 1) * frames + 1)
        if self.easing not in EASINGS:
            raise CoupleError(f"easing {self.easing!r} is not one of {', '.join(sorted(EASINGS))}")
        if self.method not in METHODS:
            raise CoupleError(f"method {self.method!r} is not one of {', '.join(METHODS)}")

    def keyframes(self) -> list[Keyframe]:
        seeds: Sequence[int] = self.seeds or [1] * len(self.prompts)
        return [Keyframe(prompt, seed) for prompt, seed in zip(self.prompts, seeds, strict=True)]

    def positions(self) -> list[float]:
        """Every frame's position along the walk, the last keyframe included."""
        self.validate()
        return frame_schedule(len(self.prompts), self.frames, self.easing)
