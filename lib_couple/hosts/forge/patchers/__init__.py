"""One small patcher module per form of model, chosen by the architecture table's `patcher` column.

Each module has `patch(unet, regions, item_sets, attention_fn, pool, controls) -> Patched`: a patched clone of
Forge's (or Neo's) UnetPatcher with the regions on it as data (object patches, `patches_replace`),
never on a class or a live module, so dropping the clone drops the patch. `controls` (where and how
long the joint-attention mask applies) is read by the Flux patcher; the others take and ignore it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.cross_attention import AttentionFn
from lib_couple.attention.joint_attention import JointControls
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.architectures import Architecture
from lib_couple.memory.tensor_pool import TensorPool


@dataclass
class Patched:
    """A patched clone and how to release what the patch holds (caches, model layers)."""

    unet: Any
    clear: Callable[[], None]


class PatcherModule(Protocol):
    def patch(
        self,
        unet: Any,
        regions: Sequence[RegionSet],
        item_sets: Sequence[int],
        attention_fn: AttentionFn,
        pool: TensorPool | None,
        controls: JointControls | None = None,
    ) -> Patched: ...


def patcher_for(row: Architecture) -> PatcherModule:
    """The patcher module named by a row of the table."""
    if row.patcher is None:
        raise CoupleError(f"Forge Couple has no regional patch for {row.name} models")
    module: PatcherModule = importlib.import_module(f"{__name__}.{row.patcher}")
    return module
