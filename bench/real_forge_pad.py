"""The explorer's pre-render in a real Forge, checked by hand through its API and its page.

    python -m bench.real_forge_pad http://127.0.0.1:7861

Needs a Forge started with `--api` and this extension (docs/REAL_HOSTS.md), and chromium. It
prints what it sees: the pad's Show through Forge, the pre-render running as a Forge job, how
long that job takes to give way to a txt2img sent through the API (and at which step), how long
to stop on Forge's Interrupt, whether a pad move during a txt2img leaves Forge's progress to the
txt2img (its job and steps, to its end) and that image unchanged, and whether a plain txt2img
afterwards equals, byte for byte, the one before.
"""

from __future__ import annotations

import json
import math
import random
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

PRE_RENDER_JOB = "forge couple explorer pre-render"  # hosts/forge/ahead_queue.py
TXT2IMG_JOB = "scripts_txt2img"  # Forge's API txt2img (modules/api/api.py)
STATUS = "#forge_couple_explore_status textarea"


class Forge:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.last: dict[str, Any] = {}  # Forge's state as `until` last saw it
        self.queued: float | None = None

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=900) as answer:
            return json.loads(answer.read())

    def txt2img(self, steps: int = 3) -> str:
        body = {
            "prompt": "a red circle",
            "seed": 1,
            "width": 64,
            "height": 64,
            "steps": steps,
            "sampler_name": "Euler",
        }
        return str(self.call("/sdapi/v1/txt2img", body)["images"][0])

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.call("/sdapi/v1/progress?skip_current_image=true")["state"]
        return state

    def job(self) -> str:
        return str(self.state()["job"])

    def pending(self) -> int:
        """How many requests wait for Forge's queue (`progress.pending_tasks`; not the running one)."""
        return int(self.call("/internal/pending-tasks")["size"])

    def until(self, pre_render: bool, limit: float = 600.0) -> float:
        """Seconds until the pre-render is (or is no longer) Forge's job; `queued` is when a
        request was first seen queued meanwhile (seconds from the start, None if never)."""
        start = time.monotonic()
        self.queued = None
        while time.monotonic() - start < limit:
            state = self.state()
            if (state["job"] == PRE_RENDER_JOB) == pre_render:
                return time.monotonic() - start
            self.last = state
            if self.queued is None and self.pending():
                self.queued = time.monotonic() - start
            time.sleep(0.2)
        raise SystemExit(f"the pre-render {'never started' if pre_render else 'never stopped'}")


def main(argv: Sequence[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    forge = Forge((argv or sys.argv[1:])[0])
    before = forge.txt2img()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(forge.url, timeout=300_000)
        page.wait_for_selector("#forge_couple_explore", state="attached", timeout=300_000)
        page.locator("#tab_forge_couple_latent_walk-button").first.click()
        page.locator("#forge_couple_explore .label-wrap").first.click()
        for name, value in (("width", 64), ("height", 64), ("steps", 12)):
            box = page.locator(f"#forge_couple_walk_{name} input[type=number]")
            box.fill(str(value))
            box.press("Enter")
        show = page.locator("#forge_couple_explore button:has-text('Show')").first
        show.click()
        page.wait_for_function(
            f"() => {{ const s = document.querySelector('{STATUS}'); "
            "return s && s.value.includes('sampled') && !s.value.includes('rendering'); }",
            timeout=600_000,
        )
        print("Show through Forge:", page.locator(STATUS).input_value())
        print(f"pre-render is Forge's job after {forge.until(True):.1f} s")
        sent = time.monotonic()
        worker = threading.Thread(target=forge.txt2img)
        worker.start()
        gave_way = forge.until(False)
        print(f"txt2img sent: the pre-render gave way after {gave_way:.1f} s ({forge.job()!r} now),")
        queued = "never seen" if forge.queued is None else f"{forge.queued:.1f} s"
        print(f"  queued in Forge after {queued}; the frame last seen at step {steps(forge.last)}")
        worker.join()
        print(f"that txt2img returned after {time.monotonic() - sent:.1f} s")
        show.click()  # the pre-render starts again from here
        print(f"pre-render again after {forge.until(True):.1f} s; Interrupt")
        forge.call("/sdapi/v1/interrupt", {})
        print(f"after Interrupt it stopped in {forge.until(False):.1f} s")
        time.sleep(3)
        print(f"3 s later Forge's job is {forge.job()!r}")
        move_during_txt2img(forge, page)
        browser.close()
    print("a plain txt2img equals the one before, byte for byte:", forge.txt2img() == before)


def steps(state: dict[str, Any]) -> str:
    return f"{state.get('sampling_step')} of {state.get('sampling_steps')}"


def move_during_txt2img(forge: Forge, page: Page, txt2img_steps: int = 8) -> None:
    """A pad move while a txt2img runs: the move's frame waits for Forge's queue, and Forge's
    progress (job and steps) stays the txt2img's until it ends; its image equals one made alone."""
    alone = forge.txt2img(txt2img_steps)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(forge.txt2img(txt2img_steps)))
    worker.start()
    while forge.job() != TXT2IMG_JOB:
        time.sleep(0.05)
    status = page.locator(STATUS).input_value()
    # a click toward a random spot of the pad: a point no earlier run has drawn (Forge's cache)
    pad = page.locator("#forge_couple_explore_pad img")
    box = pad.bounding_box()
    assert box is not None, "the pad is drawn by Show"
    angle = random.uniform(0.0, 2.0 * math.pi)
    radius = box["height"] * 0.4  # inside the square picture, which is letterboxed
    x, y = box["width"] / 2 + radius * math.cos(angle), box["height"] / 2 + radius * math.sin(angle)
    pad.click(position={"x": x, "y": y})
    seen: list[tuple[str, int]] = []  # (job, sampling_steps) in the order Forge reported them
    while worker.is_alive():
        state = forge.state()
        if not seen or seen[-1] != (state["job"], state["sampling_steps"]):
            seen.append((str(state["job"]), int(state["sampling_steps"])))
        time.sleep(0.1)
    worker.join()
    last_txt2img = max((i for i, (job, _) in enumerate(seen) if job == TXT2IMG_JOB), default=-1)
    others = [job for job, _ in seen[:last_txt2img] if job != TXT2IMG_JOB]
    print(f"a move during a {txt2img_steps}-step txt2img: Forge reported {seen}")
    print(f"  another job before the txt2img's end: {others or 'none'}")
    print("  that txt2img equals one made alone, byte for byte:", result == [alone])
    page.wait_for_function(
        f"(before) => {{ const s = document.querySelector('{STATUS}'); "
        "return s.value !== before && !s.value.includes('rendering'); }",
        arg=status,
        timeout=600_000,
    )
    line = page.locator(STATUS).input_value()
    print("  the move's frame came after it,", "sampled:" if "· sampled ·" in line else "NOT sampled:", line)
    forge.call("/sdapi/v1/interrupt", {})  # leave no pre-render running


if __name__ == "__main__":
    main()
