"""Advanced and Mask panels of the accordion, and the events that keep the mapping argument in sync.

The Advanced table is the fallback of the region editor (a custom element that writes the
mapping textbox itself and hides the table); the table follows the mapping either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.ui import mapping_table, mask_list

# Hidden helpers must not be written into Forge's ui-config.json (the masks would bloat it).
NOT_SAVED = "do_not_save_to_config"
# Internal sync events: no spinner, and not listed among the API's endpoints.
QUIET: dict[str, Any] = {"show_progress": "hidden", "show_api": False}


# The mode the table's events see when the region editor (JavaScript) owns the mapping.
EDITOR_OWNS_MAPPING = "editor"
TABLE_GATE_JS = (
    "(rows, mode, mapping) => [rows, window.ForgeCouple && window.ForgeCouple.editorActive ? "
    f"'{EDITOR_OWNS_MAPPING}' : mode, mapping]"
)


def _keep(value: object) -> Any:
    """A handler's "no change" (None) as Gradio's, so unchanged outputs fire no change event."""
    return gr.update() if value is None else value


def not_saved(*components: gr.components.Component) -> None:
    for component in components:
        setattr(component, NOT_SAVED, True)


@dataclass(frozen=True)
class AdvancedPanel:
    column: gr.Column
    table: gr.Dataframe
    reset: gr.Button
    status: gr.Markdown


@dataclass(frozen=True)
class MaskPanel:
    column: gr.Column
    store: gr.Textbox  # the mask list as JSON: the mapping argument's content in Mask mode
    image: gr.Image
    weight: gr.Number
    add: gr.Button
    clear: gr.Button
    number: gr.Number
    delete: gr.Button
    gallery: gr.Gallery
    weights: gr.Textbox
    status: gr.Markdown


def build_advanced_panel(visible: bool, rows: list[list[mapping_table.Cell]] | None = None) -> AdvancedPanel:
    rows = rows if rows is not None else mapping_table.default_rows()
    with gr.Column(visible=visible, elem_classes=["fc_advanced"]) as column:
        table = gr.Dataframe(
            value=rows,
            headers=list(mapping_table.HEADERS),
            datatype="number",
            type="array",
            col_count=(len(mapping_table.HEADERS), "fixed"),
            row_count=(len(rows), "dynamic"),
            interactive=True,
            label="Regions: one row per prompt line, fractions of width (x) and height (y), weight 0..5",
            elem_classes=["fc_mapping_table"],
        )
        with gr.Row():
            reset = gr.Button("Default mapping", size="sm")
            status = gr.Markdown(mapping_table.table_status(rows), elem_classes=["fc_status"])
    return AdvancedPanel(column, table, reset, status)


def build_mask_panel(visible: bool) -> MaskPanel:
    with gr.Column(visible=visible, elem_classes=["fc_masks"]) as column:
        store = gr.Textbox("[]", visible=False, elem_classes=["fc_masks_json"])
        with gr.Row():
            image = gr.Image(
                type="pil",
                image_mode="L",
                sources=["upload", "clipboard"],
                label="Mask: white = region",
                height=256,
            )
            with gr.Column():
                weight = gr.Number(1.0, label="Weight", minimum=0.0, maximum=5.0, step=0.1)
                add = gr.Button("Add mask", size="sm")
                clear = gr.Button("Clear masks", size="sm")
                number = gr.Number(1, label="Mask #", precision=0, minimum=1)
                delete = gr.Button("Delete mask", size="sm")
        gallery = gr.Gallery(
            label="Masks, in prompt-line order",
            columns=4,
            height=180,
            interactive=False,
            allow_preview=False,
            elem_classes=["fc_masks_gallery"],
        )
        weights = gr.Textbox(
            label="Weights",
            info="one per mask, comma-separated; press Enter to apply",
            max_lines=1,
            elem_classes=["fc_masks_weights"],
        )
        status = gr.Markdown(mask_list.masks_status([]), elem_classes=["fc_status"])
    not_saved(store, image, weight, number, weights)
    panel = MaskPanel(column, store, image, weight, add, clear, number, delete, gallery, weights, status)
    _wire_mask_edits(panel)
    return panel


# --- handlers: thin adapters around the pure functions of mapping_table and mask_list ---


def on_add_mask(store: str, image: Image.Image | None, weight: float | None) -> tuple[Any, str]:
    text, status = mask_list.add_mask(store, image, weight)
    return _keep(text), status


def on_clear_masks() -> tuple[str, str]:
    return "[]", mask_list.masks_status([])


def on_remove_mask(store: str, number: float | None) -> tuple[Any, str]:
    text, status = mask_list.remove_mask(store, number)
    return _keep(text), status


def on_set_weights(store: str, weights: str) -> tuple[Any, str]:
    text, status = mask_list.set_weights(store, weights)
    return _keep(text), status


def on_masks_change(
    store: str, mode: str, current: str
) -> tuple[Any, list[tuple[Image.Image, str]], str, str]:
    """Mask list changed: (mapping in Mask mode, preview, weights text, status)."""
    try:
        masks = mask_list.parse_masks(store)
    except CoupleError as error:
        return gr.update(), [], "", f"⚠️ {error}"
    mapping = store if mode == "Mask" and current != store else None
    return (
        _keep(mapping),
        mask_list.gallery_items(store),
        mask_list.weights_text(masks),
        mask_list.masks_status(masks),
    )


def on_table_change(rows: Sequence[Sequence[object]] | None, mode: str, current: str) -> tuple[Any, Any]:
    if mode == EDITOR_OWNS_MAPPING:
        return gr.update(), gr.update()
    text, status = mapping_table.sync_from_table(rows, mode, current)
    return _keep(text), status


def on_mapping_change(
    current: str, mode: str, rows: Sequence[Sequence[object]] | None, store: str
) -> tuple[Any, Any, Any]:
    """Mapping text changed: (table, mask list, Advanced status)."""
    sync = mapping_table.sync_from_mapping(current, mode, rows, store)
    return _keep(sync.rows), _keep(sync.masks), _keep(sync.status)


def on_mode_change(mode: str, current: str, rows: Sequence[Sequence[object]] | None, store: str) -> Any:
    return _keep(mapping_table.mapping_for_mode(mode, current, rows, store))


def on_reset_table() -> list[list[mapping_table.Cell]]:
    return mapping_table.default_rows()


def _wire_mask_edits(panel: MaskPanel) -> None:
    store_and_status = [panel.store, panel.status]
    panel.add.click(on_add_mask, [panel.store, panel.image, panel.weight], store_and_status, **QUIET)
    panel.clear.click(on_clear_masks, None, store_and_status, **QUIET)
    panel.delete.click(on_remove_mask, [panel.store, panel.number], store_and_status, **QUIET)
    for event in (panel.weights.submit, panel.weights.blur):
        event(on_set_weights, [panel.store, panel.weights], store_and_status, **QUIET)


def wire_mapping(mode: gr.Radio, mapping: gr.Textbox, advanced: AdvancedPanel, masks: MaskPanel) -> None:
    """The mapping textbox <-> table and mask list, and the mode's choice between them."""
    # The table writes the mapping only without the region editor: with it, the mapping is the
    # editor's, and a table that follows it (below) must never write back a state the editor
    # has since left. The gate runs in the page before the request and names the editor.
    table_to_mapping = {
        "fn": on_table_change,
        "inputs": [advanced.table, mode, mapping],
        "outputs": [mapping, advanced.status],
        "js": TABLE_GATE_JS,
    }
    advanced.table.input(**table_to_mapping, **QUIET)
    advanced.reset.click(on_reset_table, None, advanced.table, **QUIET).then(**table_to_mapping, **QUIET)
    masks.store.change(
        on_masks_change,
        [masks.store, mode, mapping],
        [mapping, masks.gallery, masks.weights, masks.status],
        **QUIET,
    )
    mapping.change(
        on_mapping_change,
        [mapping, mode, advanced.table, masks.store],
        [advanced.table, masks.store, advanced.status],
        **QUIET,
    )
    mode.change(on_mode_change, [mode, mapping, advanced.table, masks.store], mapping, **QUIET)
