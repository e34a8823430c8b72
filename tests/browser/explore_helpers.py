"""The explorer pad's page helpers, shared by the pad's browser tests: open it, wait for a
move's own status line, read the counters that line carries, and read the shown frame."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

STATUS = "#forge_couple_explore_status textarea"
FRAME = "#forge_couple_explore_frame img"
WHERE = re.compile(r"^x ([-+][0-9.]+), y ([-+][0-9.]+)")
SHOW_POLLS = 200  # Shows while waiting for the render-ahead (each a cache hit: no sampling)
UNDO = re.compile(r"undo ([0-9]+)")
COUNTS = re.compile(r"sampled ([0-9]+), superseded ([0-9]+), ahead ([0-9]+)/([0-9]+) ready")


def open_explorer(page: Page) -> Locator:
    """Open the Latent Walk tab and the explorer's accordion; its Show button."""
    page.locator("#tab_latent_walk-button, button[role=tab]:has-text('Latent Walk')").first.click()
    page.locator("#forge_couple_explore .label-wrap").first.click()
    return page.locator("#forge_couple_explore button:has-text('Show')").first


def status_after(page: Page, action: Callable[[], None], expect: str = "") -> tuple[float, float, str]:
    """Run `action` and wait for a new status line with its frame; the pad point it names, and the line."""
    before = page.locator(STATUS).input_value()
    action()
    # a move shows "rendering" until its frame comes: wait for the frame's own line
    changed = (
        f"(before) => {{ const s = document.querySelector('{STATUS}'); "
        f"return s?.value !== before && !s.value.includes('rendering') && s.value.includes('{expect}'); }}"
    )
    page.wait_for_function(changed, arg=before, timeout=120_000)
    line = str(page.locator(STATUS).input_value())
    where = WHERE.match(line)
    assert where is not None, line
    return float(where[1]), float(where[2]), line


def counts(line: str) -> tuple[int, int, int, int]:
    """(frames sampled, moves superseded, neighbours ready, neighbours) from a status line."""
    found = COUNTS.search(line)
    assert found is not None, line
    sampled, superseded, ready, neighbours = (int(group) for group in found.groups())
    return sampled, superseded, ready, neighbours


def shown_frame(page: Page) -> NDArray[np.int16]:
    """The pixels of the frame on the page (RGB, as the browser was sent them)."""
    source = str(page.locator(FRAME).first.get_attribute("src"))
    if source.startswith("data:"):
        data = base64.b64decode(source.partition(",")[2])
    else:
        data = page.request.get(source).body()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def tint(pixels: NDArray[np.int16], channel: int) -> float:
    """How much `channel` (0 red, 1 green, 2 blue) leads the other two, mean over the frame."""
    means = pixels.reshape(-1, 3).mean(axis=0)
    return float(means[channel] - (means.sum() - means[channel]) / 2)


def wait_ahead_ready(page: Page, show: Locator) -> str:
    """Press Show until the status says every neighbour is drawn: a Show of a drawn point keeps
    the render-ahead going (it needs no model). The timeout decides only how often Show is
    pressed, never the outcome."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    ready = (
        f"() => {{ const v = document.querySelector('{STATUS}')?.value ?? ''; "
        "return /ahead (\\d+)\\/\\1 ready/.test(v) && !v.includes('rendering'); }"
    )
    for _ in range(SHOW_POLLS):
        show.click()
        try:
            page.wait_for_function(ready, timeout=2_000)
        except PlaywrightTimeoutError:
            continue
        return str(page.locator(STATUS).input_value())
    raise AssertionError(f"the render-ahead never finished: {page.locator(STATUS).input_value()}")
