"""The explorer's pad in chromium on the demo model: a click steps toward it, the arrow keys
step, undo shows the cached frame, and the page logs no errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.explore_helpers import UNDO, open_explorer, status_after

if TYPE_CHECKING:
    from playwright.sync_api import Page, Position


def test_the_pad_moves_by_click_and_keys_and_undo_recalls(page: Page, console_errors: list[str]) -> None:
    show = open_explorer(page)
    x, y, shown = status_after(page, show.click)
    assert (x, y) == (0.0, 0.0)
    assert "· sampled ·" in shown
    picture = page.locator("#forge_couple_explore_pad img")
    box = picture.bounding_box()
    assert box is not None
    # a click right of the centre (inside the square picture, which is letterboxed): one step east
    right: Position = {"x": box["width"] / 2 + box["height"] * 0.4, "y": box["height"] / 2}
    x, y, moved = status_after(page, lambda: picture.click(position=right))
    assert x == pytest.approx(0.25, abs=0.01)
    assert y == pytest.approx(0.0, abs=0.02)
    assert "· sampled ·" in moved
    x2, y2, up = status_after(page, lambda: page.keyboard.press("ArrowUp"))
    assert (x2, y2) == pytest.approx((x, y + 0.25))
    assert "undo 2" in up
    x3, y3, undone = status_after(page, page.locator("#forge_couple_explore_undo").click)
    assert (x3, y3) == (x, y)
    assert "· from the cache ·" in undone
    # a drag east from the centre: a step each 24 px of the drag, none for the click that ends it
    _, _, started = status_after(page, page.locator("#forge_couple_explore_start").click)
    before = int(UNDO.search(started)[1])  # type: ignore[index]

    def drag(pixels: float, moves: int) -> tuple[float, float, int]:
        picture.scroll_into_view_if_needed()  # the mouse reaches only what is on screen
        box = picture.bounding_box()
        assert box is not None
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*centre)
        page.mouse.down()
        page.mouse.move(centre[0] + pixels, centre[1], steps=moves)
        page.mouse.up()
        # moves are served in order: once Show's line is back, every drag step before it is too
        x, y, line = status_after(page, show.click, "· here ·")
        return x, y, int(UNDO.search(line)[1]) - before  # type: ignore[index]

    x4, y4, steps = drag(30, 1)  # one pointer move of 30 px: exactly one step, and no click step
    assert steps == 1
    assert (x4, y4) == pytest.approx((0.25, 0.0), abs=0.02)
    assert console_errors == []
