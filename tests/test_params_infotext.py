"""Script arguments, infotext keys and the parameters text round trip."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.attention.joint_attention import BLOCK_CHOICES, IMAGE_ATTENTION, JointControls
from lib_couple.errors import CoupleError
from lib_couple.infotext import (
    FLUX_KEYS,
    KEYS,
    error_infotext,
    fill_absent_keys,
    format_parameters,
    from_infotext,
    parse_parameters,
    to_infotext,
)
from lib_couple.params import ARG_NAMES, PEER_ARG_COUNT, CoupleParams, params_from_args, params_to_args
from lib_couple.planning import mask_layers, plan_regions

PEER_ORDER = (
    "enabled compatibility mode separator direction background background_weight mapping common_parser "
    "common_debug def_in_prompt use_tile tile_h tile_v tile_threshold tile_replace debug"
).split()

fractions = st.floats(0, 1, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def mapping_rows(draw: st.DrawFn) -> list[list[float]]:
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        x1, x2 = sorted(draw(st.lists(fractions, min_size=2, max_size=2, unique=True)))
        y1, y2 = sorted(draw(st.lists(fractions, min_size=2, max_size=2, unique=True)))
        rows.append([x1, x2, y1, y2, draw(st.floats(0, 5).map(lambda v: round(v, 2)))])
    return rows


@st.composite
def flux_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Flux controls, often the defaults (so both written and left-out keys are drawn)."""
    start, stop = sorted(draw(st.lists(st.integers(0, 1024), min_size=2, max_size=2, unique=True)))
    drawn = {
        "flux_blocks": draw(st.sampled_from(BLOCK_CHOICES)),
        "flux_block_start": start,
        "flux_block_stop": stop,
        "flux_steps": draw(fractions),
        "flux_base_ratio": draw(st.floats(0, 0.95).map(lambda v: round(v, 3))),
        "flux_image_attention": draw(st.sampled_from(IMAGE_ATTENTION)),
        "flux_global_everywhere": draw(st.booleans()),
        "flux_region_padding": draw(st.integers(0, 512)),
    }
    chosen = {name: value for name, value in drawn.items() if draw(st.booleans())}
    if ("flux_block_start" in chosen) != ("flux_block_stop" in chosen):  # a range is given whole
        chosen.pop("flux_block_start", None)
        chosen.pop("flux_block_stop", None)
    return chosen


@st.composite
def couple_params(draw: st.DrawFn) -> CoupleParams:
    return CoupleParams(
        **draw(flux_fields()),
        enabled=draw(st.booleans()),
        compatibility=draw(st.booleans()),
        mode=draw(st.sampled_from(["Basic", "Advanced"])),
        separator=draw(st.sampled_from(["", "\\n", "|", " AND ", ";;"])),
        direction=draw(st.sampled_from(["Horizontal", "Vertical"])),
        background=draw(st.sampled_from(["None", "First Line", "Last Line"])),
        background_weight=draw(st.floats(0.1, 1.5).map(lambda v: round(v, 2))),
        mapping=draw(mapping_rows()),
        common_parser=draw(st.sampled_from(["off", "{ }", "< >"])),
        def_in_prompt=draw(st.booleans()),
        strict_coverage=draw(st.booleans()),
        region_negatives=draw(st.booleans()),
    )


def test_argument_order_is_the_peers_then_ours() -> None:
    assert list(ARG_NAMES[:PEER_ARG_COUNT]) == PEER_ORDER
    assert ARG_NAMES[PEER_ARG_COUNT:] == (
        "strict_coverage",
        "region_negatives",
        "flux_blocks",
        "flux_block_start",
        "flux_block_stop",
        "flux_steps",
        "flux_base_ratio",
        "flux_image_attention",
        "flux_global_everywhere",
        "flux_region_padding",
    )


def test_flux_defaults_are_the_engines() -> None:
    assert CoupleParams().joint_controls() == JointControls()


@given(flux_fields())
def test_flux_arguments_become_the_engines_controls(drawn: dict[str, Any]) -> None:
    args = params_to_args(CoupleParams())
    for name, value in drawn.items():
        args[ARG_NAMES.index(name)] = str(value) if isinstance(value, (int, float)) else value
    params = params_from_args(args)
    controls = params.joint_controls()
    assert (controls.blocks, controls.steps, controls.image_attention) == (
        params.flux_blocks,
        params.flux_steps,
        params.flux_image_attention,
    )
    assert controls.base_ratio == params.flux_base_ratio
    assert controls.global_everywhere == params.flux_global_everywhere
    in_range = controls.block_range == (params.flux_block_start, params.flux_block_stop)
    assert in_range or (params.flux_blocks != "range" and controls.block_range == JointControls().block_range)


