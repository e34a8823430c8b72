"""Mask mode's list: adding, deleting, weights and the preview, as pure functions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.params import CoupleParams
from lib_couple.planning import mask_layers, plan_regions
from lib_couple.ui import mask_list
from lib_couple.ui.mask_list import add_mask, gallery_items, parse_masks, remove_mask, set_weights


def half_mask(size: tuple[int, int] = (16, 8)) -> Image.Image:
    image = Image.new("L", size, 0)
    image.paste(255, (0, 0, size[0] // 2, size[1]))
    return image


def with_masks(count: int) -> str:
    text = "[]"
    for number in range(count):
        new, status = add_mask(text, half_mask(), 1.0 + number)
        assert new is not None, status
        text = new
    return text


def test_added_masks_are_api_mapping_entries_the_planner_reads() -> None:
    text = with_masks(2)
    masks = parse_masks(text)
    assert [entry["weight"] for entry in masks] == [1.0, 2.0]
    layers = mask_layers(masks)
    assert layers[0].mask.shape == (8, 16)
    assert layers[0].mask[:, :8].min() == 1.0
    assert layers[0].mask[:, 8:].max() == 0.0
    params = CoupleParams(enabled=True, mode="Mask", mapping=masks)
    plan = plan_regions(params, "left\nright", 32, 16)
    assert plan.masks.shape == (2, 16, 32)


def test_add_needs_an_image_and_a_weight_in_range() -> None:
    assert add_mask("[]", None, 1.0) == (None, "⚠️ upload a mask image first (white = region)")
    text, status = add_mask("[]", half_mask(), 7.0)
    assert text is None
    assert status == "⚠️ mask 1: weight 7 is outside 0..5"
    text, status = add_mask("[]", half_mask(), None)
    assert text is None
    assert "not a number" in status


def test_large_masks_are_scaled_down_keeping_the_aspect() -> None:
    text, _ = add_mask("[]", half_mask((3000, 1500)), 1.0)
    ((image, _caption),) = gallery_items(text)
    assert image.size == (mask_list.MAX_MASK_SIDE, mask_list.MAX_MASK_SIDE // 2)


def test_color_images_become_grayscale() -> None:
    text, _ = add_mask("[]", Image.new("RGB", (4, 4), (255, 255, 255)), 1.0)
    ((image, caption),) = gallery_items(text)
    assert image.mode == "L"
    assert image.getextrema() == (255, 255)
    assert caption == "#1 · weight 1.0"


@settings(max_examples=30, deadline=None)
@given(count=st.integers(0, 4), number=st.one_of(st.integers(-1, 6), st.floats(allow_nan=True), st.none()))
def test_remove_deletes_exactly_one_mask_or_explains(count: int, number: float | None) -> None:
    text = with_masks(count)
    before = parse_masks(text)
    new, status = remove_mask(text, number)
    if new is None:
        assert status.startswith("⚠️")
    else:
        assert isinstance(number, (int, float))
        index = int(number) - 1
        assert parse_masks(new) == before[:index] + before[index + 1 :]


def test_weights_text_sets_every_weight() -> None:
    text = with_masks(2)
    new, status = set_weights(text, " 0.5, 3 ")
    assert new is not None, status
    assert mask_list.weights_text(parse_masks(new)) == "0.5, 3"
    assert set_weights(text, "1")[1] == "⚠️ give 2 comma-separated weights, one per mask; got 1"
    assert set_weights(text, "1, x")[1] == "⚠️ mask 2: weight 'x' is not a number"
    assert set_weights(text, "1, 9")[1] == "⚠️ mask 2: weight 9 is outside 0..5"


def test_a_broken_list_is_reported_not_raised() -> None:
    assert add_mask("[1, 2]", half_mask(), 1.0)[1].startswith('⚠️ mask 1 must be {"mask"')
    assert gallery_items("{broken") == []
    assert gallery_items(json.dumps([{"mask": "not base64!", "weight": 1}])) == []


def test_status_counts_masks() -> None:
    assert mask_list.masks_status([]).startswith("No masks yet")
    assert mask_list.masks_status(parse_masks(with_masks(1))).startswith("✅ 1 mask: the prompt needs 1 line")


def test_entries_without_a_mask_are_refused() -> None:
    with pytest.raises(CoupleError, match=r'mask 1 must be \{"mask"'):
        parse_masks('[{"weight": 1}]')
