"""Initial noise between seeds, by slerp so the variance stays that of a unit Gaussian."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lib_couple.walk.interpolate import slerp


def seeded_noise(seed: int, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard Gaussian noise from a CPU generator, so a seed gives the same noise on every device."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator).to(dtype)


def slerp_noise(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Slerp of each batch item's noise as one flattened vector ([B, ...] -> one angle per item).

    Two independent Gaussians are almost orthogonal, so the weights sum of squares is ~1 and the
    std stays ~1, where lerp would shrink the variance to t² + (1-t)² (0.5 at the midpoint).
    """
    if a.dim() < 2:
        return slerp(a.reshape(1, -1), b.reshape(1, -1), t).reshape(a.shape)
    return slerp(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1), t).reshape(a.shape)


def noise_between(
    seed_a: int, seed_b: int, t: float, shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The noise at fraction `t` of the way from seed_a's noise to seed_b's."""
    if seed_a == seed_b:
        return seeded_noise(seed_a, shape, dtype)
    return slerp_noise(seeded_noise(seed_a, shape), seeded_noise(seed_b, shape), t).to(dtype)
