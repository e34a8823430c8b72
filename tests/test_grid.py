"""The token grid of an attention layer, from the latent size and the layer's token count."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.grid import halve_ceil, token_grid

# Image sizes 64..2048 px in steps of 8 give latents of 8..256; SD1.5 and SDXL attend at
# downsampling levels 0..3 (SDXL uses 1..2, SD1.5 0..2, level 3 is the SD1.5 middle block).
LATENT_SIZES = range(64 // 8, 2048 // 8 + 1)
LEVELS = range(4)


def level_size(size: int, level: int) -> int:
    return math.ceil(size / 2**level)


def test_token_grid_finds_every_level_of_every_latent_size() -> None:
    """Exhaustive: 249 x 249 latent sizes x 4 levels, each level found as its own (h, w)."""
    grid = token_grid.__wrapped__  # bypass the cache so the sweep does not evict real entries
    wrong = []
    for height in LATENT_SIZES:
        for width in LATENT_SIZES:
            for level in LEVELS:
                h, w = level_size(height, level), level_size(width, level)
                found = grid(height, width, h * w)
                if found != (h, w):
                    wrong.append((height, width, level, found))
    assert wrong == []


@pytest.mark.parametrize(
    ("latent", "tokens", "grid"),
    [
        ((128, 128), 4096, (64, 64)),  # SDXL 1024 x 1024, first attention level
        ((128, 128), 1024, (32, 32)),
        ((64, 64), 4096, (64, 64)),  # SD1.5 512 x 512, level 0
        ((64, 64), 64, (8, 8)),  # SD1.5 middle block
        ((152, 104), 76 * 52, (76, 52)),  # 1216 x 832 portrait
        ((75, 101), 38 * 51, (38, 51)),  # odd sizes round up
        ((75, 101), 19 * 26, (19, 26)),
        ((1, 1), 1, (1, 1)),
        ((3, 1), 2, (2, 1)),
    ],
)
def test_token_grid_examples(latent: tuple[int, int], tokens: int, grid: tuple[int, int]) -> None:
    assert token_grid(*latent, tokens) == grid


@settings(max_examples=200)
@given(
    height=st.integers(1, 400),
    width=st.integers(1, 400),
    level=st.integers(0, 9),
    offset=st.integers(-3, 3),
    anywhere=st.integers(-5, 400 * 400 + 5),
    near=st.booleans(),
)
def test_token_grid_rejects_counts_of_no_level(
    height: int, width: int, level: int, offset: int, anywhere: int, near: bool
) -> None:
    levels = {halve_ceil(height, k) * halve_ceil(width, k) for k in range(20)}
    tokens = halve_ceil(height, level) * halve_ceil(width, level) + offset if near else anywhere
    assume(tokens not in levels)
    with pytest.raises(CoupleError, match=rf"has {tokens} tokens\b"):
        token_grid.__wrapped__(height, width, tokens)


@settings(max_examples=200)
@given(height=st.integers(1, 300), width=st.integers(1, 300), level=st.integers(0, 12))
def test_token_grid_finds_any_level(height: int, width: int, level: int) -> None:
    h, w = halve_ceil(height, level), halve_ceil(width, level)
    assert token_grid.__wrapped__(height, width, h * w) == (h, w)


@pytest.mark.parametrize(("height", "width"), [(0, 8), (8, 0), (-1, 4)])
def test_token_grid_rejects_empty_latent(height: int, width: int) -> None:
    with pytest.raises(CoupleError, match="empty"):
        token_grid.__wrapped__(height, width, 1)


@settings(max_examples=200)
@given(size=st.integers(1, 5000), times=st.integers(0, 14))
def test_halve_ceil_is_ceil_division_by_powers_of_two(size: int, times: int) -> None:
    assert halve_ceil(size, times) == -(-size // 2**times)


@settings(max_examples=25)
@given(
    height=st.integers(1, 70),
    width=st.integers(1, 70),
    times=st.integers(1, 4),
    channels=st.integers(1, 3),
)
def test_halve_ceil_matches_stride_two_convolution(
    height: int, width: int, times: int, channels: int
) -> None:
    """The UNet's downsampler, Conv2d(kernel 3, stride 2, padding 1), rounds up at every level."""
    conv = torch.nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
    x = torch.zeros(1, channels, height, width)
    with torch.no_grad():
        for _ in range(times):
            x = conv(x)
    assert tuple(x.shape[-2:]) == (halve_ceil(height, times), halve_ceil(width, times))
