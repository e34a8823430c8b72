"""Shared steps of the region editor's browser tests (and bench/editor_drag.py): the editor's
state, the mapping textbox, Advanced mode on a tiny image, pointer positions in the preview,
Generate and the mapping its parameters name."""

from __future__ import annotations

import json
import os
import random
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_couple.infotext import from_infotext, parse_parameters
from tests.browser.page_helpers import set_number

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


def prompt_text(page: Page, tab: str = "txt2img") -> str:
    text: str = page.locator(f"#{tab}_prompt textarea").input_value()
    return text


def set_prompt(page: Page, text: str) -> None:
    page.locator("#txt2img_prompt textarea").fill(text)  # fill fires input: the table reads it


def prompt_cell(page: Page, row: int) -> Any:
    return page.locator(f"{EDITOR} tbody tr").nth(row).locator("td.prompt input")
