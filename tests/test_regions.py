"""Regions from Basic tiles and Advanced boxes (Mask layers: test_mask_regions.py)."""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.regions import (
    BACKGROUNDS,
    DIRECTIONS,
    MIN_BACKGROUND_WEIGHT,
    AdvancedRow,
    advanced_regions,
    basic_regions,
    parse_mapping,
)
from tests.regions_support import image_side, names, split_background, weights

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
