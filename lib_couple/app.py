"""The standalone web app: txt2img, img2img and Latent Walk pages with Forge Couple, on a shipped demo model.

`python -m lib_couple serve` starts it. Gradio and the model are imported on first use, so the
command line stays quick for its other commands.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PIL import Image  # at run time: Gradio reads the handler's type hints

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.hosts.progress import RunningControls, StepControl
from lib_couple.params import ARG_NAMES, params_from_args

if TYPE_CHECKING:
    import gradio as gr

    from lib_couple.hosts.demo_models import AppParts, DemoModel
    from lib_couple.hosts.standalone import GenerationRequest, GenerationResult


ModelLoader = Callable[[], Any]  # the shipped model's parts (DemoComponents or FluxDemo)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
JAVASCRIPT_DIR = PROJECT_ROOT / "javascript"
STYLE_FILE = PROJECT_ROOT / "style.css"
MAX_SEED = limits.MAX_SEED
# txt2img and the walk share one UNet (the couple patches it while sampling): one queue for both.
MODEL_QUEUE = "demo_model"
WALK_OUTPUT_DIR = Path(tempfile.gettempdir()) / "forge_couple_walks"
OUTPUTS_DIR = Path(tempfile.gettempdir()) / "forge_couple_outputs"
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


class LazyModel:
    """Loads the model on the first generation, once, even when two requests arrive together;
    `parts` (default: the UNet demo's) say how to check and generate on it."""

    def __init__(self, loader: ModelLoader, parts: AppParts | None = None) -> None:
        from lib_couple.hosts.demo_models import app_parts

        self._loader = loader
        self.parts = app_parts("demo", loader) if parts is None else parts
        self._model: Any = None
        self._lock = threading.Lock()

    def generate(self, request: GenerationRequest, control: StepControl) -> GenerationResult:
        return self.parts.generate(self.get(), request, control)

    def get(self) -> Any:
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
    init_image: Image.Image | None = None,
    denoising_strength: float = 0.75,
) -> GenerationRequest:
    """The page's values as a request; the couple values are in `ARG_NAMES` order."""
    from lib_couple.hosts.standalone import GenerationRequest

    if len(couple_values) != len(ARG_NAMES):
        raise CoupleError(f"internal: {len(couple_values)} couple values for {len(ARG_NAMES)} arguments")
    # Each value is checked against its limit before it is converted (an API sends anything).
    given_seed = -1 if seed is None else limits.SEED.check_int(seed)
    resolved_seed = given_seed if given_seed >= 0 else random.randint(0, MAX_SEED)
    return GenerationRequest(
        prompt=limits.PROMPT.check(prompt),
        negative=limits.NEGATIVE.check(negative),
        width=limits.WIDTH.check_int(width),
        height=limits.HEIGHT.check_int(height),
        steps=limits.STEPS.check_int(steps),
        cfg=limits.CFG.check(cfg),
        seed=resolved_seed,
        couple=params_from_args(couple_values),
        init_image=init_image,
        denoising_strength=limits.DENOISING.check(denoising_strength),
    )


GenerateOutputs = tuple[list[str], str, str]  # (gallery files, parameters text, info HTML)
GenerateHandler = Callable[..., GenerateOutputs]
# The generation settings every tab sends first, in `request_from_values` order.
SETTINGS_FIELDS = ("prompt", "negative", "width", "height", "steps", "cfg", "seed")


def make_generate(model: LazyModel, outputs: Path, controls: RunningControls) -> Callable[..., Any]:
    """The txt2img Generate handler: (saved PNG, parameters text, info); bad input becomes a message."""

    def run(control: StepControl, *values: object) -> GenerateOutputs:
        return _generate(model, _request(values), control, outputs, "txt2img")

    from lib_couple.ui.run_control import controlled

    return controlled(_reporting(run), controls, (*SETTINGS_FIELDS, *ARG_NAMES))


def make_img2img(model: LazyModel, outputs: Path, controls: RunningControls) -> Callable[..., Any]:
    """The img2img Generate handler: the input image and strength, then txt2img's values."""

    def run(
        control: StepControl, init_image: Image.Image | None, strength: float, *values: object
    ) -> GenerateOutputs:
        if init_image is None:
            raise CoupleError("img2img needs an input image: upload one, or send one from txt2img")
        request = _request(values, init_image=init_image, denoising_strength=strength)
        return _generate(model, request, control, outputs, "img2img")

    from lib_couple.ui.run_control import controlled

    return controlled(_reporting(run), controls, (*SETTINGS_FIELDS, *ARG_NAMES))


