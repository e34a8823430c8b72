"""Regions on diffusers' `FluxTransformer2DModel` (the Flux demo): attention processors for its blocks.

The engine is the Forge patcher's (`FluxCouple`): it extends the cond rows' T5 context with the
region lines, pads the uncond rows, and publishes each call's row plans (`joint_attention.row_plan`
over `joint_mask`). What is diffusers' own here is the attention: one processor per double and single
block reads the published plan and attends with it, or runs the block's original processor where
no mask applies. The processors are installed only inside `regional_processors` and the originals
put back on exit, also on an error or an interrupt; nothing is assigned on a class. The demo's
trainer runs its regional steps through the same processors (`FixedMask`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import FluxTransformer2DModel
from diffusers.models.embeddings import apply_rotary_emb

from lib_couple.attention.couple import COND, UNCOND
from lib_couple.attention.joint_attention import RowPlan
from lib_couple.demo.flux_sampling import Conditioning, FlowPredictor, unpack_latents
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.patchers.flux import FluxCouple
from lib_couple.hosts.forge.patchers.flux_blocks import JointMask, MaskSource
from lib_couple.walk.flux import transformer_inputs


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, inner = x.shape
    return x.view(batch, length, heads, inner // heads).transpose(1, 2)


def _attend(mask: JointMask | None, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """SDPA with a row plan (groups where exact), a dense additive mask, or none."""
    if isinstance(mask, RowPlan):
        return mask.attend(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.to(q.dtype))


class RegionalFluxProcessor:
    """One block's attention with the current call's mask (block `index`: doubles, then singles).

    `source` gives the call's masks (`FluxCouple.current` at sampling, a fixed mask in training);
    None, or no mask for this block, runs the block's own processor. The computation is diffusers'
    `FluxAttnProcessor2_0`'s with the mask;
    `base_ratio` blends the image rows of the attention output with the unmasked attention's
    (instantX's blend, inside the attention as its processor does)."""

    def __init__(self, source: Callable[[], MaskSource | None], index: int, original: Any) -> None:
        self.source, self.index, self.original = source, index, original

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> Any:
        call = self.source()
        mask = None if call is None else call.mask_for(self.index)
        if call is None or mask is None or attention_mask is not None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)
        heads = int(attn.heads)
        q, k, v = (_heads(p(hidden_states), heads) for p in (attn.to_q, attn.to_k, attn.to_v))
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        text = call.text_tokens()  # single blocks: the text leads the joint stream
        if encoder_hidden_states is not None:  # double blocks: the context's own projections
            text = int(encoder_hidden_states.shape[1])
            cq, ck, cv = (
                _heads(p(encoder_hidden_states), heads)
                for p in (attn.add_q_proj, attn.add_k_proj, attn.add_v_proj)
            )
            if attn.norm_added_q is not None:
                cq = attn.norm_added_q(cq)
            if attn.norm_added_k is not None:
                ck = attn.norm_added_k(ck)
            q, k, v = torch.cat([cq, q], dim=2), torch.cat([ck, k], dim=2), torch.cat([cv, v], dim=2)
        if image_rotary_emb is not None:
            q, k = apply_rotary_emb(q, image_rotary_emb), apply_rotary_emb(k, image_rotary_emb)
        out = _attend(mask, q, k, v)
        ratio = call.base_ratio(self.index)
        if ratio > 0:
            base = _attend(call.free_mask(), q, k, v)
            out[:, :, text:] = torch.lerp(out[:, :, text:], base[:, :, text:], ratio)
        batch, _, length, dim = out.shape
        joint = out.transpose(1, 2).reshape(batch, length, heads * dim).to(q.dtype)
        if encoder_hidden_states is None:
            return joint
        image = attn.to_out[1](attn.to_out[0](joint[:, text:]))
        return image, attn.to_add_out(joint[:, :text])


def _block_index(name: str, doubles: int) -> int:
    """`transformer_blocks.3.attn.processor` -> 3, `single_transformer_blocks.1...` -> doubles + 1."""
    parts = name.split(".")
    if (
        len(parts) < 2
        or not parts[1].isdigit()
        or parts[0]
        not in (
            "transformer_blocks",
            "single_transformer_blocks",
        )
    ):
        raise CoupleError(f"the transformer has an attention {name!r} outside its Flux blocks")
    return int(parts[1]) + (doubles if parts[0] == "single_transformer_blocks" else 0)


@contextmanager
def regional_processors(
    transformer: FluxTransformer2DModel, source: Callable[[], MaskSource | None]
) -> Iterator[None]:
    """Our processor on every block while inside; the transformer's own ones back on exit."""
    originals = dict(transformer.attn_processors)
    if any(isinstance(p, RegionalFluxProcessor) for p in originals.values()):
        raise CoupleError("the Flux transformer already has regional processors: one generation at a time")
    doubles = len(transformer.transformer_blocks)
    ours = {
        name: RegionalFluxProcessor(source, _block_index(name, doubles), p) for name, p in originals.items()
    }
    transformer.set_attn_processor(ours)
    try:
        yield
    finally:
        transformer.set_attn_processor(originals)


def regional_predictor(transformer: FluxTransformer2DModel, couple: FluxCouple) -> FlowPredictor:
    """The demo sampler's model call through the couple: rows `[uncond; cond]`, context extended and
    the masks published while the schedule is inside the controls' share."""
    wrapper = couple.model_wrapper(None)

    def apply_model(x: torch.Tensor, t: torch.Tensor, **c: torch.Tensor) -> torch.Tensor:
        conditioning = {"crossattn": c["c_crossattn"], "vector": c["vector"]}
        tokens: torch.Tensor = transformer(**transformer_inputs(conditioning, x, t))[0]
        return unpack_latents(tokens, x.shape[-2], x.shape[-1])

    def predict(latents: torch.Tensor, t: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        chunks = [UNCOND, COND]
        c = {"c_crossattn": conditioning["crossattn"], "vector": conditioning["vector"]}
        args = {"input": latents, "timestep": t, "c": c, "cond_or_uncond": chunks}
        return wrapper(apply_model, args)

    return predict


class FixedMask:
    """One mask for every block and call: the trainer's regional steps (a `MaskSource`)."""

    def __init__(self, mask: torch.Tensor, text: int) -> None:
        self.mask, self.text = mask, text

    def mask_for(self, index: int) -> JointMask | None:
        return self.mask

    def free_mask(self) -> JointMask | None:
        return None

    def base_ratio(self, index: int) -> float:
        return 0.0

    def text_tokens(self) -> int:
        return self.text
