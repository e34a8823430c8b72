"""A stop check inside the demo UNet's forward, for one sampling only (the explorer's background
frames): a real request that cancels such a frame then waits for the UNet block in progress,
not for the whole sampling step (`bench/ahead_yield.py` times both; docs/WALK.md).

The checks are forward pre-hooks on the UNet instance's inner blocks, added for that sampling
and removed when it ends; they act only on the thread that added them. A background sampling
holds the model's lock while they are on (`hosts/model_lock.py`), so no other sampling runs the
UNet meanwhile, and every other sampling runs the UNet exactly as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from diffusers import UNet2DConditionModel


class SamplingStopped(Exception):  # noqa: N818 (a stop, not an error)
    """Raised inside the UNet when the sampling's stop check answers True: the step in progress
    is abandoned."""


def inner_blocks(unet: UNet2DConditionModel) -> list[torch.nn.Module]:
    """The UNet's resnets, attentions and resamplers, each block's parts in order: the places a
    check goes (a check costs next to nothing; the largest part is about a tenth of a step)."""
    blocks = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    parts: list[torch.nn.Module] = []
    for block in blocks:
        if block is None:
            continue
        for child in block.children():
            parts.extend(child if isinstance(child, torch.nn.ModuleList) else [child])
    return parts


@contextmanager
def stop_checked(unet: UNet2DConditionModel, stop: Callable[[], bool]) -> Iterator[None]:
    """While inside, each inner block of `unet` run on this thread first asks `stop()` and raises
    SamplingStopped when it answers True; the checks are gone afterwards."""
    owner = threading.get_ident()

    def check(module: torch.nn.Module, args: object) -> None:
        if threading.get_ident() == owner and stop():
            raise SamplingStopped

    handles = [part.register_forward_pre_hook(check) for part in inner_blocks(unet)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