def _flux_args(**values: object) -> list[object]:
    args: list[object] = [None] * len(ARG_NAMES)
    for name, value in values.items():
        args[ARG_NAMES.index(name)] = value
    return args


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"flux_blocks": "odd"}, "argument flux_blocks must be one of 'all', 'every-other', 'range'"),
        ({"flux_blocks": 3}, "argument flux_blocks"),
        ({"flux_steps": float("nan")}, "argument flux_steps must be a number from 0 to 1; got NaN"),
        ({"flux_steps": "1.5"}, "argument flux_steps must be a number from 0 to 1; got 1.5 .too large"),
        ({"flux_steps": [0.5]}, "argument flux_steps"),
        ({"flux_base_ratio": 1}, "argument flux_base_ratio must be a number from 0 to 0.95"),
        ({"flux_block_start": 2.5}, "argument flux_block_start must be a whole number .*not a whole"),
        ({"flux_block_stop": 2**80}, "argument flux_block_stop must be a whole number from 0 to 1024"),
        ({"flux_region_padding": -1}, "argument flux_region_padding must be a whole number from 0 to 512"),
        ({"flux_image_attention": "none"}, "argument flux_image_attention must be one of 'free', 'region'"),
        ({"flux_global_everywhere": "sometimes"}, "argument flux_global_everywhere must be true or false"),
        (
            {"flux_blocks": "range", "flux_block_start": 9, "flux_block_stop": 9},
            "flux_block_start and flux_block_stop .* start below stop; got 9 and 9",
        ),
    ],
)
def test_bad_flux_arguments_name_the_argument(values: dict[str, object], message: str) -> None:
    with pytest.raises(CoupleError, match=message):
        params_from_args(_flux_args(**values))


def test_a_block_range_out_of_order_is_ignored_unless_chosen() -> None:
    params = params_from_args(_flux_args(flux_block_start=40, flux_block_stop=2))
    assert params.joint_controls().block_range == JointControls().block_range


@given(couple_params())
def test_arguments_round_trip(params: CoupleParams) -> None:
    assert params_from_args(params_to_args(params)) == params


def test_missing_trailing_and_none_arguments_keep_defaults() -> None:
    params = params_from_args([True, False, "Basic", "", None, None, None])
    assert params == CoupleParams(enabled=True, compatibility=False)


def test_mapping_may_come_as_json_text() -> None:
    params = params_from_args([True, True, "Advanced", "", None, None, None, "[[0, 1, 0, 1, 2]]"])
    assert params.mapping == [[0, 1, 0, 1, 2]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([True, True, "Fancy"], "mode"),
        (["yes"], "enabled"),
        ([True, True, "Basic", "", "Diagonal"], "direction"),
        ([True, True, "Basic", "", "Horizontal", "Middle Line"], "background"),
        ([True, True, "Basic", "", "Horizontal", "None", "heavy"], "background_weight"),
        ([True, True, "Basic", "", "Horizontal", "None", float("nan")], "background_weight"),
        ([True, True, "Advanced", "", None, None, None, "[[0, 1"], "not valid JSON"),
        ([True, True, "Advanced", "", None, None, None, {"a": 1}], "list of regions"),
        ([True, True, "Basic", "", None, None, None, None, "[ ]"], "common_parser"),
        ([True] * (len(ARG_NAMES) + 1), f"at most {len(ARG_NAMES)}"),
    ],
)
def test_bad_arguments_name_the_argument(args: list[object], message: str) -> None:
    with pytest.raises(CoupleError, match=message):
        params_from_args(args)


def test_infotext_keys_are_the_peers() -> None:
    assert {key for _, key in KEYS} >= {
        "forge_couple",
        "forge_couple_compatibility",
        "forge_couple_mode",
        "forge_couple_separator",
        "forge_couple_direction",
        "forge_couple_mapping",
        "forge_couple_background",
        "forge_couple_background_weight",
        "forge_couple_common_parser",
        "forge_couple_def_in_prompt",
    }


def test_written_keys_follow_the_mode() -> None:
    basic = to_infotext(CoupleParams(enabled=True, mode="Basic"))
    advanced = to_infotext(CoupleParams(enabled=True, mode="Advanced"))
    assert "forge_couple_direction" in basic
    assert "forge_couple_mapping" not in basic
    assert "forge_couple_mapping" in advanced
    assert "forge_couple_background" not in advanced
    assert json.loads(advanced["forge_couple_mapping"]) == CoupleParams().mapping


@given(couple_params(), st.text(max_size=40), st.text(max_size=20))
@settings(max_examples=150)
def test_every_written_key_is_restored_through_the_parameters_text(
    params: CoupleParams, prompt: str, negative: str
) -> None:
    written = to_infotext(params)
    text = format_parameters("a red circle\na blue square", "ugly", {"Steps": 20, "Seed": 1, **written})
    _, _, parsed = parse_parameters(text)
    restored = from_infotext(parsed)
    fields = dict(KEYS)
    assert set(restored) == {name for name, key in fields.items() if key in written}
    for name, value in restored.items():
        expected = getattr(params, name)
        if name == "separator":
            expected = expected.replace("\n", "\\n")  # the peer writes newlines escaped
        assert value == expected


def test_error_marker_restores_as_not_enabled() -> None:
    assert "enabled" not in from_infotext({k: str(v) for k, v in error_infotext("bad mapping").items()})


