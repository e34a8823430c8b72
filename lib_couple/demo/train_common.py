"""What both demo trainers share: schedules, the EMA, atomic checkpoints, the encoded scenes and
their plain batches (the joint training loop is `train_loop.py`)."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from diffusers import AutoencoderTiny
from tqdm import tqdm

from lib_couple.demo.model import tokenize
from lib_couple.demo.shapes import make_batch
from lib_couple.demo.tokenizer import build_tokenizer


@dataclass(frozen=True)
class LatentSet:
    """Normalised latents and the token ids of their captions."""

    latents: torch.Tensor
    ids: torch.Tensor


class JointSettings(Protocol):
    """What the joint stage (`plain_batch`, `train_loop.JointTraining`) reads of a trainer's
    settings: `TrainConfig`'s and `FluxTrainConfig`'s fields of these names."""

    @property
    def minutes(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def warmup_steps(self) -> int: ...
    @property
    def ema_decay(self) -> float: ...
    @property
    def log_every(self) -> int: ...
    @property
    def checkpoint_seconds(self) -> float: ...
    @property
    def batch(self) -> int: ...
    @property
    def high_res_batch(self) -> int: ...
    @property
    def high_res_every(self) -> int: ...
    @property
    def caption_dropout(self) -> float: ...


def plain_batch(
    settings: JointSettings,
    step: int,
    sets: tuple[LatentSet, LatentSet],
    generator: torch.Generator,
    uncond_ids: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole-caption batch at 128 px or (every `high_res_every`) 256 px, with caption dropout:
    latents and ids, a `caption_dropout` share of the captions replaced by the empty one's."""
    low, high = sets
    high_res = step % settings.high_res_every == settings.high_res_every - 1
    data, batch = (high, settings.high_res_batch) if high_res else (low, settings.batch)
    index = torch.randint(0, data.latents.shape[0], (batch,), generator=generator)
    ids = data.ids[index].clone()
    ids[torch.rand(batch, generator=generator) < settings.caption_dropout] = uncond_ids
    return data.latents[index], ids


def linear_warmup(step: int, warmup: int) -> float:
    """Learning-rate factor: linear ramp, then constant (the EMA does the averaging)."""
    return min(1.0, (step + 1) / warmup)


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter."""
    with torch.no_grad():
        for target, source in zip(ema.parameters(), model.parameters(), strict=False):
            target.lerp_(source, 1.0 - decay)


def save_atomic(payload: object, path: Path) -> None:
    # A crash while writing must not destroy the previous checkpoint.
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def cosine_lr(base: float, fraction: float, floor: float = 0.05) -> float:
    """Cosine decay from `base` to `floor * base` as `fraction` goes from 0 to 1."""
    fraction = min(max(fraction, 0.0), 1.0)
    return base * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * fraction)))


@torch.no_grad()
def encode_dataset(
    vae: AutoencoderTiny, seed: int, count: int, size: int, chunk: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw latents and token ids of `count` fresh scenes at `size` px."""
    tokenizer = build_tokenizer()
    vae.to(memory_format=torch.channels_last)  # about 1.6x faster convolutions on CPU
    latents: list[torch.Tensor] = []
    ids: list[torch.Tensor] = []
    for index in tqdm(range(0, count, chunk), desc=f"encode {size}px", mininterval=20.0, file=sys.stdout):
        images, captions = make_batch(seed + index, min(chunk, count - index), size)
        batch = torch.from_numpy(images).to(memory_format=torch.channels_last)
        latents.append(vae.encode(batch).latents.contiguous())
        ids.append(tokenize(tokenizer, captions))
    vae.to(memory_format=torch.contiguous_format)
    return torch.cat(latents), torch.cat(ids)
