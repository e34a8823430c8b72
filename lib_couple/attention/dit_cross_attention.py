"""Regional cross-attention of a DiT whose blocks attend the text separately (Anima / Cosmos).

The image tokens of such a block are its patch grid flattened frame-major, then rows, so the
UNet engine (`couple.RegionalAttention`) applies unchanged with the patch grid as the "latent":
each region's conditioning goes through the block's own K/V projections and the outputs are
blended by the region weights at that grid.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch

from lib_couple.attention.couple import RegionalAttention
from lib_couple.errors import CoupleError

# (x [B, N, C] or context [B, T, C]) -> projected and normed [B, *, heads*d]
Project = Callable[[torch.Tensor], torch.Tensor]


def patch_grid(latent_hw: tuple[int, int], patch: int) -> tuple[int, int]:
    """The (h, w) token grid of a latent padded up to a multiple of `patch` and patchified."""
    height, width = latent_hw
    if patch < 1 or height < 1 or width < 1:
        raise CoupleError(f"latent {height}x{width} with patch {patch} has no token grid")
    return -(-height // patch), -(-width // patch)


def dit_cross_attention(
    regional: RegionalAttention,
    x: torch.Tensor,
    context: torch.Tensor,
    *,
    layer: Hashable,
    query: Project,
    key: Project,
    value: Project,
    heads: int,
    grid: tuple[int, int],
    cond_or_uncond: Sequence[int],
) -> torch.Tensor:
    """The attention result `[B, N, heads*d]` before the output projection, regional per row kind."""
    if x.shape[1] != grid[0] * grid[1]:
        raise CoupleError(
            f"a cross-attention layer has {x.shape[1]} image tokens, not the {grid[0]}x{grid[1]} patch "
            "grid of one frame (reference frames or video are not supported)"
        )
    q, k, v = query(x), key(context), value(context)
    return regional(
        q,
        k,
        v,
        layer=layer,
        project=lambda cond: (key(cond), value(cond)),
        heads=heads,
        latent_hw=grid,
        cond_or_uncond=cond_or_uncond,
    )
