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

from lib_couple.errors import CoupleError
from lib_couple.infotext import (
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
def couple_params(draw: st.DrawFn) -> CoupleParams:
    return CoupleParams(
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
    assert ARG_NAMES[PEER_ARG_COUNT:] == ("strict_coverage", "region_negatives")


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
        ([True] * 20, "at most 19"),
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
