"""The region editor's look in chromium: the gesture hint, room to draw on the default mapping,
table headers shown whole, and buttons in gradio's theme colours (light and dark)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.editor_helpers import EDITOR, generate, open_advanced, preview_point, state

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DEFAULT = [[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1]]


def test_the_hint_names_every_gesture(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    hint = page.locator(f"{EDITOR} .hint")
    assert hint.is_visible()
    text = hint.inner_text()
    for gesture in ("draw", "move", "8 handles", "arrows", "delete", "ctrl+z"):
        assert gesture in text.lower(), (gesture, text)
    box = hint.bounding_box()
    assert box is not None
    assert box["height"] < 40  # one line; two at most on a narrow panel
    assert console_errors == []


def test_a_box_is_drawn_from_the_margin_on_the_default_mapping(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    assert state(page) == DEFAULT
    preview_point(page, 0, 0)  # scrolls the preview into view
    box = page.locator(f"{EDITOR} .preview").bounding_box()
    assert box is not None
    assert box["width"] > 220  # the preview was 220 px wide
    # The two default boxes cover the whole image; the frame's margin is empty space to start in.
    page.mouse.move(box["x"] - 8, box["y"] - 8)
    page.mouse.down()
    page.mouse.move(*preview_point(page, 0.4, 0.3), steps=5)
    page.mouse.up()
    rows = state(page)
    assert rows[:2] == DEFAULT
    assert len(rows) == 3
    x1, x2, y1, y2, weight = rows[2]
    assert (x1, y1, weight) == (0, 0, 1)  # clamped to the image's corner
    assert abs(x2 - 0.4) <= 0.011
    assert abs(y2 - 0.3) <= 0.011
    assert generate(page) == rows
    assert console_errors == []


def test_table_headers_are_not_cut(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    headers: list[dict[str, Any]] = page.evaluate(
        f"""() => [...document.querySelector('{EDITOR}').shadowRoot.querySelectorAll('th')]
                 .filter((th) => th.textContent.trim())
                 .map((th) => ({{text: th.textContent, scroll: th.scrollWidth, client: th.clientWidth}}))"""
    )
    assert [h["text"] for h in headers] == ["x1", "x2", "y1", "y2", "weight", "prompt"]
    for header in headers:
        assert header["scroll"] <= header["client"], header
    assert console_errors == []


def load_themed(page: Page, app_url: str, theme: str) -> None:
    """The app in gradio's light or dark theme; outside requests (web fonts) answered empty."""
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(body=""))
    page.goto(f"{app_url}?__theme={theme}")
    page.wait_for_function("() => document.querySelector('forge-couple-editor') !== null", timeout=30_000)


@pytest.fixture
def themed_page(browser: Browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.route(
        "**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort()
    )
    opened.goto(f"{app_url}?__theme={request.param}")
    opened.wait_for_function("() => document.querySelector('forge-couple-editor') !== null", timeout=30_000)
    try:
        yield opened
    finally:
        context.close()


# The button's computed colours against a probe beside the editor painted with gradio's variables.
BUTTON_COLOURS = f"""() => {{
    const editor = document.querySelector('{EDITOR}');
    const probe = document.createElement('div');
    probe.style.background = 'var(--button-secondary-background-fill)';
    probe.style.color = 'var(--button-secondary-text-color)';
    probe.style.borderRadius = 'var(--button-small-radius)';
    probe.style.borderTopColor = 'var(--body-text-color)';
    editor.parentElement.appendChild(probe);
    const want = getComputedStyle(probe);
    const button = getComputedStyle(editor.shadowRoot.querySelector('button.default'));
    const result = {{
      dark: document.body.classList.contains('dark') || document.documentElement.classList.contains('dark'),
      want: [want.backgroundImage, want.backgroundColor, want.color, want.borderTopLeftRadius],
      got: [button.backgroundImage, button.backgroundColor, button.color, button.borderTopLeftRadius],
      text: getComputedStyle(editor).color,
      body: want.borderTopColor,
    }};
    probe.remove();
    return result;
}}"""


@pytest.mark.parametrize("themed_page", ["light", "dark"], indirect=True)
def test_buttons_take_the_theme_colours(themed_page: Page, request: pytest.FixtureRequest) -> None:
    open_advanced(themed_page)
    colours = themed_page.evaluate(BUTTON_COLOURS)
    theme = request.node.callspec.params["themed_page"]
    assert colours["dark"] == (theme == "dark")
    assert colours["got"] == colours["want"], colours
    # The variable is set on this page (gradio's default theme: a gradient, so an image).
    assert colours["want"][0] != "none" or colours["want"][1] != "rgba(0, 0, 0, 0)", colours
    assert colours["text"] == colours["body"]


def test_dark_and_light_buttons_differ(browser: Browser, app_url: str) -> None:
    seen = []
    for theme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        opened = context.new_page()
        opened.goto(f"{app_url}?__theme={theme}")
        opened.wait_for_function(
            "() => document.querySelector('forge-couple-editor') !== null", timeout=30_000
        )
        open_advanced(opened)
        seen.append(opened.evaluate(BUTTON_COLOURS)["got"][:3])
        context.close()
    assert seen[0] != seen[1], seen
