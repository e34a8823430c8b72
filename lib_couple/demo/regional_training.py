"""Training steps through the regional attention the engine uses at inference.

A 2 M-parameter model trained on whole-scene captions learns to draw one object per image:
the attention couple then puts that object in one region and leaves the others empty. A
share of training steps on strip scenes, each strip attending to its own object's caption
through the engine's `regional_cross_attention`, teaches each region to draw what its line
says, which is what a large model like SD1.5 does with the couple without such training.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

from lib_couple.attention.couple import Projection
from lib_couple.attention.cross_attention import regional_cross_attention
from lib_couple.demo.shapes import strip_bounds
from lib_couple.grid import token_grid
from lib_couple.token_masks import TokenWeights, token_weights


def strip_masks(regions: int, columns: bool, latent_side: int) -> torch.Tensor:
    """[regions, side, side] masks of equal strips at latent resolution (area-exact at the edges)."""
    # Rasterise finely and average down, so a strip edge inside a latent pixel splits its weight.
    fine = latent_side * regions
    masks = torch.zeros(regions, fine, fine)
    for index in range(regions):
        x0, x1, y0, y1 = strip_bounds(index, regions, columns)
        masks[index, round(y0 * fine) : round(y1 * fine), round(x0 * fine) : round(x1 * fine)] = 1.0
    return torch.nn.functional.avg_pool2d(masks[None], regions)[0]


class TrainableRegions:
    """Regional cross-attention whose region contexts carry gradients (one context row per image).

    Unlike `RegionalAttention`, nothing is detached or cached across calls: the text encoder and
    the projections train through it. Every row is conditional (dropout is in the plain steps).
    """

    def __init__(self, contexts: Sequence[torch.Tensor], masks: torch.Tensor) -> None:
        if len(contexts) != masks.shape[0]:
            raise ValueError(f"{len(contexts)} contexts for {masks.shape[0]} masks")
        self.contexts = list(contexts)
        self.masks = masks
        self._weights: dict[tuple[int, int], TokenWeights] = {}

    def __call__(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        layer: Hashable,
        project: Projection,
        heads: int,
        latent_hw: tuple[int, int],
        cond_or_uncond: Sequence[int],
    ) -> torch.Tensor:
        grid = token_grid(latent_hw[0], latent_hw[1], q.shape[1])
        if grid not in self._weights:
            self._weights[grid] = token_weights(self.masks, grid).to(q.device, q.dtype)
        region_kv = [project(context) for context in self.contexts]
        return regional_cross_attention(q, region_kv, self._weights[grid], heads)

    def clear(self) -> None:
        self._weights.clear()
