"""The Latent Walk tab: keyframe prompts and seeds in, frames streaming into a gallery, a video out.

The tab knows nothing of the model: a host passes a renderer that yields a walk's frames. The
walk runs in Gradio's queue, off the UI thread. Stop raises a flag the walk reads after each
frame (and calls the host's `on_stop`, which interrupts a sampler mid-frame): the frame being
sampled is dropped and the walk ends cleanly, with no cancelled stream for the page to report.
A finished walk is saved as `output_dir/NNNNN/` (frames, walk.json, video).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.hosts.progress import ProgressReport, eta_seconds
from lib_couple.ui.explore_pad import ExploreOpener, build_explore_pad
from lib_couple.ui.walk_pad import PadOpener, build_walk_pad
from lib_couple.walk.easing import EASINGS
from lib_couple.walk.output import save_walk
from lib_couple.walk.plan import METHODS, WalkPlan, WalkSettings
from lib_couple.walk.video import FORMATS

# A host's walk: its frames one by one; the report sees each sampled frame's steps.
WalkRenderer = Callable[[WalkPlan, WalkSettings, ProgressReport], Iterator[Image.Image]]
# Gradio fills a handler's parameter whose default is a gr.Progress with the event's progress.
STEP_PROGRESS = gr.Progress()
PLAN_VALUES = 5  # prompts, seeds, frames, easing, method: the tab's values before the settings
WalkUpdate = tuple[list[Image.Image], str, str | None]


def parse_seeds(text: str) -> tuple[int, ...]:
    """'1, 2 3' -> (1, 2, 3); empty -> () (every keyframe uses seed 1)."""
    words = limits.WALK_SEEDS_TEXT.check(text).replace(",", " ").split()
    try:
        return tuple(int(word) for word in words)
    except ValueError:
        raise CoupleError(f"seeds must be whole numbers separated by commas, got {text!r}") from None


def plan_from_values(prompts: str, seeds: str, frames: float, easing: str, method: str) -> WalkPlan:
    """The tab's values as a checked plan; one keyframe prompt per non-empty line."""
    text = limits.KEYFRAME_PROMPTS.check(prompts)
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    count = limits.FRAMES_PER_TRANSITION.check_int(frames)
    plan = WalkPlan(lines, parse_seeds(seeds), count, easing, method)  # type: ignore[arg-type]
    plan.validate()
    return plan


def gallery_image(item: object) -> Image.Image:
    """One gallery entry as an image: Gradio hands entries back as (file, caption) pairs; the
    PNG files keep their text chunks (the infotext)."""
    source = item[0] if isinstance(item, tuple | list) else item
    if isinstance(source, Image.Image):
        return source
    with Image.open(str(source)) as image:
        image.load()
        return image.copy()


def frame_parameters(frames: Sequence[Any] | None, index: int | None) -> str:
    """A gallery frame's infotext (its PNG `parameters` text), for Send to txt2img / img2img."""
    if not frames or index is None or not 0 <= index < len(frames):
        return ""
    try:
        return str(gallery_image(frames[index]).info.get("parameters", ""))
    except (OSError, TypeError, ValueError):
        return ""


def walk_from_values(*values: Any) -> tuple[WalkPlan, WalkSettings]:
    """The tab's walk controls (`plan_from_values`' five) then its sampling controls
    (`settings_from_values`'), as a checked plan and its settings."""
    return plan_from_values(*values[:PLAN_VALUES]), settings_from_values(*values[PLAN_VALUES:])


def settings_from_values(
    width: float, height: float, steps: float, cfg: float, negative: str, sampler: str | None = None
) -> WalkSettings:
    """The tab's sampling controls as checked settings (an API caller sends anything)."""
    settings = WalkSettings(
        limits.WIDTH.check_int(width),
        limits.HEIGHT.check_int(height),
        limits.STEPS.check_int(steps),
        limits.CFG.check(cfg),
        limits.NEGATIVE.check(negative),
        sampler or None,
    )
    settings.validate()
    return settings


