"""The explorer's "Export saved points as a walk": its saved points as keyframes of a walk,
rendered (from the frame cache where seen) and saved as the Latent Walk saves a walk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.walk.output import save_frames
from lib_couple.walk.pad_walk import pad_walk_positions, pad_walk_record, point_at
from lib_couple.walk.video import FORMATS

if TYPE_CHECKING:
    from PIL import Image

    from lib_couple.ui.explore_pad import ExploreSession

ExportUpdate = tuple[str | None, str]  # (the video's path once saved, what happened)


def make_export_handler(output_dir: Path) -> Callable[..., ExportUpdate]:
    """(session, frames per transition, easing, fps, video format) -> the video and a line."""

    def export(
        session: ExploreSession | None, frames: float, easing: str, fps: float, video_format: str
    ) -> ExportUpdate:
        if session is None:
            raise CoupleError("explorer: press Show and save at least two points before exporting")
        state = session.pad.state
        positions = pad_walk_positions(state.saved, limits.FRAMES_PER_TRANSITION.check_int(frames), easing)
        rate = limits.FPS.check(fps)
        if video_format not in FORMATS:
            raise CoupleError(f"video format {video_format!r} is not one of {', '.join(FORMATS)}")
        session.pad.cancel_ahead()  # a real generation: the pre-render yields
        made: list[Image.Image] = []
        for position in positions:
            frame = session.pad.render(point_at(state.saved, position))
            if frame is None:  # the host's Stop: nothing is saved
                return None, f"stopped after {len(made)} / {len(positions)} frames"
            made.append(frame)
        record = pad_walk_record(state, session.settings, positions, easing)
        saved = save_frames(output_dir, made, record, video_format, float(rate))
        return str(saved.video), f"{len(made)} frames; saved in {saved.folder}"

    return export


def build_explore_export(
    session: gr.State, inputs: list[Any], output_dir: Path, concurrency_id: str | None
) -> dict[str, Any]:
    """The export button and its video, inside the explorer; `inputs` are the walk tab's frames
    per transition, easing, fps and video format."""
    c: dict[str, Any] = {}
    export = make_export_handler(output_dir)

    def run(*values: Any) -> ExportUpdate:
        try:
            return export(*values)
        except CoupleError as error:
            raise gr.Error(str(error)) from None

    with gr.Row():
        c["export"] = gr.Button(
            "Export saved points as a walk", size="sm", elem_id="forge_couple_explore_export"
        )
        c["export_status"] = gr.Textbox(label="Export", interactive=False)
    c["video"] = gr.Video(label="Explorer walk", interactive=False, loop=True, show_download_button=True)
    c["export"].click(
        run,
        inputs=[session, *inputs],
        outputs=[c["video"], c["export_status"]],
        concurrency_limit=1,
        concurrency_id=concurrency_id,
        api_name=False,
    )
    return c
