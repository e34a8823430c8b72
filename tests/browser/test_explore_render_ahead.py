"""The explorer's render-ahead in chromium on the trained demo model: a move toward a direction
prompt tints the frame that prompt's colour, undo and redo show the exact frames seen before, a
neighbour the render-ahead drew shows without sampling, and the page logs no errors. The status
line's counters ("sampled N, superseded M, ahead k/n ready") are the app's own
(`lib_couple/ui/explore_pad.py`), not a test stand-in. And a move superseded while its frame
waited behind a txt2img is never rendered: only the newest move's frame is sampled."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tests.browser.explore_helpers import (
    STATUS,
    counts,
    open_explorer,
    shown_frame,
    status_after,
    tint,
    wait_ahead_ready,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

RED, GREEN, BLUE = 0, 1, 2
TINTED = 20.0  # the demo model at y = ±1 measured +50 blue (north) and +38 green (south)
# the largest txt2img the page allows: at about 1.3 s a step here (one thread) it holds the model
# for minutes, while a move takes well under a second; Interrupt ends it within a step
LONG_TXT2IMG = (("width", 1024), ("height", 1024), ("steps", 150))


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the checked-in trained weights: colours follow the prompts (the suite's other
    pages use untrained weights, which draw no colour a prompt names)."""
    from lib_couple.demo.model import DemoComponents, load_demo_pipeline
    from lib_couple.ui.presets import PRESETS_ENV
    from tests.app_server import serving_app

    os.environ[PRESETS_ENV] = str(tmp_path_factory.mktemp("presets") / "presets.json")

    def loader() -> DemoComponents:
        return load_demo_pipeline()

    with serving_app(loader) as url:
        yield url


def press(page: Page, button: str) -> None:
    page.locator(f"#forge_couple_explore_{button}").click()


def test_colour_exact_undo_redo_and_a_pre_rendered_neighbour(page: Page, console_errors: list[str]) -> None:
    show = open_explorer(page)
    _, _, line = status_after(page, show.click)
    assert "· sampled ·" in line
    start = shown_frame(page)
    line = wait_ahead_ready(page, show)
    sampled, _, ready, neighbours = counts(line)
    assert sampled == 1
    assert ready == neighbours == 4  # the four compass neighbours, drawn ahead
    # one step north (the blue circle's prompt): drawn ahead, so shown by the move, unsampled
    x, y, line = status_after(page, lambda: press(page, "north"))
    assert (x, y) == (0.0, 0.25)
    assert "· from the cache ·" in line
    assert counts(line)[0] == sampled
    frames = {0.25: shown_frame(page)}
    for _ in range(3):
        x, y, line = status_after(page, lambda: press(page, "north"))
        frames[y] = shown_frame(page)
    assert y == 1.0
    assert tint(frames[1.0], BLUE) > tint(start, BLUE) + TINTED
    # undo and redo: the very pixels shown before, from the cache, with nothing sampled
    before = counts(line)[0]
    _, y, line = status_after(page, lambda: press(page, "undo"))
    assert y == 0.75
    assert "· from the cache ·" in line
    assert np.array_equal(shown_frame(page), frames[0.75])
    _, y, line = status_after(page, lambda: press(page, "redo"))
    assert y == 1.0
    assert "· from the cache ·" in line
    assert np.array_equal(shown_frame(page), frames[1.0])
    assert counts(line)[0] == before
    # the other way, toward the green circle: greener
    status_after(page, lambda: press(page, "start"))
    assert np.array_equal(shown_frame(page), start)
    for _ in range(4):
        x, y, line = status_after(page, lambda: press(page, "south"))
    assert y == -1.0
    assert tint(shown_frame(page), GREEN) > tint(start, GREEN) + TINTED
    assert console_errors == []


def tab(page: Page, name: str, elem_id: str) -> None:
    page.locator(f"#{elem_id}-button, button[role=tab]:has-text('{name}')").first.click()


def start_long_txt2img(page: Page) -> None:
    """Generate the largest txt2img on this page and wait until it samples (it holds the model)."""
    tab(page, "txt2img", "tab_txt2img")
    for name, value in LONG_TXT2IMG:
        field = page.locator(f"#txt2img_{name} input[type=number]").first
        field.fill(str(value))
        field.press("Enter")
    page.locator("#txt2img_generate").click()
    page.wait_for_function(
        "() => /step [1-9]\\d*\\/150/.test(document.querySelector('#txt2img_gallery').innerText)",
        timeout=120_000,
    )


def still_generating(page: Page) -> bool:
    """The txt2img's step progress is still on its gallery (it goes when the event ends)."""
    return "/150" in page.locator("#txt2img_gallery").inner_text()


def test_a_superseded_move_is_never_rendered(page: Page, console_errors: list[str]) -> None:
    show = open_explorer(page)
    status_after(page, show.click)
    sampled, superseded, ready, neighbours = counts(wait_ahead_ready(page, show))
    assert ready == neighbours  # one step east is drawn ahead; the two after it are new ground
    start_long_txt2img(page)
    tab(page, "Latent Walk", "tab_latent_walk")
    lines = []
    for undo in (1, 2, 3):  # each move's own line (it needs no model) before the next press
        press(page, "east")
        page.wait_for_function(
            f"() => document.querySelector('{STATUS}')?.value.includes('undo {undo} /')", timeout=60_000
        )
        lines.append(str(page.locator(STATUS).input_value()))
    tab(page, "txt2img", "tab_txt2img")
    assert still_generating(page), (
        "precondition: the txt2img was to hold the model until all three moves were in, but it "
        f"ended first (gallery: {page.locator('#txt2img_gallery').inner_text()!r})"
    )
    assert [line[:8] for line in lines] == ["x +0.250", "x +0.500", "x +0.750"], lines
    assert "· from the cache ·" in lines[0], lines[0]  # drawn ahead: shown by the move itself
    assert all("· rendering ·" in line for line in lines[1:]), lines  # waiting for the model
    page.locator("#txt2img_interrupt").click()
    stopped = page.locator("#html_log_txt2img").get_by_text("Interrupted after")
    stopped.wait_for(timeout=120_000)
    assert "after 150 steps" not in stopped.inner_text()
    tab(page, "Latent Walk", "tab_latent_walk")
    # the waiting frames are served now, in order: the first move's is a no-op (already shown),
    # the second's is skipped for the third, and only the third's is sampled
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{STATUS}')?.value ?? ''; "
        "return v.startsWith('x +0.750') && !v.includes('rendering'); }",
        timeout=120_000,
    )
    final = str(page.locator(STATUS).input_value())
    assert "· sampled ·" in final, final  # not "stopped": the txt2img's Interrupt was its own
    assert counts(final)[:2] == (sampled + 1, superseded + 1), final
    assert console_errors == []
