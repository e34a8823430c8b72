"""SD1.5 / SD2 / SDXL: regional cross-attention through the UNet's attn2 hooks (hosts/patcher.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lib_couple.attention.couple import RegionalAttention, RegionSet
from lib_couple.attention.cross_attention import AttentionFn
from lib_couple.attention.joint_attention import JointControls
from lib_couple.hosts.forge.patchers import Patched
from lib_couple.hosts.patcher import AttentionCouple
from lib_couple.memory.tensor_pool import TensorPool


def patch(
    unet: Any,
    regions: Sequence[RegionSet],
    item_sets: Sequence[int],
    attention_fn: AttentionFn,
    pool: TensorPool | None,
    controls: JointControls | None = None,  # the Flux controls: no joint attention here
) -> Patched:
    """A clone of `unet` whose attn2 calls attend each region to its own conditioning."""
    couple = AttentionCouple.for_batch(RegionalAttention(list(regions), list(item_sets), attention_fn, pool))
    return Patched(couple.patch_unet(unet), couple.clear)
