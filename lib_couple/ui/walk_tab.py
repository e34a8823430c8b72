"""The Latent Walk tab: keyframe prompts and seeds in, frames streaming into a gallery, a video out.

The tab knows nothing of the model: a host passes a renderer that yields a walk's frames. The
walk runs in Gradio's queue, off the UI thread; Stop cancels it, and the frame being sampled
is dropped because it was never yielded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.walk.easing import EASINGS
from lib_couple.walk.plan import METHODS, WalkPlan, WalkSettings
from lib_couple.walk.video import FORMATS, export_video

WalkRenderer = Callable[[WalkPlan, WalkSettings], Iterator[Image.Image]]
WalkUpdate = tuple[list[Image.Image], str, str | None]


def parse_seeds(text: str) -> tuple[int, ...]:
    """'1, 2 3' -> (1, 2, 3); empty -> () (every keyframe uses seed 1)."""
    words = text.replace(",", " ").split()
    try:
        return tuple(int(word) for word in words)
    except ValueError:
        raise CoupleError(f"seeds must be whole numbers separated by commas, got {text!r}") from None


def plan_from_values(prompts: str, seeds: str, frames: float, easing: str, method: str) -> WalkPlan:
    """The tab's values as a checked plan; one keyframe prompt per non-empty line."""
    lines = tuple(line.strip() for line in prompts.splitlines() if line.strip())
    plan = WalkPlan(lines, parse_seeds(seeds), int(frames), easing, method)  # type: ignore[arg-type]
    plan.validate()
    return plan


def make_walk_handler(render: WalkRenderer, output_dir: Path) -> Callable[..., Iterator[WalkUpdate]]:
    """The Generate-walk event: (frames so far, progress text, video path once written)."""
    numbers = itertools.count(1)

    def run_walk(
        prompts: str,
        seeds: str,
        frames: float,
        easing: str,
        method: str,
        width: float,
        height: float,
        steps: float,
        cfg: float,
        negative: str,
        fps: float,
        video_format: str,
    ) -> Iterator[WalkUpdate]:
        try:
            plan = plan_from_values(prompts, seeds, frames, easing, method)
            if video_format not in FORMATS:
                raise CoupleError(f"video format {video_format!r} is not one of {', '.join(FORMATS)}")
            settings = WalkSettings(int(width), int(height), int(steps), float(cfg), negative)
        except CoupleError as error:
            raise gr.Error(str(error)) from None
        total = len(plan.positions())
        made: list[Image.Image] = []
        for frame in render(plan, settings):
            made.append(frame)
            yield list(made), f"{len(made)} / {total} frames", None
        output_dir.mkdir(parents=True, exist_ok=True)
        path = export_video(made, output_dir / f"walk-{next(numbers):05d}{video_format}", fps=float(fps))
        yield made, f"{total} frames; video written to {path}", str(path)

    return run_walk


def build_walk_tab(
    render: WalkRenderer, output_dir: Path, concurrency_id: str | None = None
) -> dict[str, Any]:
    """The tab's controls, built inside the caller's `gr.Tab`; returns them by name."""
    c: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=3):
            c["prompts"] = gr.Textbox(
                "a red circle on a white background\na blue square on a white background",
                label="Keyframe prompts (one per line)",
                lines=4,
            )
            c["negative"] = gr.Textbox(label="Negative prompt", lines=1)
        with gr.Column(scale=1):
            c["generate"] = gr.Button("Generate walk", variant="primary")
            c["stop"] = gr.Button("Stop")
    with gr.Row():
        with gr.Column():
            c["seeds"] = gr.Textbox("1, 2", label="Seeds (one per keyframe; empty: all 1)")
            c["frames"] = gr.Slider(1, 60, 8, step=1, label="Frames per transition (speed)")
            with gr.Row():
                c["easing"] = gr.Dropdown(sorted(EASINGS), value="linear", label="Easing")
                c["method"] = gr.Radio(list(METHODS), value="slerp", label="Interpolation")
            with gr.Row():
                c["width"] = gr.Slider(64, 1024, 256, step=8, label="Width")
                c["height"] = gr.Slider(64, 1024, 256, step=8, label="Height")
            with gr.Row():
                c["steps"] = gr.Slider(1, 150, 20, step=1, label="Sampling steps")
                c["cfg"] = gr.Slider(0.0, 30.0, 5.0, step=0.5, label="CFG scale")
            with gr.Row():
                c["fps"] = gr.Slider(1, 60, 8, step=1, label="Video frames per second")
                c["video_format"] = gr.Radio(list(FORMATS), value=".mp4", label="Video format")
        with gr.Column():
            c["gallery"] = gr.Gallery(label="Frames", columns=4)
            c["progress"] = gr.Textbox(label="Progress", interactive=False)
            c["video"] = gr.File(label="Video", interactive=False)
    names = ("prompts", "seeds", "frames", "easing", "method", "width", "height", "steps", "cfg")
    walk = c["generate"].click(
        make_walk_handler(render, output_dir),
        inputs=[c[name] for name in names] + [c["negative"], c["fps"], c["video_format"]],
        outputs=[c["gallery"], c["progress"], c["video"]],
        api_name="walk",
        concurrency_limit=1,
        concurrency_id=concurrency_id,
    )
    c["stop"].click(None, cancels=[walk])
    return c
