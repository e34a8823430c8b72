"""A generation event run under control: gradio's progress per step, Interrupt / Skip, and cancel.

The sampling runs in a worker thread; the event itself is a coroutine awaiting it, so when Gradio
cancels the event (the client went away, or a `cancels=` event fired) the coroutine sees the
cancellation and interrupts the worker, which stops within one step instead of sampling on
unseen behind the one-at-a-time queue.
"""

from __future__ import annotations

import asyncio
import html
import inspect
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from lib_couple.hosts.progress import RunningControls, StepControl

# (control, *the event's input values) -> the event's outputs; runs in a worker thread
ControlledRun = Callable[..., Any]


def gradio_report(progress: gr.Progress) -> Callable[[int, int, str], None]:
    """A step report drawn as gradio's progress bar (steps, with the ETA in its text)."""

    def report(done: int, total: int, line: str) -> None:
        progress((done, total), desc=line, unit="steps")

    return report


def controlled(
    run: ControlledRun, controls: RunningControls, rest_names: Sequence[str] = ()
) -> Callable[..., Awaitable[Any]]:
    """The event handler: `run(control, *values)` in a thread, with progress and cancel.

    Gradio sees `run`'s named parameters, then `rest_names` for what its `*values` take (the
    API's parameter names), then gradio's progress slot, last, where Gradio fills it in.
    """
    params = list(inspect.signature(run).parameters.values())[1:]  # without `control`
    named = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    rest = [inspect.Parameter(name, positional) for name in rest_names]
    slot = inspect.Parameter("progress", positional, default=gr.Progress())

    async def event(*args: Any) -> Any:
        *values, progress = args
        control = StepControl(gradio_report(progress))
        with controls.running(control):
            worker = asyncio.ensure_future(asyncio.to_thread(run, control, *values))
            try:
                return await asyncio.shield(worker)
            except asyncio.CancelledError:
                control.cancel()  # the worker stops after its step and its result is dropped
                raise

    event.__signature__ = inspect.Signature([*named, *rest, slot])  # type: ignore[attr-defined]
    return event


def generation_info(saved: Path | None, warnings: Sequence[str], notes: Sequence[str] = ()) -> str:
    """The HTML under the image: where it was saved, then each warning, as the Forge host shows them."""
    lines = [f"<p class='forge-couple-note'>{html.escape(note)}</p>" for note in notes]
    lines += [f"<p class='forge-couple-warning'>Forge Couple: {html.escape(w)}</p>" for w in warnings]
    if saved is not None:
        lines.append(f"<p class='forge-couple-saved'>Saved: <code>{html.escape(str(saved))}</code></p>")
    return "\n".join(lines)
