"""The accordion under Gradio 4.40: controls in argument order, infotext fields, repeated builds."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr
import pytest

from lib_couple import limits
from lib_couple.attention.joint_attention import BLOCK_CHOICES, IMAGE_ATTENTION
from lib_couple.infotext import ERROR_VALUE, KEYS, format_parameters, parse_parameters, to_infotext
from lib_couple.params import ARG_NAMES, MODES, CoupleParams, params_from_args
from lib_couple.ui import CoupleUI, build_couple_ui
from lib_couple.ui.couple_ui import TILE_ARGS, mode_visibility
from lib_couple.ui.flux_options import FLUX_ARGS, on_blocks_change
from lib_couple.ui.flux_options import LABEL as FLUX_LABEL
from lib_couple.ui.infotext_fields import enabled_from_text, restore_enabled
from lib_couple.ui.region_panels import NOT_SAVED, on_mapping_change, on_table_change
from tests.ui.helpers import png_base64


@pytest.fixture(scope="module")
def built() -> tuple[gr.Blocks, list[CoupleUI]]:
    # Forge calls ui() for both tabs, then twice more per tab for the API's defaults.
    with gr.Blocks() as blocks:
        uis = [build_couple_ui(False, "t2i"), build_couple_ui(True, "i2i")]
        uis += [build_couple_ui(False, "t2i"), build_couple_ui(True, "i2i")]
    return blocks, uis


def descendants(block: Any) -> set[int]:
    ids = {block._id}
    for child in getattr(block, "children", []):
        ids |= descendants(child)
    return ids


def forge_paste(fields: list[tuple[Any, Any]], params: Mapping[str, str]) -> dict[int, Any]:
    """Forge's paste (`modules/infotext_utils.py::connect_paste`): new values by component id."""
    values: dict[int, Any] = {}
    for component, key in fields:
        value = key(params) if callable(key) else params.get(key)
        if value is None:
            continue
        kind = type(component.value)
        if kind is bool and value == "False":
            values[id(component)] = False
        elif kind is int:
            values[id(component)] = float(value)
        else:
            values[id(component)] = kind(value)
    return values


