"""The region editor in chromium: every edit, then Generate at once, uses the mapping on screen."""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.browser.editor_helpers import (
    EDITOR,
    EDITS,
    SCREENSHOT,
    centre,
    drag,
    generate,
    open_advanced,
    preview_point,
    state,
    textarea_rows,
    twenty_regions,
    uncovered_point,
    wait_synced,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page


# --- one kind of edit each, picked at random by the sequence test ---


def edit_move(page: Page, rng: random.Random) -> None:
    rows = state(page)
    i = rng.randrange(len(rows))
    # The topmost box at its centre may be another one; drag whatever is there.
    x, y = centre(rows[i])
    drag(page, (x, y), (x + rng.uniform(-0.3, 0.3), y + rng.uniform(-0.3, 0.3)))


def edit_resize(page: Page, rng: random.Random) -> None:
    rows = state(page)
    i = rng.randrange(len(rows))
    page.locator(f"{EDITOR} tbody tr").nth(i).locator("td.prompt").click()  # select the row
    x1, x2, y1, y2, _ = rows[i]
    drag(page, (x2, y2), (rng.uniform(0.1, 1), rng.uniform(0.1, 1)))


def edit_draw(page: Page, rng: random.Random) -> None:
    point = uncovered_point(state(page), rng)
    if point is None:
        edit_key(page, rng)
        return
    drag(page, point, (point[0] + rng.uniform(0.05, 0.4), point[1] + rng.uniform(0.05, 0.4)))


def edit_key(page: Page, rng: random.Random) -> None:
    page.locator(f"{EDITOR} .preview").focus()
    keys = ["ArrowLeft", "ArrowRight", "ArrowUp", "Shift+ArrowDown", "Control+z", "Control+y"]
    if len(state(page)) > 1:
        keys.append("Delete")
    page.keyboard.press(rng.choice(keys))


def edit_cell(page: Page, rng: random.Random) -> None:
    rows = state(page)
    column = rng.choice(["x1", "x2", "y1", "y2", "weight"])
    value = rng.choice([f"{rng.uniform(-0.5, 1.5):.2f}", f"{rng.uniform(0, 6):.1f}", "abc"])
    row = page.locator(f"{EDITOR} tbody tr").nth(rng.randrange(len(rows)))
    cell = row.locator(f"input[data-column={column}]")
    cell.fill(value)
    cell.press("Enter")


def edit_row_button(page: Page, rng: random.Random) -> None:
    rows = state(page)
    ops = ["above", "below"] + (["delete"] if len(rows) > 1 else [])
    row = page.locator(f"{EDITOR} tbody tr").nth(rng.randrange(len(rows)))
    row.locator(f"button[data-op={rng.choice(ops)}]").click()


EDIT_KINDS: list[Callable[[Page, random.Random], None]] = [
    edit_move,
    edit_resize,
    edit_draw,
    edit_key,
    edit_cell,
    edit_row_button,
]


def test_load_pushes_the_state_and_generate_uses_it(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    assert state(page) == [[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1]]
    assert textarea_rows(page) == state(page)
    assert generate(page) == state(page)
    assert console_errors == []


def test_mouse_and_keyboard_edits_then_generate_at_once(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    page.evaluate("() => { window.opts.fc_sync_delay_ms = 60000; }")  # only the forced sync may act
    drag(page, (0.25, 0.5), (0.35, 0.6))  # move box 1
    assert state(page)[0] == [0.1, 0.6, 0, 1, 1]  # full height: no vertical room
    assert generate(page) == state(page)
    page.locator(f"{EDITOR} tbody tr").nth(1).locator("td.prompt").click()
    drag(page, (1.0, 1.0), (0.8, 0.7))  # resize box 2 by its south-east handle
    assert state(page)[1] == [0.5, 0.8, 0, 0.7, 1]
    assert generate(page) == state(page)
    page.locator(f"{EDITOR} tbody tr").nth(0).locator("button[data-op=delete]").click()
    drag(page, (0.1, 0.8), (0.4, 0.95))  # draw on empty space
    assert state(page)[1] == [0.1, 0.4, 0.8, 0.95, 1]
    page.locator(f"{EDITOR} .preview").focus()
    page.keyboard.press("ArrowLeft")
    assert state(page)[1] == [0.09, 0.39, 0.8, 0.95, 1]
    assert generate(page) == state(page)
    page.locator(f"{EDITOR} .preview").focus()  # Generate took the focus
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert len(state(page)) == 1
    assert generate(page) == state(page)
    page.locator(f"{EDITOR} .preview").focus()
    page.keyboard.press("Control+y")
    cell = page.locator(f"{EDITOR} tbody tr").nth(0).locator("input[data-column=x2]")
    cell.fill("1.7")
    cell.press("Enter")
    assert state(page)[0][1] == 1
    assert "clamped" in page.locator(f"{EDITOR} .reason").inner_text()
    assert generate(page) == state(page)
    assert console_errors == []


def test_random_edit_sequences_each_generate_the_mapping_on_screen(
    page: Page, console_errors: list[str]
) -> None:
    open_advanced(page)
    page.evaluate("() => { window.opts.fc_sync_delay_ms = 60000; }")
    rng = random.Random(8)
    mismatches = []
    for sequence in range(EDITS):
        for _ in range(rng.randint(1, 3)):
            rng.choice(EDIT_KINDS)(page, rng)
        on_screen = state(page)
        used = generate(page)
        if used != on_screen:
            mismatches.append((sequence, on_screen, used))
    assert mismatches == []
    assert console_errors == []


def test_outside_writes_reload_the_editor_and_reload_is_consistent(
    page: Page, console_errors: list[str]
) -> None:
    open_advanced(page)
    pasted = [[0, 1, 0, 0.5, 1.5], [0, 1, 0.5, 1, 1]]
    page.evaluate(
        """(text) => {
            const area = document.querySelector('#forge_couple_t2i .fc_mapping_json textarea');
            area.value = text;
            updateInput(area);
        }""",
        json.dumps(pasted),
    )
    page.wait_for_function(
        f"() => JSON.stringify(document.querySelector('{EDITOR}').mapping) === "
        f"{json.dumps(json.dumps(pasted, separators=(',', ':')))}"
    )
    assert generate(page) == pasted
    page.reload()
    page.wait_for_function(f"() => document.querySelector('{EDITOR}') !== null")
    assert textarea_rows(page) == state(page)
    assert console_errors == []


def test_dragging_among_twenty_regions_and_the_screenshot(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    rows = twenty_regions(page)
    page.evaluate(
        f"() => {{ document.querySelector('{EDITOR}').stats = {{moves: 0, totalMs: 0, maxMs: 0}}; }}"
    )
    page.mouse.move(*preview_point(page, 0.5, 0.375))  # the centre of row 8 (index 7)
    page.mouse.down()
    for step in range(60):
        page.mouse.move(*preview_point(page, 0.5 + step / 300, 0.375 + step / 400))
    page.mouse.up()
    stats = page.evaluate(f"() => document.querySelector('{EDITOR}').stats")
    if os.environ.get("FC_BROWSER_TIMING"):
        print(
            f"\ndrag with 20 regions: {stats['moves']} moves, "
            f"mean {stats['totalMs'] / stats['moves']:.3f} ms, max {stats['maxMs']:.3f} ms per move handler"
        )
    assert stats["moves"] >= 50  # the handler ran for (nearly) every mouse move
    moved = state(page)
    assert len(moved) == 20
    dx, dy = 59 / 300, 59 / 400
    expected = [rows[7][0] + dx, rows[7][1] + dx, rows[7][2] + dy, rows[7][3] + dy, 1]
    # Pointer positions are whole pixels: one hundredth either way.
    assert all(abs(a - b) <= 0.011 for a, b in zip(moved[7], expected, strict=True)), moved[7]
    assert round(moved[7][1] - moved[7][0], 2) == 0.2
    assert moved[:7] + moved[8:] == rows[:7] + rows[8:]
    wait_synced(page)
    assert textarea_rows(page) == moved
    assert generate(page) == moved
    page.locator("#txt2img_prompt textarea").fill("\n".join(f"region {i + 1}" for i in range(20)))
    page.locator("#txt2img_prompt textarea").dispatch_event("input")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(EDITOR).screenshot(path=str(SCREENSHOT))
    assert re.search(r"\d", page.locator(f"{EDITOR} .coverage").inner_text()) is None
    assert console_errors == []
