"""The app's console: gradio's traces of user errors are dropped, every other trace is kept whole."""

from __future__ import annotations

import io
import traceback

import gradio as gr

from lib_couple.ui.console import UserErrorTraceFilter


def trace_of(error: Exception) -> str:
    try:
        raise error
    except Exception:
        return traceback.format_exc()


def test_a_user_error_trace_is_dropped_and_the_lines_around_it_kept() -> None:
    out = io.StringIO()
    console = UserErrorTraceFilter(out)
    console.write("Forge Couple: mapping row 1: x1 = 0.5 must be smaller than x2 = 0.2\n")
    user = trace_of(gr.Error("mapping row 1: x1 = 0.5 must be smaller than x2 = 0.2"))
    for piece in (user[:7], user[7:40], user[40:]):  # written in pieces, as a stream may be
        console.write(piece)
    console.write("after\n")
    assert out.getvalue() == "Forge Couple: mapping row 1: x1 = 0.5 must be smaller than x2 = 0.2\nafter\n"


def test_any_other_trace_passes_whole() -> None:
    out = io.StringIO()
    console = UserErrorTraceFilter(out)
    bug = trace_of(ValueError("a real bug"))
    console.write(bug)
    console.write("next\n")
    assert out.getvalue() == bug + "next\n"
    assert "ValueError: a real bug" in out.getvalue()
