"""Send to txt2img / img2img in the standalone app, as Forge pastes a parameters text.

txt2img's image goes to img2img; a Latent Walk frame (the one selected in its gallery) goes to
either: the parameters fill the prompts, the settings and the couple controls named in the
text, img2img also takes the image, and the page switches to the tab.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr
from PIL import Image

from lib_couple import limits
from lib_couple.errors import CoupleError

if TYPE_CHECKING:
    from lib_couple.ui.generation_tab import GenerationTab


def sent_settings(values: Mapping[str, str]) -> tuple[int, int, int, float, int]:
    """Width, height, steps, CFG and seed of a parameters text, each within its limit."""
    size = values.get("Size", "256x256").split("x")
    if len(size) != 2:
        raise CoupleError(f"Size {values.get('Size')!r} is not WIDTHxHEIGHT")
    return (
        limits.WIDTH.check_int(size[0]),
        limits.HEIGHT.check_int(size[1]),
        limits.STEPS.check_int(values.get("Steps", 20)),
        limits.CFG.check(values.get("CFG scale", 5)),
        limits.SEED.check_int(values.get("Seed", 1)),
    )


def sent_values(
    image: Image.Image | None, parameters: str, targets: Sequence[str], to: str = "img2img"
) -> tuple[object, ...]:
    """A parameters text (and an image) as a generation tab's values: the image, prompts,
    settings and seed, then the couple controls named in `targets`; what the text lacks is
    left unchanged. `to` names the tab in the messages."""
    from lib_couple.infotext import fill_absent_keys, from_infotext, parse_parameters

    if not parameters:
        raise gr.Error("nothing to send yet: generate an image first")
    try:
        prompt, negative, values = parse_parameters(parameters)
        width, height, steps, cfg, seed = sent_settings(values)
    except CoupleError as error:
        raise gr.Error(f"Send to {to}: {error}") from None
    fill_absent_keys(values)
    restored = from_infotext(values)
    couple = [
        json.dumps(restored[name])
        if name == "mapping" and name in restored
        else restored.get(name, gr.update())
        for name in targets
    ]
    return (image, prompt, negative, width, height, steps, cfg, seed, *couple)


def sent_to_img2img(
    gallery: Sequence[object] | None, parameters: str, targets: Sequence[str]
) -> tuple[object, ...]:
    """txt2img's image and parameters as img2img's values (see `sent_values`)."""
    from lib_couple.ui.walk_tab import gallery_image

    image = gallery_image(gallery[0]) if gallery else None
    return sent_values(image, parameters, targets)


def sent_frame(
    frames: Sequence[object] | None, index: int | None, targets: Sequence[str], to: str
) -> tuple[object, ...]:
    """The selected walk frame as `to`'s values: txt2img takes no image."""
    from lib_couple.ui.walk_tab import frame_parameters, gallery_image

    parameters = frame_parameters(frames, index)
    if not parameters or frames is None or index is None:
        raise gr.Error(f"Send to {to}: select a frame in the gallery first")
    values = sent_values(gallery_image(frames[index]), parameters, targets, to)
    return values if to == "img2img" else values[1:]


@dataclass
class FrameSend:
    """The walk tab's Send buttons, the selected frame's index and its parameters."""

    parameters: gr.Textbox
    selected: gr.State
    buttons: dict[str, gr.Button]


def build_frame_send(gallery: gr.Gallery) -> FrameSend:
    """Inside the walk tab: the selected frame's parameters and a Send button per tab."""
    from lib_couple.ui.walk_tab import frame_parameters

    parameters = gr.Textbox(
        label="Selected frame's parameters",
        interactive=False,
        lines=2,
        elem_id="forge_couple_walk_frame_parameters",
    )
    selected = gr.State(None)
    with gr.Row():
        buttons = {
            tab: gr.Button(f"Send to {tab}", size="sm", elem_id=f"forge_couple_walk_send_to_{tab}")
            for tab in ("txt2img", "img2img")
        }

    def select(frames: list[Any] | None, event: gr.SelectData) -> tuple[str, int | None]:
        index = event.index if isinstance(event.index, int) else None
        return frame_parameters(frames, index), index

    gallery.select(select, [gallery], [parameters, selected], api_name=False)
    return FrameSend(parameters, selected, buttons)


def wire_frame_send(
    send: FrameSend, gallery: gr.Gallery, tabs: gr.Tabs, targets: Mapping[str, GenerationTab]
) -> None:
    """Each Send button fills its tab (by id) and switches to it."""
    for to, tab in targets.items():
        names = list(tab.couple.components)
        outputs = [*tab.image_inputs[:1], *tab.settings, *(tab.couple.components[n] for n in names)]

        def send_frame(
            frames: list[Any] | None, index: int | None, names: list[str] = names, to: str = to
        ) -> tuple[object, ...]:
            return sent_frame(frames, index, names, to)

        send.buttons[to].click(send_frame, [gallery, send.selected], outputs, api_name=False).success(
            lambda to=to: gr.Tabs(selected=to), None, tabs, api_name=False
        )
