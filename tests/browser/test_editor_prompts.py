"""The region editor in chromium: prompt cells, Shift-delete, the background, Pull from txt2img."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.prompts import resolve_separator, split_lines
from tests.browser.editor_helpers import (
    EDITOR,
    generate_parameters,
    open_advanced,
    preview_point,
    prompt_cell,
    prompt_text,
    set_prompt,
    state,
    twenty_regions,
)
from tests.browser.page_helpers import set_number

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_editing_a_prompt_cell_rewrites_that_prompt_line(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    page.evaluate("() => { window.opts.fc_sync_delay_ms = 60000; }")
    set_prompt(page, "a red fox\na blue bird\n")  # a trailing newline is no line
    assert prompt_cell(page, 1).input_value() == "a blue bird"
    prompt_cell(page, 1).fill("a green frog")
    prompt_cell(page, 1).press("Enter")
    assert prompt_text(page) == "a red fox\na green frog\n"
    prompt, mapping = generate_parameters(page)
    assert "a green frog" in prompt
    assert "a blue bird" not in prompt
    assert mapping == state(page)
    # A custom separator: the line is found by it, and the other lines are kept as typed.
    page.locator("#forge_couple_t2i .fc_separator").locator("textarea, input").first.fill(" | ")
    set_prompt(page, "one | two")
    prompt_cell(page, 0).fill("uno")
    prompt_cell(page, 0).press("Tab")  # leaving the cell commits too
    assert prompt_text(page) == "uno | two"
    assert console_errors == []


def test_shift_delete_removes_the_region_and_its_prompt_line(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    page.locator(f"{EDITOR} tbody tr").nth(1).locator("button[data-op=below]").click()
    set_prompt(page, "left\nright\nmiddle")
    rows = state(page)
    assert len(rows) == 3
    delete = page.locator(f"{EDITOR} tbody tr").nth(0).locator("button[data-op=delete]")
    delete.click()  # plain delete: the prompt stays
    assert state(page) == rows[1:]
    assert prompt_text(page) == "left\nright\nmiddle"
    page.locator(f"{EDITOR} .preview").focus()
    page.keyboard.press("Control+z")
    assert state(page) == rows
    page.locator(f"{EDITOR} tbody tr").nth(1).locator("button[data-op=delete]").click(modifiers=["Shift"])
    assert state(page) == [rows[0], rows[2]]
    assert prompt_text(page) == "left\nmiddle"
    assert [prompt_cell(page, i).input_value() for i in range(2)] == ["left", "middle"]
    page.locator(f"{EDITOR} tbody tr").nth(0).locator("td.swatch").click()  # select row 1
    page.locator(f"{EDITOR} .preview").focus()
    page.keyboard.press("Shift+Delete")
    assert state(page) == [rows[2]]
    assert prompt_text(page) == "middle"
    prompt, mapping = generate_parameters(page)
    assert prompt == "middle"
    assert mapping == [rows[2]]
    assert console_errors == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(["a", "b c", " d ", "", "  ", "e\\n"]), min_size=0, max_size=6),
    typed=st.sampled_from(["", "\\n", " | ", ";", "\\t", "  "]),
    index=st.integers(0, 6),
    remove=st.booleans(),
)
def test_prompt_lines_split_and_rewrite_as_the_backend_counts_them(
    page: Page, lines: list[str], typed: str, index: int, remove: bool
) -> None:
    separator = resolve_separator(typed)
    text = separator.join(lines)
    split, rewritten = page.evaluate(
        """([text, typed, i, remove]) => {
            const m = ForgeCouple.model, s = m.resolveSeparator(typed);
            return [m.splitLines(text, s), m.rewriteLine(text, s, i, remove ? null : 'new line')];
        }""",
        [text, typed, index, remove],
    )
    before = split_lines(text, typed)
    assert split == before
    expected = before.copy()
    if remove and index < len(before):
        del expected[index]
    elif not remove and index <= len(before):
        expected[index : index + 1] = ["new line"]
    while expected and not expected[-1]:
        expected.pop()  # an empty line left last is no line, for the backend too
    assert split_lines(rewritten, typed) == expected


def test_background_upload_shows_under_the_boxes(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    image = io.BytesIO()
    Image.new("RGB", (32, 16), (0, 128, 255)).save(image, format="PNG")
    upload = page.locator(f"{EDITOR} input.upload")
    upload.set_input_files({"name": "bg.png", "mimeType": "image/png", "buffer": image.getvalue()})
    background = page.locator(f"{EDITOR} img.background")
    root = f"document.querySelector('{EDITOR}').shadowRoot"
    page.wait_for_function(
        f"() => {{ const img = {root}.querySelector('img.background'); return img.naturalWidth === 32; }}"
    )
    assert (background.get_attribute("src") or "").startswith("blob:")
    assert background.is_visible()
    assert 0 < float(background.evaluate("(img) => getComputedStyle(img).opacity")) < 1
    # The boxes stay on top: the point at a box's centre hits the box, not the image.
    preview_point(page, 0.5, 0.5)  # scrolls the preview into view
    hit = page.evaluate(
        f"""() => {{ const r = {root}.querySelector('.box').getBoundingClientRect();
                    return {root}.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2).className; }}"""
    )
    assert "box" in hit
    page.locator(f"{EDITOR} button.clear-background").click()
    assert background.get_attribute("src") is None
    assert not background.is_visible()
    upload.set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    assert "not an image" in page.locator(f"{EDITOR} .reason").inner_text()
    assert background.get_attribute("src") is None
    assert console_errors == []


def test_pull_from_txt2img_copies_the_regions_and_img2img_uses_them(
    page: Page, console_errors: list[str]
) -> None:
    # The app has an img2img tab: its absence is a regression, not a reason to skip.
    assert page.locator("#tab_img2img").count() == 1, "the standalone app lost its img2img tab"
    open_advanced(page)
    rows = twenty_regions(page)[:3]
    page.evaluate(f"(rows) => {{ document.querySelector('{EDITOR}').change(rows); }}", rows)
    i2i = "#forge_couple_i2i forge-couple-editor"
    page.locator(".tab-nav button", has_text="img2img").first.click()
    page.locator("#forge_couple_i2i .label-wrap").first.click()
    page.locator("#forge_couple_i2i label", has_text="Advanced").click()
    page.locator("#forge_couple_i2i .fc_enable input").check()
    before = page.evaluate(f"() => document.querySelector('{i2i}').mapping")
    assert before != rows
    page.locator(f"{i2i} button.pull").click()
    assert page.evaluate(f"() => document.querySelector('{i2i}').mapping") == rows
    assert json.loads(page.locator("#forge_couple_i2i .fc_mapping_json textarea").input_value()) == rows
    page.locator(f"{i2i} .preview").focus()
    page.keyboard.press("Control+z")
    assert page.evaluate(f"() => document.querySelector('{i2i}').mapping") == before
    page.locator(f"{i2i} button.pull").click()
    # The img2img input image becomes the editor's background by itself.
    image = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 40, 40)).save(image, format="PNG")
    page.locator("#img2img_image input[type=file]").first.set_input_files(
        {"name": "input.png", "mimeType": "image/png", "buffer": image.getvalue()}
    )
    page.wait_for_function(
        f"() => document.querySelector('{i2i}').shadowRoot.querySelector('img.background').naturalWidth > 0",
        timeout=30_000,
    )
    for name, value in (("width", 64), ("height", 64), ("steps", 1)):
        if page.locator(f"#img2img_{name}").count():
            set_number(page, f"#img2img_{name}", value)
    page.locator("#img2img_prompt textarea").fill("one\ntwo\nthree")
    _, mapping = generate_parameters(page, "img2img")
    assert mapping == rows
    assert console_errors == []
