"""2D pad moves -> conditioning-space directions, by attention over prompt-derived anchor directions.

No learned network: each anchor is a direction prompt placed at a direction on the pad; its
conditioning direction is (anchor_cond - base_cond) normalised per key. A pad move attends to the
anchors by the softmax of cosine(move, anchor pad direction) / temperature and blends their
directions with those weights.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from lib_couple.walk.interpolate import Conditioning

logger = logging.getLogger("forge_couple")
DEFAULT_TEMPERATURE = 0.25  # cos 1 vs cos 0 -> e^4 ≈ 55x the weight: the aligned anchor dominates
FIXED_KEYS = frozenset({"guidance"})  # scalars a pad move must never push
EPS = 1e-12


Precision = Literal["fp32", "bf16", "fp16"]
DTYPES: dict[Precision, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class MapperFlags:
    """Off by default: a lower precision halves the stored directions (Flux: ~1 M values an
    anchor); `compile` runs the blend through `torch.compile`, eager if that fails."""

    precision: Precision = "fp32"
    compile: bool = False


def _blend(weights: torch.Tensor, stacked: torch.Tensor, length: float) -> torch.Tensor:
    """length x sum_i weights_i stacked_i, for directions stacked on dim 0."""
    blended: torch.Tensor = torch.tensordot(weights.to(stacked.dtype), stacked, dims=1)
    return blended * length


Blend = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


class CompiledOrEager:
    """`torch.compile(fn)` on first use; if compiling or running it fails (no compiler, an
    unsupported backend), the eager function from then on, said once in the log."""

    def __init__(self, function: Blend) -> None:
        self.function = function
        self.compiled: Blend | None = torch.compile(function, dynamic=True)

    def __call__(self, weights: torch.Tensor, stacked: torch.Tensor, length: float) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(weights, stacked, length)
            except Exception as error:  # any compiler failure: the eager path gives the same result
                logger.warning("torch.compile of the direction mapper failed (%s); running it eagerly", error)
                self.compiled = None
        return self.function(weights, stacked, length)


@dataclass(frozen=True)
class Anchor:
    """A direction prompt's conditioning and where it sits on the pad (any non-zero 2D vector)."""

    conditioning: Conditioning
    pad_direction: tuple[float, float]


def _parts(cond: Conditioning) -> dict[str, torch.Tensor]:
    return {"": cond} if isinstance(cond, torch.Tensor) else dict(cond)


def _rebuild(like: Conditioning, parts: Mapping[str, torch.Tensor]) -> Conditioning:
    return parts[""] if isinstance(like, torch.Tensor) else dict(parts)


def normalised_difference(anchor: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """(anchor - base) / ‖anchor - base‖ over the whole tensor; zero when the two are equal."""
    difference = (anchor - base).to(torch.float32)
    norm = difference.norm()
    return difference / norm if norm > EPS else torch.zeros_like(difference)


def attention_weights(
    move: tuple[float, float], pad_directions: torch.Tensor, temperature: float
) -> torch.Tensor:
    """softmax(cos(move, d_i) / temperature) over anchors; uniform for a zero move."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    m = torch.tensor(move, dtype=torch.float32)
    if m.norm() < EPS:
        return torch.full((len(pad_directions),), 1.0 / len(pad_directions))
    cos = (pad_directions @ m) / (pad_directions.norm(dim=1).clamp_min(EPS) * m.norm())
    return torch.softmax(cos / temperature, dim=0)


class DirectionMapper:
    """Maps a pad move (dx, dy) to a conditioning offset of length ‖move‖ x scale per key
    (`scale` one number, or one per key: a key left out has scale 1)."""

    def __init__(
        self,
        base: Conditioning,
        anchors: Sequence[Anchor],
        temperature: float = DEFAULT_TEMPERATURE,
        scale: float | Mapping[str, float] = 1.0,
        flags: MapperFlags = MapperFlags(),  # noqa: B008 (frozen, so sharing the default is safe)
    ) -> None:
        if not anchors:
            raise ValueError("the mapper needs at least one anchor")
        if any(math.hypot(*a.pad_direction) < EPS for a in anchors):
            raise ValueError("anchor pad directions must be non-zero")
        self.base = base
        self.temperature = temperature
        self.scale = scale
        self.pad_directions = torch.tensor([a.pad_direction for a in anchors], dtype=torch.float32)
        base_parts = _parts(base)
        self.directions: list[dict[str, torch.Tensor]] = []
        for anchor in anchors:
            parts = _parts(anchor.conditioning)
            if set(parts) != set(base_parts):
                raise ValueError("anchor and base conditionings must have the same keys")
            self.directions.append(
                {k: normalised_difference(parts[k], base_parts[k]) for k in base_parts if k not in FIXED_KEYS}
            )
        self.flags = flags
        dtype = DTYPES[flags.precision]
        self._stacked = {
            key: torch.stack([d[key] for d in self.directions]).to(dtype) for key in self.directions[0]
        }
        self._blend: Blend = CompiledOrEager(_blend) if flags.compile else _blend

    def weights(self, move: tuple[float, float]) -> torch.Tensor:
        """The attention of one move over the anchors."""
        return attention_weights(move, self.pad_directions, self.temperature)

    def offset(self, move: tuple[float, float]) -> dict[str, torch.Tensor]:
        """The conditioning-space offset per key for a move (fixed keys have none)."""
        weights = self.weights(move)
        length = math.hypot(*move)
        return {
            key: self._blend(weights, stacked, length * self._scale(key)).float()
            for key, stacked in self._stacked.items()
        }

    def _scale(self, key: str) -> float:
        return float(self.scale) if isinstance(self.scale, int | float) else float(self.scale.get(key, 1.0))

    def apply(self, cond: Conditioning, move: tuple[float, float]) -> Conditioning:
        """`cond` moved by the pad move; keys such as `guidance` are copied unchanged."""
        offsets = self.offset(move)
        parts = _parts(cond)
        moved = {k: (v + offsets[k].to(v.dtype)) if k in offsets else v.clone() for k, v in parts.items()}
        return _rebuild(cond, moved)
