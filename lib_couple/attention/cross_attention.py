"""Cross-attention as pure functions of tensors: plain and regional."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lib_couple.token_masks import TokenWeights


def multihead_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Scaled dot-product attention of `[B, N, heads*d]` queries over `[B or 1, T, heads*d]` keys."""
    batch, tokens, inner = q.shape
    dim_head = inner // heads
    q = q.view(batch, tokens, heads, dim_head).transpose(1, 2)
    k = k.expand(batch, -1, -1).reshape(batch, -1, heads, dim_head).transpose(1, 2)
    v = v.expand(batch, -1, -1).reshape(batch, -1, heads, dim_head).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(batch, tokens, inner)


def regional_cross_attention(
    q: torch.Tensor,
    region_kv: Sequence[tuple[torch.Tensor, torch.Tensor]],
    weights: TokenWeights,
    heads: int,
) -> torch.Tensor:
    """out(x) = sum_r w_r(x) Attn(q(x), K_r, V_r), with masks normalised per token.

    Each region attends only with the query tokens it covers: a token of weight 0 contributes
    nothing, so skipping it is exact and the attention work follows covered area.
    """
    out = torch.zeros_like(q)
    for (k, v), weight, covered in zip(region_kv, weights.weights, weights.covered, strict=True):
        if covered is None:
            out.addcmul_(multihead_attention(q, k, v, heads), weight[None, :, None])
        elif covered.numel():
            part = multihead_attention(q[:, covered], k, v, heads)
            out.index_add_(1, covered, part * weight[covered][None, :, None])
    return out


def blend(outputs: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """sum_r w_r(x) out_r(x) for full-size outputs `[B, N, C]` and weights `[R, N]`."""
    result = torch.zeros_like(outputs[0])
    for out, weight in zip(outputs, weights, strict=True):
        result.addcmul_(out, weight[None, :, None])
    return result