def _request(values: Sequence[object], **image: Any) -> GenerationRequest:
    """A tab's values (`SETTINGS_FIELDS`, then the couple's) as a request."""
    settings: dict[str, Any] = dict(zip(SETTINGS_FIELDS, values[: len(SETTINGS_FIELDS)], strict=True))
    return request_from_values(**settings, couple_values=values[len(SETTINGS_FIELDS) :], **image)


def _reporting(run: GenerateHandler) -> GenerateHandler:
    """Bad input (CoupleError) reaches the page as a Gradio error message, not a trace."""
    import gradio as gr

    @functools.wraps(run)
    def reported(*values: object) -> GenerateOutputs:
        try:
            return run(*values)
        except CoupleError as error:
            print(f"Forge Couple: {error}", file=sys.stderr)  # one line, as Forge prints it
            raise gr.Error(str(error)) from None

    return reported


def _generate(
    model: LazyModel, request: GenerationRequest, control: StepControl, outputs: Path, tab: str
) -> GenerateOutputs:
    import gradio as gr

    from lib_couple.ui.outputs import save_image
    from lib_couple.ui.run_control import generation_info

    model.parts.check(request)  # refuse bad regions (and what the model does not do) before loading it
    try:
        model.get()
    except OSError as error:
        raise gr.Error(f"the model could not be loaded: {error}") from None
    result = model.generate(request, control)
    if control.cancelled:  # nobody waits for it: keep nothing
        return [], "", ""
    for note in result.notes:
        gr.Info(f"Forge Couple: {note}")
    stopped = "Interrupted" if result.interrupted else "Skipped" if control.skipped else None
    notes = [*result.notes, *([f"{stopped} after {control.steps_done} steps"] if stopped else [])]
    saved = save_image(outputs, tab, result.image, result.parameters, request.seed)
    return [str(saved)], result.parameters, generation_info(saved, result.warnings, notes)


