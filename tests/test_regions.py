"""Regions from the three UI modes: Basic tiles, Advanced boxes and Mask layers."""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.regions import (
    BACKGROUNDS,
    DIRECTIONS,
    MAX_WEIGHT,
    MIN_BACKGROUND_WEIGHT,
    AdvancedRow,
    MaskLayer,
    RegionPlan,
    advanced_regions,
    basic_regions,
    mask_regions,
    parse_mapping,
)

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


# ---------------------------------------------------------------- Basic


@settings(max_examples=20)
@given(
    tiles=st.integers(2, 12),
    width=image_side,
    height=image_side,
    direction=st.sampled_from(DIRECTIONS),
    background=st.sampled_from(BACKGROUNDS),
    background_weight=weights,
)
def test_basic_tiles_partition_the_image_in_order(
    tiles: int, width: int, height: int, direction: str, background: str, background_weight: float
) -> None:
    lines = names(tiles + (background != "None"))
    plan = basic_regions(lines, width, height, direction, background, background_weight)  # type: ignore[arg-type]
    assert plan.prompts == tuple(lines)
    assert plan.masks.shape == (len(lines), height, width)
    regions, full = split_background(plan, background)

    if full is None:
        assert background == "None"
    else:
        assert torch.equal(full, torch.full((height, width), max(MIN_BACKGROUND_WEIGHT, background_weight)))

    # Each tile is a band across the whole image: constant along the other axis.
    axis = 2 if direction == "Horizontal" else 1  # the axis the tiles advance along
    other = 1 if axis == 2 else 2
    profiles = regions.amax(dim=other)  # [tiles, along]
    assert torch.equal(regions, profiles.unsqueeze(other).expand_as(regions))

    # Every pixel belongs to exactly one tile, with weight 1.
    assert torch.all((profiles == 0) | (profiles == 1))
    assert torch.equal(profiles.sum(dim=0), torch.ones(profiles.shape[1]))

    # Contiguous bands in order, left to right or top to bottom, sizes within one pixel.
    along = width if direction == "Horizontal" else height
    edge = 0
    sizes = []
    for profile in profiles:
        inside = torch.nonzero(profile).flatten().tolist()
        assert inside == list(range(edge, edge + len(inside)))
        assert inside, "a tile covers no pixel"
        edge += len(inside)
        sizes.append(len(inside))
    assert edge == along
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        (
            "Horizontal",
            [(slice(None), slice(0, 43)), (slice(None), slice(43, 85)), (slice(None), slice(85, 128))],
        ),
        (
            "Vertical",
            [(slice(0, 21), slice(None)), (slice(21, 43), slice(None)), (slice(43, 64), slice(None))],
        ),
    ],
)
def test_basic_tiles_example(direction: str, expected: list[tuple[slice, slice]]) -> None:
    plan = basic_regions(names(3), 128, 64, direction)  # type: ignore[arg-type]
    for mask, (rows, cols) in zip(plan.masks, expected, strict=True):
        want = torch.zeros(64, 128)
        want[rows, cols] = 1.0
        assert torch.equal(mask, want)


@pytest.mark.parametrize(
    ("background_weight", "expected"), [(0.0, 0.1), (0.05, 0.1), (0.1, 0.1), (0.5, 0.5), (5.0, 5.0)]
)
def test_basic_background_weight_has_peer_floor(background_weight: float, expected: float) -> None:
    plan = basic_regions(names(3), 64, 64, "Horizontal", "First Line", background_weight)
    assert torch.allclose(plan.masks[0], torch.full((64, 64), expected))


@pytest.mark.parametrize("background_weight", [-0.1, 5.5, math.nan, math.inf])
def test_basic_background_weight_out_of_range_raises(background_weight: float) -> None:
    with pytest.raises(CoupleError, match="global line"):
        basic_regions(names(3), 64, 64, "Horizontal", "Last Line", background_weight)


def test_basic_background_weight_huge_integer_raises_couple_error() -> None:
    with pytest.raises(CoupleError, match="global line"):
        basic_regions(names(3), 64, 64, "Horizontal", "Last Line", 10**400)


