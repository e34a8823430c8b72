"""The joint-attention mask of a Flux-class transformer: regions over `[txt(own) ; txt(1..R) ; img]`.

Pure functions of the region weights at the image-token grid (`token_masks.token_weights`) and the
text lengths. The rules (DIT_REGIONAL_FACTS 1.1, 1.3, 1.9):

- an image token attends to the text of each region that covers it, with a bias `log(w * n)` (w
  its normalised weight, n the number of regions covering it), so equal weights add nothing and
  Advanced/background weights keep their meaning; uncovered tokens (the fallback) attend to the
  call's own text (the whole prompt), and all tokens do with `global_everywhere`;
- a region's text sees itself and its own image tokens; the own text sees itself and the image
  tokens that see it; no text sees another's;
- image tokens attend to every image token ("free", the default, InvokeAI's fix against "two
  disconnected images") or only to those sharing a region with them ("region");
- every query row keeps at least itself, so no row is fully masked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lib_couple.errors import CoupleError

ImageAttention = Literal["free", "region"]
BlockChoice = Literal["all", "every-other", "range"]
IMAGE_ATTENTION: tuple[ImageAttention, ...] = ("free", "region")
BLOCK_CHOICES: tuple[BlockChoice, ...] = ("all", "every-other", "range")
# The dense mask is (T+I)^2: refuse sizes whose mask alone would pass this many entries.
MAX_MASK_ENTRIES = 16384**2
PATCH = 2  # Flux patchifies the (padded) latent 2 x 2


@dataclass(frozen=True)
class JointControls:
    """Where and how strongly the regional mask applies (defaults after instantX and InvokeAI).

    `blocks`: all, every other (even indices, as InvokeAI), or the indices `block_range` of the
    double and single blocks counted as one sequence (doubles first). `steps`: the share of the
    schedule, from its start, that is masked (by the model's percent-to-sigma, as ComfyUI's
    start/end percent). `base_ratio`: blend of the image stream with the unmasked block
    (instantX's `base_ratio`; 0 costs nothing). `image_attention`: see the module docstring.
    """

    blocks: BlockChoice = "all"
    block_range: tuple[int, int] = (0, 57)
    steps: float = 0.4
    base_ratio: float = 0.0
    image_attention: ImageAttention = "free"
    global_everywhere: bool = False

    def __post_init__(self) -> None:
        if self.blocks not in BLOCK_CHOICES:
            raise CoupleError(f"flux blocks must be one of {', '.join(BLOCK_CHOICES)}, got {self.blocks!r}")
        start, stop = self.block_range
        if not 0 <= start < stop <= 1024:
            raise CoupleError(f"flux block range must be 0 <= start < stop <= 1024, got {self.block_range}")
        if not 0.0 <= self.steps <= 1.0:
            raise CoupleError(f"flux steps share must be within 0..1, got {self.steps}")
        if not 0.0 <= self.base_ratio < 1.0:
            raise CoupleError(f"flux base ratio must be within 0..1 (1 excluded), got {self.base_ratio}")
        if self.image_attention not in IMAGE_ATTENTION:
            raise CoupleError(
                f"flux image attention must be one of {', '.join(IMAGE_ATTENTION)}, "
                f"got {self.image_attention!r}"
            )

    def masks_block(self, index: int) -> bool:
        """Whether block `index` (doubles then singles, from 0) gets the regional mask."""
        if self.blocks == "all":
            return True
        if self.blocks == "every-other":
            return index % 2 == 0
        return self.block_range[0] <= index < self.block_range[1]


def image_grid(latent_height: int, latent_width: int, patch: int = PATCH) -> tuple[int, int]:
    """The image-token grid of a latent: padded to a multiple of the patch, then patchified."""
    if latent_height < 1 or latent_width < 1:
        raise CoupleError(f"latent size {latent_height}x{latent_width} is empty")
    return -(-latent_height // patch), -(-latent_width // patch)


def joint_mask(
    weights: torch.Tensor,
    region_tokens: Sequence[int],
    own_tokens: int,
    *,
    has_fallback: bool,
    image_attention: ImageAttention = "free",
    global_everywhere: bool = False,
) -> torch.Tensor:
    """The additive mask `[L, L]` (0, log-weight bias, -inf), L = own + sum(region) + I.

    `weights` is `[S, I]`: one row per region, plus the fallback's last when `has_fallback`
    (as `token_weights` makes them), normalised per image token.
    """
    regions = len(region_tokens)
    if weights.ndim != 2 or weights.shape[0] != regions + int(has_fallback):
        raise CoupleError(
            f"internal: {regions} regions (fallback {has_fallback}) "
            f"but weights of shape {tuple(weights.shape)}"
        )
    if own_tokens < 1 or any(t < 1 for t in region_tokens):
        raise CoupleError(
            f"text lengths must be positive, got own {own_tokens}, regions {list(region_tokens)}"
        )
    images = weights.shape[1]
    text = own_tokens + sum(region_tokens)
    length = text + images
    if length * length > MAX_MASK_ENTRIES:
        raise CoupleError(
            f"the joint mask of {length} tokens is too large; use fewer or shorter region lines"
        )
    w = weights.float()
    covered = w > 0  # [S, I]
    count = covered.sum(dim=0).clamp(min=1).float()  # [I]
    bias = torch.where(covered, torch.log((w * count).clamp(min=1e-30)), torch.full_like(w, -math.inf))
    mask = torch.full((length, length), -math.inf)
    # slots: region r's text, then the fallback's (the own text); the own text's bias row
    starts = [own_tokens + sum(region_tokens[:r]) for r in range(regions)]
    spans = [(s, s + t) for s, t in zip(starts, region_tokens, strict=True)]
    own_bias = bias[regions] if has_fallback else torch.full((images,), -math.inf)
    if global_everywhere:
        own_bias = torch.where(torch.isfinite(own_bias), own_bias, torch.zeros_like(own_bias))
    img = slice(text, length)
    for (start, stop), row in zip([(0, own_tokens), *spans], [own_bias, *bias[:regions]], strict=True):
        mask[start:stop, start:stop] = 0.0  # a text sees itself
        seen = torch.isfinite(row)
        mask[img, start:stop] = row[:, None]  # image -> its texts, with the weight bias
        mask[start:stop, img] = torch.where(seen, 0.0, -math.inf)[None, :]  # text -> its image tokens
    if image_attention == "free":
        mask[img, img] = 0.0
    else:
        slots = covered.float()
        shared = (slots.T @ slots) > 0  # [I, I]: some region holds both
        mask[img, img] = torch.where(shared, 0.0, -math.inf)
    if not bool(torch.isfinite(mask).any(dim=1).all()):
        raise CoupleError("internal: a query row of the joint mask is fully masked")
    return mask


def trim_text(cond: torch.Tensor, tokens: int | None, padding: int) -> torch.Tensor:
    """A region line's T5 encoding `[1, T, D]` cut to its `tokens` real tokens plus `padding` pads.

    Forge pads every T5 line to 256 (or 512) tokens, so each region would add that many to the
    joint sequence; the pads after the first few carry little. `tokens` None: the host cannot tell.
    """
    if tokens is None or tokens < 1:
        return cond
    return cond[:, : min(int(cond.shape[1]), tokens + max(0, padding))]


def pad_text(mask: torch.Tensor, text: int, padded_text: int) -> torch.Tensor:
    """The mask of a row whose text is zero-padded from `text` to `padded_text` tokens.

    Pad tokens sit between the text and the image; no query sees them and they see only themselves.
    """
    if padded_text == text:
        return mask
    if padded_text < text:
        raise CoupleError(f"internal: cannot pad {text} text tokens to {padded_text}")
    length = mask.shape[0] + padded_text - text
    out = torch.full((length, length), -math.inf, dtype=mask.dtype, device=mask.device)
    keep = torch.cat([torch.arange(text), torch.arange(padded_text, length)]).to(mask.device)
    out[keep[:, None], keep[None, :]] = mask
    pads = torch.arange(text, padded_text, device=mask.device)
    out[pads, pads] = 0.0
    return out


def plain_mask(own_tokens: int, padded_text: int, images: int) -> torch.Tensor:
    """The mask of an unregioned row (uncond) whose text was padded: plain attention, pads hidden."""
    return pad_text(torch.zeros(own_tokens + images, own_tokens + images), own_tokens, padded_text)


def for_backend(mask: torch.Tensor, dtype: torch.dtype, as_bool: bool = False) -> torch.Tensor:
    """The additive mask in the attention's dtype, or as `allowed` booleans (only when it is 0/-inf)."""
    if as_bool:
        finite = torch.isfinite(mask)
        if bool((mask[finite] != 0).any()):
            raise CoupleError("internal: a weighted joint mask has no boolean form")
        return finite
    return mask.to(dtype)


class JointMaskCache:
    """Masks built once per key (size, layout, device, dtype) for one generation."""

    def __init__(self) -> None:
        self._masks: dict[Hashable, torch.Tensor] = {}

    def get(self, key: Hashable, build: Callable[[], torch.Tensor]) -> torch.Tensor:
        if key not in self._masks:
            self._masks[key] = build()
        return self._masks[key]

    def clear(self) -> None:
        self._masks.clear()

    def __len__(self) -> int:
        return len(self._masks)


@dataclass(frozen=True)
class AttentionGroups:
    """Query rows that share one mask row, each group attended over its allowed keys only.

    Exact: softmax over the allowed keys (with the row's weight bias, where it has one) equals
    softmax with the others at -inf. Attention work follows the allowed pairs, not L^2, and a
    group without a bias needs no mask at all (flash kernels apply)."""

    # (query rows, key columns, the bias over those keys or None where it is all 0)
    groups: tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None], ...]
    length: int

    def to(self, device: torch.device, dtype: torch.dtype) -> AttentionGroups:
        return AttentionGroups(
            tuple(
                (r.to(device), c.to(device), None if b is None else b.to(device, dtype))
                for r, c, b in self.groups
            ),
            self.length,
        )