@given(
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60).filter(
        lambda s: s.strip() == s
    )
)
def test_parameters_text_keeps_multiline_prompts(prompt: str) -> None:
    prompt = prompt.replace("\r", "")
    text = format_parameters(prompt + "\nsecond line", "bad", {"Steps": 20, "Seed": 3, "Size": "512x512"})
    parsed_prompt, negative, params = parse_parameters(text)
    assert negative == "bad"
    assert params["Steps"] == "20"
    assert parsed_prompt.splitlines()[-1] == "second line"


def png_base64(array: np.ndarray[Any, Any]) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_mask_mode_accepts_the_peers_base64_layers() -> None:
    left = np.zeros((64, 64), dtype=np.uint8)
    left[:, :32] = 255
    mapping = [{"mask": png_base64(left), "weight": 1.0}, {"mask": png_base64(255 - left), "weight": 2.0}]
    params = CoupleParams(enabled=True, mode="Mask", mapping=mapping)
    plan = plan_regions(params, "a red circle\na blue square", 128, 128)
    assert plan.prompts == ("a red circle", "a blue square")
    assert plan.masks[0, :, :64].min() == 1.0
    assert plan.masks[0, :, 64:].max() == 0.0
    assert plan.masks[1, :, 64:].min() == 2.0


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([{"weight": 1}], "must be"),
        ([{"mask": "not base64!", "weight": 1}], "not a base64"),
        ([{"mask": png_base64(np.zeros((8, 8), np.uint8)), "weight": "1"}], "weight must be a number"),
    ],
)
def test_bad_mask_layers_are_refused(mapping: list[object], message: str) -> None:
    with pytest.raises(CoupleError, match=message):
        mask_layers(mapping)


def test_common_prompts_are_expanded_before_the_split() -> None:
    params = CoupleParams(enabled=True, common_parser="{ }", def_in_prompt=False)
    plan = plan_regions(params, "{c:red} {c} circle\n{c} square", 64, 64)
    assert plan.prompts == ("red circle", "red square")


def test_trailing_empty_line_is_not_a_region() -> None:
    plan = plan_regions(CoupleParams(enabled=True), "a red circle\na blue square\n\n", 64, 64)
    assert len(plan.prompts) == 2


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "99", "x"])
def test_a_forge_paste_of_a_bad_weight_pastes_the_default_never_nan(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    params: dict[str, Any] = {"forge_couple": "True", "forge_couple_background_weight": text}
    with caplog.at_level("WARNING", logger="forge_couple"):
        fill_absent_keys(params)
    assert float(params["forge_couple_background_weight"]) == CoupleParams().background_weight
    assert any("forge_couple_background_weight" in r.getMessage() for r in caplog.records)


def test_a_forge_paste_of_a_good_weight_is_kept() -> None:
    params: dict[str, Any] = {"forge_couple": "True", "forge_couple_background_weight": "1.25"}
    fill_absent_keys(params)
    assert params["forge_couple_background_weight"] == "1.25"


def test_default_flux_controls_write_no_keys() -> None:
    for mode in ("Basic", "Advanced", "Mask"):
        written = to_infotext(CoupleParams(enabled=True, mode=mode))  # type: ignore[arg-type]
        assert not any(key.startswith("forge_couple_flux") for key in written)


@given(flux_fields())
def test_a_flux_key_is_written_exactly_when_its_value_is_not_the_default(drawn: dict[str, Any]) -> None:
    params = CoupleParams(enabled=True, **drawn)
    written = to_infotext(params)
    defaults = CoupleParams()
    for name, key in FLUX_KEYS:
        assert (key in written) == (getattr(params, name) != getattr(defaults, name))


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("forge_couple_flux_steps", "nan"),
        ("forge_couple_flux_steps", "2"),
        ("forge_couple_flux_base_ratio", "inf"),
        ("forge_couple_flux_block_start", "1.5"),
        ("forge_couple_flux_region_padding", "-3"),
        ("forge_couple_flux_blocks", "odd"),
        ("forge_couple_flux_image_attention", "everything"),
    ],
)
def test_a_bad_pasted_flux_value_pastes_the_default_with_a_warning(
    key: str, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    params: dict[str, Any] = {"forge_couple": "True", key: text}
    with caplog.at_level("WARNING", logger="forge_couple"):
        fill_absent_keys(params)
        restored = from_infotext({key: text})
    name = dict((k, n) for n, k in FLUX_KEYS)[key]
    assert params[key] == str(getattr(CoupleParams(), name))
    assert name not in restored
    assert any(key in r.getMessage() for r in caplog.records)


def test_absent_flux_keys_paste_their_defaults() -> None:
    params: dict[str, Any] = {"forge_couple": "True", "forge_couple_flux_steps": "0.7"}
    fill_absent_keys(params)
    assert params["forge_couple_flux_steps"] == "0.7"
    assert params["forge_couple_flux_blocks"] == CoupleParams().flux_blocks
    assert from_infotext(params)["flux_block_stop"] == CoupleParams().flux_block_stop
