"""The region editor in chromium: every edit, then Generate at once, uses the mapping on screen."""

from __future__ import annotations

import io
import json
import os
import random
import re
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.infotext import from_infotext, parse_parameters
from lib_couple.prompts import resolve_separator, split_lines

if TYPE_CHECKING:
    from playwright.sync_api import Page

EDITOR = "#forge_couple_t2i forge-couple-editor"
EDITS = int(os.environ.get("FC_BROWSER_EDITS", "20"))
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "editor.png"
_seeds = count(1000)


def state(page: Page) -> list[list[float]]:
    mapping: list[list[float]] = page.evaluate(f"() => document.querySelector('{EDITOR}').mapping")
    return mapping


def textarea_rows(page: Page) -> Any:
    return json.loads(
        page.evaluate("() => document.querySelector('#forge_couple_t2i .fc_mapping_json textarea').value")
    )


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


def generate_parameters(page: Page, tab: str = "txt2img") -> tuple[str, list[list[float]]]:
    """Generate at once with the prompt as it is: (the prompt, the mapping) the generation used."""
    seed = next(_seeds)
    set_number(page, f"#{tab}_seed", seed)
    page.locator(f"#{tab}_generate").click()
    page.wait_for_function(
        f"() => document.querySelector('#html_info_{tab} textarea').value.includes('Seed: {seed},')",
        timeout=60_000,
    )
    text = page.locator(f"#html_info_{tab} textarea").input_value()
    prompt, _, params = parse_parameters(text)
    mapping: list[list[float]] = from_infotext(params)["mapping"]
    return prompt, mapping


def generate(page: Page) -> list[list[float]]:
    """Prompt lines to match, Generate at once; the mapping the generation used."""
    lines = "\n".join(f"region {i}" for i in range(len(state(page))))
    page.locator("#txt2img_prompt textarea").fill(lines)
    return generate_parameters(page)[1]


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


def twenty_regions(page: Page) -> list[list[float]]:
    """A 5 x 4 grid of regions set as one edit; the rows."""
    rows = [
        [round(c * 0.2, 2), round(c * 0.2 + 0.2, 2), round(r * 0.25, 2), round(r * 0.25 + 0.25, 2), 1]
        for r in range(4)
        for c in range(5)
    ]
    page.evaluate(f"(rows) => {{ document.querySelector('{EDITOR}').change(rows); }}", rows)
    return rows


def wait_synced(page: Page) -> None:
    page.wait_for_function(
        f"""() => document.querySelector('#forge_couple_t2i .fc_mapping_json textarea').value ===
                  JSON.stringify(document.querySelector('{EDITOR}').mapping)"""
    )


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


def prompt_text(page: Page, tab: str = "txt2img") -> str:
    text: str = page.locator(f"#{tab}_prompt textarea").input_value()
    return text


def set_prompt(page: Page, text: str) -> None:
    page.locator("#txt2img_prompt textarea").fill(text)  # fill fires input: the table reads it


def prompt_cell(page: Page, row: int) -> Any:
    return page.locator(f"{EDITOR} tbody tr").nth(row).locator("td.prompt input")


def test_editing_a_prompt_cell_rewrites_that_prompt_line(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    page.evaluate("() => { window.opts.fc_sync_delay_ms = 60000; }")
    set_prompt(page, "a red fox\na blue bird\n")  # a trailing newline is no line
    assert prompt_cell(page, 1).input_value() == "a blue bird"
    prompt_cell(page, 1).fill("a green frog")
    prompt_cell(page, 1).press("Enter")
    assert prompt_text(page) == "a red fox\na green frog\n"
    prompt, mapping = generate_parameters(page)
    assert "a green frog" in prompt
    assert "a blue bird" not in prompt
    assert mapping == state(page)
    # A custom separator: the line is found by it, and the other lines are kept as typed.
    page.locator("#forge_couple_t2i .fc_separator").locator("textarea, input").first.fill(" | ")
    set_prompt(page, "one | two")
    prompt_cell(page, 0).fill("uno")
    prompt_cell(page, 0).press("Tab")  # leaving the cell commits too
    assert prompt_text(page) == "uno | two"
    assert console_errors == []


def test_shift_delete_removes_the_region_and_its_prompt_line(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    page.locator(f"{EDITOR} tbody tr").nth(1).locator("button[data-op=below]").click()
    set_prompt(page, "left\nright\nmiddle")
    rows = state(page)
    assert len(rows) == 3
    delete = page.locator(f"{EDITOR} tbody tr").nth(0).locator("button[data-op=delete]")
    delete.click()  # plain delete: the prompt stays
    assert state(page) == rows[1:]
    assert prompt_text(page) == "left\nright\nmiddle"
    page.locator(f"{EDITOR} .preview").focus()
    page.keyboard.press("Control+z")
    assert state(page) == rows
    page.locator(f"{EDITOR} tbody tr").nth(1).locator("button[data-op=delete]").click(modifiers=["Shift"])
    assert state(page) == [rows[0], rows[2]]
    assert prompt_text(page) == "left\nmiddle"
    assert [prompt_cell(page, i).input_value() for i in range(2)] == ["left", "middle"]
    page.locator(f"{EDITOR} tbody tr").nth(0).locator("td.swatch").click()  # select row 1
    page.locator(f"{EDITOR} .preview").focus()
    page.keyboard.press("Shift+Delete")
    assert state(page) == [rows[2]]
    assert prompt_text(page) == "middle"
    prompt, mapping = generate_parameters(page)
    assert prompt == "middle"
    assert mapping == [rows[2]]
    assert console_errors == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(["a", "b c", " d ", "", "  ", "e\\n"]), min_size=0, max_size=6),
    typed=st.sampled_from(["", "\\n", " | ", ";", "\\t", "  "]),
    index=st.integers(0, 6),
    remove=st.booleans(),
)
def test_prompt_lines_split_and_rewrite_as_the_backend_counts_them(
    page: Page, lines: list[str], typed: str, index: int, remove: bool
) -> None:
    separator = resolve_separator(typed)
    text = separator.join(lines)
    split, rewritten = page.evaluate(
        """([text, typed, i, remove]) => {
            const m = ForgeCouple.model, s = m.resolveSeparator(typed);
            return [m.splitLines(text, s), m.rewriteLine(text, s, i, remove ? null : 'new line')];
        }""",
        [text, typed, index, remove],
    )
    before = split_lines(text, typed)
    assert split == before
    expected = before.copy()
    if remove and index < len(before):
        del expected[index]
    elif not remove and index <= len(before):
        expected[index : index + 1] = ["new line"]
    while expected and not expected[-1]:
        expected.pop()  # an empty line left last is no line, for the backend too
    assert split_lines(rewritten, typed) == expected


