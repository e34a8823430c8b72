"""txt2img's and img2img's page in the standalone app, with Forge's element ids and layout."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from lib_couple.ui.couple_ui import CoupleUI


@dataclass
class GenerationTab:
    """One generation tab's components, with Forge's element ids (the JavaScript finds them so)."""

    prompt: gr.Textbox
    negative: gr.Textbox
    width: gr.Slider
    height: gr.Slider
    steps: gr.Slider
    cfg: gr.Slider
    seed: gr.Number
    couple: CoupleUI
    gallery: gr.Gallery
    parameters: gr.Textbox
    info: gr.HTML
    generate: gr.Button
    interrupt: gr.Button
    skip: gr.Button
    init_image: gr.Image | None = None
    strength: gr.Slider | None = None

    @property
    def image_inputs(self) -> list[gr.components.Component]:
        """img2img's input image and denoising strength; none in txt2img."""
        return [c for c in (self.init_image, self.strength) if c is not None]

    @property
    def settings(self) -> list[gr.components.Component]:
        return [self.prompt, self.negative, self.width, self.height, self.steps, self.cfg, self.seed]


def build_generation_tab(tab: str, outputs: Path) -> GenerationTab:
    """txt2img's or img2img's page (inside the caller's `gr.Tab`): prompts, sizes, the couple,
    the gallery and the parameters line; img2img adds the input image and the strength."""
    import gradio as gr

    from lib_couple.demo.tokenizer import VOCABULARY_HINT
    from lib_couple.ui import build_couple_ui
    from lib_couple.ui.outputs import TAB_FOLDERS

    is_img2img = tab == "img2img"
    with gr.Row():
        with gr.Column(scale=4):
            prompt = gr.Textbox(
                label="Prompt", lines=4, placeholder="one line per region", elem_id=f"{tab}_prompt"
            )
            negative = gr.Textbox(label="Negative prompt", lines=2, elem_id=f"{tab}_neg_prompt")
            gr.Markdown(VOCABULARY_HINT, elem_id=f"{tab}_vocabulary")
        with gr.Column(scale=1, min_width=160):
            generate = gr.Button("Generate", variant="primary", elem_id=f"{tab}_generate")
            with gr.Row():  # as Forge: Interrupt and Skip beside Generate
                interrupt = gr.Button("Interrupt", size="sm", min_width=60, elem_id=f"{tab}_interrupt")
                skip = gr.Button("Skip", size="sm", min_width=60, elem_id=f"{tab}_skip")
    with gr.Row():
        with gr.Column():
            init_image = strength = None
            if is_img2img:
                init_image = gr.Image(label="Input image", type="pil", height=256, elem_id="img2img_image")
                strength = gr.Slider(
                    0.0,
                    1.0,
                    0.75,
                    step=0.01,
                    label="Denoising strength",
                    elem_id="img2img_denoising_strength",
                )
            with gr.Row(elem_id=f"{tab}_dimensions_row"):
                width = gr.Slider(64, 1024, 256, step=8, label="Width", elem_id=f"{tab}_width")
                height = gr.Slider(64, 1024, 256, step=8, label="Height", elem_id=f"{tab}_height")
            with gr.Row():
                steps = gr.Slider(1, 150, 20, step=1, label="Sampling steps", elem_id=f"{tab}_steps")
                cfg = gr.Slider(0.0, 30.0, 5.0, step=0.5, label="CFG scale", elem_id=f"{tab}_cfg_scale")
            seed = gr.Number(1, label="Seed (-1: random)", precision=0, elem_id=f"{tab}_seed")
            couple = build_couple_ui(is_img2img, "i2i" if is_img2img else "t2i")
        with gr.Column():
            gallery = gr.Gallery(
                label="Output",
                columns=1,
                object_fit="contain",  # the whole image, letterboxed
                interactive=False,  # an output: no upload box
                format="png",
                height=512,
                elem_id=f"{tab}_gallery",
            )
            info = gr.HTML(elem_id=f"html_log_{tab}")
            parameters = gr.Textbox(
                label="Parameters",
                lines=4,
                interactive=False,
                show_copy_button=True,
                elem_id=f"html_info_{tab}",
            )
            folder = html.escape(str(outputs.resolve() / TAB_FOLDERS[tab]))
            gr.HTML(f"<p>Images are saved as PNG with their parameters in <code>{folder}</code></p>")
    return GenerationTab(
        prompt,
        negative,
        width,
        height,
        steps,
        cfg,
        seed,
        couple,
        gallery,
        parameters,
        info,
        generate,
        interrupt,
        skip,
        init_image,
        strength,
    )
