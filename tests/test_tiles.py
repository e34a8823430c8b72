"""Tile mode's prompt per tile: which regions a tile gets, and the subject replacement."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.tiles import Box, coverage, grid_box, included, parse_replacements, tile_prompt

SIZE = 24


@st.composite
def rect_masks(draw: st.DrawFn) -> torch.Tensor:
    """1-4 rectangular regions on a SIZE x SIZE canvas."""
    masks = []
    for _ in range(draw(st.integers(1, 4))):
        x1 = draw(st.integers(0, SIZE - 1))
        y1 = draw(st.integers(0, SIZE - 1))
        x2 = draw(st.integers(x1 + 1, SIZE))
        y2 = draw(st.integers(y1 + 1, SIZE))
        mask = torch.zeros(SIZE, SIZE)
        mask[y1:y2, x1:x2] = 1.0
        masks.append(mask)
    return torch.stack(masks)


grids = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(0, 40))


def tile(grid: tuple[int, int, int]) -> Box:
    columns, rows, index = grid
    return grid_box(index, columns, rows, SIZE, SIZE)


@given(rect_masks(), grids)
def test_threshold_zero_includes_every_overlapping_region(
    masks: torch.Tensor, grid: tuple[int, int, int]
) -> None:
    box = tile(grid)
    overlapping = [
        i for i, mask in enumerate(masks) if mask[box.top : box.bottom, box.left : box.right].sum() > 0
    ]
    assert included(masks, box, 0.0) == overlapping


@given(rect_masks(), grids)
def test_threshold_one_includes_only_regions_inside_or_covering_the_tile(
    masks: torch.Tensor, grid: tuple[int, int, int]
) -> None:
    box = tile(grid)
    for i in included(masks, box, 1.0):
        inside = masks[i, box.top : box.bottom, box.left : box.right].sum()
        tile_area = (box.right - box.left) * (box.bottom - box.top)
        assert inside == masks[i].sum() or inside == tile_area


@given(rect_masks(), grids, st.floats(0, 1), st.floats(0, 1))
def test_inclusion_is_monotone_in_the_threshold(
    masks: torch.Tensor, grid: tuple[int, int, int], a: float, b: float
) -> None:
    low, high = sorted((a, b))
    box = tile(grid)
    assert set(included(masks, box, high)) <= set(included(masks, box, low))


@given(st.integers(1, 8), st.integers(1, 8), st.integers(8, 64), st.integers(8, 64))
def test_grid_tiles_cover_the_image_once(columns: int, rows: int, width: int, height: int) -> None:
    seen = torch.zeros(height, width)
    for index in range(columns * rows):
        box = grid_box(index, columns, rows, width, height)
        seen[box.top : box.bottom, box.left : box.right] += 1
    assert bool((seen == 1).all())


@given(rect_masks(), grids)
def test_coverage_is_a_share(masks: torch.Tensor, grid: tuple[int, int, int]) -> None:
    assert all(0.0 <= share <= 1.0 + 1e-6 for share in coverage(masks, tile(grid)))


def halves() -> torch.Tensor:
    masks = torch.zeros(2, SIZE, SIZE)
    masks[0, :, : SIZE // 2] = 1.0
    masks[1, :, SIZE // 2 :] = 1.0
    return masks


def test_each_half_tile_gets_its_own_line_and_the_keys_are_replaced() -> None:
    masks, lines = halves(), ["1girl, red dress", "1boy, blue suit"]
    first, last = grid_box(0, 2, 1, SIZE, SIZE), grid_box(1, 2, 1, SIZE, SIZE)
    assert tile_prompt(lines, masks, first, 0.75) == "1girl, red dress"
    assert tile_prompt(lines, masks, last, 0.75, "1boy: short hair, male") == "short hair, male, blue suit"


def test_a_tile_below_every_threshold_gets_its_largest_region() -> None:
    masks = torch.zeros(2, SIZE, SIZE)
    masks[0, :4, :4] = 1.0  # a small region that the tile holds a corner of
    masks[1, :, :] = 0.0
    masks[1, :2, :2] = 1.0
    box = Box(2, 2, 20, 20)
    assert included(masks, box, 0.9) == []
    assert tile_prompt(["small", "tiny"], masks, box, 0.9) == "small"


def test_bad_replacement_and_grid_give_clear_errors() -> None:
    assert parse_replacements("a: b, c\n\n d :e") == [("a", "b, c"), ("d", "e")]
    with pytest.raises(CoupleError, match="line 1 must be"):
        parse_replacements("no colon here")
    with pytest.raises(CoupleError, match="at least 1 column"):
        grid_box(0, 0, 2, SIZE, SIZE)
