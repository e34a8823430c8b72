"""The "Flux / Chroma" accordion: the joint-attention controls (docs/FLUX.md), built in every host.

Only a Flux or Chroma checkpoint reads them; other models ignore them, and the label says so.
The ranges are those of lib_couple/limits.py, so the UI cannot send what the API would refuse.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from lib_couple import limits
from lib_couple.attention.joint_attention import BLOCK_CHOICES, IMAGE_ATTENTION
from lib_couple.params import ARG_NAMES, CoupleParams
from lib_couple.ui.region_panels import QUIET

FLUX_ARGS: tuple[str, ...] = tuple(name for name in ARG_NAMES if name.startswith("flux_"))
LABEL = "Flux / Chroma (only these models read it)"


def build_flux_options(defaults: CoupleParams) -> dict[str, gr.components.Component]:
    """The accordion's controls by CoupleParams field, built inside the caller's Blocks context."""
    c: dict[str, gr.components.Component] = {}
    with gr.Accordion(LABEL, open=False, elem_classes=["fc_flux_options"]):
        gr.Markdown("Used only with a Flux or Chroma checkpoint; SD1.5, SDXL and Anima ignore these.")
        with gr.Row():
            c["flux_blocks"] = gr.Radio(
                list(BLOCK_CHOICES),
                value=defaults.flux_blocks,
                label="Masked blocks",
                info="doubles then singles counted as one list (Flux: 19 + 38)",
            )
            ranged = defaults.flux_blocks == "range"
            c["flux_block_start"] = _whole(defaults.flux_block_start, "Range start", ranged)
            c["flux_block_stop"] = _whole(defaults.flux_block_stop, "Range stop (excluded)", ranged)
        with gr.Row():
            c["flux_steps"] = gr.Slider(
                limits.FLUX_SHARE.low,
                limits.FLUX_SHARE.high,
                defaults.flux_steps,
                step=0.05,
                label="Share of the steps with regions",
                info="from the start of the schedule; later steps run the plain model",
            )
            c["flux_base_ratio"] = gr.Slider(
                limits.FLUX_BASE_RATIO.low,
                limits.FLUX_BASE_RATIO.high,
                defaults.flux_base_ratio,
                step=0.05,
                label="Base ratio",
                info="blend with the unmasked block (0: off; above 0 doubles the masked blocks' cost)",
            )
        with gr.Row():
            c["flux_image_attention"] = gr.Radio(
                list(IMAGE_ATTENTION),
                value=defaults.flux_image_attention,
                label="Image tokens attend",
                info="free: to the whole image (one picture); region: within their regions only",
            )
            c["flux_global_everywhere"] = gr.Checkbox(
                defaults.flux_global_everywhere,
                label="Whole prompt everywhere",
                info="else only where no region is",
            )
            c["flux_region_padding"] = _whole(
                defaults.flux_region_padding,
                "T5 pads kept per region line",
                limit=limits.FLUX_REGION_PADDING,
            )
    c["flux_blocks"].change(
        on_blocks_change, c["flux_blocks"], [c["flux_block_start"], c["flux_block_stop"]], **QUIET
    )
    missing = [name for name in FLUX_ARGS if name not in c]
    if missing:
        raise RuntimeError(f"internal: no Flux control for {missing}")
    return c


def on_blocks_change(blocks: str) -> list[Any]:
    """The range's fields are read only with "range": editable then, greyed otherwise."""
    return [gr.update(interactive=blocks == "range")] * 2


def _whole(
    value: int, label: str, interactive: bool = True, limit: limits.NumberLimit = limits.FLUX_BLOCK
) -> gr.components.Component:
    return gr.Number(
        value, label=label, precision=0, minimum=limit.low, maximum=limit.high, interactive=interactive
    )
