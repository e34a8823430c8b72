"""Forge's Flux blocks run with a joint-attention mask, written from FORGE_FACTS section 5.

lllyasviel Forge's `DoubleStreamBlock` / `SingleStreamBlock` call a module-level attention with no
mask and read no options. The wrappers here replace a block through the patcher clone's object
patches: they hold the block's own children under the same names (so weights, LoRA keys and
`.to()` reach the same modules) and run its computation with a masked attention, or call the
block itself where no mask is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from lib_couple.attention.joint_attention import RowPlan

JointMask = torch.Tensor | RowPlan


class MaskSource(Protocol):
    """What the wrappers read for the current model call (none: the block runs as it is)."""

    def mask_for(self, index: int) -> JointMask | None:
        """The mask of block `index` (doubles then singles): regional, or the unmasked one where
        rows carry padding; None where the plain block is exact."""
        ...

    def free_mask(self) -> JointMask | None:
        """The unmasked pass's mask (pads hidden), None where the plain block is exact."""
        ...

    def base_ratio(self, index: int) -> float:
        """The share of the unmasked pass in the image stream of a masked block."""
        ...

    def text_tokens(self) -> int: ...


def apply_rope(q: torch.Tensor, k: torch.Tensor, pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flux's rotary embedding: each pair (x0, x1) of a head's channels times its 2 x 2 rotation."""

    def rotate(x: torch.Tensor) -> torch.Tensor:
        pairs = x.float().reshape(*x.shape[:-1], -1, 1, 2)
        out = pe[..., 0] * pairs[..., 0] + pe[..., 1] * pairs[..., 1]
        return out.reshape(*x.shape).type_as(x)

    return rotate(q), rotate(k)


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pe: torch.Tensor, mask: JointMask
) -> torch.Tensor:
    """Joint attention of `[B, H, L, D]` heads with an additive mask or a row plan: `[B, L, H*D]`.

    PyTorch's SDPA, which takes any mask on every device (flash kernels do not); groups of rows
    with equal allowed keys attend without one."""
    q, k = apply_rope(q, k, pe)
    if isinstance(mask, RowPlan):
        out = mask.attend(q, k, v)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))
    batch, heads, length, dim = out.shape
    return out.transpose(1, 2).reshape(batch, length, heads * dim)


def _heads(attn: Any, x: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    qkv = attn.get_submodule("qkv")(x)
    batch, length, _ = qkv.shape
    q, k, v = qkv.view(batch, length, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k = attn.get_submodule("norm")(q, k, v)
    return q, k, v


def _fp16_safe(x: torch.Tensor) -> torch.Tensor:
    """fp16 streams clipped as lllyasviel Forge clips them after each block."""
    return x.clamp(-32768.0, 32768.0) if x.dtype == torch.float16 else x


def double_forward(
    block: Any,
    img: torch.Tensor,
    txt: torch.Tensor,
    vec: torch.Tensor,
    pe: torch.Tensor,
    mask: JointMask,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A Flux double-stream block (separate img / txt weights, one joint attention) with a mask."""
    heads = int(block.num_heads)
    i_shift1, i_scale1, i_gate1, i_shift2, i_scale2, i_gate2 = block.img_mod(vec)
    t_shift1, t_scale1, t_gate1, t_shift2, t_scale2, t_gate2 = block.txt_mod(vec)
    img_q, img_k, img_v = _heads(block.img_attn, (1 + i_scale1) * block.img_norm1(img) + i_shift1, heads)
    txt_q, txt_k, txt_v = _heads(block.txt_attn, (1 + t_scale1) * block.txt_norm1(txt) + t_shift1, heads)
    q, k, v = (torch.cat(pair, dim=2) for pair in ((txt_q, img_q), (txt_k, img_k), (txt_v, img_v)))
    attn = masked_attention(q, k, v, pe, mask)
    text = txt.shape[1]
    img = img + i_gate1 * block.img_attn.proj(attn[:, text:])
    img = img + i_gate2 * block.img_mlp((1 + i_scale2) * block.img_norm2(img) + i_shift2)
    txt = txt + t_gate1 * block.txt_attn.proj(attn[:, :text])
    txt = txt + t_gate2 * block.txt_mlp((1 + t_scale2) * block.txt_norm2(txt) + t_shift2)
    return img, _fp16_safe(txt)


def single_forward(
    block: Any, x: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor, mask: JointMask
) -> torch.Tensor:
    """A Flux single-stream block (one fused linear for qkv and the MLP) with a mask."""
    heads, hidden = int(block.num_heads), int(block.hidden_size)
    shift, scale, gate = block.modulation(vec)
    qkv, mlp = torch.split(
        block.linear1((1 + scale) * block.pre_norm(x) + shift),
        [3 * hidden, int(block.mlp_hidden_dim)],
        dim=-1,
    )
    batch, length, _ = qkv.shape
    q, k, v = qkv.view(batch, length, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k = block.norm(q, k, v)
    attn = masked_attention(q, k, v, pe, mask)
    out = block.linear2(torch.cat((attn, block.mlp_act(mlp)), dim=2))
    return _fp16_safe(x + gate * out)


class _BlockWrapper(nn.Module):
    """Stands in for one block: the block's children as its own, the block kept to call."""

    def __init__(self, block: nn.Module, index: int, source: Callable[[], MaskSource | None]) -> None:
        super().__init__()
        self.__dict__["original"] = block  # not a child: its children are already ours
        self.__dict__["source"] = source
        for name, child in block.named_children():
            self._modules[name] = child  # add_module would see the delegated name
        self.index = index

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            original = self.__dict__.get("original")
            if original is None:
                raise
            return getattr(original, name)  # num_heads, hidden_size, ...


class DoubleBlockWrapper(_BlockWrapper):
    def forward(
        self, img: torch.Tensor, txt: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.__dict__["original"]
        source = self.__dict__["source"]()
        mask = None if source is None else source.mask_for(self.index)
        if mask is None:
            result: tuple[torch.Tensor, torch.Tensor] = block(img=img, txt=txt, vec=vec, pe=pe, **kwargs)
            return result
        out_img, out_txt = double_forward(block, img, txt, vec, pe, mask)
        ratio = source.base_ratio(self.index)
        if ratio > 0:
            free = source.free_mask()
            base = (
                block(img=img, txt=txt, vec=vec, pe=pe)
                if free is None
                else double_forward(block, img, txt, vec, pe, free)
            )
            out_img = torch.lerp(out_img, base[0], ratio)
        return out_img, out_txt


class SingleBlockWrapper(_BlockWrapper):
    def forward(self, x: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        block = self.__dict__["original"]
        source = self.__dict__["source"]()
        mask = None if source is None else source.mask_for(self.index)
        if mask is None:
            result: torch.Tensor = block(x, vec=vec, pe=pe, **kwargs)
            return result
        out = single_forward(block, x, vec, pe, mask)
        ratio = source.base_ratio(self.index)
        if ratio > 0:
            free = source.free_mask()
            base = block(x, vec=vec, pe=pe) if free is None else single_forward(block, x, vec, pe, free)
            text = source.text_tokens()  # the text streams stay apart, as instantX keeps them
            out[:, text:] = torch.lerp(out[:, text:], base[:, text:], ratio)
        return out