def test_background_upload_shows_under_the_boxes(page: Page, console_errors: list[str]) -> None:
    open_advanced(page)
    image = io.BytesIO()
    Image.new("RGB", (32, 16), (0, 128, 255)).save(image, format="PNG")
    upload = page.locator(f"{EDITOR} input.upload")
    upload.set_input_files({"name": "bg.png", "mimeType": "image/png", "buffer": image.getvalue()})
    background = page.locator(f"{EDITOR} img.background")
    root = f"document.querySelector('{EDITOR}').shadowRoot"
    page.wait_for_function(
        f"() => {{ const img = {root}.querySelector('img.background'); return img.naturalWidth === 32; }}"
    )
    assert (background.get_attribute("src") or "").startswith("blob:")
    assert background.is_visible()
    assert 0 < float(background.evaluate("(img) => getComputedStyle(img).opacity")) < 1
    # The boxes stay on top: the point at a box's centre hits the box, not the image.
    preview_point(page, 0.5, 0.5)  # scrolls the preview into view
    hit = page.evaluate(
        f"""() => {{ const r = {root}.querySelector('.box').getBoundingClientRect();
                    return {root}.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2).className; }}"""
    )
    assert "box" in hit
    page.locator(f"{EDITOR} button.clear-background").click()
    assert background.get_attribute("src") is None
    assert not background.is_visible()
    upload.set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    assert "not an image" in page.locator(f"{EDITOR} .reason").inner_text()
    assert background.get_attribute("src") is None
    assert console_errors == []


def test_pull_from_txt2img_copies_the_regions_and_img2img_uses_them(
    page: Page, console_errors: list[str]
) -> None:
    # The app has an img2img tab: its absence is a regression, not a reason to skip.
    assert page.locator("#tab_img2img").count() == 1, "the standalone app lost its img2img tab"
    open_advanced(page)
    rows = twenty_regions(page)[:3]
    page.evaluate(f"(rows) => {{ document.querySelector('{EDITOR}').change(rows); }}", rows)
    i2i = "#forge_couple_i2i forge-couple-editor"
    page.locator(".tab-nav button", has_text="img2img").first.click()
    page.locator("#forge_couple_i2i .label-wrap").first.click()
    page.locator("#forge_couple_i2i label", has_text="Advanced").click()
    page.locator("#forge_couple_i2i .fc_enable input").check()
    before = page.evaluate(f"() => document.querySelector('{i2i}').mapping")
    assert before != rows
    page.locator(f"{i2i} button.pull").click()
    assert page.evaluate(f"() => document.querySelector('{i2i}').mapping") == rows
    assert json.loads(page.locator("#forge_couple_i2i .fc_mapping_json textarea").input_value()) == rows
    page.locator(f"{i2i} .preview").focus()
    page.keyboard.press("Control+z")
    assert page.evaluate(f"() => document.querySelector('{i2i}').mapping") == before
    page.locator(f"{i2i} button.pull").click()
    # The img2img input image becomes the editor's background by itself.
    image = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 40, 40)).save(image, format="PNG")
    page.locator("#img2img_image input[type=file]").first.set_input_files(
        {"name": "input.png", "mimeType": "image/png", "buffer": image.getvalue()}
    )
    page.wait_for_function(
        f"() => document.querySelector('{i2i}').shadowRoot.querySelector('img.background').naturalWidth > 0",
        timeout=30_000,
    )
    for name, value in (("width", 64), ("height", 64), ("steps", 1)):
        if page.locator(f"#img2img_{name}").count():
            set_number(page, f"#img2img_{name}", value)
    page.locator("#img2img_prompt textarea").fill("one\ntwo\nthree")
    _, mapping = generate_parameters(page, "img2img")
    assert mapping == rows
    assert console_errors == []