def frame_progress(done: int, total: int, elapsed: float) -> str:
    """`3 / 17 frames, ETA 12 s` (the rate so far; frames from the cache count as made)."""
    eta = eta_seconds(done, total, elapsed)
    return f"{done} / {total} frames" + ("" if eta is None or done == total else f", ETA {eta:.0f} s")


def make_walk_handler(
    render: WalkRenderer, output_dir: Path, stop: threading.Event | None = None
) -> Callable[..., Iterator[WalkUpdate]]:
    """The Generate-walk event: (frames so far, progress text, video path once written).

    `stop`, once set, ends the walk after the frame in progress, which is dropped.
    """
    stopping = stop if stop is not None else threading.Event()

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
        sampler: str | None = None,
        progress: gr.Progress = STEP_PROGRESS,
    ) -> Iterator[WalkUpdate]:
        try:
            plan = plan_from_values(prompts, seeds, frames, easing, method)
            settings = settings_from_values(width, height, steps, cfg, negative, sampler)
            fps = limits.FPS.check(fps)  # fps 0 would fail only after every frame was rendered
            if video_format not in FORMATS:
                raise CoupleError(f"video format {video_format!r} is not one of {', '.join(FORMATS)}")
        except CoupleError as error:
            raise gr.Error(str(error)) from None
        total = len(plan.positions())
        made: list[Image.Image] = []
        stopping.clear()
        started = time.monotonic()
        yield [], f"0 / {total} frames", None  # at once: the page shows the walk has started

        def report(done: int, steps_in_all: int, line: str) -> None:  # the frame's steps, with its ETA
            progress((done, steps_in_all), desc=f"frame {len(made) + 1}/{total}: {line}", unit="steps")

        try:
            for frame in render(plan, settings, report):
                if stopping.is_set():
                    break
                made.append(frame)
                yield list(made), frame_progress(len(made), total, time.monotonic() - started), None
        except CoupleError as error:
            raise gr.Error(str(error)) from None
        if len(made) < total:  # stopped (Stop, or the host's interrupt): nothing to save
            yield made, f"stopped after {len(made)} / {total} frames", None
            return
        saved = save_walk(output_dir, made, plan, settings, video_format, float(fps))
        yield made, f"{total} frames; saved in {saved.folder}", str(saved.video)

    return run_walk


@dataclass(frozen=True)
class WalkDefaults:
    """The sampling controls' starting values; a host passes its txt2img's."""

    width: int = 256
    height: int = 256
    steps: int = 20
    cfg: float = 5.0
    sampler: str | None = None


STANDALONE_DEFAULTS = WalkDefaults()