@pytest.mark.parametrize(
    ("background", "count", "needed"),
    [("None", 0, 2), ("None", 1, 2), ("First Line", 2, 3), ("Last Line", 1, 3), ("First Line", 0, 3)],
)
def test_basic_too_few_lines_names_both_counts(background: str, count: int, needed: int) -> None:
    with pytest.raises(CoupleError) as raised:
        basic_regions(names(count), 64, 64, "Horizontal", background)  # type: ignore[arg-type]
    message = str(raised.value)
    assert f"at least {needed} prompt lines" in message
    assert f"has {count}" in message


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"direction": "Diagonal"}, "Diagonal"),
        ({"background": "Middle Line"}, "Middle Line"),
        ({"width": 4}, "too small"),
        ({"height": 0}, "too small"),
    ],
)
def test_basic_rejects_bad_settings(kwargs: dict[str, object], words: str) -> None:
    arguments: dict[str, object] = {"width": 64, "height": 64, **kwargs}
    with pytest.raises(CoupleError, match=words):
        basic_regions(names(3), **arguments)  # type: ignore[arg-type]


# ---------------------------------------------------------------- Advanced mapping


@st.composite
def mapping_rows(draw: st.DrawFn) -> list[float | int]:
    x1, x2 = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2, unique=True)))
    y1, y2 = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2, unique=True)))
    weight = draw(st.one_of(weights, st.integers(0, 5)))
    return [x1, x2, y1, y2, weight]


@settings(max_examples=100)
@given(st.lists(mapping_rows(), min_size=1, max_size=6), st.booleans())
def test_parse_mapping_accepts_valid_rows(rows: list[list[float]], as_tuples: bool) -> None:
    mapping = [tuple(row) for row in rows] if as_tuples else rows
    parsed = parse_mapping(mapping)
    assert parsed == [AdvancedRow(*(float(value) for value in row)) for row in rows]
    assert all(type(value) is float for row in parsed for value in vars(row).values())


INVALID_ROWS: list[object] = [
    "0, 1, 0, 1, 1",
    {"x1": 0, "x2": 1, "y1": 0, "y2": 1, "weight": 1},
    None,
    0.5,
    [],
    [0, 1, 0, 1],
    [0, 1, 0, 1, 1, 1],
    ["0", 1, 0, 1, 1],
    [0, 1, 0, 1, "1"],
    [0, 1, None, 1, 1],
    [False, True, 0, 1, 1],
    [0, 1, 0, 1, True],
    [math.nan, 1, 0, 1, 1],
    [0, 1, 0, math.inf, 1],
    [0, 1, 0, 1, math.nan],
    [0, 1, 0, 1, -math.inf],
    [-0.1, 1, 0, 1, 1],
    [0, 1.1, 0, 1, 1],
    [0, 1, -1e-9, 1, 1],
    [0, 1, 0, 1.5, 1],
    [0.5, 0.5, 0, 1, 1],
    [0.7, 0.3, 0, 1, 1],
    [0, 1, 0.2, 0.2, 1],
    [0, 1, 1, 0, 1],
    [0, 1, 0, 1, -0.01],
    [0, 1, 0, 1, 5.01],
    [0, 1, 0, 1, 100],
]


@settings(max_examples=150)
@given(
    valid=st.lists(mapping_rows(), max_size=4),
    invalid=st.sampled_from(INVALID_ROWS),
    data=st.data(),
)
def test_parse_mapping_names_the_invalid_row(
    valid: list[list[float]], invalid: object, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(valid)))
    mapping = [*valid[:position], invalid, *valid[position:]]
    with pytest.raises(CoupleError, match=rf"mapping row {position + 1}\b"):
        parse_mapping(mapping)


@pytest.mark.parametrize("mapping", [[], (), None, 0, {}, ""])
def test_parse_mapping_rejects_empty_or_non_list_mapping(mapping: object) -> None:
    with pytest.raises(CoupleError, match="mapping"):
        parse_mapping(mapping)


