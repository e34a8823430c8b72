"""Flux and Chroma: regions through the joint attention of the transformer's blocks.

Per model call (the clone's `model_function_wrapper`), while the schedule is inside the controls'
share: the regions' T5 lines are appended to the cond rows' context (the pooled vector stays the
whole prompt's), uncond rows get zero padding that no query sees, and the call's masks are
published for the blocks. The blocks read them through the clone's own patches:
- lllyasviel Forge (blocks take no mask, read no options): object patches replacing
  `diffusion_model.double_blocks.N` / `single_blocks.N` with wrappers (flux_blocks.py);
- Forge Neo (blocks take `attn_mask`): `patches_replace["dit"][("double_block", N)]` and
  `[("single_block", N)]`, calling the original block with the mask.
Nothing is assigned on a class or a live module; dropping the clone drops the patch.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import torch

from lib_couple.attention.couple import COND, RegionSet
from lib_couple.attention.joint_attention import (
    JointControls,
    JointMaskCache,
    RowPlan,
    image_grid,
    joint_mask,
    pad_text,
    plain_mask,
    row_plan,
)
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.patchers import Patched, PatchRequest
from lib_couple.hosts.forge.patchers.flux_blocks import DoubleBlockWrapper, JointMask, SingleBlockWrapper
from lib_couple.token_masks import patch_token_weights

logger = logging.getLogger("forge_couple")

_CALL: ContextVar[_Call | None] = ContextVar("forge_couple_flux_call", default=None)


@dataclass
class _Call:
    """One model call's masks, read by the block patches (flux_blocks.MaskSource)."""

    couple: FluxCouple
    masks: JointMask  # dense [B or 1, 1, L, L] additive (Neo) or a row plan (our forward)
    free: JointMask | None  # the unmasked blocks' mask where rows carry padding
    text: int

    def mask_for(self, index: int) -> JointMask | None:
        return self.masks if self.couple.controls.masks_block(index) else self.free

    def free_mask(self) -> JointMask | None:
        return self.free

    def base_ratio(self, index: int) -> float:
        return self.couple.controls.base_ratio

    def text_tokens(self) -> int:
        return self.text


