"""Page helpers every browser test (and the in-page bench) shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page


def set_number(page: Page, selector: str, value: int) -> None:
    """Type `value` into the number field of the gradio block `selector` and commit it."""
    field = page.locator(f"{selector} input[type=number]").first
    field.fill(str(value))
    field.press("Enter")
