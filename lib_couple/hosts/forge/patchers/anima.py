"""Anima (Cosmos-Predict2 DiT on Forge Neo): regions through each block's own cross-attention.

Object patches on the clone replace `diffusion_model.blocks.N.cross_attn` with a module that owns
the original's children under the same names (state-dict keys, and so LoRA keys, unchanged). The
clone's `model_function_wrapper` publishes the call's latent size and row kinds for them. Neo
restores object patches only when another clone loads, so `clear` puts the originals back itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import torch
from torch import nn

from lib_couple.attention.couple import COND, RegionalAttention
from lib_couple.attention.dit_cross_attention import dit_cross_attention, patch_grid
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.patchers import Patched, PatchRequest
from lib_couple.log import LOGGER_NAME

# The current model call: (couple, latent (h, w), cond_or_uncond).
_CALL: ContextVar[tuple[AnimaCouple, tuple[int, int], list[int]] | None] = ContextVar(
    "forge_couple_anima_call", default=None
)


class AnimaCouple:
    """One generation's regions for an Anima transformer."""

    def __init__(self, regional: RegionalAttention, patch: int) -> None:
        self.regional, self.patch = regional, patch
        self.warned = False

    def warn_once(self, message: str) -> None:
        if not self.warned:
            self.warned = True
            logging.getLogger(LOGGER_NAME).warning(message)

    def __deepcopy__(self, memo: dict[int, object]) -> AnimaCouple:
        return self  # clone() deep-copies model_options: share the caches

    def model_wrapper(self, inner: Callable[..., torch.Tensor] | None) -> Callable[..., torch.Tensor]:
        def wrapper(apply_model: Callable[..., torch.Tensor], args: dict[str, Any]) -> torch.Tensor:
            x = args["input"]
            cond_or_uncond = list(args["cond_or_uncond"])
            token = _CALL.set((self, (int(x.shape[-2]), int(x.shape[-1])), cond_or_uncond))
            try:
                out: torch.Tensor = (
                    inner(apply_model, args)
                    if inner is not None
                    else apply_model(x, args["timestep"], **args["c"])
                )
            finally:
                _CALL.reset(token)
            return out

        return wrapper


class RegionalCrossAttention(nn.Module):
    """Anima's `SelfCrossAttention` (cross form) with the regions; children shared with the original."""

    def __init__(self, original: nn.Module, couple: AnimaCouple, index: int) -> None:
        super().__init__()
        for name, child in original.named_children():
            self.add_module(name, child)
        shape: dict[str, Any] = vars(original)  # plain attributes of Neo's module
        self.n_heads: int = int(shape["n_heads"])
        self.head_dim: int = int(shape["head_dim"])
        self.original_forward = original.forward
        self.couple, self.index = couple, index

    def _heads(self, t: torch.Tensor, projection: str, norm: str) -> torch.Tensor:
        """Neo's `compute_qkv` for one of q, k, v: project, norm per head, heads flattened back."""
        t = self.get_submodule(projection)(t)
        out: torch.Tensor = self.get_submodule(norm)(t.view(*t.shape[:-1], self.n_heads, self.head_dim))
        return out.reshape(t.shape)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        rope_emb: torch.Tensor | None = None,
        transformer_options: dict[str, Any] | None = None,
    ) -> torch.Tensor:
        call = _CALL.get()
        grid = patch_grid(call[1], self.couple.patch) if call is not None else (0, 0)
        if (
            call is not None
            and call[0] is self.couple
            and context is not None
            and x.shape[1] != grid[0] * grid[1]
        ):
            self.couple.warn_once(
                f"a block sees {x.shape[1]} image tokens, not one frame's {grid[0]}x{grid[1]} "
                "(reference latents or video): those calls run without regions"
            )
            call = None
        if call is None or call[0] is not self.couple or context is None or COND not in call[2]:
            out: torch.Tensor = self.original_forward(
                x, context, rope_emb=rope_emb, transformer_options=transformer_options or {}
            )
            return out
        cond_or_uncond = call[2]
        result = dit_cross_attention(
            self.couple.regional,
            x,
            context,
            layer=self.index,
            query=lambda t: self._heads(t, "q_proj", "q_norm"),
            key=lambda t: self._heads(t, "k_proj", "k_norm"),
            value=lambda t: self._heads(t, "v_proj", "v_norm"),
            heads=self.n_heads,
            grid=grid,
            cond_or_uncond=cond_or_uncond,
        )
        projected: torch.Tensor = self.get_submodule("output_dropout")(
            self.get_submodule("output_proj")(result)
        )
        return projected


def patch(unet: Any, request: PatchRequest) -> Patched:
    """A clone of `unet` whose Anima blocks attend each region's image tokens to its own text."""
    clone = unet.clone()
    model = clone.model.diffusion_model
    blocks = list(getattr(model, "blocks", ()))
    if not blocks or not all(hasattr(b, "cross_attn") for b in blocks):
        raise CoupleError("the loaded model has no Anima blocks with cross-attention")
    regional = RegionalAttention(
        list(request.regions), list(request.item_sets) or None, request.attention_fn, request.pool
    )
    couple = AnimaCouple(regional, int(getattr(model, "patch_spatial", 2)))
    clone.set_model_unet_function_wrapper(
        couple.model_wrapper(clone.model_options.get("model_function_wrapper"))
    )
    originals: dict[int, nn.Module] = {}
    for index, block in enumerate(blocks):
        originals[index] = block.cross_attn
        clone.add_object_patch(
            f"diffusion_model.blocks.{index}.cross_attn",
            RegionalCrossAttention(block.cross_attn, couple, index),
        )

    def clear() -> None:
        regional.clear()
        for index, original in originals.items():
            live = blocks[index].cross_attn
            if isinstance(live, RegionalCrossAttention) and live.couple is couple:
                blocks[index].cross_attn = original
        backups = getattr(clone, "object_patches_backup", None)
        if isinstance(backups, dict):
            for index in originals:
                backups.pop(f"diffusion_model.blocks.{index}.cross_attn", None)

    return Patched(clone, clear)
