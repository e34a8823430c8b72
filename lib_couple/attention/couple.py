"""One generation's regional attention: its regions, and the work done once for all steps."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from functools import partial

import torch

from lib_couple.attention.cross_attention import (
    AttentionFn,
    attend_into,
    blend,
    current_pool,
    multihead_attention,
    regional_cross_attention,
)
from lib_couple.errors import CoupleError
from lib_couple.grid import token_grid
from lib_couple.memory.tensor_pool import TensorPool
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


class RegionSet:
    """Regions of one image (a conditioning and a weight map each) and their per-generation caches.

    Constant work is cached: token weights per grid, each layer's projections of the region
    conditionings. Pixels no mask covers fall back to the call's own (whole-prompt)
    conditioning, unless `strict`. With `negatives` (one conditioning per region) the uncond
    rows are regional too: `uncond` is a set of the negative lines over the same masks.
    """

    def __init__(
        self,
        conds: Sequence[torch.Tensor],
        masks: torch.Tensor,
        *,
        strict: bool = False,
        negatives: Sequence[torch.Tensor] | None = None,
    ) -> None:
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
        self.uncond: RegionSet | None = None if negatives is None else self._sharing_masks(negatives)

    def _sharing_masks(self, negatives: Sequence[torch.Tensor]) -> RegionSet:
        """A set of the negative lines over these masks; token weights are computed once for both."""
        if len(negatives) != len(self.conds):
            raise CoupleError(f"{len(negatives)} negative lines for {len(self.conds)} regions: give one each")
        other = RegionSet.__new__(RegionSet)
        other.conds = [_as_batch_cond(c.detach(), n) for n, c in enumerate(negatives, start=1)]
        if {c.shape[-1] for c in other.conds} != {self.conds[0].shape[-1]}:
            raise CoupleError(
                "negative conditionings differ in width from the regions': "
                f"{[c.shape[-1] for c in other.conds]}"
            )
        other.masks, other.has_fallback = self.masks, self.has_fallback
        other._weights, other._kv, other.uncond = self._weights, {}, None
        return other

    def for_kind(self, kind: int) -> RegionSet | None:
        """The set that attends rows of this kind regionally (None: plain attention)."""
        return self if kind == COND else self.uncond

    def clear(self) -> None:
        """Drop the per-generation caches (token weights, projections)."""
        self._weights.clear()
        self._kv.clear()
        if self.uncond is not None:
            self.uncond.clear()

    def weights_for(
        self, latent_hw: tuple[int, int], num_tokens: int, device: torch.device, dtype: torch.dtype
    ) -> TokenWeights:
        grid = token_grid(latent_hw[0], latent_hw[1], num_tokens)
        key = (grid, device, dtype)
        if key not in self._weights:
            self._weights[key] = token_weights(self.masks, grid).to(device, dtype)
        return self._weights[key]

    def region_kv(
        self, layer: Hashable, project: Projection, device: torch.device, dtype: torch.dtype
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        key = (layer, device, dtype)
        if key not in self._kv:
            with torch.no_grad():
                self._kv[key] = [project(cond.to(device, dtype)) for cond in self.conds]
        return self._kv[key]

    def cond_attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        layer: Hashable,
        project: Projection,
        heads: int,
        latent_hw: tuple[int, int],
        out: torch.Tensor | None = None,
        attention: AttentionFn = multihead_attention,
        pool: TensorPool | None = None,
    ) -> torch.Tensor:
        """Regional attention of cond rows; k and v are those rows' own (whole-prompt) context."""
        weights = self.weights_for(latent_hw, q.shape[1], q.device, q.dtype)
        slots = list(self.region_kv(layer, project, q.device, q.dtype))
        if self.has_fallback:
            slots.append((k, v))
        return regional_cross_attention(q, slots, weights, heads, pool=pool, out=out, attention=attention)

    def composed_attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        layer: Hashable,
        project: Projection,
        latent_hw: tuple[int, int],
        cond_or_uncond: Sequence[int],
        inner: InnerAttention,
    ) -> torch.Tensor:
        """Another extension's attention once per region over the whole batch, then blended.

        Cond chunks get the region's keys and values, uncond chunks the region's negative ones
        (with `uncond`) or their own, so the inner attention sees the batch layout it expects
        and its own effect is kept once. Every row of the result is computed: plain uncond rows
        as the inner attention made them.
        """
        size = q.shape[0] // len(cond_or_uncond)
        weights = self.weights_for(latent_hw, q.shape[1], q.device, q.dtype)
        base = inner(q, k, v)
        region_kv = self.region_kv(layer, project, q.device, q.dtype)
        negatives = self.uncond
        negative_kv = None if negatives is None else negatives.region_kv(layer, project, q.device, q.dtype)
        outputs = []
        for number, (region_k, region_v) in enumerate(region_kv):
            keys, values = [], []
            for index, kind in enumerate(cond_or_uncond):
                rows = slice(index * size, (index + 1) * size)
                if kind == COND:
                    own_k, own_v = region_k, region_v
                elif negative_kv is not None:
                    own_k, own_v = negative_kv[number]
                else:
                    own_k, own_v = k[rows], v[rows]
                keys.append(own_k)
                values.append(own_v)
            length = math.lcm(k.shape[1], *(key.shape[1] for key in keys))
            keys = [_repeat_tokens(key, length).expand(size, -1, -1) for key in keys]
            values = [_repeat_tokens(value, length).expand(size, -1, -1) for value in values]
            outputs.append(inner(q, torch.cat(keys), torch.cat(values)))
        if self.has_fallback:
            outputs.append(base)
        regional = blend(outputs, weights.weights)
        for index, kind in enumerate(cond_or_uncond):
            if self.for_kind(kind) is None:
                rows = slice(index * size, (index + 1) * size)
                regional[rows] = base[rows]
        return regional