def build_walk_tab(
    render: WalkRenderer,
    output_dir: Path,
    concurrency_id: str | None = None,
    *,
    defaults: WalkDefaults = STANDALONE_DEFAULTS,
    samplers: Sequence[str] = (),
    on_stop: Callable[[], None] | None = None,
    open_pad: PadOpener | None = None,
    open_explorer: ExploreOpener | None = None,
) -> dict[str, Any]:
    """The tab's controls, built inside the caller's `gr.Tab`; returns them by name.

    With `samplers`, a sampler dropdown is shown and its choice reaches `WalkSettings.sampler`;
    with `open_pad`, an Explore pad steps through the same walk frame by frame; with
    `open_explorer`, the Latent Space Explorer steers a 2D pad by direction prompts.
    """
    c: dict[str, Any] = {}
    stop = threading.Event()  # one walk runs at a time (concurrency 1), so one flag per tab
    with gr.Row():
        with gr.Column(scale=3):
            c["prompts"] = gr.Textbox(
                "a red circle on a white background\na blue square on a white background",
                label="Keyframe prompts (one per line)",
                lines=4,
            )
            c["negative"] = gr.Textbox(label="Negative prompt", lines=1)
        with gr.Column(scale=1):
            c["generate"] = gr.Button(
                "Generate walk", variant="primary", elem_id="forge_couple_walk_generate"
            )
            c["stop"] = gr.Button("Stop")
    with gr.Row():
        with gr.Column():
            c["seeds"] = gr.Textbox("1, 2", label="Seeds (one per keyframe; empty: all 1)")
            c["frames"] = gr.Slider(
                1, 60, 8, step=1, label="Frames per transition (speed)", elem_id="forge_couple_walk_frames"
            )
            with gr.Row():
                c["easing"] = gr.Dropdown(sorted(EASINGS), value="linear", label="Easing")
                c["method"] = gr.Radio(list(METHODS), value="slerp", label="Interpolation")
            with gr.Row():
                c["width"] = gr.Slider(
                    64, 2048, defaults.width, step=8, label="Width", elem_id="forge_couple_walk_width"
                )
                c["height"] = gr.Slider(
                    64, 2048, defaults.height, step=8, label="Height", elem_id="forge_couple_walk_height"
                )
            with gr.Row():
                c["steps"] = gr.Slider(
                    1, 150, defaults.steps, step=1, label="Sampling steps", elem_id="forge_couple_walk_steps"
                )
                c["cfg"] = gr.Slider(0.0, 30.0, defaults.cfg, step=0.5, label="CFG scale")
                if samplers:
                    chosen = defaults.sampler if defaults.sampler in samplers else samplers[0]
                    c["sampler"] = gr.Dropdown(list(samplers), value=chosen, label="Sampling method")
            with gr.Row():
                c["fps"] = gr.Slider(1, 60, 8, step=1, label="Video frames per second")
                c["video_format"] = gr.Radio(list(FORMATS), value=".mp4", label="Video format")
        with gr.Column():
            c["gallery"] = gr.Gallery(
                label="Frames",
                columns=4,
                interactive=False,  # an output: no upload box
                format="png",  # keeps each frame's parameters text, for Send to txt2img / img2img
                elem_id="forge_couple_walk_gallery",
            )
            c["progress"] = gr.Textbox(
                label="Progress", interactive=False, elem_id="forge_couple_walk_progress"
            )
            # Plays in the page (.mp4 and .webm; a .gif is offered for download), with a download button.
            c["video"] = gr.Video(
                label="Video",
                interactive=False,
                loop=True,
                show_download_button=True,
                elem_id="forge_couple_walk_video",
            )
    names = ("prompts", "seeds", "frames", "easing", "method", "width", "height", "steps", "cfg")
    extra = [c["sampler"]] if "sampler" in c else []
    # Always a sampler input: gradio puts its progress at the handler's parameter index.
    sampler_input = extra or [gr.State(None)]
    if open_pad is not None:
        walk_inputs = [c[name] for name in names] + [c["negative"], *extra]
        c["pad"] = build_walk_pad(open_pad, walk_from_values, walk_inputs, concurrency_id)
    if open_explorer is not None:
        settings_inputs = [c[name] for name in ("width", "height", "steps", "cfg", "negative")] + extra
        export_inputs = [c[name] for name in ("frames", "easing", "fps", "video_format")]
        c["explorer"] = build_explore_pad(
            open_explorer, settings_from_values, settings_inputs, concurrency_id, (export_inputs, output_dir)
        )
    c["generate"].click(
        make_walk_handler(render, output_dir, stop),
        inputs=[c[name] for name in names] + [c["negative"], c["fps"], c["video_format"], *sampler_input],
        outputs=[c["gallery"], c["progress"], c["video"]],
        api_name="walk",
        concurrency_limit=1,
        concurrency_id=concurrency_id,
    )

    def request_stop() -> None:
        stop.set()
        if on_stop is not None:
            on_stop()

    c["stop"].click(request_stop, queue=False, api_name=False)
    return c
