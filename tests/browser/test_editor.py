"""The region editor in chromium: every edit, then Generate at once, uses the mapping on screen."""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_couple.infotext import from_infotext, parse_parameters

if TYPE_CHECKING:
    from playwright.sync_api import Page

EDITOR = "forge-couple-editor"
EDITS = int(os.environ.get("FC_BROWSER_EDITS", "20"))
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "editor.png"
_seeds = count(1000)


def state(page: Page) -> list[list[float]]:
    mapping: list[list[float]] = page.evaluate(f"() => document.querySelector('{EDITOR}').mapping")
    return mapping


def textarea_rows(page: Page) -> Any:
    return json.loads(page.evaluate("() => document.querySelector('.fc_mapping_json textarea').value"))


def set_number(page: Page, selector: str, value: int) -> None:
    field = page.locator(f"{selector} input[type=number]").first
    field.fill(str(value))
    field.press("Enter")


def open_advanced(page: Page) -> None:
    page.locator("#forge_couple_t2i .label-wrap").first.click()
    page.locator("#forge_couple_t2i label", has_text="Advanced").click()
    page.locator("#forge_couple_t2i .fc_enable input").check()
    set_number(page, "#txt2img_width", 64)
    set_number(page, "#txt2img_height", 64)
    set_number(page, "#txt2img_steps", 1)
    page.locator(f"{EDITOR} .preview").wait_for(state="visible")


def generate(page: Page) -> list[list[float]]:
    """Prompt lines to match, Generate at once; the mapping the generation used."""
    seed = next(_seeds)
    set_number(page, "#txt2img_seed", seed)
    lines = "\n".join(f"region {i}" for i in range(len(state(page))))
    page.locator("#txt2img_prompt textarea").fill(lines)
    page.locator("#txt2img_generate").click()
    page.wait_for_function(
        f"() => document.querySelector('#html_info_txt2img textarea').value.includes('Seed: {seed},')",
        timeout=60_000,
    )
    text = page.locator("#html_info_txt2img textarea").input_value()
    _, _, params = parse_parameters(text)
    mapping: list[list[float]] = from_infotext(params)["mapping"]
    return mapping


def preview_point(page: Page, x: float, y: float) -> tuple[float, float]:
    preview = page.locator(f"{EDITOR} .preview")
    preview.evaluate(
        """(p) => { const r = p.getBoundingClientRect();
                    if (r.top < 10 || r.bottom > innerHeight - 10) p.scrollIntoView({block: 'center'}); }"""
    )
    box = preview.bounding_box()
    assert box is not None
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*preview_point(page, *start))
    page.mouse.down()
    page.mouse.move(*preview_point(page, *end), steps=5)
    page.mouse.up()


def centre(row: list[float]) -> tuple[float, float]:
    return (row[0] + row[1]) / 2, (row[2] + row[3]) / 2


def uncovered_point(mapping: list[list[float]], rng: random.Random) -> tuple[float, float] | None:
    for _ in range(50):
        x, y = rng.uniform(0.02, 0.9), rng.uniform(0.02, 0.9)
        if not any(r[0] - 0.02 <= x <= r[1] + 0.02 and r[2] - 0.02 <= y <= r[3] + 0.02 for r in mapping):
            return x, y
    return None


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
            const area = document.querySelector('.fc_mapping_json textarea');
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
    rows = [
        [round(c * 0.2, 2), round(c * 0.2 + 0.2, 2), round(r * 0.25, 2), round(r * 0.25 + 0.25, 2), 1]
        for r in range(4)
        for c in range(5)
    ]
    page.evaluate(f"(rows) => {{ const el = document.querySelector('{EDITOR}'); el.change(rows); }}", rows)
    reset = "{moves: 0, totalMs: 0, maxMs: 0}"
    page.evaluate(f"() => {{ document.querySelector('{EDITOR}').stats = {reset}; }}")
    page.mouse.move(*preview_point(page, 0.5, 0.375))
    page.mouse.down()
    for step in range(60):
        page.mouse.move(*preview_point(page, 0.5 + step / 300, 0.375 + step / 400))
    page.mouse.up()
    stats = page.evaluate(f"() => document.querySelector('{EDITOR}').stats")
    print(
        f"\ndrag with 20 regions: {stats['moves']} moves, mean {stats['totalMs'] / stats['moves']:.3f} ms, "
        f"max {stats['maxMs']:.3f} ms per move handler"
    )
    assert stats["moves"] > 0
    page.locator("#txt2img_prompt textarea").fill("\n".join(f"region {i + 1}" for i in range(20)))
    page.locator("#txt2img_prompt textarea").dispatch_event("input")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(EDITOR).screenshot(path=str(SCREENSHOT))
    assert re.search(r"\d", page.locator(f"{EDITOR} .coverage").inner_text()) is None
    assert console_errors == []