def test_controls_follow_the_argument_order(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    _, uis = built
    for ui in uis:
        assert ui.controls == [ui.components[name] for name in ARG_NAMES]
        assert len(ui.controls) == len(ARG_NAMES) == len({id(c) for c in ui.controls})
        c = ui.components
        assert isinstance(c["enabled"], gr.Checkbox)
        assert c["enabled"].label == "Enable"
        assert isinstance(c["mode"], gr.Radio)
        assert [v for v, _ in c["mode"].choices] == list(MODES)
        assert isinstance(c["mapping"], gr.Textbox)
        assert not c["mapping"].visible
        assert c["mapping"].elem_classes == ["fc_mapping_json"]
        assert getattr(c["mapping"], NOT_SAVED) is True
        assert c["background_weight"].minimum == 0.1
        assert c["background_weight"].maximum == 1.5
        assert c["separator"].placeholder == "\\n"


def test_defaults_are_the_default_arguments(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    # Forge's API fills missing arguments with the controls' values.
    _, uis = built
    for ui in uis:
        assert params_from_args([control.value for control in ui.controls]) == CoupleParams()


def test_flux_controls_sit_in_their_accordion_in_every_build(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    _, uis = built
    assert tuple(name for name in ARG_NAMES if name.startswith("flux_")) == FLUX_ARGS
    assert len(FLUX_ARGS) == 8
    for ui in uis:
        accordions = [
            block
            for block in _blocks(ui.accordion)
            if isinstance(block, gr.Accordion) and block.label == FLUX_LABEL
        ]
        assert len(accordions) == 1
        inside = descendants(accordions[0])
        assert all(ui.components[name]._id in inside for name in FLUX_ARGS)
        positions = [ui.controls.index(ui.components[name]) for name in FLUX_ARGS]
        assert positions == [ARG_NAMES.index(name) for name in FLUX_ARGS]
        c = ui.components
        assert [v for v, _ in c["flux_blocks"].choices] == list(BLOCK_CHOICES)
        assert [v for v, _ in c["flux_image_attention"].choices] == list(IMAGE_ATTENTION)
        for name, limit in (
            ("flux_steps", limits.FLUX_SHARE),
            ("flux_base_ratio", limits.FLUX_BASE_RATIO),
            ("flux_block_stop", limits.FLUX_BLOCK),
            ("flux_region_padding", limits.FLUX_REGION_PADDING),
        ):
            assert (c[name].minimum, c[name].maximum) == (limit.low, limit.high)


def test_the_block_range_is_editable_only_with_range(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    blocks, (ui, *_) = built
    c = ui.components
    assert not c["flux_block_start"].interactive
    assert not c["flux_block_stop"].interactive
    (event,) = (
        fn for fn in blocks.fns.values() if fn.fn is on_blocks_change and c["flux_blocks"] in fn.inputs
    )
    assert event.outputs == [c["flux_block_start"], c["flux_block_stop"]]
    assert [u["interactive"] for u in on_blocks_change("range")] == [True, True]
    assert [u["interactive"] for u in on_blocks_change("every-other")] == [False, False]


def _blocks(block: Any) -> list[Any]:
    found = [block]
    for child in getattr(block, "children", []):
        found += _blocks(child)
    return found


def test_tile_controls_are_states_in_txt2img_only(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    _, (t2i, i2i, *_) = built
    states = [t2i.components[name] for name in TILE_ARGS]
    assert all(isinstance(state, gr.State) for state in states)
    assert len({id(state) for state in states}) == len(TILE_ARGS)
    assert not any(isinstance(i2i.components[name], gr.State) for name in TILE_ARGS)
    assert i2i.components["tile_threshold"].step == 0.05
    assert i2i.components["tile_replace"].lines == 6


def test_repeated_builds_share_nothing(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    blocks, uis = built
    ids = [{id(c) for c in ui.controls} for ui in uis]
    assert all(ids[i].isdisjoint(ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids)))
    for ui in uis:
        mine = descendants(ui.accordion) | {c._id for c in ui.controls}  # states sit outside the layout
        for fn in blocks.fns.values():
            touched = {block._id for block in [*fn.inputs, *fn.outputs]}
            assert touched <= mine or touched.isdisjoint(mine), "an event crosses two accordions"
    assert [ui.accordion.elem_id for ui in uis] == ["forge_couple_t2i", "forge_couple_i2i"] * 2


def test_every_infotext_key_has_a_field(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    _, uis = built
    keys = {key for _, key in KEYS}
    for ui in uis:
        string_keys = [key for _, key in ui.infotext_fields if isinstance(key, str)]
        assert sorted(string_keys) == sorted(keys)
        assert (ui.components["enabled"], restore_enabled) in ui.infotext_fields
        assert sorted(ui.paste_field_names) == sorted(keys)
        mapping_field = next(c for c, key in ui.infotext_fields if key == "forge_couple_mapping")
        assert mapping_field is ui.components["mapping"]


def test_send_to_pairs_the_same_keys_in_both_tabs(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    # Forge's Send-to zips the source tab's and the target tab's fields named in paste_field_names.
    _, (t2i, i2i, *_) = built
    names = [[key for _, key in ui.infotext_fields if key in ui.paste_field_names] for ui in (t2i, i2i)]
    assert names[0] == names[1]
    assert len(names[0]) == len(KEYS)


@pytest.mark.parametrize(
    "params",
    [
        CoupleParams(enabled=True, separator=" | ", background="First Line", background_weight=0.75),
        CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 0.4, 0, 1, 1], [0.4, 1, 0.2, 1, 2.5]]),
        CoupleParams(enabled=True, mode="Mask", compatibility=False, strict_coverage=True),
        CoupleParams(enabled=True, common_parser="< >", def_in_prompt=False, direction="Vertical"),
        CoupleParams(
            enabled=True,
            flux_blocks="range",
            flux_block_start=3,
            flux_block_stop=40,
            flux_steps=0.65,
            flux_base_ratio=0.2,
            flux_image_attention="region",
            flux_global_everywhere=True,
            flux_region_padding=0,
        ),
        CoupleParams(enabled=True, flux_blocks="every-other", flux_steps=1.0),
    ],
)
def test_pasted_infotext_restores_the_arguments(
    built: tuple[gr.Blocks, list[CoupleUI]], params: CoupleParams
) -> None:
    _, (ui, *_) = built
    text = format_parameters("a\nb", "", {"Steps": 20, **to_infotext(params)})
    _, _, parsed = parse_parameters(text)
    pasted = forge_paste(ui.infotext_fields, parsed)
    restored = params_from_args([pasted.get(id(c), c.value) for c in ui.controls])
    expected = (
        params
        if params.mode == "Advanced"
        else params.__class__(**{**params.__dict__, "mapping": restored.mapping})
    )
    assert restored == expected


def test_error_and_missing_enable_restore_unchecked(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    _, (ui, *_) = built
    enabled = ui.components["enabled"]
    assert forge_paste(ui.infotext_fields, {"forge_couple": ERROR_VALUE})[id(enabled)] is False
    assert forge_paste(ui.infotext_fields, {"Steps": "20"})[id(enabled)] is False
    assert forge_paste(ui.infotext_fields, {"forge_couple": "True"})[id(enabled)] is True
    assert [enabled_from_text(t) for t in ("True", "False", ERROR_VALUE, "")] == [True, False, False, False]


def test_modes_show_their_controls() -> None:
    assert mode_visibility("Basic") == (True, True, False, False)
    assert mode_visibility("Advanced") == (False, False, True, False)
    assert mode_visibility("Mask") == (False, True, False, True)


def test_table_payload_from_the_browser_reaches_the_argument(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    # What the Dataframe hands the handler for an edit, as Gradio 4.40 preprocesses it.
    _, (ui, *_) = built
    table = next(
        fn.inputs[0]
        for fn in built[0].fns.values()
        if fn.fn is on_table_change and ui.components["mapping"] in fn.outputs
    )
    payload = table.data_model(
        headers=["x1", "x2", "y1", "y2", "weight"], data=[[0, 1, 0, "0.5", 1], [0, 1, 0.5, 1, None]]
    )
    mapping, status = on_table_change(table.preprocess(payload), "Advanced", "[]")
    assert json.loads(mapping) == [[0, 1, 0, 0.5, 1], [0, 1, 0.5, 1, None]]
    assert status == "⚠️ mapping row 2: weight is None; it must be a finite number"
    rows, masks, status = on_mapping_change("[[0, 1, 0, 1, 1]]", "Advanced", [[0, 1, 0, 1, 2]], "[]")
    assert table.postprocess(rows).data == [[0.0, 1.0, 0.0, 1.0, 1.0]]
    assert status.startswith("✅ 1 region")
    listed = json.dumps([{"mask": png_base64(), "weight": 1.0}])
    _, masks, _ = on_mapping_change(listed, "Mask", [[0, 1, 0, 1, 2]], "[]")
    assert masks == listed


def test_unknown_tab_is_refused() -> None:
    with gr.Blocks(), pytest.raises(ValueError, match="tab must be"):
        build_couple_ui(False, "txt2img")  # type: ignore[arg-type]


def test_handlers_are_plain_functions(built: tuple[gr.Blocks, list[CoupleUI]]) -> None:
    blocks, _ = built
    for fn in blocks.fns.values():
        assert isinstance(fn.fn, Callable)  # type: ignore[arg-type]
        assert fn.fn.__module__.startswith("lib_couple.ui."), fn.fn
        assert "<locals>" not in fn.fn.__qualname__
