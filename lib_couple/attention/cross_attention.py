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


def current_pool() -> TensorPool | None:
    """The pool set by `pooled`, if any."""
    return _POOL.get()


# (q [B, N, heads*d], k and v [B, T, heads*d], heads) -> [B, N, heads*d]: PyTorch's SDPA below,
# or a host's own (Forge's attention_function follows the user's --attention-* choice).
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


def multihead_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Scaled dot-product attention of `[B, N, heads*d]` queries over `[B or 1, T, heads*d]` keys."""
    batch, tokens, inner = q.shape
    return _sdpa_heads(q, k, v, heads).reshape(batch, tokens, inner)


def _sdpa_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """PyTorch SDPA's result as a `[B, N, heads, d]` view: writing it to its place is its only copy."""
    batch, tokens, inner = q.shape
    dim_head = inner // heads
    q = q.view(batch, tokens, heads, dim_head).transpose(1, 2)
    k = k.expand(batch, -1, -1).reshape(batch, -1, heads, dim_head).transpose(1, 2)
    v = v.expand(batch, -1, -1).reshape(batch, -1, heads, dim_head).transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2)


def attention_heads(
    attention: AttentionFn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int
) -> torch.Tensor:
    """`attention`'s result as `[B, N, heads, d]`; for PyTorch SDPA a view, with no copy made."""
    if attention is multihead_attention:
        return _sdpa_heads(q, k, v, heads)
    batch, tokens, inner = q.shape
    return attention(q, k, v, heads).view(batch, tokens, heads, inner // heads)


def attend_into(
    out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, attention: AttentionFn
) -> None:
    """Plain attention written into `out` `[B, N, heads*d]`, a view of the caller's buffer."""
    out.view(*out.shape[:2], heads, -1).copy_(attention_heads(attention, q, k, v, heads))


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
    batch, tokens, inner = q.shape
    # Outputs land through a [B, N, heads, d] view, so SDPA's result is copied once, into place.
    out_heads = out.view(batch, tokens, heads, inner // heads)
    for (k, v), covered, scale in zip(region_kv, weights.covered, weights.scales, strict=True):
        k, v = _batched(k, v, batch)
        if covered is None:
            part = attention_heads(attention, q, k, v, heads)
            out_heads.add_(part) if scale is None else out_heads.addcmul_(part, scale[..., None])
        elif covered.numel():
            part = _covered_attention(q, covered, k, v, heads, pool, attention)
            if weights.partition:
                out_heads.index_copy_(1, covered, part)
            else:
                out_heads.index_add_(1, covered, part if scale is None else _scaled(part, scale[..., None]))
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
    """Attention of the covered query tokens only, as `[B, n, heads, d]`."""
    if pool is None:
        return attention_heads(attention, q[:, covered], k, v, heads)
    shape = (q.shape[0], covered.numel(), q.shape[2])
    with pool.borrowed(shape, q.dtype, q.device) as gathered:
        torch.index_select(q, 1, covered, out=gathered)
        return attention_heads(attention, gathered, k, v, heads)


def _batched(k: torch.Tensor, v: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A region's keys and values `[1, T, C]` for every row: host attention functions want B rows."""
    return k.expand(batch, -1, -1), v.expand(batch, -1, -1)


def blend(outputs: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """sum_r w_r(x) out_r(x) for full-size outputs `[B, N, C]` and weights `[R, N]`."""
    result = torch.zeros_like(outputs[0])
    for out, weight in zip(outputs, weights, strict=True):
        result.addcmul_(out, weight[None, :, None])
    return result
