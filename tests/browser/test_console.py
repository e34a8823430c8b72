"""No console error or gradio warning on load, after editor edits and after a generation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

EDITOR = "#forge_couple_t2i forge-couple-editor"


def test_load_edits_and_a_generation_log_no_warning(page: Page, console_errors: list[str]) -> None:
    assert console_errors == []  # loaded: the editor is mounted
    page.locator("#forge_couple_t2i .label-wrap").first.click()
    page.locator("#forge_couple_t2i label", has_text="Advanced").click()
    page.locator("#forge_couple_t2i .fc_enable input").check()
    preview = page.locator(f"{EDITOR} .preview")
    preview.wait_for(state="visible")
    preview.scroll_into_view_if_needed()
    box = preview.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.6, steps=5)
    page.mouse.up()
    preview.focus()
    page.keyboard.press("ArrowRight")
    page.locator("#txt2img_prompt textarea").fill("a red circle\na blue square")
    for name, value in (("width", 64), ("height", 64), ("steps", 1)):
        field = page.locator(f"#txt2img_{name} input[type=number]").first
        field.fill(str(value))
        field.press("Enter")
    page.locator("#txt2img_generate").click()
    page.wait_for_function(
        "() => document.querySelector('#html_info_txt2img textarea').value.includes('Seed:')", timeout=120_000
    )
    assert console_errors == []  # the edits' events and Generate (each with inputs) warned before
