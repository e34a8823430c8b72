"""Adapter for Forge's (and ComfyUI-style) model patchers.

Forge's BasicTransformerBlock runs, for attn2: the `attn2_patch` list on the unprojected input,
then a replace patch looked up at `(block, id, block_index)` and then `(block, id)` that receives
the projected q, k, v and returns the output before `to_out`. Another extension (Forge's
IP-Adapter) may own those replace slots and patch before or after us, so the regional replace
is installed at call time by an `attn2_patch` hook, wrapping whatever sits in the slots then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from lib_couple.attention.couple import RegionalAttention
from lib_couple.errors import CoupleError

# Where the patched clone keeps a reference to its own attn2 replace table: hooks see
# `transformer_options` minus `patches_replace`, so they reach the table through this key.
REPLACE_TABLE_KEY = "forge_couple_attn2_replace"

LayerKey = tuple[str, int, int]
ReplacePatch = Any  # (q, k, v, extra_options) -> out: any callable another extension installed


_Patcher = TypeVar("_Patcher", bound="PatcherLike")


class PatcherLike(Protocol):
    """The part of Forge's UnetPatcher (and ComfyUI's ModelPatcher) the adapter uses."""

    model: Any
    model_options: dict[str, Any]

    def clone(self: _Patcher) -> _Patcher: ...

    def set_model_attn2_patch(self, patch: Any) -> None: ...


def _children(block: nn.Module) -> Iterable[nn.Module]:
    return block if isinstance(block, (nn.Sequential, nn.ModuleList)) else (block,)


def find_cross_attention_layers(diffusion_model: nn.Module) -> dict[LayerKey, nn.Module]:
    """The attn2 modules of an LDM-layout UNet, keyed as Forge names them in `transformer_options`."""
    groups: list[tuple[str, Sequence[nn.Module]]] = []
    for name, attribute in (
        ("input", "input_blocks"),
        ("middle", "middle_block"),
        ("output", "output_blocks"),
    ):
        blocks = getattr(diffusion_model, attribute, None)
        if blocks is not None:
            groups.append((name, [blocks] if name == "middle" else list(blocks)))
    layers: dict[LayerKey, nn.Module] = {}
    for name, blocks in groups:
        for number, block in enumerate(blocks):
            for child in _children(block):
                for index, transformer in enumerate(getattr(child, "transformer_blocks", ())):
                    attn2 = getattr(transformer, "attn2", None)
                    if attn2 is not None:
                        layers[(name, number, index)] = attn2
    return layers


class RegionalReplace:
    """The attn2 replace patch of one layer: regional attention, around another patch if any."""

    def __init__(self, couple: AttentionCouple, layer: LayerKey, inner: ReplacePatch | None) -> None:
        self.couple = couple
        self.layer = layer
        self.inner = inner

    def __deepcopy__(self, memo: dict[int, object]) -> RegionalReplace:
        return self  # holds model layers and per-generation caches: share, never copy

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra_options: dict[str, Any]
    ) -> torch.Tensor:
        module = self.couple.layers[self.layer]
        shape = extra_options["original_shape"]

        def project(cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return module.get_submodule("to_k")(cond), module.get_submodule("to_v")(cond)

        inner = None
        if self.inner is not None:
            other = self.inner

            def inner(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
                result: torch.Tensor = other(q, k, v, extra_options)
                return result

        return self.couple.attention(
            q,
            k,
            v,
            layer=self.layer,
            project=project,
            heads=int(extra_options["n_heads"]),
            latent_hw=(int(shape[-2]), int(shape[-1])),
            cond_or_uncond=extra_options["cond_or_uncond"],
            inner=inner,
        )


class InstallRegionalReplace:
    """The attn2_patch hook: puts this layer's RegionalReplace into the replace table, then passes through."""

    def __init__(self, couple: AttentionCouple) -> None:
        self.couple = couple

    def __deepcopy__(self, memo: dict[int, object]) -> InstallRegionalReplace:
        return self

    def __call__(
        self, n: torch.Tensor, context: torch.Tensor, value: torch.Tensor, extra_options: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        table = extra_options.get(REPLACE_TABLE_KEY)
        block = extra_options.get("block")
        if table is None or block is None:
            raise CoupleError(
                "Forge Couple's patch was called without its replace table; patch a fresh clone"
            )
        key: LayerKey = (str(block[0]), int(block[1]), int(extra_options.get("block_index", 0)))
        if key not in self.couple.layers:
            raise CoupleError(f"attention layer {key} is not a cross-attention layer of the patched UNet")
        current = table.get(key)
        if not (isinstance(current, RegionalReplace) and current.couple is self.couple):
            inner = current if current is not None else table.get(tuple(block))
            while isinstance(inner, RegionalReplace):  # a stale couple from an earlier pass
                inner = inner.inner
            table[key] = RegionalReplace(self.couple, key, inner)
        return n, context, value


class AttentionCouple:
    """Regional prompting for a Forge UnetPatcher: `AttentionCouple(conds, masks).patch_unet(unet)`.

    `conds[i]` is region i's conditioning `[1, T_i, D]`; `masks` is `[R, H, W]` of weights at
    image resolution. Pixels no mask covers use the whole prompt unless `strict`. `negatives`
    (one conditioning per region) makes the uncond rows regional with those lines.
    """

    def __init__(
        self,
        conds: Sequence[torch.Tensor],
        masks: torch.Tensor,
        *,
        strict: bool = False,
        negatives: Sequence[torch.Tensor] | None = None,
    ) -> None:
        self._use(RegionalAttention.single(conds, masks, strict=strict, negatives=negatives))

    @classmethod
    def for_batch(cls, attention: RegionalAttention) -> AttentionCouple:
        """A couple whose images use different regions (prompts that differ per image)."""
        couple = cls.__new__(cls)
        couple._use(attention)
        return couple

    def _use(self, attention: RegionalAttention) -> None:
        self.attention = attention
        self.layers: dict[LayerKey, nn.Module] = {}

    def patch_unet(self, unet: _Patcher) -> _Patcher:
        """A patched clone of `unet`; the original is left as it was."""
        patched = unet.clone()
        layers = find_cross_attention_layers(patched.model.diffusion_model)
        if not layers:
            raise CoupleError(
                "the loaded model has no UNet cross-attention layers; Forge Couple needs SD1.5 or SDXL"
            )
        self.layers = layers
        options = patched.model_options.setdefault("transformer_options", {})
        options[REPLACE_TABLE_KEY] = options.setdefault("patches_replace", {}).setdefault("attn2", {})
        patched.set_model_attn2_patch(InstallRegionalReplace(self))
        return patched

    def clear(self) -> None:
        """Release the per-generation caches and the references to model layers."""
        self.attention.clear()
        self.layers = {}
