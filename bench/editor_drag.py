"""Dragging a box in the region editor with 20 regions, timed in the page (chromium via Playwright).

    python -m bench.editor_drag [--moves 60] [--rounds 3]

Reports the move handler's own time per pointer move (`performance.now` around it, `el.stats`)
and the whole frames while dragging: the interval between `requestAnimationFrame` callbacks, so
style, layout and paint are included. Needs Playwright's Python package and chromium, like
tests/browser.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lib_couple.demo.model import DemoComponents, load_demo_pipeline, write_untrained_weights
from tests.app_server import serving_app
from tests.browser.conftest import chromium_path
from tests.browser.editor_helpers import EDITOR, open_advanced, preview_point, twenty_regions

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Per animation frame that follows at least one pointer move: the interval since the previous frame.
FRAMES_JS = """() => {
    const run = (window.fcFrames = { intervals: [], moved: false, last: null, longTasks: 0 });
    document.addEventListener('pointermove', () => { run.moved = true; }, true);
    new PerformanceObserver((list) => { run.longTasks += list.getEntries().length; })
        .observe({ type: 'longtask' });
    const tick = (t) => {
        if (run.moved && run.last !== null) run.intervals.push(t - run.last);
        run.moved = false;
        run.last = t;
        if (window.fcFrames === run) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


@dataclass(frozen=True)
class DragTimes:
    moves_ms: list[float]  # the move handler, one per pointer move
    frames_ms: list[float]  # intervals of the animation frames that drew a move
    long_tasks: int  # main-thread tasks over 50 ms during the drag


def drag_once(page: Page, moves: int) -> DragTimes:
    reset = "{moves: 0, totalMs: 0, maxMs: 0, samples: []}"
    page.evaluate(f"() => {{ document.querySelector('{EDITOR}').stats = {reset}; }}")
    x0, y0 = preview_point(page, 0.5, 0.375)  # scrolled into view once; then only mouse events
    x1, y1 = preview_point(page, 0.7, 0.525)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.evaluate(FRAMES_JS)
    for step in range(1, moves + 1):
        page.mouse.move(x0 + (x1 - x0) * step / moves, y0 + (y1 - y0) * step / moves)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    run = page.evaluate("() => { const r = fcFrames; window.fcFrames = null; return r; }")
    page.mouse.up()
    samples: list[float] = page.evaluate(f"() => document.querySelector('{EDITOR}').stats.samples")
    page.keyboard.press("Control+z")  # back to the grid for the next round
    return DragTimes(samples, run["intervals"], run["longTasks"])


def summary(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"{name}: none"
    return f"{name}: n={len(values)} median {statistics.median(values):.3f} ms, max {max(values):.3f} ms"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    weights = write_untrained_weights(Path(tempfile.mkdtemp()))

    def loader() -> DemoComponents:
        return load_demo_pipeline(weights_dir=weights)

    with serving_app(loader) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function(f"() => document.querySelector('{EDITOR}') !== null", timeout=30_000)
        open_advanced(page)
        twenty_regions(page)
        page.locator(f"{EDITOR} .preview").focus()
        moves: list[float] = []
        frames: list[float] = []
        long_tasks = 0
        for _ in range(args.rounds):
            times = drag_once(page, args.moves)
            moves += times.moves_ms
            frames += times.frames_ms
            long_tasks += times.long_tasks
        browser.close()
    print(f"20 regions, {args.rounds} drags of {args.moves} mouse moves, chromium {chromium_path()}")
    print(summary("move handler", moves))
    print(summary("frames that drew a move (interval)", frames))
    print(f"main-thread tasks over 50 ms during the drags: {long_tasks}")


if __name__ == "__main__":
    main()
