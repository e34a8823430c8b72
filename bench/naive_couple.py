"""The naive attention-couple algorithm, as the peer extension runs it: the baseline.

Per cross-attention call it repeats the query once per region plus a zero-weighted base pass,
projects q, k, v and the output for every copy, and resizes the masks again; the grid is
guessed from a log2 of the token count, so only sizes that halve evenly work. Used by the
benchmarks for comparison and by the tests as an independent reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F


def _repeat_to(t: torch.Tensor, length: int) -> torch.Tensor:
    return t.repeat(1, length // t.shape[1], 1)


class NaiveCouple:
    """attn2_patch + attn2_output_patch pair implementing the peer's algorithm."""

    def __init__(self, conds: Sequence[torch.Tensor], masks: torch.Tensor) -> None:
        self.conds = list(conds)
        base = torch.zeros_like(masks[:1])
        stacked = torch.cat([base, masks.float()])
        total = stacked.sum(dim=0, keepdim=True)
        if bool((total <= 0).any()):
            raise ValueError("masks must cover every pixel")
        self.masks = stacked / total  # [R + 1, H, W], base weight 0

    def attn2_patch(
        self, n: torch.Tensor, context: torch.Tensor, value: torch.Tensor, extra: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cond_or_uncond = extra["cond_or_uncond"]
        size = n.shape[0] // len(cond_or_uncond)
        copies = len(self.conds) + 1
        conds = [c.to(context) for c in self.conds]
        length = math.lcm(context.shape[1], *(c.shape[1] for c in conds))
        qs, ks = [], []
        for index, kind in enumerate(cond_or_uncond):
            rows = slice(index * size, (index + 1) * size)
            if kind == 1:
                qs.append(n[rows])
                ks.append(_repeat_to(context[rows], length))
            else:
                qs.append(n[rows].repeat(copies, 1, 1))
                ks.append(
                    torch.cat(
                        [_repeat_to(context[rows], length)]
                        + [_repeat_to(c, length).repeat(size, 1, 1) for c in conds]
                    )
                )
        k = torch.cat(ks)
        return torch.cat(qs), k, k

    def attn2_output_patch(self, out: torch.Tensor, extra: dict[str, Any]) -> torch.Tensor:
        cond_or_uncond = extra["cond_or_uncond"]
        height, width = extra["original_shape"][2:4]
        tokens = out.shape[1]
        scale = math.ceil(math.log2(math.sqrt(height * width / tokens)))
        size = (math.ceil(height / 2**scale), math.ceil(width / 2**scale))
        masks = F.interpolate(self.masks[None].to(out), size=size, mode="nearest")[0]
        masks = masks.view(masks.shape[0], tokens, 1)
        copies = len(self.conds) + 1
        batch = out.shape[0] // (cond_or_uncond.count(1) + copies * cond_or_uncond.count(0))
        outputs, position = [], 0
        for kind in cond_or_uncond:
            if kind == 1:
                outputs.append(out[position : position + batch])
                position += batch
            else:
                chunk = out[position : position + copies * batch].view(copies, batch, tokens, -1)
                outputs.append((chunk * masks[:, None]).sum(dim=0))
                position += copies * batch
        return torch.cat(outputs)

    def patch_unet(self, unet: Any) -> Any:
        patched = unet.clone()
        patched.set_model_attn2_patch(self.attn2_patch)
        patched.set_model_attn2_output_patch(self.attn2_output_patch)
        return patched