class FluxCouple:
    """One generation's regions for a Flux-class transformer, and its masks built once per size."""

    def __init__(
        self,
        regions: Sequence[RegionSet],
        item_sets: Sequence[int] | None,
        controls: JointControls,
        percent_to_sigma: Callable[[float], float],
    ) -> None:
        if not regions:
            raise CoupleError("no region sets")
        if item_sets is not None and any(not 0 <= i < len(regions) for i in item_sets):
            raise CoupleError(f"item_sets {list(item_sets)} must index the {len(regions)} region sets")
        self.regions = list(regions)
        self.item_sets = list(item_sets) if item_sets is not None else None
        self.controls = controls
        self.percent_to_sigma = percent_to_sigma
        self.cache = JointMaskCache()
        self._plans: dict[tuple[object, ...], RowPlan] = {}
        self.dense = False  # True where the host's blocks take the mask (Neo)

    def __deepcopy__(self, memo: dict[int, object]) -> FluxCouple:
        return self  # clone() deep-copies model_options: share the caches

    def clear(self) -> None:
        self.cache.clear()
        self._plans.clear()

    def current(self) -> _Call | None:
        call = _CALL.get()
        return call if call is not None and call.couple is self else None

    def active(self, sigma: torch.Tensor) -> bool:
        """Whether this call is inside the masked share of the schedule."""
        share = self.controls.steps
        if share <= 0.0:
            return False
        return share >= 1.0 or float(sigma.max()) >= float(self.percent_to_sigma(share))

    def _row_sets(self, cond_or_uncond: Sequence[int], size: int) -> list[int | None]:
        """Each row's regions: set s for cond rows, -(s + 1) for uncond rows whose set has region
        negatives (`RegionSet.uncond`), None for plain uncond rows."""
        if self.item_sets is not None and len(self.item_sets) != size:
            raise CoupleError(f"regions were planned for {len(self.item_sets)} images, the batch has {size}")
        sets = self.item_sets if self.item_sets is not None else [0] * size

        def key(kind: int, s: int) -> int | None:
            if kind == COND:
                return s
            return None if self.regions[s].uncond is None else -(s + 1)

        return [key(kind, s) for kind in cond_or_uncond for s in sets]

    def _set(self, key: int) -> RegionSet:
        region_set = self.regions[key] if key >= 0 else self.regions[-key - 1].uncond
        assert region_set is not None  # _row_sets gives negative keys only to sets with negatives
        return region_set

    def _text(self, index: int, like: torch.Tensor) -> torch.Tensor:
        key = ("text", index, like.device, like.dtype)
        conds = self._set(index).conds
        return self.cache.get(key, lambda: torch.cat([c.to(like.device, like.dtype) for c in conds], dim=1))

    def _row_mask(self, index: int | None, latent_hw: tuple[int, int], own: int, padded: int) -> torch.Tensor:
        grid = image_grid(*latent_hw)
        images = grid[0] * grid[1]

        def build() -> torch.Tensor:
            if index is None:
                return plain_mask(own, own + padded, images)
            region_set = self._set(index)
            weights = patch_token_weights(region_set.masks, latent_hw)
            lengths = [int(c.shape[1]) for c in region_set.conds]
            mask = joint_mask(
                weights,
                lengths,
                own,
                has_fallback=region_set.has_fallback,
                image_attention=self.controls.image_attention,
                global_everywhere=self.controls.global_everywhere,
            )
            return pad_text(mask, own + sum(lengths), own + padded)

        return self.cache.get(("mask", index, latent_hw, own, padded), build)

    def _stack(
        self, key: tuple[object, ...], make_rows: Callable[[], list[torch.Tensor]], like: torch.Tensor
    ) -> torch.Tensor:
        """The per-row masks as `[B, 1, L, L]`, or `[1, 1, L, L]` where all rows share one."""

        def build() -> torch.Tensor:
            rows = make_rows()
            unique = {id(r): r for r in rows}
            if len(unique) == 1:
                return rows[0].to(like.device, like.dtype)[None, None]
            return torch.stack(rows).to(like.device, like.dtype)[:, None]

        return self.cache.get(key, build)

    def prepare(
        self, x: torch.Tensor, context: torch.Tensor, cond_or_uncond: Sequence[int]
    ) -> tuple[torch.Tensor, _Call]:
        """The call's extended context `[B, own + padded, D]` and its masks."""
        chunks = len(cond_or_uncond)
        if chunks == 0 or x.shape[0] % chunks or context.shape[0] != x.shape[0]:
            raise CoupleError(f"batch of {x.shape[0]} rows does not split into chunks {list(cond_or_uncond)}")
        row_sets = self._row_sets(cond_or_uncond, x.shape[0] // chunks)
        used = sorted({s for s in row_sets if s is not None})
        texts = {s: self._text(s, context) for s in used}
        padded = max(t.shape[1] for t in texts.values())
        width = context.shape[-1]
        if any(t.shape[-1] != width for t in texts.values()):
            raise CoupleError(f"region conditionings are not {width} wide like the model's context")
        extra = []
        for s in row_sets:
            text = texts[s][0] if s is not None else context.new_zeros(0, width)
            extra.append(torch.cat([text, context.new_zeros(padded - text.shape[0], width)]))
        extended = torch.cat([context, torch.stack(extra)], dim=1)
        latent_hw = (int(x.shape[-2]), int(x.shape[-1]))
        grid = image_grid(*latent_hw)
        own = int(context.shape[1])
        images = grid[0] * grid[1]

        def free_row(s: int | None) -> torch.Tensor:
            text = own + (0 if s is None else texts[s].shape[1])
            return pad_text(torch.zeros(text + images, text + images), text, own + padded)

        def regional_row(s: int | None) -> torch.Tensor:
            return self._row_mask(s, latent_hw, own, padded)

        padding = any(s is None or texts[s].shape[1] != padded for s in row_sets)
        key = (tuple(row_sets), latent_hw, own, padded, x.device, x.dtype)
        if self.dense:  # Neo: its blocks take the mask itself
            masks: JointMask = self._stack(("rows", *key), lambda: [regional_row(s) for s in row_sets], x)
            free: JointMask | None = None
            if padding:
                free = self._stack(("free", *key), lambda: [free_row(s) for s in row_sets], x)
        else:  # our forward: groups of rows where exact, else the dense mask
            masks = self._plan(("plan", *key), row_sets, regional_row, x)
            free = self._plan(("free plan", *key), row_sets, free_row, x) if padding else None
        return extended, _Call(self, masks, free, own + padded)

    def _plan(
        self,
        key: tuple[object, ...],
        row_sets: list[int | None],
        mask_of: Callable[[int | None], torch.Tensor],
        like: torch.Tensor,
    ) -> RowPlan:
        if key not in self._plans:
            self._plans[key] = row_plan(row_sets, mask_of, like.device, like.dtype)  # type: ignore[arg-type]
        return self._plans[key]

    def model_wrapper(self, inner: Callable[..., torch.Tensor] | None) -> Callable[..., torch.Tensor]:
        """The clone's `model_function_wrapper`, around the one that was there (if any)."""

        def wrapper(apply_model: Callable[..., torch.Tensor], args: dict[str, Any]) -> torch.Tensor:
            cond_or_uncond = list(args["cond_or_uncond"])
            c = args["c"]
            if not self.active(args["timestep"]) or COND not in cond_or_uncond or "c_crossattn" not in c:
                return _run(inner, apply_model, args)
            context, call = self.prepare(args["input"], c["c_crossattn"], cond_or_uncond)
            with _published(call):
                return _run(inner, apply_model, {**args, "c": {**c, "c_crossattn": context}})

        return wrapper


def _run(
    inner: Callable[..., torch.Tensor] | None, apply_model: Callable[..., torch.Tensor], args: Any
) -> torch.Tensor:
    out: torch.Tensor = (
        inner(apply_model, args)
        if inner is not None
        else apply_model(args["input"], args["timestep"], **args["c"])
    )
    return out


@contextmanager
def _published(call: _Call) -> Iterator[None]:
    token = _CALL.set(call)
    try:
        yield
    finally:
        _CALL.reset(token)


class NeoBlockPatch:
    """Neo's `patches_replace["dit"]` entry for one block: the original block with our mask."""

    def __init__(self, couple: FluxCouple, index: int, single: bool) -> None:
        self.couple, self.index, self.single = couple, index, single

    def __deepcopy__(self, memo: dict[int, object]) -> NeoBlockPatch:
        return self

    def __call__(self, args: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        original = extra["original_block"]
        call = self.couple.current()
        mask = None if call is None else call.mask_for(self.index)
        if call is None or not isinstance(mask, torch.Tensor) or args.get("attn_mask") is not None:
            return dict(original(args))  # another mask (the host's own) is left as it is
        out = dict(original({**args, "attn_mask": mask}))
        ratio = call.base_ratio(self.index)
        if ratio > 0:
            base = original({**args, "attn_mask": call.free})
            if self.single:
                text = call.text
                out["img"][:, text:] = torch.lerp(out["img"][:, text:], base["img"][:, text:], ratio)
            else:
                out["img"] = torch.lerp(out["img"], base["img"], ratio)
        return out


def _percent_to_sigma(unet: Any) -> Callable[[float], float]:
    model = getattr(unet, "model", None)
    for holder in (getattr(model, "predictor", None), getattr(model, "model_sampling", None)):
        function = getattr(holder, "percent_to_sigma", None)
        if callable(function):
            return lambda share: float(function(share))
    return lambda share: 1.0 - share  # flow models: sigma runs from 1 to 0


def _takes_mask(block: Any) -> bool:
    try:
        return "attn_mask" in inspect.signature(block.forward).parameters
    except (TypeError, ValueError):
        return False


def patch(unet: Any, request: PatchRequest) -> Patched:
    """A clone of `unet` whose Flux blocks attend each region's image tokens to its own text.

    Masked attention is PyTorch's SDPA (it takes any mask), so `request.attention_fn` is not used."""
    clone = unet.clone()
    diffusion_model = clone.model.diffusion_model
    doubles = list(getattr(diffusion_model, "double_blocks", ()))
    singles = list(getattr(diffusion_model, "single_blocks", ()))
    if not doubles and not singles:
        raise CoupleError("the loaded model has no Flux double or single blocks")
    couple = FluxCouple(
        request.regions, request.item_sets or None, request.controls, _percent_to_sigma(clone)
    )
    options = clone.model_options
    clone.set_model_unet_function_wrapper(couple.model_wrapper(options.get("model_function_wrapper")))
    blocks = [(b, False) for b in doubles] + [(b, True) for b in singles]
    if _takes_mask(blocks[0][0]):
        couple.dense = True
        for index, (_, single) in enumerate(blocks):
            kind, number = ("single_block", index - len(doubles)) if single else ("double_block", index)
            clone.set_model_patch_replace(NeoBlockPatch(couple, index, single), "dit", kind, number)
    else:
        for index, (block, single) in enumerate(blocks):
            name = f"single_blocks.{index - len(doubles)}" if single else f"double_blocks.{index}"
            wrapper = (SingleBlockWrapper if single else DoubleBlockWrapper)(block, index, couple.current)
            clone.add_object_patch(f"diffusion_model.{name}", wrapper)
    return Patched(clone, couple.clear)
