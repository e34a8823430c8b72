"""A small double of Forge's patch contract: ModelPatcher and an LDM-layout UNet.

Written from the documented behaviour (FORGE_FACTS.md section 4.4-4.5) and, for the flavours, from
the hosts' `backend/patcher/base.py` (lllyasviel Forge dfdcbab6, Forge Neo v3.5 5692d2d):
- `clone()` deep-copies `model_options` and copies `object_patches`; on Neo the clone also shares
  `object_patches_backup` with its parent (Neo restores object patches when another clone loads);
- `set_model_patch` puts a new list in place, `set_model_patch_replace` copies
  `transformer_options`, `patches_replace` and the name's dict before setting the slot (both hosts);
- the transformer block runs `attn2_patch` on the unprojected input, then the replace patch at
  `(block, id, block_index)` or else `(block, id)` on projected q, k, v (output before `to_out`),
  then `attn2_output_patch` after `to_out`;
- `transformer_options` carries `original_shape`, `block`, `block_index`, `cond_or_uncond`;
- downsampling rounds up (stride-2 convolutions with padding 1), upsampling restores skip shapes.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn


def attention_function(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, inner = q.shape
    d = inner // heads
    q, k, v = (t.reshape(t.shape[0], -1, heads, d).transpose(1, 2) for t in (q, k, v))
    scores = (q @ k.transpose(-1, -2)) / d**0.5
    out = scores.softmax(dim=-1) @ v
    return out.transpose(1, 2).reshape(b, n, inner)


class CrossAttention(nn.Module):
    def __init__(self, query_dim: int, context_dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, value: torch.Tensor | None = None
    ) -> torch.Tensor:
        k = self.to_k(context)
        v = self.to_v(context if value is None else value)
        return self.to_out(attention_function(self.to_q(x), k, v, self.heads))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int) -> None:
        super().__init__()
        self.n_heads, self.d_head = heads, dim_head
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads, dim_head)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, transformer_options: dict[str, Any]
    ) -> torch.Tensor:
        extra = {k: v for k, v in transformer_options.items() if k not in ("patches", "patches_replace")}
        extra["n_heads"], extra["dim_head"] = self.n_heads, self.d_head
        patches = transformer_options.get("patches", {})
        replace = transformer_options.get("patches_replace", {}).get("attn2", {})
        block = transformer_options.get("block")
        full_key = (block[0], block[1], transformer_options.get("block_index", 0)) if block else None

        n = self.norm2(x)
        context_attn2, value_attn2 = context, None
        if "attn2_patch" in patches:
            value_attn2 = context_attn2
            for patch in patches["attn2_patch"]:
                n, context_attn2, value_attn2 = patch(n, context_attn2, value_attn2, extra)
        key = full_key if full_key in replace else block
        if key in replace:
            if value_attn2 is None:
                value_attn2 = context_attn2
            q = self.attn2.to_q(n)
            k = self.attn2.to_k(context_attn2)
            v = self.attn2.to_v(value_attn2)
            n = self.attn2.to_out(replace[key](q, k, v, extra))
        else:
            n = self.attn2(n, context_attn2, value_attn2)
        for patch in patches.get("attn2_output_patch", []):
            n = patch(n, extra)
        x = x + n
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    def __init__(self, channels: int, heads: int, context_dim: int, depth: int = 1) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(4, channels)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(channels, heads, channels // heads, context_dim) for _ in range(depth)
        )
        self.proj_out = nn.Linear(channels, channels)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, transformer_options: dict[str, Any]
    ) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))
        for index, block in enumerate(self.transformer_blocks):
            transformer_options["block_index"] = index
            tokens = block(tokens, context, transformer_options)
        return x + self.proj_out(tokens).transpose(1, 2).reshape(b, c, h, w)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Sequence(nn.Sequential):
    """TimestepEmbedSequential's role: run layers, giving transformers the context."""

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        transformer_options: dict[str, Any],
        output_shape: Any = None,
    ) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, SpatialTransformer):
                x = layer(x, context, transformer_options)
            elif isinstance(layer, Upsample):
                x = layer(x, output_shape)
            else:
                x = layer(x)
        return x


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, output_shape: Any) -> torch.Tensor:
        size = output_shape[2:4] if output_shape is not None else (x.shape[2] * 2, x.shape[3] * 2)
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class TinyLdmUnet(nn.Module):
    """Three levels like SD's UNet: cross-attention at each, two transformer blocks at level 1."""

    def __init__(self, channels: int = 32, heads: int = 4, context_dim: int = 24) -> None:
        super().__init__()
        c = channels
        self.input_blocks = nn.ModuleList(
            [
                Sequence(nn.Conv2d(4, c, 3, padding=1)),
                Sequence(SpatialTransformer(c, heads, context_dim)),
                Sequence(Downsample(c)),
                Sequence(SpatialTransformer(c, heads, context_dim, depth=2)),
                Sequence(Downsample(c)),
                Sequence(SpatialTransformer(c, heads, context_dim)),
            ]
        )
        self.middle_block = Sequence(SpatialTransformer(c, heads, context_dim))
        self.output_blocks = nn.ModuleList(
            [
                Sequence(nn.Conv2d(2 * c, c, 1), SpatialTransformer(c, heads, context_dim)),
                Sequence(nn.Conv2d(2 * c, c, 1), SpatialTransformer(c, heads, context_dim), Upsample(c)),
                Sequence(nn.Conv2d(2 * c, c, 1), SpatialTransformer(c, heads, context_dim, depth=2)),
                Sequence(nn.Conv2d(2 * c, c, 1), SpatialTransformer(c, heads, context_dim), Upsample(c)),
                Sequence(nn.Conv2d(2 * c, c, 1), SpatialTransformer(c, heads, context_dim)),
                Sequence(nn.Conv2d(2 * c, c, 1)),
            ]
        )
        self.out = nn.Conv2d(c, 4, 3, padding=1)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, transformer_options: dict[str, Any]
    ) -> torch.Tensor:
        transformer_options["original_shape"] = list(x.shape)
        hs = []
        h = x
        for number, block in enumerate(self.input_blocks):
            transformer_options["block"] = ("input", number)
            h = block(h, context, transformer_options)
            hs.append(h)
        transformer_options["block"] = ("middle", 0)
        h = self.middle_block(h, context, transformer_options)
        for number, block in enumerate(self.output_blocks):
            transformer_options["block"] = ("output", number)
            h = torch.cat([h, hs.pop()], dim=1)
            output_shape = hs[-1].shape if hs else None
            h = block(h, context, transformer_options, output_shape)
        return self.out(h)