def build_app(
    model_loader: ModelLoader | None = None,
    walk_output_dir: Path = WALK_OUTPUT_DIR,
    outputs_dir: Path = OUTPUTS_DIR,
    model_name: DemoModel = "demo",
) -> gr.Blocks:
    """The page on the shipped `model_name`; the model is loaded by `model_loader` (default: the
    shipped weights) when first needed.

    Images are saved under `outputs_dir` in Forge's layout; finished latent walks under
    `walk_output_dir` (one numbered folder each)."""
    import gradio as gr

    from lib_couple.hosts.demo_models import app_parts
    from lib_couple.ui.generation_tab import build_generation_tab
    from lib_couple.ui.page_head import page_head
    from lib_couple.ui.send_to import build_frame_send, sent_to_img2img, wire_frame_send
    from lib_couple.ui.walk_tab import build_walk_tab
    from lib_couple.walk.frame_cache import FrameCache

    parts = app_parts(model_name, model_loader)
    css = STYLE_FILE.read_text(encoding="utf-8") if STYLE_FILE.is_file() else None
    # System fonts: the default theme's Google fonts are a request to a CDN on every load.
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    with gr.Blocks(
        title="Forge Couple", head=page_head(JAVASCRIPT_DIR), css=css, theme=theme, analytics_enabled=False
    ) as app:
        model = LazyModel(parts.load, parts)
        controls = RunningControls()  # what Interrupt and Skip reach
        # One generation at a time: the couple patches the shared UNet while it samples.
        queue = {"concurrency_limit": 1, "concurrency_id": MODEL_QUEUE}
        with gr.Tabs() as tabs:
            with gr.Tab("txt2img", id="txt2img", elem_id="tab_txt2img"):
                txt2img = build_generation_tab("txt2img", outputs_dir)
                send = gr.Button("Send to img2img", size="sm", elem_id="txt2img_send_to_img2img")
            with gr.Tab("img2img", id="img2img", elem_id="tab_img2img"):
                img2img = build_generation_tab("img2img", outputs_dir)
            with gr.Tab("Latent Walk", id="walk", elem_id="tab_latent_walk"):
                frames = FrameCache()  # shared: a walk's frames are the pad's, and the other way round
                walk = build_walk_tab(
                    parts.walk_frames(model.get, frames, controls),
                    walk_output_dir,
                    MODEL_QUEUE,
                    on_stop=controls.interrupt,
                    open_pad=None if parts.open_pad is None else parts.open_pad(model.get, frames),
                    open_explorer=None
                    if parts.open_explorer is None
                    else parts.open_explorer(model.get, frames),
                )
                frame_send = build_frame_send(walk["gallery"])
        txt2img.generate.click(
            make_generate(model, outputs_dir, controls),
            inputs=[*txt2img.settings, *txt2img.couple.controls],
            outputs=[txt2img.gallery, txt2img.parameters, txt2img.info],
            api_name="generate",
            **queue,
        )
        img2img.generate.click(
            make_img2img(model, outputs_dir, controls),
            inputs=[*img2img.image_inputs, *img2img.settings, *img2img.couple.controls],
            outputs=[img2img.gallery, img2img.parameters, img2img.info],
            api_name="img2img",
            **queue,
        )
        for tab in (txt2img, img2img):  # outside the queue: they must reach a running generation
            tab.interrupt.click(controls.interrupt, queue=False, api_name=False)
            tab.skip.click(controls.skip, queue=False, api_name=False)
        targets = list(img2img.couple.components)
        send.click(
            lambda gallery, parameters: sent_to_img2img(gallery, parameters, targets),
            inputs=[txt2img.gallery, txt2img.parameters],
            outputs=[
                img2img.image_inputs[0],
                *img2img.settings,
                *(img2img.couple.components[n] for n in targets),
            ],
            api_name=False,
        ).then(lambda: gr.Tabs(selected="img2img"), None, tabs, api_name=False)
        wire_frame_send(frame_send, walk["gallery"], tabs, {"txt2img": txt2img, "img2img": img2img})
    from lib_couple.ui.event_info import list_numbered_events

    list_numbered_events(app)  # gradio's client warns on every event otherwise
    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    walk_output_dir: Path = WALK_OUTPUT_DIR,
    outputs_dir: Path = OUTPUTS_DIR,
    model_name: DemoModel = "demo",
) -> None:
    """Serve the app until interrupted; user errors print one line, not gradio's trace."""
    from lib_couple.ui.console import UserErrorTraceFilter

    sys.stderr = UserErrorTraceFilter(sys.stderr)
    app = build_app(walk_output_dir=walk_output_dir, outputs_dir=outputs_dir, model_name=model_name)
    app.queue().launch(server_name=host, server_port=port, app_kwargs=server_kwargs())


def server_kwargs() -> dict[str, Any]:
    """`Blocks.launch(app_kwargs=...)` of the app: a page that requests nothing from outside, and
    the explorer's fast-path routes (Forge adds those in `scripts/forge_couple_walk.py`)."""
    from lib_couple.ui.explore_fast import explore_router
    from lib_couple.ui.offline_page import offline_app_kwargs

    return {**offline_app_kwargs(), "routes": explore_router().routes}


def add_serve_parser(subparsers: argparse._SubParsersAction[Parser]) -> Parser:
    """The `serve` command, added to the command line's subcommands."""
    command = subparsers.add_parser(
        "serve",
        help="start the standalone web app (txt2img, img2img and Latent Walk with Forge Couple)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    from lib_couple.hosts.threads import add_threads_argument

    command.add_argument("--host", default="127.0.0.1", help="address to listen on")
    command.add_argument("--port", type=int, default=7860, help="port to listen on")
    command.add_argument(
        "--walk-output",
        type=Path,
        default=Path("out") / "latent-walk",
        help="folder for finished latent walks (frames, walk.json, video; one numbered folder each)",
    )
    command.add_argument(
        "--outputs",
        type=Path,
        default=Path("outputs"),
        help="folder for the images, as Forge lays it out: txt2img-images/YYYY-MM-DD/NNNNN-SEED.png",
    )
    from lib_couple.hosts.demo_models import MODEL_CHOICES

    command.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default="demo",
        help="the shipped model: the UNet demo or the Flux-shaped one (sides multiples of 16, no img2img)",
    )
    add_threads_argument(command)
    return command


def run_serve(args: argparse.Namespace) -> None:
    serve(
        host=args.host,
        port=args.port,
        walk_output_dir=args.walk_output,
        outputs_dir=args.outputs,
        model_name=args.model,
    )
