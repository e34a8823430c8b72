"""What the explorer page's main thread runs during a move or a render, from chromium's profiler.

    OMP_NUM_THREADS=1 python -m bench.explore_profile [--rounds 2] [--size 128] [--steps 12] [--top 12]

The page and the actions are `bench.explore_browser`'s (standalone app, demo model): each round a
plain txt2img, a sampled pad click, a pre-rendered arrow and a cached Undo. Around each action
(click until its status line settled) it records a devtools timeline trace and a CPU profile
(Chrome DevTools Protocol, 200 us samples) and prints, per kind, summed over the rounds and
divided by them: the long tasks (over 50 ms), the main thread's time in them by trace event
(script, style, layout, paint, GC), the functions with the most self and total time inside
them (gradio's chunks named through their source maps, e.g. `js/image/shared/Image.svelte:12`),
the script files' self time over the whole action,
image decoding on every thread, and gradio's queue messages with the outputs each event sent
and its server time. The profiler slows script by some per cent: times here are for finding
where the time goes; `bench.explore_browser` measures the bounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.explore_browser import FRAME, GALLERY, KINDS, bounded, pad_click, settled, tab, timed
from bench.page_trace import (
    Times,
    add,
    complete_events,
    decode_ms,
    long_tasks,
    main_thread,
    profile_times,
    ranked,
    self_times,
    sse_summary,
    times,
)
from lib_couple.demo.model import load_demo_pipeline
from lib_couple.ui.explore_pad import DEFAULT_BASE
from tests.app_server import serving_app
from tests.browser.conftest import chromium_path
from tests.browser.explore_helpers import STATUS, open_explorer, wait_ahead_ready
from tests.browser.page_helpers import set_number

if TYPE_CHECKING:
    from playwright.sync_api import Browser, CDPSession, Page

CATEGORIES = ["toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing"]
SAMPLE_US = 200
MARK = "fc-action"  # a performance.mark just before the action: tracing's own start is a long task
QUIET_MS = 400  # before the mark: the tracer's start and the previous action's trailing events end

# Before the page's scripts: gradio's queue stream (a fetch of /queue/data) is teed and each of
# its messages noted (kind, outputs, how many were gr.skip(), the server's duration, size).
SSE_JS = """(() => {
  window.fcSse = [];
  const original = window.fetch;
  const note = (text) => {
    const data = text.split('\\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('');
    if (!data) return;
    try {
      const m = JSON.parse(data);
      const out = m.output && Array.isArray(m.output.data) ? m.output.data : null;
      const skip = (v) => v && v.__type__ === 'update' && Object.keys(v).length === 1;
      fcSse.push({ msg: m.msg, fn: m.fn_index ?? null, bytes: data.length,
        outputs: out ? out.length : null, skipped: out ? out.filter(skip).length : null,
        duration: m.output && typeof m.output.duration === 'number' ? m.output.duration : null });
    } catch (error) { fcSse.push({ msg: 'unparsed', bytes: data.length }); }
  };
  window.fetch = async (...args) => {
    const response = await original(...args);
    const url = String((args[0] && args[0].url) || args[0]);
    if (!url.includes('/queue/data') || !response.body) return response;
    const [mine, theirs] = response.body.tee();
    (async () => {
      const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (let cut = buffer.indexOf('\\n\\n'); cut >= 0; cut = buffer.indexOf('\\n\\n')) {
          note(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    })();
    const { status, statusText, headers } = response;
    return new Response(theirs, { status, statusText, headers });
  };
})();"""


@dataclass
class Kind:
    """One kind's sums over its rounds."""

    rounds: int = 0
    shown_ms: list[float] = field(default_factory=list)
    tasks_ms: list[float] = field(default_factory=list)
    events: Times = field(default_factory=times)
    own: Times = field(default_factory=times)
    total: Times = field(default_factory=times)
    action: Times = field(default_factory=times)  # self times over the whole action
    decode: float = 0.0
    sse: list[dict[str, Any]] = field(default_factory=list)


def gradio_maps() -> Path | None:
    """The folder of gradio's front-end chunks and their source maps, if installed."""
    try:
        import gradio
    except ImportError:
        return None
    folder = Path(gradio.__file__).parent / "templates" / "frontend" / "assets"
    return folder if folder.is_dir() else None


def recorded(browser: Browser, page: Page, cdp: CDPSession, action: Callable[[], float], into: Kind) -> None:
    """Run `action` (it returns its click-to-shown ms) under the tracer and the profiler; add
    what they saw to `into`."""
    page.wait_for_timeout(QUIET_MS)
    browser.start_tracing(page=page, categories=CATEGORIES)
    cdp.send("Profiler.start")
    try:
        page.wait_for_timeout(QUIET_MS)
        page.evaluate(f"() => {{ window.fcSse.length = 0; performance.mark('{MARK}'); }}")
        into.shown_ms.append(action())
    finally:
        profile = cdp.send("Profiler.stop")["profile"]
        trace = json.loads(browser.stop_tracing())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    spans = complete_events(events, main_thread(events))
    mark = min(float(e["ts"]) for e in events if e.get("name") == MARK)
    tasks = [task for task in long_tasks(spans) if task[1] > mark]
    own, total = profile_times(profile, tasks, gradio_maps())
    add(into.action, profile_times(profile, None, gradio_maps())[0])
    into.rounds += 1
    into.tasks_ms += [(end - start) / 1000 for start, end in tasks]
    add(into.events, self_times(spans, tasks))
    add(into.own, own)
    add(into.total, total)
    into.decode += decode_ms(events, (mark, float(profile["endTime"])))
    into.sse += page.evaluate("() => window.fcSse.slice()")


def one_round(browser: Browser, page: Page, cdp: CDPSession, kinds: dict[str, Kind], args: Any) -> None:
    size, seed = args.size, args.seed
    tab(page, "txt2img")
    set_number(page, "#txt2img_seed", seed)

    def plain() -> float:
        t0, t1 = timed(page, GALLERY, page.locator("#txt2img_generate").click, size)
        page.wait_for_timeout(300)  # the gallery's trailing updates
        return t1 - t0

    recorded(browser, page, cdp, plain, kinds["plain"])
    tab(page, "Latent Walk")
    show = page.locator("#forge_couple_explore button:has-text('Show')").first
    line = wait_ahead_ready(page, show)
    moves: list[tuple[str, Callable[[], None], str]] = [
        ("sampled", pad_click(page, line, seed % 2 == 0), "· sampled ·"),
        ("pre-rendered", page.locator("#forge_couple_explore_north").click, "· from the cache ·"),
        ("cached", page.locator("#forge_couple_explore_undo").click, "· from the cache ·"),
    ]
    for kind, click, expect in moves:
        if kind == "pre-rendered":
            wait_ahead_ready(page, show)

        def move(click: Callable[[], None] = click, expect: str = expect) -> float:
            before = str(page.locator(STATUS).input_value())
            t0, t1 = timed(page, FRAME, click, size)
            settled(page, before, expect)
            return t1 - t0

        recorded(browser, page, cdp, move, kinds[kind])


def measure(browser: Browser, url: str, args: Any) -> dict[str, Kind]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(SSE_JS)
    try:
        page.goto(url)
        page.wait_for_function("() => document.querySelector('forge-couple-editor') !== null", timeout=60_000)
        for name, value in (("width", args.size), ("height", args.size), ("steps", args.steps)):
            set_number(page, f"#txt2img_{name}", value)
        page.locator("#txt2img_prompt textarea").fill(DEFAULT_BASE)
        show = open_explorer(page)
        for name, value in (("width", args.size), ("height", args.size), ("steps", args.steps)):
            set_number(page, f"#forge_couple_walk_{name}", value)
        before = str(page.locator(STATUS).input_value())
        show.click()
        settled(page, before, "· sampled ·")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": SAMPLE_US})
        kinds = {kind: Kind() for kind in KINDS}
        args.seed = 1000
        one_round(browser, page, cdp, {kind: Kind() for kind in KINDS}, args)  # warm-up
        for index in range(args.rounds):
            args.seed = 1001 + index
            one_round(browser, page, cdp, kinds, args)
        return kinds
    finally:
        page.close()


def by_file(own: Times) -> Times:
    """Self times summed by the file of 'function @ file:line' (the rest as they are)."""
    files = times()
    for name, ms in own.items():
        files[name.partition(" @ ")[2].rsplit(":", 1)[0] or name] += ms
    return files


def top(counts: Times, rounds: int, n: int) -> list[str]:
    return [f"  {ms / rounds:8.1f} ms  {name}" for name, ms in ranked(counts, n) if ms > 0]


def report(name: str, kind: Kind, n: int) -> str:
    """One kind's tables, per action (sums over the rounds divided by them)."""
    per = max(kind.rounds, 1)
    sse = sse_summary(kind.sse)
    tasks = ", ".join(f"{ms:.0f}" for ms in sorted(kind.tasks_ms, reverse=True)) or "none"
    lines = [
        f"## {name}: click to shown median {statistics.median(kind.shown_ms):.1f} ms ({kind.rounds} rounds)",
        f"long tasks (ms, all rounds): {tasks}; in long tasks per action {sum(kind.tasks_ms) / per:.1f} ms",
        f"image decode (every thread) per action: {kind.decode / per:.1f} ms",
        f"gradio queue messages (all rounds): {sse['messages']}, {sse['bytes'] / per / 1000:.1f} kB a round",
        f"outputs, of them gr.skip(), per finished event: {sse['outputs']}",
        f"server time per event (ms): {sse['server_ms']}",
        "main thread in long tasks by trace event (self ms per action):",
        *top(kind.events, per, n),
        "functions in long tasks by self time (ms per action):",
        *top(kind.own, per, n),
        "functions in long tasks by total time (ms per action):",
        *top(kind.total, per, n),
        "script files in long tasks by self time (ms per action):",
        *top(by_file(kind.own), per, n),
        "script files over the whole action (click to settled) by self time (ms per action):",
        *top(by_file(kind.action), per, n),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Kind]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the four kinds (1 to 30)")
    parser.add_argument("--size", type=int, default=128, help="width and height (64 to 512, multiple of 8)")
    parser.add_argument("--steps", type=int, default=12, help="sampling steps (1 to 50)")
    parser.add_argument("--top", type=int, default=12, help="rows in each table (1 to 100)")
    args = parser.parse_args(argv)
    bounded(parser, args)
    if not 1 <= args.top <= 100:
        parser.error(f"--top must be 1 to 100, got {args.top}")
    from playwright.sync_api import sync_playwright

    with serving_app(load_demo_pipeline) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            kinds = measure(browser, url, args)
        finally:
            browser.close()
    print(f"{args.size} x {args.size}, {args.steps} steps, {args.rounds} rounds, chromium {chromium_path()}")
    for name, kind in kinds.items():
        print(report(name, kind, args.top))
    return kinds


if __name__ == "__main__":
    main()
