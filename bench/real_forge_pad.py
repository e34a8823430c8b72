"""The explorer's pre-render in a real Forge, checked by hand through its API and its page.

    python -m bench.real_forge_pad http://127.0.0.1:7861   # lllyasviel Forge
    python -m bench.real_forge_pad http://127.0.0.1:7862   # Forge Neo (the same ids and API)

Needs a Forge started with `--api` and this extension (docs/REAL_HOSTS.md), and chromium. It
prints what it sees: the pad's Show through Forge, the pre-render running as a Forge job, how
long that job takes to give way to a txt2img sent through the API (and at which step), how long
to stop on Forge's Interrupt, whether a pad move during a txt2img leaves Forge's progress to the
txt2img (its job and steps, to its end) and that image unchanged, and whether a plain txt2img
afterwards equals, byte for byte, the one before.
"""

from __future__ import annotations

import itertools
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

    def txt2img(self, steps: int = 3, task: str | None = None) -> str:
        body: dict[str, Any] = {
            "prompt": "a red circle",
            "seed": 1,
            "width": 64,
            "height": 64,
            "steps": steps,
            "sampler_name": "Euler",
            "force_task_id": task,
        }
        return str(self.call("/sdapi/v1/txt2img", body)["images"][0])

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.call("/sdapi/v1/progress?skip_current_image=true")["state"]
        return state

    def task(self, task: str) -> dict[str, Any]:
        """Forge's page progress of one task: active, queued, completed, progress (0 to 1)."""
        answer: dict[str, Any] = self.call("/internal/progress", {"id_task": task, "id_live_preview": -1})
        return answer

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
    """A pad move while a txt2img runs: the move's frame waits for Forge's queue, and while that
    txt2img is Forge's running task its job stays Forge's job and its progress never falls back;
    its image equals one made alone."""
    alone = forge.txt2img(txt2img_steps)
    task = f"task(forge-couple-pad-{random.getrandbits(32):08x})"
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(forge.txt2img(txt2img_steps, task)))
    worker.start()
    while not forge.task(task)["active"]:
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
    jobs: list[str] = []  # Forge's job at each look taken while the txt2img was surely running
    progress: list[float] = []  # that txt2img's own progress (its page's bar), in order
    while worker.is_alive():
        before = forge.task(task)
        job = forge.job()
        after = forge.task(task)
        if before["active"] and after["active"]:
            jobs.append(job)
            progress.append(float(after["progress"] or 0.0))
        time.sleep(0.1)
    worker.join()
    others = sorted({job for job in jobs if job != TXT2IMG_JOB})
    fell = sum(later < earlier for earlier, later in itertools.pairwise(progress))
    print(f"a move during a {txt2img_steps}-step txt2img: {len(jobs)} looks while it ran,")
    print(f"  another job meanwhile: {others or 'none'}; its progress fell back {fell} times,")
    print(f"  from {progress[0]:.2f} to {progress[-1]:.2f}" if progress else "  (never seen running)")
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