class KModel(nn.Module):
    def __init__(self, diffusion_model: nn.Module) -> None:
        super().__init__()
        self.diffusion_model = diffusion_model


# The host a double stands for: lllyasviel Forge or Forge Neo (where their code differs).
Flavour = Literal["forge", "neo"]
FLAVOURS: tuple[Flavour, ...] = ("forge", "neo")


class ModelPatcher:
    def __init__(self, model: KModel, flavour: Flavour = "forge") -> None:
        self.model = model
        self.flavour = flavour
        self.model_options: dict[str, Any] = {"transformer_options": {}}
        self.object_patches: dict[str, Any] = {}
        self.object_patches_backup: dict[str, Any] = {}
        self.parent: ModelPatcher | None = None

    def clone(self) -> ModelPatcher:
        other = ModelPatcher(self.model, self.flavour)
        other.model_options = copy.deepcopy(self.model_options)
        other.object_patches = self.object_patches.copy()
        if self.flavour == "neo":
            other.object_patches_backup = self.object_patches_backup
            other.parent = self
        return other

    def add_object_patch(self, name: str, obj: Any) -> None:
        self.object_patches[name] = obj

    def set_model_unet_function_wrapper(self, wrapper: Any) -> None:
        self.model_options["model_function_wrapper"] = wrapper

    def set_model_patch(self, patch: Any, name: str) -> None:
        to = self.model_options["transformer_options"]
        patches = to.setdefault("patches", {})
        patches[name] = [*patches.get(name, []), patch]  # a new list, as both hosts do

    def set_model_attn2_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn2_patch")

    def set_model_attn2_output_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn2_output_patch")

    def set_model_patch_replace(
        self, patch: Any, name: str, block_name: str, number: int, transformer_index: int | None = None
    ) -> None:
        to = dict(self.model_options["transformer_options"])
        to["patches_replace"] = dict(to.get("patches_replace", {}))
        to["patches_replace"][name] = dict(to["patches_replace"].get(name, {}))
        key = (block_name, number) if transformer_index is None else (block_name, number, transformer_index)
        to["patches_replace"][name][key] = patch
        self.model_options["transformer_options"] = to

    def set_model_attn2_replace(
        self, patch: Any, block_name: str, number: int, transformer_index: int | None = None
    ) -> None:
        self.set_model_patch_replace(patch, "attn2", block_name, number, transformer_index)


def run_unet(
    patcher: ModelPatcher, x: torch.Tensor, context: torch.Tensor, cond_or_uncond: list[int]
) -> torch.Tensor:
    """One model call as the hosts' sampling function makes it: the object patches on the model
    while it runs (both hosts put them back before another clone runs), a shallow copy of the
    transformer options."""
    backup = {name: _get(patcher.model, name) for name in patcher.object_patches}
    for name, obj in patcher.object_patches.items():
        _set(patcher.model, name, obj)
    options = dict(patcher.model_options["transformer_options"])
    options["cond_or_uncond"] = list(cond_or_uncond)
    try:
        with torch.no_grad():
            out: torch.Tensor = patcher.model.diffusion_model(x, context, options)
    finally:
        for name, obj in backup.items():
            _set(patcher.model, name, obj)
    return out


def _get(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def _set(obj: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    setattr(_get(obj, ".".join(parents)) if parents else obj, last, value)


def make_patcher(seed: int = 0, context_dim: int = 24, flavour: Flavour = "forge") -> ModelPatcher:
    torch.manual_seed(seed)
    return ModelPatcher(KModel(TinyLdmUnet(context_dim=context_dim).eval()), flavour)
