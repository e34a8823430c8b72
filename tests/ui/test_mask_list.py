"""Mask mode's list: adding, deleting, weights and the preview, as pure functions."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.params import CoupleParams
from lib_couple.planning import mask_layers, plan_regions
from lib_couple.ui import build_couple_ui, mask_list
from lib_couple.ui.couple_ui import on_add_painted, on_new_canvas
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


@settings(max_examples=30)
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


# --- painted masks: the ImageEditor's value to a mask ---

canvas_sizes = st.tuples(st.integers(8, 48), st.integers(8, 48))


@st.composite
def painted_rects(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    width, height = draw(canvas_sizes)
    x1, y1 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
    return (width, height), (x1, y1, draw(st.integers(x1 + 1, width)), draw(st.integers(y1 + 1, height)))


def expected(size: tuple[int, int], rect: tuple[int, int, int, int]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    mask[rect[1] : rect[3], rect[0] : rect[2]] = 255
    return mask


@given(painted_rects(), st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
@settings(max_examples=40)
def test_an_alpha_brush_of_any_colour_gives_the_painted_area(
    painted: tuple[tuple[int, int], tuple[int, int, int, int]], colour: tuple[int, int, int]
) -> None:
    size, rect = painted
    value = mask_list.blank_canvas(*size)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((*colour, 255), rect)
    value["layers"] = [layer]
    mask = mask_list.painted_mask(value)
    assert mask.size == size
    assert (np.asarray(mask) == expected(size, rect)).all()


@given(painted_rects())
@settings(max_examples=40)
def test_a_white_brush_on_an_opaque_layer_or_composite_gives_the_painted_area(
    painted: tuple[tuple[int, int], tuple[int, int, int, int]],
) -> None:
    size, rect = painted
    drawn = Image.new("RGB", size, (0, 0, 0))
    drawn.paste((255, 255, 255), rect)
    on_layer = mask_list.painted_mask({"background": None, "layers": [drawn], "composite": None})
    # over a photo (img2img input): only what the brush changed counts
    photo = Image.new("RGB", size, (90, 120, 60))
    over_photo = photo.copy()
    over_photo.paste((255, 255, 255), rect)
    on_composite = mask_list.painted_mask({"background": photo, "layers": [], "composite": over_photo})
    for mask in (on_layer, on_composite):
        assert mask.size == size
        assert (np.asarray(mask) == expected(size, rect)).all()


@given(canvas_sizes)
@settings(max_examples=20)
def test_an_unpainted_canvas_gives_a_clear_message(size: tuple[int, int]) -> None:
    value = mask_list.blank_canvas(*size)
    value["layers"] = [Image.new("RGBA", size, (255, 255, 255, 0))]
    empties: list[object] = [value, None, {"background": None, "layers": [], "composite": None}]
    for empty in empties:
        with pytest.raises(CoupleError, match="nothing is painted yet"):
            mask_list.painted_mask(empty)
    text, status = mask_list.add_painted_mask("[]", value, 1.0)
    assert text is None
    assert status.startswith("⚠️ nothing is painted yet")


def test_a_painted_mask_joins_the_list_as_an_api_mapping_entry() -> None:
    value = mask_list.blank_canvas(32, 16)
    layer = Image.new("RGBA", (32, 16), (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), (0, 0, 16, 16))
    value["layers"] = [layer]
    text, status = mask_list.add_painted_mask(with_masks(1), value, 0.5)
    assert text is not None, status
    masks = parse_masks(text)
    assert masks[1]["weight"] == 0.5
    layers = mask_layers(masks)
    assert layers[1].mask.shape == (16, 32)
    assert layers[1].mask[:, :16].min() == 1.0
    assert layers[1].mask[:, 16:].max() == 0.0
    with pytest.raises(CoupleError, match="canvas width"):
        mask_list.blank_canvas(0, 16)


def test_the_paint_canvas_adds_to_the_mask_list_behind_the_mapping() -> None:
    with gr.Blocks() as blocks:
        ui = build_couple_ui(True, "i2i")
    editors = [block for block in blocks.blocks.values() if isinstance(block, gr.ImageEditor)]
    assert len(editors) == 1
    assert editors[0].interactive is False  # its WebGL app would redraw every frame from page load
    (add,) = (dep for dep in blocks.fns.values() if dep.fn is on_add_painted)
    store = add.inputs[0]
    assert add.inputs[1] is editors[0]
    assert add.outputs[0] is store
    # the store is the Mask panel's list, which feeds the mapping argument in Mask mode
    changes = [
        dep for dep in blocks.fns.values() if store in dep.inputs and ui.components["mapping"] in dep.outputs
    ]
    assert changes
    value = mask_list.blank_canvas(16, 8)
    value["layers"] = [half_mask().convert("RGBA")]
    value["layers"][0].putalpha(half_mask())
    text, status = on_add_painted("[]", value, 1.0)
    assert isinstance(text, str), status
    assert (np.asarray(mask_list.decode_mask(parse_masks(text)[0], 1)) == np.asarray(half_mask())).all()


def test_a_new_canvas_opens_the_editor_and_a_bad_size_keeps_it_closed() -> None:
    update, status = on_new_canvas(16, 8)
    assert update["interactive"] is True
    assert update["value"]["background"].size == (16, 8)
    assert "Add painted mask" in status
    refused, reason = on_new_canvas(0, 8)
    assert "interactive" not in refused
    assert "value" not in refused
    assert "canvas width" in reason
