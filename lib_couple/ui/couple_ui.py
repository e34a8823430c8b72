"""The Forge Couple accordion, shared by the Forge script and the standalone app.

Every call builds fresh components and binds events only among them, so Forge may call ui()
as often as it likes (the API builds it twice more in a throwaway Blocks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import gradio as gr

from lib_couple.errors import CoupleError
from lib_couple.params import ARG_NAMES, MODES, CoupleParams
from lib_couple.prompts import COMMON_SYNTAXES
from lib_couple.regions import BACKGROUNDS, DIRECTIONS
from lib_couple.ui import infotext_fields, mapping_table, mask_list, presets, region_panels
from lib_couple.ui.flux_options import build_flux_options
from lib_couple.ui.infotext_fields import InfotextKey
from lib_couple.ui.region_panels import QUIET, not_saved

logger = logging.getLogger("forge_couple")

Tab = Literal["t2i", "i2i"]
_Part = TypeVar("_Part")
TILE_ARGS: tuple[str, ...] = ("use_tile", "tile_h", "tile_v", "tile_threshold", "tile_replace", "debug")


@dataclass(frozen=True)
class CoupleUI:
    """What a host needs from the accordion.

    `controls` are the script arguments in `ARG_NAMES` order (the API's order); `components`
    names each of them by its CoupleParams field.
    """

    accordion: gr.Accordion
    controls: list[gr.components.Component]
    components: dict[str, gr.components.Component]
    infotext_fields: list[tuple[gr.components.Component, InfotextKey]]
    paste_field_names: list[str]


def mode_visibility(mode: str) -> tuple[bool, bool, bool, bool]:
    """Which of (tile direction, global effect, Advanced panel, Mask panel) a mode shows."""
    return mode == "Basic", mode in ("Basic", "Mask"), mode == "Advanced", mode == "Mask"


def on_mode_visibility(mode: str) -> list[Any]:
    return [gr.update(visible=visible) for visible in mode_visibility(mode)]


def on_background_change(background: str) -> Any:
    return gr.update(interactive=background != "None")


def on_enabled_change(enabled: bool) -> str:
    return infotext_fields.enabled_text(enabled)


def on_enabled_text_change(text: str) -> bool:
    return infotext_fields.enabled_from_text(text)


def _tile_controls(is_img2img: bool, defaults: CoupleParams) -> dict[str, gr.components.Component]:
    if not is_img2img:
        # Placeholders keep the argument positions; one object each, as Forge indexes controls.
        return {name: gr.State(getattr(defaults, name)) for name in TILE_ARGS}
    with gr.Accordion("Tile mode (SD Upscale)", open=False):
        use_tile = gr.Checkbox(defaults.use_tile, label="Enable tile mode")
        with gr.Row():
            tile_h = gr.Number(defaults.tile_h, label="Horizontal tile count", precision=0, minimum=1)
            tile_v = gr.Number(defaults.tile_v, label="Vertical tile count", precision=0, minimum=1)
        tile_threshold = gr.Slider(0.0, 1.0, defaults.tile_threshold, step=0.05, label="Inclusion threshold")
        tile_replace = gr.Textbox(
            defaults.tile_replace,
            lines=6,
            label="Subject replacement",
            placeholder="key: tag, tag",
        )
        debug = gr.Checkbox(defaults.debug, label="Debug tiles")
    return dict(zip(TILE_ARGS, (use_tile, tile_h, tile_v, tile_threshold, tile_replace, debug), strict=True))


def on_new_canvas(width: float | None, height: float | None) -> tuple[Any, str]:
    """A black canvas; the first one also opens the editor (built closed, see _paint_controls)."""
    try:
        canvas = mask_list.blank_canvas(width, height)
    except CoupleError as error:
        return gr.update(), f"⚠️ {error}"
    status = "Paint the region in white, then press **Add painted mask**."
    return gr.update(value=canvas, interactive=True), status


def on_add_painted(store: str, canvas: object, weight: float | None) -> tuple[Any, str]:
    text, status = mask_list.add_painted_mask(store, canvas, weight)
    return gr.update() if text is None else text, status


def _paint_controls(masks: region_panels.MaskPanel) -> None:
    """A canvas to paint a mask on, appended to the Mask panel; it adds to the same mask list."""
    with masks.column, gr.Accordion("Paint a mask", open=False):
        with gr.Row():
            width = gr.Number(1024, label="Canvas width", precision=0, minimum=8, maximum=8192)
            height = gr.Number(1024, label="Canvas height", precision=0, minimum=8, maximum=8192)
            new = gr.Button("New black canvas", size="sm")
        # No initial image: gradio would write it to a file while the UI is built (Neo without its
        # tmp folder raised there); New black canvas makes one at event time. Not interactive until
        # then: gradio's editor is a WebGL (PIXI) app that redraws on every animation frame while it
        # exists, closed accordion or not, and stalled the page's main thread (bench.explore_profile).
        canvas = gr.ImageEditor(
            None,
            interactive=False,
            canvas_size=(512, 512),
            type="pil",
            image_mode="RGBA",
            sources=["upload", "clipboard"],
            label="Paint the region (white brush) after New black canvas, or over an image uploaded then",
            brush=gr.Brush(colors=["#ffffff"], default_color="#ffffff", color_mode="fixed"),
            transforms=[],
        )
        add = gr.Button("Add painted mask", size="sm")
    not_saved(width, height, canvas)
    new.click(on_new_canvas, [width, height], [canvas, masks.status], **QUIET)
    add.click(on_add_painted, [masks.store, canvas, masks.weight], [masks.store, masks.status], **QUIET)


def optional_part(name: str, build: Callable[[], _Part], notes: list[str]) -> _Part | None:
    """Build one part of the accordion the rest works without; if it fails, say so and go on.

    A host may call ui() unguarded (Neo's API does, and an exception there kills its setup), so
    an extra's failure must never take the controls with it.
    """
    try:
        return build()
    except Exception as error:  # any failure of an optional part: the rest still works
        message = (
            f"the {name} could not be built ({type(error).__name__}: {error}); the rest works without it"
        )
        logger.error("Forge Couple: %s", message)
        notes.append(message)
        return None


def _show_notes(notes: list[str]) -> None:
    if notes:
        gr.Markdown("\n".join(f"⚠️ Forge Couple: {note}" for note in notes), elem_classes=["fc_status"])


def build_couple_ui(is_img2img: bool, tab: Tab, defaults: CoupleParams | None = None) -> CoupleUI:
    """The accordion, built inside the caller's Blocks context, starting from `defaults`."""
    defaults = defaults or CoupleParams()
    if tab not in ("t2i", "i2i"):
        raise ValueError(f"tab must be 't2i' or 'i2i', got {tab!r}")
    c: dict[str, gr.components.Component] = {}
    with gr.Accordion("Forge Couple", open=False, elem_id=f"forge_couple_{tab}") as accordion:
        with gr.Row():
            c["enabled"] = gr.Checkbox(defaults.enabled, label="Enable", elem_classes=["fc_enable"])
            c["compatibility"] = gr.Checkbox(
                defaults.compatibility, label="Compatibility", info="skip the couple in the hires-fix pass"
            )
            c["strict_coverage"] = gr.Checkbox(
                defaults.strict_coverage,
                label="Strict coverage",
                info="refuse pixels that no region covers",
            )
            c["region_negatives"] = gr.Checkbox(
                defaults.region_negatives,
                label="Negative per region",
                info="one negative line per region (same separator); else the whole one everywhere",
            )
        enabled_mirror = gr.Textbox(
            infotext_fields.enabled_text(defaults.enabled), visible=False, elem_classes=["fc_enabled_text"]
        )
        with gr.Row():
            c["mode"] = gr.Radio(list(MODES), value=defaults.mode, label="Region assignment")
            c["separator"] = gr.Textbox(
                defaults.separator,
                label="Couple separator",
                placeholder="\\n",
                max_lines=1,
                elem_classes=["fc_separator"],
            )
        basic, advanced_on, mask_on = (defaults.mode == mode for mode in MODES)
        with gr.Column(visible=basic) as basic_column:
            c["direction"] = gr.Radio(list(DIRECTIONS), value=defaults.direction, label="Tile direction")
        with gr.Row(visible=basic or mask_on) as background_row:
            c["background"] = gr.Radio(
                list(BACKGROUNDS),
                value=defaults.background,
                label="Global effect",
                elem_classes=["fc_global_effect"],
            )
            c["background_weight"] = gr.Slider(
                0.1,
                1.5,
                defaults.background_weight,
                step=0.05,
                label="Global effect weight",
                interactive=defaults.background != "None",
            )
        kind, _ = mapping_table.classify(mapping_table.mapping_text(defaults.mapping))
        rows = (
            mapping_table.mapping_to_rows(defaults.mapping)
            if kind == "rows"
            else mapping_table.default_rows()
        )
        advanced = region_panels.build_advanced_panel(advanced_on, rows)
        notes: list[str] = []

        def build_presets() -> tuple[presets.PresetStore, presets.PresetControls]:
            store = presets.PresetStore(presets.presets_path())
            with advanced.column, gr.Accordion("Presets", open=False, elem_classes=["fc_presets"]):
                return store, presets.build_preset_controls(store)

        preset_part = optional_part("presets panel", build_presets, notes)
        masks = region_panels.build_mask_panel(mask_on)
        optional_part("paint canvas", lambda: _paint_controls(masks), notes)
        # The script argument: JSON text that JS and paste can write without a server round trip.
        c["mapping"] = gr.Textbox(
            mapping_table.mapping_text(defaults.mapping),
            visible=False,
            elem_classes=["fc_mapping_json"],
        )
        with gr.Accordion("Common prompts", open=False):
            c["common_parser"] = gr.Radio(list(COMMON_SYNTAXES), value=defaults.common_parser, label="Syntax")
            with gr.Row():
                c["def_in_prompt"] = gr.Checkbox(
                    defaults.def_in_prompt, label="Include definitions in prompt"
                )
                c["common_debug"] = gr.Checkbox(defaults.common_debug, label="Debug: log the region lines")
        c.update(build_flux_options(defaults))
        c.update(_tile_controls(is_img2img, defaults))
        _show_notes(notes)
    not_saved(c["mapping"], enabled_mirror)

    c["enabled"].change(on_enabled_change, c["enabled"], enabled_mirror, **QUIET)
    enabled_mirror.change(on_enabled_text_change, enabled_mirror, c["enabled"], **QUIET)
    c["mode"].change(
        on_mode_visibility,
        c["mode"],
        [basic_column, background_row, advanced.column, masks.column],
        **QUIET,
    )
    c["background"].change(on_background_change, c["background"], c["background_weight"], **QUIET)
    region_panels.wire_mapping(c["mode"], c["mapping"], advanced, masks)
    if preset_part is not None:
        store, preset_controls = preset_part
        presets.wire_presets(preset_controls, store, c["mapping"], QUIET)
        not_saved(preset_controls.choice, preset_controls.name)

    missing = [name for name in ARG_NAMES if name not in c]
    if missing:
        raise RuntimeError(f"internal: no control for {missing}")
    return CoupleUI(
        accordion=accordion,
        controls=[c[name] for name in ARG_NAMES],
        components=c,
        infotext_fields=infotext_fields.build_infotext_fields(c, enabled_mirror),
        paste_field_names=infotext_fields.paste_field_names(),
    )


def build_unavailable_ui(reason: str, defaults: CoupleParams | None = None) -> CoupleUI:
    """When the accordion cannot be built at all: a visible note, and placeholders that keep the
    API's argument positions with the couple off. Builds nothing that could fail the same way."""
    defaults = defaults or CoupleParams()
    with gr.Accordion(
        "Forge Couple (unavailable)", open=False, elem_id="forge_couple_unavailable"
    ) as accordion:
        gr.Markdown(f"⚠️ Forge Couple: the panel could not be built: {reason}. See the console.")
    values: dict[str, object] = {name: getattr(defaults, name) for name in ARG_NAMES}
    values["enabled"] = False
    values["mapping"] = mapping_table.mapping_text(defaults.mapping)
    c: dict[str, gr.components.Component] = {name: gr.State(values[name]) for name in ARG_NAMES}
    return CoupleUI(accordion, [c[name] for name in ARG_NAMES], c, [], [])
