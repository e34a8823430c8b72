"""Where a page's main-thread time goes: sums over a Chrome CPU profile and a devtools trace.

Pure functions of the JSON that the Chrome DevTools Protocol returns (`Profiler.stop`'s profile,
the trace's `traceEvents`), so they run on saved data as well; `bench.explore_profile` feeds
them from chromium. Times are in milliseconds. Gradio's minified chunks are named by their
source maps (the Svelte component or package a line came from) when the map is at hand.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LONG_TASK_MS = 50.0  # the bound, and the browser's own long-task threshold
_BASE64 = {
    char: index
    for index, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
Window = tuple[float, float]  # (start, end) in the profile's and trace's clock, microseconds
Times = defaultdict[str, float]  # ms by name


def times() -> Times:
    return defaultdict(float)


def add(into: Times, more: dict[str, float]) -> None:
    for name, ms in more.items():
        into[name] += ms


def ranked(counts: dict[str, float], n: int) -> list[tuple[str, float]]:
    """The n largest, largest first."""
    return sorted(counts.items(), key=lambda item: -item[1])[:n]


def vlq(segment: str) -> list[int]:
    """The numbers of one source-map segment (base64 VLQ)."""
    values: list[int] = []
    shift = value = 0
    for char in segment:
        digit = _BASE64[char]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift = value = 0
    return values


@dataclass(frozen=True)
class SourceMap:
    """One chunk's map: for each generated line, sorted (column, source index, original line)."""

    sources: tuple[str, ...]
    lines: tuple[tuple[tuple[int, int, int], ...], ...]

    @staticmethod
    def parse(text: str) -> SourceMap:
        data = json.loads(text)
        lines: list[tuple[tuple[int, int, int], ...]] = []
        source = original = 0
        for line in data["mappings"].split(";"):
            column, row = 0, []
            for segment in (part for part in line.split(",") if part):
                numbers = vlq(segment)
                column += numbers[0]
                if len(numbers) >= 4:
                    source, original = source + numbers[1], original + numbers[2]
                    row.append((column, source, original))
            lines.append(tuple(row))
        return SourceMap(tuple(short_source(name) for name in data["sources"]), tuple(lines))

    def lookup(self, line: int, column: int) -> str | None:
        """'source:line' (1-based) of a generated 0-based position, None where unmapped."""
        if not 0 <= line < len(self.lines) or not self.lines[line]:
            return None
        row = self.lines[line]
        at = bisect_right(row, (column, 1 << 30, 0)) - 1
        _, source, original = row[max(at, 0)]
        return f"{self.sources[source]}:{original + 1}"


def short_source(name: str) -> str:
    """A map's source path without the build's relative prefix: 'js/image/shared/Image.svelte',
    'svelte/src/runtime/internal/dom.js'."""
    name = re.sub(r"^.*/node_modules/(?:\.pnpm/[^/]+/node_modules/)?", "", name)
    return re.sub(r"^(?:\.\./)+", "", name)


@cache
def _map_of(folder: Path, chunk: str) -> SourceMap | None:
    path = folder / f"{chunk}.map"
    return SourceMap.parse(path.read_text(encoding="utf-8")) if path.is_file() else None


def place(frame: dict[str, Any], maps: Path | None) -> str:
    """Where a profile call frame's code lives: a source-mapped gradio source, a script's file
    name (its sourceURL), or the URL's last part."""
    url = str(frame.get("url", ""))
    chunk = url.rsplit("/", 1)[-1].split("?")[0]
    if maps is not None and "/assets/" in url:
        source_map = _map_of(maps, chunk)
        if source_map is not None:
            found = source_map.lookup(int(frame.get("lineNumber", 0)), int(frame.get("columnNumber", 0)))
            if found is not None:
                return found
    return chunk or "(native)"


