"""A generation in chromium: progress per step at once, Interrupt within a step, the whole image
shown letterboxed with the saved path under it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.browser.page_helpers import set_number

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_progress_interrupt_and_the_letterboxed_image(page: Page, console_errors: list[str]) -> None:
    for name, value in (("width", 256), ("height", 256), ("steps", 150)):
        set_number(page, f"#txt2img_{name}", value)
    page.locator("#txt2img_prompt textarea").fill("a red circle")
    page.locator("#txt2img_generate").click()
    progress = page.locator("#txt2img_gallery .progress-text, #txt2img_gallery .meta-text").first
    progress.wait_for(state="visible", timeout=5_000)
    page.wait_for_function(
        "() => /step [1-9]\\d*\\/150/.test(document.querySelector('#txt2img_gallery').innerText)",
        timeout=15_000,
    )
    page.locator("#txt2img_interrupt").click()
    log = page.locator("#html_log_txt2img")
    log.get_by_text("Interrupted after").wait_for(timeout=15_000)
    steps = int(re.search(r"Interrupted after (\d+) steps", log.inner_text())[1])  # type: ignore[index]
    assert 0 < steps < 150
    assert "Saved:" in log.inner_text()
    image = page.locator("#txt2img_gallery img").first
    image.wait_for(state="visible", timeout=10_000)
    assert image.evaluate("img => getComputedStyle(img).objectFit") == "contain"
    assert ".png" in (image.get_attribute("src") or "")
    assert page.locator("#txt2img_gallery input[type=file]").count() == 0  # no upload box
    assert console_errors == []
