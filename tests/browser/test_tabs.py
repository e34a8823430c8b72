"""txt2img and img2img in chromium: each tab's editor drives its own generations, and Send to
img2img carries the mapping over."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PIL import Image

from lib_couple.infotext import from_infotext, parse_parameters
from tests.browser.page_helpers import set_number

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

TABS = {"txt2img": "t2i", "img2img": "i2i"}


def editor(tab: str) -> str:
    return f"#forge_couple_{TABS[tab]} forge-couple-editor"


def mapping_on_screen(page: Page, tab: str) -> Any:
    return page.evaluate(f"() => document.querySelector('{editor(tab)}').mapping")


def open_advanced(page: Page, tab: str) -> None:
    page.locator(f"#tab_{tab}-button, button[role=tab]:has-text('{tab}')").first.click()
    accordion = f"#forge_couple_{TABS[tab]}"
    page.locator(f"{accordion} .label-wrap").first.click()
    page.locator(f"{accordion} [data-testid=Advanced-radio-label]").click()
    page.locator(f"{accordion} .fc_enable input").check()
    for name, value in (("width", 64), ("height", 64), ("steps", 1)):
        set_number(page, f"#{tab}_{name}", value)
    page.locator(f"{editor(tab)} .preview").wait_for(state="visible")


def generate(page: Page, tab: str, seed: int) -> Any:
    """Generate at once in `tab`; the mapping its parameters line says was used."""
    set_number(page, f"#{tab}_seed", seed)
    lines = "\n".join(f"region {i}" for i in range(len(mapping_on_screen(page, tab))))
    page.locator(f"#{tab}_prompt textarea").fill(lines)
    page.locator(f"#{tab}_generate").click()
    page.wait_for_function(
        f"() => document.querySelector('#html_info_{tab} textarea').value.includes('Seed: {seed},')",
        timeout=90_000,
    )
    _, _, params = parse_parameters(page.locator(f"#html_info_{tab} textarea").input_value())
    return from_infotext(params)["mapping"]


def test_each_tab_generates_with_its_own_editor_and_send_carries_the_mapping(
    page: Page, console_errors: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "input.png"
    Image.new("RGB", (64, 64), (30, 160, 90)).save(source)
    open_advanced(page, "txt2img")
    rows = [[0, 1, 0, 0.3, 1], [0, 1, 0.3, 1, 1.5]]
    page.evaluate(f"(rows) => document.querySelector('{editor('txt2img')}').change(rows)", rows)
    assert generate(page, "txt2img", 501) == rows

    open_advanced(page, "img2img")
    page.locator("#img2img_image input[type=file]").set_input_files(str(source))
    own = mapping_on_screen(page, "img2img")
    assert own != rows  # untouched by txt2img's edit
    assert generate(page, "img2img", 502) == own

    page.locator("#tab_txt2img-button, button[role=tab]:has-text('txt2img')").first.click()
    assert mapping_on_screen(page, "txt2img") == rows  # and the other way round
    page.locator("#txt2img_send_to_img2img").click()
    page.wait_for_function(
        f"() => JSON.stringify(document.querySelector('{editor('img2img')}').mapping) === "
        f"{json.dumps(json.dumps(rows, separators=(',', ':')))}",
        timeout=30_000,
    )
    assert page.locator("#img2img_image img").count() == 1  # the image came along
    page.locator("#tab_img2img").wait_for(state="visible")  # the send's last step
    assert generate(page, "img2img", 503) == rows
    assert console_errors == []


def test_a_loaded_preset_is_what_the_next_generation_uses(page: Page, console_errors: list[str]) -> None:
    """The debounced sync never fires here, so no timer decides it: Save must store the editor's
    rows, and Load must reach the editor although it writes back the textbox's old text."""
    page.evaluate("() => { window.opts.fc_sync_delay_ms = 600000; }")
    open_advanced(page, "txt2img")
    accordion = "#forge_couple_t2i"
    saved = [[0, 0.6, 0, 1, 1], [0.6, 1, 0, 1, 2]]
    page.evaluate(f"(rows) => document.querySelector('{editor('txt2img')}').change(rows)", saved)
    page.locator(f"{accordion} .label-wrap", has_text="Presets").click()
    page.get_by_label("Save as").first.fill("wide left")
    page.locator(f"{accordion} button", has_text="Save preset").click()
    page.wait_for_function(
        f"() => document.querySelector('{accordion}').innerText.includes('Saved preset wide left')"
    )
    page.evaluate(f"(rows) => document.querySelector('{editor('txt2img')}').change(rows)", [[0, 1, 0, 1, 1]])
    page.locator(f"{accordion} button", has_text="Load preset").click()
    page.wait_for_function(
        f"() => JSON.stringify(document.querySelector('{editor('txt2img')}').mapping) === "
        f"{json.dumps(json.dumps(saved, separators=(',', ':')))}",
        timeout=30_000,
    )
    assert generate(page, "txt2img", 601) == saved
    assert console_errors == []
