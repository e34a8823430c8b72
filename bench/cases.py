"""Benchmark cases: one Forge transformer block at SD1.5 / SDXL shapes, and its variants.

A variant is a ready-to-call function running the block's cross-attention part (norm2 through
the residual) with transformer options as Forge builds them: plain (no patches), the naive
peer algorithm, ours (with the tensor pool, as the hosts run it, or without), and ours with a
negative line per region (regional uncond rows too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.naive_couple import NaiveCouple
from lib_couple.attention.cross_attention import multihead_attention, pooled
from lib_couple.hosts.patcher import AttentionCouple
from lib_couple.memory.tensor_pool import TensorPool
from tests.doubles.forge_unet import BasicTransformerBlock, CrossAttention, KModel, ModelPatcher

BLOCK = ("input", 1)
# ours is the default set-up (the memory manager lends its pool); ours-nopool is the same without;
# ours-negatives is ours with per-region negative lines, so the uncond rows are regional too.
VARIANTS = ("plain", "naive", "ours", "ours-nopool", "ours-negatives")


@dataclass(frozen=True)
class Level:
    model: str
    channels: int
    heads: int
    tokens: int
    context_dim: int
    image: int  # image side in pixels; the latent is image / 8
    blocks: int = 1  # transformer blocks of the UNet at this level: its weight in a whole step

    @property
    def dim_head(self) -> int:
        return self.channels // self.heads


# Blocks per level: SD1.5 has 2 input and 3 output transformers at each of its three attention
# levels (its middle block's one, at 8x8, is not timed); SDXL has 4 + 6 at 640 channels and
# 20 + 10 (middle) + 30 at 1280.
SD15 = [Level("SD1.5", c, 8, t, 768, 512, 5) for c, t in ((320, 4096), (640, 1024), (1280, 256))]
SDXL = [Level("SDXL", c, c // 64, t, 2048, 1024, b) for c, t, b in ((640, 4096, 10), (1280, 1024, 60))]


@dataclass(frozen=True)
class Case:
    level: Level
    regions: int
    batch: int  # images; the call has 2 * batch rows (CFG: cond_or_uncond [1, 0])

    @property
    def name(self) -> str:
        lv = self.level
        return f"{lv.model} {lv.channels}ch {lv.tokens}tok r{self.regions} b{self.batch}"


class SdpaCrossAttention(CrossAttention):
    """The double's attn2 with PyTorch SDPA, the backend our engine uses: same backend for all."""

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, value: torch.Tensor | None = None
    ) -> torch.Tensor:
        k = self.to_k(context)
        v = self.to_v(context if value is None else value)
        out: torch.Tensor = self.to_out(multihead_attention(self.to_q(x), k, v, self.heads))
        return out


class _Holder(nn.Module):
    """Puts the block where `find_cross_attention_layers` finds it: input_blocks[1]."""

    def __init__(self, block: BasicTransformerBlock) -> None:
        super().__init__()
        wrapper = nn.Module()
        wrapper.transformer_blocks = nn.ModuleList([block])
        self.input_blocks = nn.ModuleList([nn.Identity(), nn.Sequential(wrapper)])


def column_masks(regions: int, side: int) -> torch.Tensor:
    """Equal columns at image resolution, as Basic mode makes them."""
    masks = torch.zeros(regions, side, side)
    edges = [round(i * side / regions) for i in range(regions + 1)]
    for index in range(regions):
        masks[index, :, edges[index] : edges[index + 1]] = 1.0
    return masks


def build_block(level: Level, seed: int = 0) -> BasicTransformerBlock:
    torch.manual_seed(seed)
    block = BasicTransformerBlock(level.channels, level.heads, level.dim_head, level.context_dim)
    sdpa = SdpaCrossAttention(level.channels, level.context_dim, level.heads, level.dim_head)
    sdpa.load_state_dict(block.attn2.state_dict())
    block.attn2 = sdpa
    # Only the cross-attention part is timed: the feed-forward tail becomes x + x, the same
    # small elementwise add for every variant.
    block.norm3 = nn.Identity()  # type: ignore[assignment]
    block.ff = nn.Identity()  # type: ignore[assignment]
    return block.eval()


Runner = Callable[[], torch.Tensor]


@dataclass
class Prepared:
    case: Case
    runners: dict[str, Runner]
    pool: TensorPool


def _options(patcher: ModelPatcher, case: Case) -> dict[str, Any]:
    options = dict(patcher.model_options["transformer_options"])
    latent = case.level.image // 8
    options.update(
        block=BLOCK,
        block_index=0,
        original_shape=[2 * case.batch, 4, latent, latent],
        cond_or_uncond=[1, 0],
    )
    return options


def prepare(case: Case, variants: tuple[str, ...] = VARIANTS, seed: int = 0) -> Prepared:
    level = case.level
    block = build_block(level, seed)
    patcher = ModelPatcher(KModel(_Holder(block)))
    generator = torch.Generator().manual_seed(seed + 1)
    rows = 2 * case.batch
    x = torch.randn(rows, level.tokens, level.channels, generator=generator)
    context = torch.randn(rows, 77, level.context_dim, generator=generator)
    conds = [torch.randn(1, 77, level.context_dim, generator=generator) for _ in range(case.regions)]
    negatives = [torch.randn(1, 77, level.context_dim, generator=generator) for _ in range(case.regions)]
    masks = column_masks(case.regions, level.image)
    pool = TensorPool()

    def runner(patched: ModelPatcher, pool_used: TensorPool | None) -> Runner:
        options = _options(patched, case)

        def run() -> torch.Tensor:
            scope: AbstractContextManager[Any] = pooled(pool_used) if pool_used else nullcontext()
            with torch.no_grad(), scope:
                out: torch.Tensor = block(x, context, dict(options))
            return out

        return run

    made: dict[str, Runner] = {}
    for name in variants:
        if name == "plain":
            made[name] = runner(patcher, None)
        elif name == "naive":
            made[name] = runner(NaiveCouple(conds, masks).patch_unet(patcher), None)
        else:
            lines = negatives if name == "ours-negatives" else None
            patched = AttentionCouple(conds, masks, negatives=lines).patch_unet(patcher)
            made[name] = runner(patched, None if name == "ours-nopool" else pool)
    return Prepared(case, made, pool)


def all_cases(regions: tuple[int, ...], batches: tuple[int, ...], levels: list[Level]) -> Iterator[Case]:
    for level in levels:
        for batch in batches:
            for count in regions:
                yield Case(level, count, batch)