# More distinct rows than this and the dense mask is the better form.
MAX_GROUPS = 64


def attention_groups(mask: torch.Tensor) -> AttentionGroups | None:
    """The mask as groups of equal rows; None where it has more than MAX_GROUPS distinct rows."""
    allowed = torch.isfinite(mask)
    generator = torch.Generator().manual_seed(0)
    probes = torch.rand(mask.shape[1], 2, generator=generator, dtype=torch.float64)
    values = torch.where(allowed, mask.double(), torch.zeros((), dtype=torch.float64))
    signature = torch.stack([allowed.double() @ probes[:, 0], values @ probes[:, 1]], dim=1)
    distinct, inverse = torch.unique(signature, dim=0, return_inverse=True)
    if len(distinct) > MAX_GROUPS:
        return None
    groups = []
    for index in range(len(distinct)):
        rows = torch.nonzero(inverse == index).flatten()
        keys = torch.nonzero(allowed[rows[0]]).flatten()
        bias = mask[rows[0], keys]
        groups.append((rows, keys, None if bool((bias == 0).all()) else bias))
    return AttentionGroups(tuple(groups), int(mask.shape[0]))


def grouped_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, groups: AttentionGroups
) -> torch.Tensor:
    """Attention of `[B, H, L, D]` heads group by group: equal to SDPA with the groups' mask."""
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    for rows, keys, bias in groups.groups:
        out[:, :, rows] = F.scaled_dot_product_attention(
            q[:, :, rows],
            k[:, :, keys],
            v[:, :, keys],
            attn_mask=None if bias is None else bias.to(q.dtype)[None],
        )
    return out


