"""bench.page_trace's sums on small hand-made profiles and traces (structure only, no browser)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.page_trace import (
    SourceMap,
    complete_events,
    long_tasks,
    main_thread,
    profile_times,
    self_times,
    short_source,
    sse_summary,
    vlq,
)


def test_vlq_reads_signs_and_continuations() -> None:
    assert vlq("AAAA") == [0, 0, 0, 0]
    assert vlq("CD") == [1, -1]
    assert vlq("gB") == [16]  # a continued digit


def test_a_source_map_names_the_original_file_and_line() -> None:
    text = json.dumps({"sources": ["../../../js/image/Image.svelte"], "mappings": "AAAA,EAAE;AACA"})
    source_map = SourceMap.parse(text)
    assert source_map.lookup(0, 0) == "js/image/Image.svelte:1"
    assert source_map.lookup(1, 5) == "js/image/Image.svelte:2"
    assert source_map.lookup(7, 0) is None
    built = "../../node_modules/.pnpm/svelte@4.2.15/node_modules/svelte/src/a.js"
    assert short_source(built) == "svelte/src/a.js"


def node(node_id: int, name: str, children: list[int]) -> dict[str, Any]:
    frame = {"functionName": name, "url": f"http://x/{name}.js", "lineNumber": 0, "columnNumber": 0}
    return {"id": node_id, "callFrame": frame, "children": children}


PROFILE = {
    "nodes": [node(1, "(root)", [2]), node(2, "outer", [3]), node(3, "inner", [])],
    "startTime": 0,
    "samples": [3, 2, 3],
    "timeDeltas": [0, 1000, 1000],  # us; a sample lasts until the next
}


def test_profile_self_and_total_times() -> None:
    own, total = profile_times(PROFILE)
    assert own == {"inner @ inner.js": pytest.approx(1.0), "outer @ outer.js": pytest.approx(1.0)}
    assert total["outer @ outer.js"] == pytest.approx(2.0)
    assert total["inner @ inner.js"] == pytest.approx(1.0)
    own, _ = profile_times(PROFILE, windows=[(500, 1500)])  # only the second sample
    assert own == {"outer @ outer.js": pytest.approx(1.0)}
    own, total = profile_times(PROFILE, windows=[])  # no long task: nothing in one
    assert not own
    assert not total


def span(name: str, ts: float, dur: float, tid: int = 1, **args: Any) -> dict[str, Any]:
    return {"name": name, "ph": "X", "ts": ts, "dur": dur, "pid": 9, "tid": tid, "args": args}


TRACE = [
    {"name": "thread_name", "ph": "M", "pid": 9, "tid": 1, "args": {"name": "CrRendererMain"}},
    {"name": "thread_name", "ph": "M", "pid": 9, "tid": 2, "args": {"name": "Compositor"}},
    span("RunTask", 0, 60_000),
    span("FunctionCall", 5_000, 40_000, data={"url": "http://x/assets/Index-1.js"}),
    span("Layout", 10_000, 10_000),
    span("RunTask", 70_000, 10_000),
    {"name": "UpdateLayoutTree", "ph": "B", "ts": 72_000, "pid": 9, "tid": 1},
    {"name": "UpdateLayoutTree", "ph": "E", "ts": 74_000, "pid": 9, "tid": 1},
    span("RunTask", 0, 900_000, tid=2),  # another thread: never the main one's
]


def test_trace_long_tasks_and_their_self_times() -> None:
    thread = main_thread(TRACE)
    assert thread == (9, 1)
    spans = complete_events(TRACE, thread)
    assert [s["name"] for s in spans][-1] == "UpdateLayoutTree"
    tasks = long_tasks(spans)
    assert tasks == [(0.0, 60_000.0)]
    own = self_times(spans, tasks)
    assert own["RunTask"] == pytest.approx(20.0)
    assert own["FunctionCall Index-1.js"] == pytest.approx(30.0)
    assert own["Layout"] == pytest.approx(10.0)
    assert "UpdateLayoutTree" not in own  # in the short task


def test_sse_summary_counts_kinds_outputs_and_server_time() -> None:
    messages = [
        {"msg": "process_starts", "bytes": 10},
        {"msg": "process_completed", "outputs": 10, "skipped": 0, "duration": 0.0022, "bytes": 900},
        {"msg": "process_completed", "outputs": 2, "skipped": 2, "duration": None, "bytes": 90},
    ]
    summary = sse_summary(messages)
    assert summary["messages"] == {"process_starts": 1, "process_completed": 2}
    assert summary["outputs"] == [(10, 0), (2, 2)]
    assert summary["server_ms"] == [2.2]
    assert summary["bytes"] == 1000
