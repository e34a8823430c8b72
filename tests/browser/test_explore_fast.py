"""The explorer's fast path in chromium (`javascript/forge_couple_explore_fast.js`): a move whose
frame is cached shows the route's preloaded picture first, the very pixels Gradio then brings,
by a button or an arrow key; after anything is typed the page waits for Gradio instead."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from tests.browser.explore_helpers import FRAME, open_explorer, shown_frame, status_after, wait_ahead_ready
from tests.browser.page_helpers import set_number

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

MARK = "#forge_couple_explore_fast [data-token]"
ROUTE_FRAME = "/forge-couple/explore/frame?"
# every new src the frame's <img> takes, in order, from now on (a re-set of the same one is not)
WATCH_JS = """() => {
    const box = document.querySelector('#forge_couple_explore_frame');
    window.fcSources = [box.querySelector('img')?.src ?? ''];
    const seen = () => {
        const src = box.querySelector('img')?.src ?? '';
        if (src && src !== fcSources[fcSources.length - 1]) fcSources.push(src);
    };
    new MutationObserver(seen).observe(
        box, { subtree: true, childList: true, attributes: true, attributeFilter: ['src'] });
}"""


def offered(page: Page, action: str) -> None:
    page.wait_for_function(
        f"() => {{ const m = document.querySelector('{MARK}')?.dataset; "
        f"return m?.offeredMove === m?.move && m?.offered?.split(' ').includes('{action}'); }}",
        timeout=120_000,
    )


def pixels(page: Page, source: str) -> np.ndarray:  # type: ignore[type-arg]
    with Image.open(io.BytesIO(page.request.get(source).body())) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def sources(page: Page) -> list[str]:
    """The frame's new sources since WATCH_JS (the one it had then left out)."""
    return [str(source) for source in page.evaluate("() => window.fcSources")][1:]


def explorer_on_seed(page: Page, seed: int) -> Locator:
    """Open the explorer on a seed of its own: the page's frame cache is shared by the tests."""
    show = open_explorer(page)
    set_number(page, "#forge_couple_explore_seed", seed)
    return show


def test_a_cached_move_shows_the_preloaded_frame_first_the_same_pixels_gradio_brings(
    page: Page, console_errors: list[str]
) -> None:
    show = explorer_on_seed(page, 71)
    status_after(page, show.click)
    before = shown_frame(page)
    # nothing pressed: the page keeps asking while the neighbours are drawn (the first Show's
    # move landed before there was any frame on the page)
    offered(page, "north")
    page.evaluate(WATCH_JS)
    _, y, line = status_after(page, lambda: page.locator("#forge_couple_explore_north").click())
    assert y == 0.25
    assert "· from the cache ·" in line
    seen = sources(page)
    assert ROUTE_FRAME in seen[0], seen  # the fast path's picture came first
    assert ROUTE_FRAME not in seen[-1], seen  # then Gradio's own output
    fast, final = pixels(page, seen[0]), shown_frame(page)
    assert np.array_equal(fast, final)
    assert not np.array_equal(final, before)  # precondition: the move changed the picture
    # Undo by the arrow keys' neighbour: the start frame, exactly, fast
    offered(page, "undo")
    page.evaluate(WATCH_JS)
    status_after(page, lambda: page.locator("#forge_couple_explore_undo").click(), "undone")
    seen = sources(page)
    assert ROUTE_FRAME in seen[0], seen
    assert np.array_equal(pixels(page, seen[0]), before)
    assert np.array_equal(shown_frame(page), before)
    # an arrow key presses its button (Undo armed the keys): the same fast path; the start's
    # neighbours are all drawn already
    offered(page, "east")
    page.evaluate(WATCH_JS)
    _, _, line = status_after(page, lambda: page.keyboard.press("ArrowRight"))
    assert "step 0.250" in line
    seen = sources(page)
    assert ROUTE_FRAME in seen[0], seen
    assert np.array_equal(pixels(page, seen[0]), shown_frame(page))
    assert console_errors == []


def test_after_typing_the_move_waits_for_gradio(page: Page, console_errors: list[str]) -> None:
    show = explorer_on_seed(page, 72)
    status_after(page, show.click)
    wait_ahead_ready(page, show)
    offered(page, "north")
    # a new base prompt: the next move opens a new explorer, whose frames are not the offer's
    page.locator("#forge_couple_explore textarea").first.fill("a red square on a black background")
    assert page.evaluate(f"() => document.querySelector('{MARK}')?.dataset.offered") is not None
    page.evaluate(WATCH_JS)
    _, _, line = status_after(page, lambda: page.locator("#forge_couple_explore_north").click())
    assert "· sampled ·" in line
    seen = sources(page)
    assert seen, "the move showed no frame"
    assert all(ROUTE_FRAME not in source for source in seen), seen
    assert ROUTE_FRAME not in str(page.locator(FRAME).first.get_attribute("src"))
    assert console_errors == []