MaskForm = torch.Tensor | AttentionGroups  # a dense additive [1, 1, L, L] mask, or groups


def _attend_form(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, form: MaskForm) -> torch.Tensor:
    if isinstance(form, AttentionGroups):
        return grouped_attention(q, k, v, form)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=form.to(q.dtype))


@dataclass(frozen=True)
class RowPlan:
    """A call's joint attention by batch rows: each set of rows (None: all) with its mask form."""

    parts: tuple[tuple[torch.Tensor | None, MaskForm], ...]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """`[B, H, L, D]` heads attended row set by row set."""
        if len(self.parts) == 1 and self.parts[0][0] is None:
            return _attend_form(q, k, v, self.parts[0][1])
        out = q.new_empty(*q.shape[:-1], v.shape[-1])
        for rows, form in self.parts:
            out[rows] = _attend_form(q[rows], k[rows], v[rows], form)
        return out


def row_plan(
    row_keys: Sequence[Hashable],
    mask_of: Callable[[Hashable], torch.Tensor],
    device: torch.device,
    dtype: torch.dtype,
    grouped: bool = True,
) -> RowPlan:
    """The plan of a batch whose row i uses the mask `mask_of(row_keys[i])`: groups where exact."""
    distinct = list(dict.fromkeys(row_keys))
    parts: list[tuple[torch.Tensor | None, MaskForm]] = []
    for key in distinct:
        rows = None
        if len(distinct) > 1:
            rows = torch.tensor([i for i, k in enumerate(row_keys) if k == key], device=device)
        mask = mask_of(key)
        groups = attention_groups(mask) if grouped else None
        parts.append(
            (rows, groups.to(device, dtype) if groups is not None else mask.to(device, dtype)[None, None])
        )
    return RowPlan(tuple(parts))