class RegionalAttention:
    """The entry point hosts call: regional for cond rows, for uncond rows of sets with negative
    lines (`RegionSet.uncond`), plain for the other uncond rows.

    Each image of the batch uses one RegionSet (`item_sets[i]` indexes `sets`); images whose
    prompts differ (wildcards) get their own regions. Without `item_sets` all use the first set.
    Scratch and result buffers come from `pool` (or the one set by `pooled`) when there is one.
    """

    def __init__(
        self,
        sets: Sequence[RegionSet],
        item_sets: Sequence[int] | None = None,
        attention: AttentionFn = multihead_attention,
        pool: TensorPool | None = None,
    ) -> None:
        if not sets:
            raise CoupleError("no region sets")
        if item_sets is not None and any(not 0 <= i < len(sets) for i in item_sets):
            raise CoupleError(f"item_sets {list(item_sets)} must index the {len(sets)} region sets")
        self.sets = list(sets)
        self.item_sets = list(item_sets) if item_sets is not None else None
        self.attention = attention
        self.pool = pool

    @classmethod
    def single(
        cls,
        conds: Sequence[torch.Tensor],
        masks: torch.Tensor,
        *,
        strict: bool = False,
        negatives: Sequence[torch.Tensor] | None = None,
    ) -> RegionalAttention:
        return cls([RegionSet(conds, masks, strict=strict, negatives=negatives)])

    def clear(self) -> None:
        for region_set in self.sets:
            region_set.clear()

    def _items_of(self, size: int) -> list[list[int]]:
        """For each set, the positions in a chunk of `size` images that use it."""
        if self.item_sets is None:
            return [list(range(size))] + [[] for _ in self.sets[1:]]
        if len(self.item_sets) != size:
            raise CoupleError(f"regions were planned for {len(self.item_sets)} images, the batch has {size}")
        return [[i for i, s in enumerate(self.item_sets) if s == index] for index in range(len(self.sets))]

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
        """q is the projected query `[B_total, N, inner]`, k and v the projected context of the
        call; the batch is `len(cond_or_uncond)` chunks of equal size (0 = cond, 1 = uncond)."""
        chunks = len(cond_or_uncond)
        if chunks == 0 or q.shape[0] % chunks:
            raise CoupleError(f"batch of {q.shape[0]} rows does not split into chunks {list(cond_or_uncond)}")
        size = q.shape[0] // chunks
        items = self._items_of(size)
        if inner is not None:
            return self._composed(q, k, v, items, layer, project, latent_hw, cond_or_uncond, inner)
        pool = self.pool if self.pool is not None else current_pool()
        # The result leaves for the layer's output projection: a lent buffer comes back by itself.
        out = torch.empty_like(q) if pool is None else pool.lend(q.shape, q.dtype, q.device)
        for index, kind in enumerate(cond_or_uncond):
            start = index * size
            targets = [region_set.for_kind(kind) for region_set in self.sets]
            if all(target is None for target in targets):
                chunk = slice(start, start + size)
                attend_into(out[chunk], q[chunk], k[chunk], v[chunk], heads, self.attention)
                continue
            for target, positions in zip(targets, items, strict=True):
                if not positions:
                    continue
                whole = len(positions) == size  # one set for the chunk: write into its rows directly
                rows: slice | list[int] = (
                    slice(start, start + size) if whole else [start + p for p in positions]
                )
                if target is None and isinstance(rows, slice):
                    attend_into(out[rows], q[rows], k[rows], v[rows], heads, self.attention)
                    continue
                if target is None:
                    out[rows] = self.attention(q[rows], k[rows], v[rows], heads)
                    continue
                attend = partial(
                    target.cond_attention,
                    layer=layer,
                    project=project,
                    heads=heads,
                    latent_hw=latent_hw,
                    attention=self.attention,
                    pool=pool,
                )
                if whole:
                    attend(q[rows], k[rows], v[rows], out=out[rows])
                else:
                    out[rows] = attend(q[rows], k[rows], v[rows])
        return out

    def _composed(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        items: list[list[int]],
        layer: Hashable,
        project: Projection,
        latent_hw: tuple[int, int],
        cond_or_uncond: Sequence[int],
        inner: InnerAttention,
    ) -> torch.Tensor:
        size = q.shape[0] // len(cond_or_uncond)
        out: torch.Tensor | None = None
        for region_set, positions in zip(self.sets, items, strict=True):
            if not positions:
                continue
            result = region_set.composed_attention(
                q,
                k,
                v,
                layer=layer,
                project=project,
                latent_hw=latent_hw,
                cond_or_uncond=cond_or_uncond,
                inner=inner,
            )
            if out is None:
                out = result
                continue
            for index in range(len(cond_or_uncond)):  # plain uncond rows are the same in each result
                rows = [index * size + p for p in positions]
                out[rows] = result[rows]
        assert out is not None  # some set has positions: every image has one
        return out
