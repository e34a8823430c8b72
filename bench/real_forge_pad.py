"""The explorer's pre-render in a real Forge, checked by hand through its API and its page.

    python -m bench.real_forge_pad http://127.0.0.1:7861

Needs a Forge started with `--api` and this extension (docs/REAL_HOSTS.md), and chromium. It
prints what it sees: the pad's Show through Forge, the pre-render running as a Forge job, how
long that job takes to give way to a txt2img sent through the API, how long to stop on Forge's
Interrupt, and whether a plain txt2img afterwards equals, byte for byte, the one before.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

PRE_RENDER_JOB = "forge couple explorer pre-render"  # hosts/forge/ahead_queue.py
STATUS = "#forge_couple_explore_status textarea"


class Forge:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=900) as answer:
            return json.loads(answer.read())

    def txt2img(self) -> str:
        body = {
            "prompt": "a red circle",
            "seed": 1,
            "width": 64,
            "height": 64,
            "steps": 3,
            "sampler_name": "Euler",
        }
        return str(self.call("/sdapi/v1/txt2img", body)["images"][0])

    def job(self) -> str:
        return str(self.call("/sdapi/v1/progress?skip_current_image=true")["state"]["job"])

    def until(self, pre_render: bool, limit: float = 600.0) -> float:
        """Seconds until the pre-render is (or is no longer) Forge's job."""
        start = time.monotonic()
        while time.monotonic() - start < limit:
            if (self.job() == PRE_RENDER_JOB) == pre_render:
                return time.monotonic() - start
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
        print(f"txt2img sent: the pre-render gave way after {forge.until(False):.1f} s ({forge.job()!r} now)")
        worker.join()
        print(f"that txt2img returned after {time.monotonic() - sent:.1f} s")
        show.click()  # the pre-render starts again from here
        print(f"pre-render again after {forge.until(True):.1f} s; Interrupt")
        forge.call("/sdapi/v1/interrupt", {})
        print(f"after Interrupt it stopped in {forge.until(False):.1f} s")
        time.sleep(3)
        print(f"3 s later Forge's job is {forge.job()!r}")
        browser.close()
    print("a plain txt2img equals the one before, byte for byte:", forge.txt2img() == before)


if __name__ == "__main__":
    main()
