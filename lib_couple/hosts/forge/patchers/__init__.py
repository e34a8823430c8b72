"""One small patcher module per form of model, chosen by the architecture table's `patcher` column.

Each module has `patch(unet, request: PatchRequest) -> Patched`: a patched clone of Forge's (or
Neo's) UnetPatcher with the regions on it as data (object patches, `patches_replace`), never on a
class or a live module, so dropping the clone drops the patch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.cross_attention import AttentionFn, multihead_attention
from lib_couple.attention.joint_attention import JointControls
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.architectures import Architecture
from lib_couple.memory.tensor_pool import TensorPool


@dataclass(frozen=True)
class PatchRequest:
    """What every patcher is given. `item_sets[i]` is the region set of image i of the batch;
    `controls` (where and how long the joint-attention mask applies) is read by the Flux patcher
    only, `attention_fn` and `pool` by the cross-attention ones (Flux's masked calls use SDPA)."""

    regions: Sequence[RegionSet]
    item_sets: Sequence[int]
    attention_fn: AttentionFn = multihead_attention
    pool: TensorPool | None = None
    controls: JointControls = field(default_factory=JointControls)


@dataclass
class Patched:
    """A patched clone and how to release what the patch holds (caches, model layers)."""

    unet: Any
    clear: Callable[[], None]


class PatcherModule(Protocol):
    def patch(self, unet: Any, request: PatchRequest) -> Patched: ...


def patcher_for(row: Architecture) -> PatcherModule:
    """The patcher module named by a row of the table."""
    if row.patcher is None:
        raise CoupleError(f"Forge Couple has no regional patch for {row.name} models")
    module: PatcherModule = importlib.import_module(f"{__name__}.{row.patcher}")
    return module