@pytest.mark.parametrize("mapping", ["[[0, 1, 0, 1, 1]]", {"rows": [[0, 1, 0, 1, 1]]}, 3])
def test_parse_mapping_non_list_is_not_called_empty(mapping: object) -> None:
    with pytest.raises(CoupleError) as raised:
        parse_mapping(mapping)
    assert "empty" not in str(raised.value)


@pytest.mark.parametrize("row", [[0, 10**400, 0, 1, 1], [0, 1, 0, 1, 10**400], [-(10**400), 1, 0, 1, 1]])
def test_parse_mapping_huge_integer_raises_couple_error(row: list[int]) -> None:
    """JSON like `[[0, 1000...0, 0, 1, 1]]` parses to a Python int too large for a float."""
    with pytest.raises(CoupleError, match="mapping row 1"):
        parse_mapping([row])


# ---------------------------------------------------------------- Advanced regions


@st.composite
def pixel_boxes(draw: st.DrawFn, width: int, height: int) -> tuple[int, int, int, int, float]:
    left, right = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2, unique=True)))
    top, bottom = sorted(draw(st.lists(st.integers(0, height), min_size=2, max_size=2, unique=True)))
    return left, right, top, bottom, draw(weights)


@settings(max_examples=60)
@given(width=st.integers(8, 96), height=st.integers(8, 96), data=st.data())
def test_advanced_boxes_on_pixel_edges_are_exact(width: int, height: int, data: st.DataObject) -> None:
    boxes = data.draw(st.lists(pixel_boxes(width, height), min_size=1, max_size=5))
    mapping = [
        [left / width, right / width, top / height, bottom / height, w]
        for left, right, top, bottom, w in boxes
    ]
    plan = advanced_regions(names(len(boxes)), mapping, width, height)
    assert plan.masks.shape == (len(boxes), height, width)
    for mask, (left, right, top, bottom, weight) in zip(plan.masks, boxes, strict=True):
        want = torch.zeros(height, width)
        want[top:bottom, left:right] = weight
        assert torch.equal(mask, want)


@settings(max_examples=100)
@given(width=st.integers(8, 96), height=st.integers(8, 96), row=mapping_rows())
def test_advanced_box_is_the_rounded_rectangle(width: int, height: int, row: list[float]) -> None:
    x1, x2, y1, y2, weight = row
    weight = max(float(weight), 0.01)
    plan = advanced_regions(["box"], [[x1, x2, y1, y2, weight]], width, height)
    mask = plan.masks[0]
    inside = mask > 0
    assert torch.all(mask[inside] == weight)
    rows = torch.nonzero(inside.any(dim=1)).flatten()
    cols = torch.nonzero(inside.any(dim=0)).flatten()
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    # One solid rectangle ...
    assert int(inside.sum()) == (bottom - top) * (right - left)
    # ... whose edges are the fractions rounded to pixels, at least one pixel wide and tall.
    for start, end, first, last, size in ((x1, x2, left, right, width), (y1, y2, top, bottom, height)):
        assert abs(first - start * size) <= 0.5 + 1e-9 or (first == size - 1 and start * size > size - 1)
        assert abs(last - end * size) <= 0.5 + 1e-9 or last == first + 1


def test_advanced_zero_weight_box_is_empty() -> None:
    plan = advanced_regions(["a", "b"], [[0, 1, 0, 1, 1], [0, 0.5, 0, 0.5, 0]], 64, 64)
    assert torch.equal(plan.masks[1], torch.zeros(64, 64))


@pytest.mark.parametrize(("rows", "lines"), [(1, 2), (3, 2), (2, 5)])
def test_advanced_line_count_mismatch_names_both_counts(rows: int, lines: int) -> None:
    mapping = [[0, 1, 0, 1, 1]] * rows
    with pytest.raises(CoupleError) as raised:
        advanced_regions(names(lines), mapping, 64, 64)
    assert re.search(rf"\b{rows} region rows\b", str(raised.value))
    assert re.search(rf"\b{lines} lines\b", str(raised.value))


def test_advanced_invalid_mapping_raises() -> None:
    with pytest.raises(CoupleError, match="mapping row 2"):
        advanced_regions(names(2), [[0, 1, 0, 1, 1], [0.5, 0.2, 0, 1, 1]], 64, 64)


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
