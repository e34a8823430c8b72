"""SD1.5 / SD2 / SDXL: regional cross-attention through the UNet's attn2 hooks (hosts/patcher.py)."""

from __future__ import annotations

from typing import Any

from lib_couple.attention.couple import RegionalAttention
from lib_couple.hosts.forge.patchers import Patched, PatchRequest
from lib_couple.hosts.patcher import AttentionCouple


def patch(unet: Any, request: PatchRequest) -> Patched:
    """A clone of `unet` whose attn2 calls attend each region to its own conditioning."""
    couple = AttentionCouple.for_batch(
        RegionalAttention(list(request.regions), list(request.item_sets), request.attention_fn, request.pool)
    )
    return Patched(couple.patch_unet(unet), couple.clear)
