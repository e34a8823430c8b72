"""One generation's regional attention: its regions, and the work done once for all steps."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

import torch

from lib_couple.attention.cross_attention import blend, multihead_attention, regional_cross_attention
from lib_couple.errors import CoupleError
from lib_couple.grid import token_grid
from lib_couple.token_masks import TokenWeights, add_fallback, token_weights

# Projects a region's conditioning [1, T, D] to the layer's keys and values [1, T, inner].
Projection = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# Another extension's attention over (q, k, v) of the whole call's batch, to compose with.
InnerAttention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

COND, UNCOND = 0, 1


def _as_batch_cond(cond: torch.Tensor, number: int) -> torch.Tensor:
    if cond.ndim == 2:
        cond = cond[None]
    if cond.ndim != 3 or cond.shape[0] != 1 or 0 in cond.shape:
        raise CoupleError(f"region {number}: conditioning must be [1, tokens, dim], got {tuple(cond.shape)}")
    if not bool(torch.isfinite(cond).all()):
        raise CoupleError(f"region {number}: conditioning contains NaN or infinite values")
    return cond


def _repeat_tokens(t: torch.Tensor, length: int) -> torch.Tensor:
    """Repeat the whole token sequence to `length`: attention over repeated keys is unchanged."""
    return t if t.shape[1] == length else t.repeat(1, length // t.shape[1], 1)


class RegionalAttention:
    """Regions (a conditioning and a weight map each) applied to cross-attention calls.

    Constant work is cached for the generation: token weights per grid, and each layer's
    projections of the region conditionings. Pixels no region covers fall back to the call's own
    (whole-prompt) conditioning, unless `strict`.
    """

    def __init__(self, conds: Sequence[torch.Tensor], masks: torch.Tensor, *, strict: bool = False) -> None:
        if len(conds) == 0:
            raise CoupleError("no regions: give at least one region conditioning and mask")
        if masks.ndim != 3 or masks.shape[0] != len(conds):
            raise CoupleError(
                f"{len(conds)} region conditionings need masks of shape [{len(conds)}, height, width], "
                f"got {tuple(masks.shape)}"
            )
        self.conds = [_as_batch_cond(c.detach(), n) for n, c in enumerate(conds, start=1)]
        if len({c.shape[-1] for c in self.conds}) != 1:
            raise CoupleError(f"region conditionings differ in width: {[c.shape[-1] for c in self.conds]}")
        self.masks, self.has_fallback = add_fallback(masks.detach().float().cpu(), strict=strict)
        self._weights: dict[tuple[object, ...], TokenWeights] = {}
        self._kv: dict[tuple[object, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}

    @property
    def num_regions(self) -> int:
        return len(self.conds)

    def clear(self) -> None:
        """Drop the per-generation caches (token weights, projections)."""
        self._weights.clear()
        self._kv.clear()

    def weights_for(
        self, latent_hw: tuple[int, int], num_tokens: int, device: torch.device, dtype: torch.dtype
    ) -> TokenWeights:
        grid = token_grid(latent_hw[0], latent_hw[1], num_tokens)
        key = (grid, device, dtype)
        if key not in self._weights:
            weights = token_weights(self.masks, grid)
            self._weights[key] = TokenWeights(
                weights.weights.to(device, dtype),
                tuple(None if c is None else c.to(device) for c in weights.covered),
            )
        return self._weights[key]

    def region_kv(
        self, layer: Hashable, project: Projection, device: torch.device, dtype: torch.dtype
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        key = (layer, device, dtype)
        if key not in self._kv:
            with torch.no_grad():
                self._kv[key] = [project(cond.to(device, dtype)) for cond in self.conds]
        return self._kv[key]

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
        inner: InnerAttention | None = None,
    ) -> torch.Tensor:
        """Cross-attention of one call: regional for cond rows, plain for uncond rows.

        q is the projected query `[B_total, N, inner]`, k and v the projected whole-prompt
        context; the batch is `len(cond_or_uncond)` chunks of equal size.
        """
        chunks = len(cond_or_uncond)
        if chunks == 0 or q.shape[0] % chunks:
            raise CoupleError(f"batch of {q.shape[0]} rows does not split into chunks {list(cond_or_uncond)}")
        size = q.shape[0] // chunks
        weights = self.weights_for(latent_hw, q.shape[1], q.device, q.dtype)
        region_kv = self.region_kv(layer, project, q.device, q.dtype)
        if inner is not None:
            return self._composed(q, k, v, region_kv, weights, cond_or_uncond, size, inner)
        out = torch.empty_like(q)
        for index, kind in enumerate(cond_or_uncond):
            rows = slice(index * size, (index + 1) * size)
            if kind == COND:
                slots = list(region_kv)
                if self.has_fallback:
                    slots.append((k[rows], v[rows]))
                out[rows] = regional_cross_attention(q[rows], slots, weights, heads)
            else:
                out[rows] = multihead_attention(q[rows], k[rows], v[rows], heads)
        return out

    def _composed(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        region_kv: list[tuple[torch.Tensor, torch.Tensor]],
        weights: TokenWeights,
        cond_or_uncond: Sequence[int],
        size: int,
        inner: InnerAttention,
    ) -> torch.Tensor:
        """Run another extension's attention once per region over the whole batch, then blend.

        The cond chunks get the region's keys and values, the uncond chunks their own; the inner
        attention sees the batch layout it expects, so its own effect is kept once.
        """
        base = inner(q, k, v)
        outputs = []
        for region_k, region_v in region_kv:
            length = math.lcm(k.shape[1], region_k.shape[1])
            keys, values = [], []
            for index, kind in enumerate(cond_or_uncond):
                rows = slice(index * size, (index + 1) * size)
                own_k, own_v = (region_k, region_v) if kind == COND else (k[rows], v[rows])
                keys.append(_repeat_tokens(own_k, length).expand(size, -1, -1))
                values.append(_repeat_tokens(own_v, length).expand(size, -1, -1))
            outputs.append(inner(q, torch.cat(keys), torch.cat(values)))
        if self.has_fallback:
            outputs.append(base)
        regional = blend(outputs, weights.weights)
        out = base.clone()
        for index, kind in enumerate(cond_or_uncond):
            if kind == COND:
                rows = slice(index * size, (index + 1) * size)
                out[rows] = regional[rows]
        return out
