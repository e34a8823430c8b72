"""A pad point's conditioning and noise: the base prompt moved by the direction mapper, the seed's
noise slerped toward the other seed's.

Pad units are the anchors' own distance: per conditioning key, a point at distance 1 from the
centre is moved by the mean distance of the direction prompts' encodings from the base's, so a
step of 0.25 is a quarter of the way to a typical direction prompt whatever the model's scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from lib_couple.walk.directions import FIXED_KEYS, Anchor, DirectionMapper
from lib_couple.walk.interpolate import Conditioning, equalise_tokens
from lib_couple.walk.noise import noise_between
from lib_couple.walk.pad import Direction, PadPoint, PadState

Encoder = Callable[[str], Conditioning]
TOKEN_KEYS = ("", "crossattn")  # the parts shaped [..., L, D], whose length L varies by prompt


def _parts(cond: Conditioning) -> dict[str, torch.Tensor]:
    return {"": cond} if isinstance(cond, torch.Tensor) else dict(cond)


def equal_lengths(conds: Sequence[Conditioning]) -> list[Conditioning]:
    """The conditionings with their token sequences brought to the longest one's length (CLIP
    chunks repeated, T5 padded with its own last token), so the mapper can subtract them."""
    parts = [_parts(c) for c in conds]
    for key in TOKEN_KEYS:
        if key not in parts[0]:
            continue
        longest = max((p[key] for p in parts), key=lambda t: t.shape[-2])
        for p in parts:
            p[key] = equalise_tokens(p[key], longest)[0]
    return [p[""] if isinstance(c, torch.Tensor) else p for c, p in zip(conds, parts, strict=True)]


def reach(base: Conditioning, anchors: Sequence[Conditioning]) -> dict[str, float]:
    """Per key, the mean distance ‖anchor - base‖ over the anchors (1 where all equal the base)."""
    base_parts = _parts(base)
    out = {}
    for key, value in base_parts.items():
        if key in FIXED_KEYS:
            continue
        distances = [float((_parts(a)[key].float() - value.float()).norm()) for a in anchors]
        mean = sum(distances) / len(distances)
        out[key] = mean if mean > 0 else 1.0
    return out


class PadSpace:
    """Encodes each prompt once and keeps one mapper per (base, directions): pure given `encode`."""

    def __init__(self, encode: Encoder) -> None:
        self.encode = encode
        self._encoded: dict[str, Conditioning] = {}
        self._mapper: tuple[tuple[str, tuple[Direction, ...]], Conditioning, DirectionMapper] | None = None

    def encoded(self, prompt: str) -> Conditioning:
        if prompt not in self._encoded:
            self._encoded[prompt] = self.encode(prompt)
        return self._encoded[prompt]

    def mapper(self, state: PadState) -> tuple[Conditioning, DirectionMapper]:
        """The base conditioning (at the common token length) and the direction mapper of the
        state's base and direction prompts."""
        key = (state.base, state.directions)
        if self._mapper is None or self._mapper[0] != key:
            base, *conds = equal_lengths(
                [self.encoded(state.base), *(self.encoded(d.prompt) for d in state.directions)]
            )
            anchors = [Anchor(c, d.at) for c, d in zip(conds, state.directions, strict=True)]
            self._mapper = (key, base, DirectionMapper(base, anchors, scale=reach(base, conds)))
        return self._mapper[1], self._mapper[2]

    def conditioning(self, state: PadState, point: PadPoint | None = None) -> Conditioning:
        """The conditioning at a point (the current one by default)."""
        p = state.point if point is None else point
        base, mapper = self.mapper(state)
        return mapper.apply(base, (p.x, p.y))

    def noise(self, state: PadState, shape: Sequence[int], point: PadPoint | None = None) -> torch.Tensor:
        """The starting noise at a point: slerp from the seed's toward the other seed's."""
        p = state.point if point is None else point
        return noise_between(state.seed, state.other_seed, p.seed_t, shape)