def profile_times(
    profile: dict[str, Any], windows: Sequence[Window] | None = None, maps: Path | None = None
) -> tuple[Times, Times]:
    """(self, total) ms by 'function @ place' over the profile's samples, only those inside
    `windows` unless None. Total counts a function once per sample however deep it recurses."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}
    label: dict[int, str] = {}
    for node_id, node in nodes.items():
        frame = node["callFrame"]
        name = frame.get("functionName") or "(anonymous)"
        label[node_id] = name if name.startswith("(") else f"{name} @ {place(frame, maps)}"
    own, total = times(), times()
    deltas = list(profile["timeDeltas"])[1:] + [0]  # a sample lasts until the next one
    now = float(profile["startTime"])
    for sample, delta, step in zip(profile["samples"], profile["timeDeltas"], deltas, strict=True):
        now += delta
        if windows is not None and not any(start <= now < end for start, end in windows):
            continue
        own[label[sample]] += step / 1000
        seen: set[str] = set()
        at: int | None = sample
        while at is not None:
            if label[at] not in seen and label[at] != "(root)":
                seen.add(label[at])
                total[label[at]] += step / 1000
            at = parent.get(at)
    return own, total


def main_thread(events: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(pid, tid) of the renderer main thread that ran the most top-level tasks."""
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    busy: defaultdict[tuple[int, int], float] = defaultdict(float)
    for event in events:
        if (event.get("pid"), event.get("tid")) in mains and event.get("name") == "RunTask":
            busy[(event["pid"], event["tid"])] += float(event.get("dur", 0))
    if not busy:
        raise ValueError("the trace has no renderer main thread with tasks")
    return max(busy, key=lambda thread: busy[thread])


def complete_events(events: Iterable[dict[str, Any]], thread: tuple[int, int]) -> list[dict[str, Any]]:
    """The thread's spans as complete ('X') events, begin/end pairs joined; sorted outer first."""
    spans: list[dict[str, Any]] = []
    open_spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if (event.get("pid"), event.get("tid")) != thread:
            continue
        phase = event.get("ph")
        if phase == "X":
            spans.append(event)
        elif phase == "B":
            open_spans[event["name"]].append(event)
        elif phase == "E" and open_spans[event["name"]]:
            begun = open_spans[event["name"]].pop()
            spans.append({**begun, "ph": "X", "dur": event["ts"] - begun["ts"]})
    return sorted(spans, key=lambda span: (span["ts"], -float(span.get("dur", 0))))


def long_tasks(spans: Sequence[dict[str, Any]], over_ms: float = LONG_TASK_MS) -> list[Window]:
    """The top-level tasks longer than `over_ms`, as (start, end) microseconds."""
    found: list[Window] = []
    for span in spans:
        if span["name"] != "RunTask" or float(span.get("dur", 0)) <= over_ms * 1000:
            continue
        start = float(span["ts"])
        if found and start < found[-1][1]:
            continue  # nested in the one before
        found.append((start, start + float(span["dur"])))
    return found


def self_times(spans: Sequence[dict[str, Any]], windows: Sequence[Window]) -> Times:
    """Self time (ms) by trace event name of the spans inside `windows` (each span less its
    children: a FunctionCall's layout counts as Layout, not as the call)."""
    own = times()
    stack: list[tuple[float, str]] = []  # (end, name) of the open spans
    for span in spans:
        start, duration = float(span["ts"]), float(span.get("dur", 0))
        if not any(low <= start < high for low, high in windows):
            continue
        while stack and stack[-1][0] <= start:
            stack.pop()
        if stack:
            own[stack[-1][1]] -= duration / 1000
        name = span["name"]
        if name == "FunctionCall":
            url = span.get("args", {}).get("data", {}).get("url", "")
            name = f"FunctionCall {url.rsplit('/', 1)[-1] or '(page)'}"
        own[name] += duration / 1000
        stack.append((start + duration, name))
    return own


DECODES = ("Decode Image", "ImageDecodeTask", "Decode LazyPixelRef")


def decode_ms(events: Iterable[dict[str, Any]], between: Window) -> float:
    """Image decoding (ms) on every thread, the raster workers' too, that began in `between`."""
    return sum(
        float(e.get("dur", 0)) / 1000
        for e in events
        if e.get("name") in DECODES and e.get("ph") == "X" and between[0] <= float(e["ts"]) < between[1]
    )


def sse_summary(messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Gradio's queue messages of an action: counts by kind, the outputs each finished event
    sent (and how many of them were gr.skip()), and the server's own time per event (ms)."""
    kinds = Counter(str(message["msg"]) for message in messages)
    done = [message for message in messages if message["msg"] == "process_completed"]
    return {
        "messages": dict(kinds),
        "outputs": [(m.get("outputs"), m.get("skipped")) for m in done],
        "server_ms": [round(1000 * float(m["duration"]), 2) for m in done if m.get("duration") is not None],
        "bytes": sum(int(message.get("bytes", 0)) for message in messages),
    }
