"""What the region tests share: line names, the background split, weight strategies."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from lib_couple.regions import MAX_WEIGHT, RegionPlan

image_side = st.integers(64 // 8, 1024 // 8).map(lambda n: n * 8)
weights = st.floats(0.0, MAX_WEIGHT, allow_nan=False)


def names(count: int) -> list[str]:
    return [f"line {index}" for index in range(count)]


def split_background(plan: RegionPlan, background: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    if background == "First Line":
        return plan.masks[1:], plan.masks[0]
    if background == "Last Line":
        return plan.masks[:-1], plan.masks[-1]
    return plan.masks, None
