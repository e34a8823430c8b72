"""The standalone web app: a txt2img page with the Forge Couple accordion, on the demo model.

`python -m lib_couple serve` starts it. Gradio and the model are imported on first use, so the
command line stays quick for its other commands.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PIL import Image  # at run time: Gradio reads the handler's type hints

from lib_couple.errors import CoupleError
from lib_couple.params import ARG_NAMES, params_from_args

if TYPE_CHECKING:
    import gradio as gr

    from lib_couple.demo import DemoComponents
    from lib_couple.hosts.standalone import GenerationRequest


ModelLoader = Callable[[], "DemoComponents"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
JAVASCRIPT_DIR = PROJECT_ROOT / "javascript"
STYLE_FILE = PROJECT_ROOT / "style.css"
MAX_SEED = 2**32 - 1
# txt2img and the walk share one UNet (the couple patches it while sampling): one queue for both.
MODEL_QUEUE = "demo_model"
WALK_OUTPUT_DIR = Path(tempfile.gettempdir()) / "forge_couple_walks"
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


class LazyModel:
    """Loads the model on the first generation, once, even when two requests arrive together."""

    def __init__(self, loader: ModelLoader) -> None:
        self._loader = loader
        self._model: DemoComponents | None = None
        self._lock = threading.Lock()

    def get(self) -> DemoComponents:
        with self._lock:
            if self._model is None:
                self._model = self._loader()
            return self._model


def request_from_values(
    prompt: str,
    negative: str,
    width: float,
    height: float,
    steps: float,
    cfg: float,
    seed: float | None,
    couple_values: Sequence[object],
) -> GenerationRequest:
    """The page's values as a request; the couple values are in `ARG_NAMES` order."""
    from lib_couple.hosts.standalone import GenerationRequest

    if len(couple_values) != len(ARG_NAMES):
        raise CoupleError(f"internal: {len(couple_values)} couple values for {len(ARG_NAMES)} arguments")
    resolved_seed = int(seed) if seed is not None and seed >= 0 else random.randint(0, MAX_SEED)
    return GenerationRequest(
        prompt=prompt or "",
        negative=negative or "",
        width=int(width),
        height=int(height),
        steps=int(steps),
        cfg=float(cfg),
        seed=resolved_seed,
        couple=params_from_args(couple_values),
    )


def make_generate(model: LazyModel) -> Callable[..., tuple[list[Image.Image], str]]:
    """The Generate handler: (images, parameters text); bad input becomes a message, not a trace."""
    import gradio as gr

    from lib_couple.hosts.standalone import generate

    def run(
        prompt: str,
        negative: str,
        width: float,
        height: float,
        steps: float,
        cfg: float,
        seed: float | None,
        *couple_values: object,
    ) -> tuple[list[Image.Image], str]:
        try:
            request = request_from_values(prompt, negative, width, height, steps, cfg, seed, couple_values)
            request.regions()  # refuse bad regions before loading the model
        except CoupleError as error:
            raise gr.Error(str(error)) from None
        try:
            components = model.get()
        except OSError as error:
            raise gr.Error(f"the model could not be loaded: {error}") from None
        result = generate(components, request, progress=False)
        return [result.image], result.parameters

    return run


def build_app(model_loader: ModelLoader | None = None, walk_output_dir: Path = WALK_OUTPUT_DIR) -> gr.Blocks:
    """The page; the model is loaded by `model_loader` (default: the demo model) when first needed.

    Finished latent walks are saved under `walk_output_dir` (one numbered folder each)."""
    import gradio as gr

    from lib_couple.hosts.walk_standalone import demo_walk_frames, demo_walk_pad
    from lib_couple.ui import build_couple_ui
    from lib_couple.ui.page_head import page_head
    from lib_couple.ui.walk_tab import build_walk_tab
    from lib_couple.walk.frame_cache import FrameCache

    if model_loader is None:
        from lib_couple.demo import load_demo_pipeline

        model_loader = load_demo_pipeline
    css = STYLE_FILE.read_text(encoding="utf-8") if STYLE_FILE.is_file() else None
    with gr.Blocks(title="Forge Couple", head=page_head(JAVASCRIPT_DIR), css=css) as app:
        model = LazyModel(model_loader)
        with gr.Tab("txt2img", elem_id="tab_txt2img"):
            with gr.Row():
                with gr.Column(scale=4):
                    prompt = gr.Textbox(
                        label="Prompt", lines=4, placeholder="one line per region", elem_id="txt2img_prompt"
                    )
                    negative = gr.Textbox(label="Negative prompt", lines=2, elem_id="txt2img_neg_prompt")
                generate_button = gr.Button(
                    "Generate", variant="primary", scale=1, elem_id="txt2img_generate"
                )
            with gr.Row():
                with gr.Column():
                    with gr.Row(elem_id="txt2img_dimensions_row"):
                        width = gr.Slider(64, 1024, 256, step=8, label="Width", elem_id="txt2img_width")
                        height = gr.Slider(64, 1024, 256, step=8, label="Height", elem_id="txt2img_height")
                    with gr.Row():
                        steps = gr.Slider(1, 150, 20, step=1, label="Sampling steps", elem_id="txt2img_steps")
                        cfg = gr.Slider(
                            0.0, 30.0, 5.0, step=0.5, label="CFG scale", elem_id="txt2img_cfg_scale"
                        )
                    seed = gr.Number(1, label="Seed (-1: random)", precision=0, elem_id="txt2img_seed")
                    couple = build_couple_ui(False, "t2i")
                with gr.Column():
                    gallery = gr.Gallery(label="Output", columns=1, elem_id="txt2img_gallery")
                    parameters = gr.Textbox(
                        label="Parameters",
                        lines=4,
                        interactive=False,
                        show_copy_button=True,
                        elem_id="html_info_txt2img",
                    )
            # One generation at a time: the couple patches the shared UNet while it samples.
            generate_button.click(
                make_generate(model),
                inputs=[prompt, negative, width, height, steps, cfg, seed, *couple.controls],
                outputs=[gallery, parameters],
                api_name="generate",
                concurrency_limit=1,
                concurrency_id=MODEL_QUEUE,
            )
        with gr.Tab("Latent Walk", elem_id="tab_latent_walk"):
            frames = FrameCache()  # shared: a walk's frames are the pad's, and the other way round
            build_walk_tab(
                demo_walk_frames(model.get, frames),
                walk_output_dir,
                MODEL_QUEUE,
                open_pad=demo_walk_pad(model.get, frames),
            )
    return app


def serve(host: str = "127.0.0.1", port: int = 7860, walk_output_dir: Path = WALK_OUTPUT_DIR) -> None:
    """Serve the app until interrupted."""
    build_app(walk_output_dir=walk_output_dir).queue().launch(server_name=host, server_port=port)


def add_serve_parser(subparsers: argparse._SubParsersAction[Parser]) -> Parser:
    """The `serve` command, added to the command line's subcommands."""
    command = subparsers.add_parser("serve", help="start the standalone web app (txt2img with Forge Couple)")
    command.add_argument("--host", default="127.0.0.1", help="address to listen on")
    command.add_argument("--port", type=int, default=7860, help="port to listen on")
    command.add_argument(
        "--walk-output",
        type=Path,
        default=Path("out") / "latent-walk",
        help="folder for finished latent walks (frames, walk.json, video; one numbered folder each)",
    )
    return command


def run_serve(args: argparse.Namespace) -> None:
    serve(host=args.host, port=args.port, walk_output_dir=args.walk_output)
