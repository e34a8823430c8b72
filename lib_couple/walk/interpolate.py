"""Lerp and slerp of tensors and of SD1.5 / SDXL / Flux conditionings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch

Conditioning = torch.Tensor | Mapping[str, torch.Tensor]
Architecture = Literal["sd15", "sdxl", "flux"]
Method = Literal["lerp", "slerp"]
ScalarMode = Literal["keep", "lerp"]

SDXL_POOLED = 1280  # Forge's SDXL `vector` = pooled CLIP-G (1280) ‖ 6 size/crop embeddings (6 x 256)
PARALLEL_COS = 0.9995  # Prompt Travel's threshold: above it the slerp weights lose precision
ZERO_NORM = 1e-8


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation (1 - t)·a + t·b."""
    if t == 0.0:
        return a.clone()
    if t == 1.0:
        return b.clone()
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (Shoemake) of each vector along the last dim; lerp where it is undefined.

    The angle comes from the normalised vectors, the weights sin((1-t)θ)/sinθ and sin(tθ)/sinθ are
    applied to the raw vectors (as Prompt Travel does): unit vectors stay unit, and vectors of equal
    norm keep that norm. Rows where either vector is (near) zero or the two are (anti)parallel
    within PARALLEL_COS fall back to lerp, so no NaN appears.
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    if t == 0.0:
        return a.clone()
    if t == 1.0:
        return b.clone()
    work = torch.promote_types(a.dtype, torch.float32)
    wa, wb = a.to(work), b.to(work)
    norm_a = wa.norm(dim=-1, keepdim=True)
    norm_b = wb.norm(dim=-1, keepdim=True)
    degenerate = (norm_a < ZERO_NORM) | (norm_b < ZERO_NORM)
    cos = ((wa / norm_a.clamp_min(ZERO_NORM)) * (wb / norm_b.clamp_min(ZERO_NORM))).sum(-1, keepdim=True)
    cos = cos.clamp(-1.0, 1.0)
    degenerate |= cos.abs() > PARALLEL_COS
    theta = torch.arccos(torch.where(degenerate, torch.zeros_like(cos), cos))
    sin_theta = torch.where(degenerate, torch.ones_like(theta), torch.sin(theta))
    weight_a = torch.where(
        degenerate, torch.full_like(theta, 1.0 - t), torch.sin((1.0 - t) * theta) / sin_theta
    )
    weight_b = torch.where(degenerate, torch.full_like(theta, t), torch.sin(t * theta) / sin_theta)
    return (weight_a * wa + weight_b * wb).to(a.dtype)


def slerp_flat(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Slerp of the whole tensor as one vector (one angle for all elements)."""
    return slerp(a.reshape(1, -1), b.reshape(1, -1), t).reshape(a.shape)


def blend(a: torch.Tensor, b: torch.Tensor, t: float, method: Method) -> torch.Tensor:
    """Lerp or per-vector slerp by name."""
    return slerp(a, b, t) if method == "slerp" else lerp(a, b, t)


def equalise_tokens(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring two [..., L, D] token sequences to one length without zero padding.

    If the longer length is a multiple of the shorter (77 vs 154: CLIP chunks), the shorter sequence's
    whole chunks are repeated, as Forge repeats conds to a common multiple. Otherwise (Flux T5: 256 vs
    300) the shorter is padded with copies of its own last token, which is that prompt's EOS/padding
    embedding, so the extra tokens look like the padding the encoder would have produced.
    """
    la, lb = a.shape[-2], b.shape[-2]
    if la == lb:
        return a, b
    if la > lb:
        return a, _stretch(b, la)
    return _stretch(a, lb), b


def _stretch(short: torch.Tensor, length: int) -> torch.Tensor:
    """Repeat whole chunks when `length` is a multiple, else pad with the last token."""
    current = short.shape[-2]
    if length % current == 0:
        return torch.cat([short] * (length // current), dim=-2)
    last = short[..., -1:, :]
    repeats = [1] * short.dim()
    repeats[-2] = length - current
    return torch.cat([short, last.repeat(*repeats)], dim=-2)


def interpolate_tokens(a: torch.Tensor, b: torch.Tensor, t: float, method: Method) -> torch.Tensor:
    """Per-token interpolation of [..., L, D] sequences after equalising their lengths."""
    a, b = equalise_tokens(a, b)
    return blend(a, b, t, method)


def interpolate_sdxl_vector(
    a: torch.Tensor, b: torch.Tensor, t: float, method: Method, sizes: ScalarMode = "keep"
) -> torch.Tensor:
    """SDXL `vector`: blend the pooled slice only; size embeddings kept from `a` or lerped, never slerped."""
    pooled = blend(a[..., :SDXL_POOLED], b[..., :SDXL_POOLED], t, method)
    rest = (
        a[..., SDXL_POOLED:].clone()
        if sizes == "keep"
        else lerp(a[..., SDXL_POOLED:], b[..., SDXL_POOLED:], t)
    )
    return torch.cat([pooled, rest], dim=-1)


def interpolate_conditioning(
    a: Conditioning,
    b: Conditioning,
    t: float,
    architecture: Architecture,
    method: Method = "slerp",
    scalars: ScalarMode = "keep",
) -> Conditioning:
    """Interpolate two conditionings of one architecture, each part by the rule that suits it.

    sd15: per-token blend. sdxl: `crossattn` per token, `vector` via `interpolate_sdxl_vector`.
    flux: `crossattn` per token, `vector` (pooled CLIP-L) blended, `guidance` kept from `a` or
    lerped (`scalars`), never slerped. Unknown keys are an error rather than silently copied.
    """
    if architecture == "sd15":
        if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
            raise TypeError("sd15 conditionings are tensors [N, L, 768]")
        return interpolate_tokens(a, b, t, method)
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        raise TypeError(f"{architecture} conditionings are dicts with 'crossattn' and 'vector'")
    if set(a) != set(b):
        raise ValueError(f"conditionings have different keys: {sorted(a)} vs {sorted(b)}")
    allowed = {"crossattn", "vector"} | ({"guidance"} if architecture == "flux" else set())
    if unknown := set(a) - allowed:
        raise ValueError(f"unknown {architecture} conditioning keys: {sorted(unknown)}")
    out = {"crossattn": interpolate_tokens(a["crossattn"], b["crossattn"], t, method)}
    if architecture == "sdxl":
        out["vector"] = interpolate_sdxl_vector(a["vector"], b["vector"], t, method, scalars)
    else:
        out["vector"] = blend(a["vector"], b["vector"], t, method)
    if "guidance" in a:
        out["guidance"] = (
            a["guidance"].clone() if scalars == "keep" else lerp(a["guidance"], b["guidance"], t)
        )
    return out
