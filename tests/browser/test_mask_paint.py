"""Mask mode in chromium: paint two masks with the mouse, add them, and generate with them."""

from __future__ import annotations

import base64
import io
import json
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from lib_couple.infotext import parse_parameters
from tests.browser.page_helpers import set_number

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ACCORDION = "#forge_couple_t2i"


def stored_masks(page: Page) -> list[np.ndarray[Any, Any]]:
    text = page.evaluate(f"() => document.querySelector('{ACCORDION} .fc_masks_json textarea').value")
    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(entry["mask"]))).convert("L")) > 127
        for entry in json.loads(text)
    ]


def paint_strokes(page: Page, canvas: Locator, x0: float, x1: float, rows: list[float]) -> None:
    """Horizontal brush strokes from x0 to x1 (fractions of the canvas) at the given heights."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    for row in rows:
        y = box["y"] + row * box["height"]
        page.mouse.move(box["x"] + x0 * box["width"], y)
        page.mouse.down()
        page.mouse.move(box["x"] + x1 * box["width"], y, steps=8)
        page.mouse.up()


def add_painted(page: Page, count: int) -> None:
    page.locator(f"{ACCORDION} button", has_text="Add painted mask").click()
    page.wait_for_function(
        f"""() => JSON.parse(document.querySelector('{ACCORDION} .fc_masks_json textarea').value)
                      .length === {count}""",
        timeout=60_000,
    )


def test_painted_masks_reach_the_generation(page: Page, console_errors: list[str]) -> None:
    page.locator(f"{ACCORDION} .label-wrap").first.click()
    page.locator(f"{ACCORDION} [data-testid=Mask-radio-label]").click()
    page.locator(f"{ACCORDION} .fc_enable input").check()
    set_number(page, "#txt2img_width", 64)
    set_number(page, "#txt2img_height", 64)
    set_number(page, "#txt2img_steps", 1)
    page.locator(f"{ACCORDION} .label-wrap", has_text="Paint a mask").click()
    # gradio's editor (WebGL, redrawn every frame while it exists) only once a canvas is asked for
    assert page.locator(f"{ACCORDION} .image-container canvas").count() == 0
    page.locator(f"{ACCORDION} button", has_text="New black canvas").click()
    editor = page.locator(f"{ACCORDION} .image-container").last
    canvas = editor.locator("canvas").first
    editor.locator("button[aria-label='Draw button']").click()

    # The bottom stroke proves the whole canvas is paintable (a fixed height once hid its bottom).
    rows = [0.1, 0.3, 0.5, 0.7, 0.95]
    paint_strokes(page, canvas, 0.05, 0.4, rows)
    add_painted(page, 1)
    page.locator(f"{ACCORDION} button", has_text="New black canvas").click()
    page.wait_for_timeout(1_000)  # the new canvas replaces the painted one server-side
    editor.locator("button[aria-label='Draw button']").click()
    paint_strokes(page, canvas, 0.6, 0.95, rows)
    add_painted(page, 2)

    left, right = stored_masks(page)
    half = left.shape[1] // 2
    assert left[:, :half].any()
    assert not left[:, half:].any()
    assert right[:, half:].any()
    assert not right[:, :half].any()
    bottom = left.shape[0] * 9 // 10
    assert left[bottom:].any(), "the canvas's bottom tenth could not be painted"

    page.locator("#txt2img_prompt textarea").fill("a red circle\na blue square")
    set_number(page, "#txt2img_seed", 4242)
    page.locator("#txt2img_generate").click()
    page.wait_for_function(
        "() => document.querySelector('#html_info_txt2img textarea').value.includes('Seed: 4242,')",
        timeout=60_000,
    )
    _, _, params = parse_parameters(page.locator("#html_info_txt2img textarea").input_value())
    assert params.get("forge_couple") == "True", params
    assert params.get("forge_couple_mode") == "Mask"
    assert "forge_couple_error" not in params
    assert console_errors == []
