"""Regions from Mask layers, and the region plan's own checks."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.regions import (
    BACKGROUNDS,
    MIN_BACKGROUND_WEIGHT,
    MaskLayer,
    RegionPlan,
    mask_regions,
)
from tests.regions_support import names, split_background, weights

# ---------------------------------------------------------------- Mask regions


def layer(values: npt.ArrayLike, weight: float = 1.0) -> MaskLayer:
    return MaskLayer(np.asarray(values, dtype=np.float32), weight)


@settings(max_examples=40)
@given(
    count=st.integers(1, 4),
    width=st.integers(8, 48),
    height=st.integers(8, 48),
    background=st.sampled_from(BACKGROUNDS),
    background_weight=weights,
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_mask_layers_are_scaled_by_their_weights(
    count: int,
    width: int,
    height: int,
    background: str,
    background_weight: float,
    seed: int,
    data: st.DataObject,
) -> None:
    rng = np.random.default_rng(seed)
    values = [
        rng.random((height, width), dtype=np.float32) * (rng.random((height, width)) < 0.6)
        for _ in range(count)
    ]
    layer_weights = data.draw(st.lists(weights, min_size=count, max_size=count))
    layers = [layer(v, w) for v, w in zip(values, layer_weights, strict=True)]
    lines = names(count + (background != "None"))
    plan = mask_regions(lines, layers, width, height, background, background_weight)  # type: ignore[arg-type]
    assert plan.prompts == tuple(lines)
    assert plan.masks.shape == (len(lines), height, width)
    regions, full = split_background(plan, background)
    for mask, v, w in zip(regions, values, layer_weights, strict=True):
        assert torch.equal(mask, torch.from_numpy(v) * w)
    if full is not None:
        assert torch.equal(full, torch.full((height, width), max(MIN_BACKGROUND_WEIGHT, background_weight)))


def test_mask_accepts_boolean_masks() -> None:
    plan = mask_regions(["a"], [MaskLayer(np.eye(16, dtype=bool), 2.0)], 16, 16)
    assert torch.equal(plan.masks[0], torch.eye(16) * 2.0)


@settings(max_examples=30)
@given(
    unit=st.integers(8, 12),
    factor=st.sampled_from([0.5, 2, 3, 4]),
    aspect=st.sampled_from([(1, 1), (2, 3), (3, 2), (9, 16)]),
    value=st.floats(0, 1),
    weight=weights,
)
def test_mask_of_same_aspect_ratio_is_resized(
    unit: int, factor: float, aspect: tuple[int, int], value: float, weight: float
) -> None:
    """A constant mask at another resolution of the same shape becomes a constant image mask."""
    mask_h, mask_w = 2 * unit * aspect[0], 2 * unit * aspect[1]
    height, width = int(mask_h * factor), int(mask_w * factor)
    plan = mask_regions(["a"], [layer(np.full((mask_h, mask_w), value), weight)], width, height)
    assert plan.masks.shape == (1, height, width)
    expected = torch.full((height, width), value * weight)
    assert torch.allclose(plan.masks[0], expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=40)
@given(
    grid=st.tuples(st.integers(4, 12), st.integers(4, 12)),
    factor=st.integers(2, 4),
    weight=weights,
    seed=st.integers(0, 2**32 - 1),
)
def test_mask_enlarged_by_an_integer_factor_keeps_hard_edges(
    grid: tuple[int, int], factor: int, weight: float, seed: int
) -> None:
    """Each mask pixel becomes a factor x factor block of the image mask, with no blurred edge."""
    painted = (np.random.default_rng(seed).random(grid) < 0.5).astype(np.float32)
    height, width = grid[0] * factor, grid[1] * factor
    plan = mask_regions(["a"], [layer(painted, weight)], width, height)
    expected = torch.from_numpy(painted).repeat_interleave(factor, 0).repeat_interleave(factor, 1) * weight
    assert torch.equal(plan.masks[0], expected)


@settings(max_examples=40)
@given(
    grid=st.tuples(st.integers(8, 16), st.integers(8, 16)),
    factor=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_mask_shrunk_by_an_integer_factor_is_block_averaged(
    grid: tuple[int, int], factor: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    painted = (rng.random((grid[0] * factor, grid[1] * factor)) < 0.5).astype(np.float32)
    plan = mask_regions(["a"], [layer(painted)], grid[1], grid[0])
    expected = painted.reshape(grid[0], factor, grid[1], factor).mean(axis=(1, 3))
    assert np.allclose(plan.masks[0].numpy(), expected, atol=1e-6)


def test_mask_resize_keeps_the_painted_half() -> None:
    painted = np.zeros((32, 48), dtype=np.float32)
    painted[:, :24] = 1.0
    plan = mask_regions(["left"], [layer(painted, 2.0)], 96, 64)
    mask = plan.masks[0]
    assert mask.shape == (64, 96)
    assert torch.all((mask >= 0) & (mask <= 2.0))
    assert torch.all(mask[:, :46] == 2.0)
    assert torch.all(mask[:, 50:] == 0.0)


def test_mask_within_aspect_tolerance_is_accepted() -> None:
    plan = mask_regions(["a"], [layer(np.ones((101, 100)))], 512, 512)
    assert plan.masks.shape == (1, 512, 512)
    assert torch.allclose(plan.masks[0], torch.ones(512, 512))


@pytest.mark.parametrize(
    ("mask_shape", "image"), [((32, 64), (64, 64)), ((64, 64), (96, 64)), ((110, 100), (512, 512))]
)
def test_mask_of_other_aspect_ratio_raises(mask_shape: tuple[int, int], image: tuple[int, int]) -> None:
    width, height = image
    with pytest.raises(CoupleError) as raised:
        mask_regions(["a", "b"], [layer(np.ones((height, width))), layer(np.ones(mask_shape))], width, height)
    message = str(raised.value)
    assert "mask 2" in message
    assert f"{mask_shape[1]}x{mask_shape[0]}" in message
    assert f"{width}x{height}" in message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_mask_with_non_finite_values_raises(bad: float) -> None:
    values = np.ones((16, 16), dtype=np.float32)
    values[3, 5] = bad
    with pytest.raises(CoupleError, match="mask 1 contains NaN"):
        mask_regions(["a"], [layer(values)], 16, 16)


@pytest.mark.parametrize(
    ("bad", "dtype"), [(-0.01, np.float32), (1.01, np.float32), (255, np.uint8), (2, np.float64)]
)
def test_mask_with_values_outside_unit_range_raises(bad: float, dtype: type) -> None:
    values: npt.NDArray[np.float32] = np.zeros((16, 16), dtype=dtype)
    values[0, 0] = bad
    with pytest.raises(CoupleError, match=r"mask 1 has values outside 0\.\.1"):
        mask_regions(["a"], [MaskLayer(values)], 16, 16)


@pytest.mark.parametrize("values", [np.ones((16, 16, 3)), np.ones(16), np.ones((0, 16)), np.float32(1)])
def test_mask_that_is_not_one_grayscale_image_raises(values: npt.NDArray[np.float32]) -> None:
    with pytest.raises(CoupleError, match="mask 1 has shape"):
        mask_regions(["a"], [MaskLayer(values)], 16, 16)


@pytest.mark.parametrize("weight", [-1.0, 5.5, math.nan])
def test_mask_weight_out_of_range_raises(weight: float) -> None:
    with pytest.raises(CoupleError, match="mask 1"):
        mask_regions(["a"], [layer(np.ones((16, 16)), weight)], 16, 16)


@pytest.mark.parametrize(
    ("masks", "background", "lines", "needed"),
    [(2, "None", 3, 2), (2, "First Line", 2, 3), (1, "Last Line", 1, 2), (3, "None", 1, 3)],
)
def test_mask_line_count_mismatch_names_both_counts(
    masks: int, background: str, lines: int, needed: int
) -> None:
    layers = [layer(np.ones((16, 16)))] * masks
    with pytest.raises(CoupleError) as raised:
        mask_regions(names(lines), layers, 16, 16, background)  # type: ignore[arg-type]
    message = str(raised.value)
    assert f"needs {needed} lines" in message
    assert f"has {lines}" in message


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_mask_without_layers_raises(background: str) -> None:
    with pytest.raises(CoupleError, match="no masks"):
        mask_regions(names(1), [], 16, 16, background)  # type: ignore[arg-type]


# ---------------------------------------------------------------- RegionPlan


def test_region_plan_accepts_matching_shapes() -> None:
    plan = RegionPlan(("a", "b"), torch.zeros(2, 8, 8))
    assert plan.masks.shape == (2, 8, 8)


@pytest.mark.parametrize(
    ("prompts", "shape"), [(("a", "b"), (3, 8, 8)), (("a",), (8, 8)), (("a",), (1, 1, 8, 8)), ((), (0, 8))]
)
def test_region_plan_rejects_mismatched_shapes(prompts: tuple[str, ...], shape: tuple[int, ...]) -> None:
    with pytest.raises(CoupleError, match="prompts but masks of shape"):
        RegionPlan(prompts, torch.zeros(shape))
