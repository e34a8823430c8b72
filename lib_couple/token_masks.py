"""Region weight maps brought to an attention layer's token grid.

This module knows regions and grids, not the form of the attention that uses them: the UNet's
cross-attention reads per-token weights from it, and a joint-attention host can build its
attention mask from the same weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lib_couple.errors import CoupleError

logger = logging.getLogger("forge_couple")


@dataclass(frozen=True)
class TokenWeights:
    """Per-token blend weights of the regions at one grid, normalised to sum to 1 per token."""

    weights: torch.Tensor  # [S, N]
    # Token indices each region covers (weight > 0); None where a region covers every token.
    covered: tuple[torch.Tensor | None, ...]
    # The covered tokens' weights as [1, n, 1], or None where they are all 1 (no multiply needed).
    scales: tuple[torch.Tensor | None, ...]
    # Every token belongs to exactly one region: outputs are written, not summed.
    partition: bool

    def to(self, device: torch.device, dtype: torch.dtype) -> TokenWeights:
        return TokenWeights(
            self.weights.to(device, dtype),
            tuple(None if c is None else c.to(device) for c in self.covered),
            tuple(None if s is None else s.to(device, dtype) for s in self.scales),
            self.partition,
        )


def check_masks(masks: torch.Tensor) -> None:
    """Reject masks that cannot be weights: wrong rank, empty, NaN or negative."""
    if masks.ndim != 3 or 0 in masks.shape:
        raise CoupleError(f"masks must be [regions, height, width], got shape {tuple(masks.shape)}")
    if not bool(torch.isfinite(masks).all()):
        raise CoupleError("masks contain NaN or infinite values; weights must be finite numbers")
    if bool((masks < 0).any()):
        raise CoupleError("masks contain negative weights; weights must be 0 or more")


def uncovered_pixels(masks: torch.Tensor) -> torch.Tensor:
    """A 0/1 map `[H, W]` of the pixels that no region gives any weight."""
    return (masks.sum(dim=0) <= 0).to(masks.dtype)


def add_fallback(masks: torch.Tensor, strict: bool = False) -> tuple[torch.Tensor, bool]:
    """Give uncovered pixels to the whole prompt, as one extra mask appended last.

    Returns the masks and whether the fallback was added. In strict mode uncovered pixels are an
    error, as in the peer extension.
    """
    check_masks(masks)
    uncovered = uncovered_pixels(masks)
    share = float(uncovered.mean())
    if share == 0.0:
        return masks, False
    if strict:
        raise CoupleError(
            f"{share:.1%} of the image is covered by no region; extend the regions to fill the image, "
            "or turn off strict coverage to let the whole prompt fill the gaps"
        )
    logger.warning(
        "%.1f%% of the image is covered by no region; the whole prompt fills those pixels", 100 * share
    )
    return torch.cat([masks, uncovered[None]]), True


def token_weights(masks: torch.Tensor, grid: tuple[int, int]) -> TokenWeights:
    """Area-average the masks onto the (h, w) token grid and normalise them per token."""
    pooled = F.adaptive_avg_pool2d(masks.float()[None], grid)[0].flatten(1)  # [S, N]
    total = pooled.sum(dim=0, keepdim=True)
    if bool((total <= 0).any()):
        raise CoupleError(f"some tokens of the {grid[0]}x{grid[1]} grid have no region weight")
    weights = pooled / total
    covered = tuple(
        None if bool((row > 0).all()) else torch.nonzero(row > 0, as_tuple=True)[0] for row in weights
    )
    scales = tuple(
        None if bool((part == 1).all()) else part[None, :, None]
        for part in (row if c is None else row[c] for row, c in zip(weights, covered, strict=True))
    )
    partition = all(c is not None for c in covered) and all(s is None for s in scales)
    return TokenWeights(weights, covered, scales, partition)


def patch_token_weights(masks: torch.Tensor, latent_hw: tuple[int, int], patch: int = 2) -> torch.Tensor:
    """Normalised weights `[S, I]` at a transformer's image tokens: the masks area-averaged onto the
    latent, padded to a multiple of `patch` and pooled per patch over its real (unpadded) cells,
    rows first (the order of Flux's patchify)."""
    height, width = latent_hw
    latent = F.interpolate(masks.float()[None], size=(height, width), mode="area")[0]
    pad = (0, -width % patch, 0, -height % patch)
    summed = F.avg_pool2d(F.pad(latent, pad)[None], patch)[0]
    real = F.avg_pool2d(F.pad(torch.ones(1, height, width), pad)[None], patch)[0]
    pooled = (summed / real).flatten(1)
    total = pooled.sum(dim=0, keepdim=True)
    if bool((total <= 0).any()):
        raise CoupleError(f"some image tokens of the {height}x{width} latent have no region weight")
    return pooled / total
