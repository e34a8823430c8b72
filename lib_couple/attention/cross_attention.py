"""Cross-attention as pure functions of tensors: plain and regional."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn.functional as F

from lib_couple.memory.tensor_pool import TensorPool
from lib_couple.token_masks import TokenWeights

# The pool regional attention borrows scratch buffers from, when a caller opts in with `pooled`.
_POOL: ContextVar[TensorPool | None] = ContextVar("forge_couple_pool", default=None)


@contextmanager
def pooled(pool: TensorPool) -> Iterator[TensorPool]:
    """Regional attention calls inside the block borrow their scratch buffers from `pool`."""
    token = _POOL.set(pool)
    try:
        yield pool
    finally:
        _POOL.reset(token)


# (q [B, N, heads*d], k and v [B, T, heads*d], heads) -> [B, N, heads*d]: PyTorch's SDPA below,
# or a host's own (Forge's attention_function follows the user's --attention-* choice).
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


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
    pool: TensorPool | None = None,
    out: torch.Tensor | None = None,
    attention: AttentionFn = multihead_attention,
) -> torch.Tensor:
    """out(x) = sum_r w_r(x) Attn(q(x), K_r, V_r), with masks normalised per token.

    Each region attends only with the query tokens it covers: a token of weight 0 contributes
    nothing, so skipping it is exact and the attention work follows covered area. When the
    regions partition the tokens with weight 1 their outputs are written, not summed. `out`, if
    given, receives the result (a view of the caller's buffer saves a copy); scratch buffers come
    from `pool` (or the one set by `pooled`) when there is one.
    """
    pool = pool if pool is not None else _POOL.get()
    if out is None:
        out = torch.empty_like(q) if weights.partition else torch.zeros_like(q)
    elif not weights.partition:
        out.zero_()
    for (k, v), covered, scale in zip(region_kv, weights.covered, weights.scales, strict=True):
        if covered is None:
            part = attention(q, *_batched(k, v, q.shape[0]), heads)
            out.add_(part) if scale is None else out.addcmul_(part, scale)
        elif covered.numel():
            part = _covered_attention(q, covered, *_batched(k, v, q.shape[0]), heads, pool, attention)
            if weights.partition:
                out.index_copy_(1, covered, part)
            else:
                out.index_add_(1, covered, part if scale is None else _scaled(part, scale))
    return out


def _scaled(part: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # In place saves an allocation, but not on a tensor autograd may have saved.
    return part * scale if part.requires_grad else part.mul_(scale)


def _covered_attention(
    q: torch.Tensor,
    covered: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    heads: int,
    pool: TensorPool | None,
    attention: AttentionFn,
) -> torch.Tensor:
    if pool is None:
        return attention(q[:, covered], k, v, heads)
    shape = (q.shape[0], covered.numel(), q.shape[2])
    with pool.borrowed(shape, q.dtype, q.device) as gathered:
        torch.index_select(q, 1, covered, out=gathered)
        return attention(gathered, k, v, heads)


def _batched(k: torch.Tensor, v: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A region's keys and values `[1, T, C]` for every row: host attention functions want B rows."""
    return k.expand(batch, -1, -1), v.expand(batch, -1, -1)


def blend(outputs: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """sum_r w_r(x) out_r(x) for full-size outputs `[B, N, C]` and weights `[R, N]`."""
    result = torch.zeros_like(outputs[0])
    for out, weight in zip(outputs, weights, strict=True):
        result.addcmul_(out, weight[None, :, None])
    return result
