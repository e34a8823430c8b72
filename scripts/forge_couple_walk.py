"""Forge Couple's Latent Walk tab: registers the tab and hands it Forge's frame renderer."""

from __future__ import annotations

from typing import Any

import gradio as gr
from modules import infotext_utils, script_callbacks

from lib_couple.hosts.forge import ahead_queue, walk_host
from lib_couple.hosts.forge.explore_frames import forge_explore_pad
from lib_couple.hosts.forge.temp_folder import ensure_temp_folder
from lib_couple.hosts.forge.walk_frames import forge_walk_frames, forge_walk_pad
from lib_couple.log import setup_logging
from lib_couple.ui.explore_fast import ROUTE, explore_router
from lib_couple.ui.walk_tab import build_walk_tab, frame_parameters
from lib_couple.walk.frame_cache import FrameCache

setup_logging()  # the walk tab may load before the couple script: its lines need the handler too

# One cache for the session: a walk run again, or a frame revisited, samples nothing.
FRAMES = FrameCache()


def _selected_parameters(frames: list[Any] | None, event: gr.SelectData) -> str:
    return frame_parameters(frames, event.index if isinstance(event.index, int) else None)


def _walk_tab() -> list[tuple[gr.Blocks, str, str]]:
    ensure_temp_folder()  # the pad's and the frames' pictures go there on Neo
    with gr.Blocks(analytics_enabled=False) as tab:
        services = walk_host.ForgeWalkServices()
        controls = build_walk_tab(
            forge_walk_frames(services, FRAMES),
            walk_host.walk_output_dir(),
            defaults=walk_host.txt2img_defaults(),
            samplers=walk_host.sampler_names(),
            on_stop=walk_host.interrupt,
            open_pad=forge_walk_pad(services, FRAMES),
            open_explorer=forge_explore_pad(services, FRAMES, ahead_queue.ForgeAheadQueue(services)),
        )
        with gr.Row():
            parameters = gr.Textbox(label="Selected frame's parameters", interactive=False, lines=2)
        with gr.Row():
            to_txt2img = gr.Button("Send to txt2img", size="sm")
            to_img2img = gr.Button("Send to img2img", size="sm")
        controls["gallery"].select(_selected_parameters, [controls["gallery"]], [parameters])
        for button, tabname in ((to_txt2img, "txt2img"), (to_img2img, "img2img")):
            infotext_utils.register_paste_params_button(
                infotext_utils.ParamBinding(
                    paste_button=button,
                    tabname=tabname,
                    source_text_component=parameters,
                    source_image_component=controls["gallery"],
                )
            )
    return [(tab, "Latent Walk", "forge_couple_latent_walk")]


def _add_explore_routes(_demo: object, app: Any) -> None:
    """The explorer's fast-path routes on Forge's server (once: Reload UI starts the app again)."""
    if not any(str(getattr(route, "path", "")).startswith(ROUTE) for route in app.routes):
        app.include_router(explore_router())


script_callbacks.on_ui_tabs(_walk_tab)
script_callbacks.on_app_started(_add_explore_routes)
# every sampling step: a pre-render frame stops at the next one when a real task queues
ahead_queue.register_step_checks()
