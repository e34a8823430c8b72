"""The limits module and the linear parsers: every refusal names the field and the range."""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple import limits
from lib_couple.errors import CoupleError
from lib_couple.infotext import parameter_pairs, parse_parameters
from lib_couple.params import CoupleParams, params_from_args, parse_mapping_value
from lib_couple.planning import decode_mask_image, plan_regions
from lib_couple.prompts import expand_common_prompts, extra_network_spans, strip_extra_networks

README = Path(__file__).resolve().parent.parent / "README.md"

# The regexes the scanners replace (Forge's and this project's earlier ones), as references.
FORGE_TAG = re.compile(r"<(\w+):([^>]+)>")
FORGE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
OLD_DEFINITION = re.compile(r"\{\s*([^{}]+?)\s*:\s*([^{}]*?)\s*\}")
OLD_RECALL = re.compile(r"\{\s*([^{}]+?)\s*\}")


def old_expand(prompt: str, keep: bool) -> str:
    values: dict[str, str] = {}

    def define(match: re.Match[str]) -> str:
        values[match.group(1)] = match.group(2)
        return match.group(2) if keep else ""

    defined = OLD_DEFINITION.sub(define, prompt)
    return OLD_RECALL.sub(lambda m: values.get(m.group(1), m.group(0)), defined)


# ---------------------------------------------------------------- the scanners match the regexes


@settings(max_examples=400)
@given(st.text(alphabet="{}:ab \n", max_size=30), st.booleans())
def test_common_prompt_scanner_matches_the_regex(prompt: str, keep: bool) -> None:
    # A definition whose key is blank (`{ :v}`) the regex took as the key " "; the scanner does not.
    if re.search(r"\{\s*:", prompt):
        return
    assert expand_common_prompts(prompt, "{ }", keep) == old_expand(prompt, keep)


@settings(max_examples=400)
@given(st.text(alphabet="<>:a_ \n-", max_size=30))
def test_extra_network_scanner_matches_forges_regex(prompt: str) -> None:
    assert extra_network_spans(prompt) == [m.span() for m in FORGE_TAG.finditer(prompt)]
    assert strip_extra_networks(prompt) == FORGE_TAG.sub("", prompt)


@settings(max_examples=600)
@given(st.text(alphabet='ab :,"\\\t-/', max_size=40))
def test_parameter_scanner_matches_forges_regex(line: str) -> None:
    assert parameter_pairs(line) == FORGE_PARAM.findall(line)


def test_parameter_scanner_reads_a_real_line() -> None:
    line = 'Steps: 20, Sampler: DDIM, forge_couple_mapping: "[[0, 0.5, 0, 1, 1]]", Size: 256x256'
    assert dict(parameter_pairs(line))["forge_couple_mapping"] == '"[[0, 0.5, 0, 1, 1]]"'


# ---------------------------------------------------------------- linear on hostile input

# Each input below took the replaced regexes from tens of seconds to hours (quadratic or worse);
# the scanners take milliseconds. The bound is generous so that a loaded machine never fails it.
HOSTILE = 100_000
BOUND_S = 10.0


def _finishes(call: object) -> None:
    start = time.perf_counter()
    assert callable(call)
    call()
    assert time.perf_counter() - start < BOUND_S


def test_common_prompts_linear_on_an_open_bracket_and_spaces() -> None:
    prompt = "{" + " " * HOSTILE
    _finishes(lambda: expand_common_prompts(prompt))
    assert expand_common_prompts(prompt) == prompt
    many = "{a:" * (HOSTILE // 3)
    assert expand_common_prompts(many) == many


def test_extra_networks_linear_on_unclosed_tags() -> None:
    prompt = "<a:" * (HOSTILE // 3)
    _finishes(lambda: strip_extra_networks(prompt))
    assert strip_extra_networks(prompt) == prompt
    assert strip_extra_networks(prompt + ">") == ""


def test_parameters_linear_on_words_without_colons() -> None:
    line = "ab " * (HOSTILE // 3)
    _finishes(lambda: parameter_pairs(line))
    assert parameter_pairs(line) == []
    assert parse_parameters("p\n" + "Steps: 2, " * 1000 + "x")[2]["Steps"] == "2"


def test_json_depth_is_checked_before_parsing() -> None:
    deep = "[" * HOSTILE + "]" * HOSTILE  # json.loads would raise RecursionError
    with pytest.raises(CoupleError, match="nested deeper than 4"):
        parse_mapping_value(deep)
    with pytest.raises(CoupleError, match="nested deeper than 4"):
        parse_mapping_value([[[[[1]]]]])
    assert parse_mapping_value('[["[[[[[[", 1]]') == [["[[[[[[", 1]]  # brackets in strings


# ---------------------------------------------------------------- number refusals


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "nothing"),
        ("abc", "not a number"),
        (float("nan"), "NaN"),
        ("nan", "NaN"),
        (float("inf"), "infinite"),
        ("-inf", "infinite"),
        (2**70, "too large"),
        (10**400, "too large"),
        (10**5000, "about 5001 digits"),
        ("1e400", "infinite"),
        (True, "true/false"),
        (-2, "too small"),
        (1.5, "not a whole number"),
        ("9" * 100, "characters"),
        ([1], "not a number"),
    ],
    ids=lambda case: repr(case)[:20] if not isinstance(case, int) or case < 10**100 else "huge",
)
def test_seed_refusals_name_field_problem_and_range(value: object, problem: str) -> None:
    with pytest.raises(CoupleError, match=problem) as raised:
        limits.SEED.check_int(value)
    assert str(raised.value).startswith(f"seed must be a whole number from -1 to {limits.MAX_SEED}")


def test_width_must_be_a_multiple() -> None:
    assert limits.WIDTH.check_int("512") == 512
    with pytest.raises(CoupleError, match="width must be a whole number from 8 to 2048, a multiple of 8"):
        limits.WIDTH.check_int(513)


def test_weight_of_ten_to_the_400_is_refused() -> None:
    message = "argument background_weight must be a number from 0 to 5; got a number of about 401 digits"
    with pytest.raises(CoupleError, match=message):
        params_from_args([True, True, "Basic", "", "Horizontal", "None", 10**400])


def test_long_text_arguments_are_refused() -> None:
    with pytest.raises(CoupleError, match="argument separator is 101 characters long; the limit is 100"):
        params_from_args([True, True, "Basic", "x" * 101])


# ---------------------------------------------------------------- before allocation


def test_a_thousand_region_lines_are_refused_before_masks() -> None:
    with pytest.raises(CoupleError, match="number of regions .* 1000 is outside 1 to 32"):
        plan_regions(CoupleParams(enabled=True), "\n".join(["a"] * 1000), 512, 512)


def test_mask_budget_caps_regions_times_pixels() -> None:
    limits.check_mask_budget(32, 2048, 2048)
    with pytest.raises(CoupleError, match="GiB of masks"):
        limits.check_mask_budget(32, 8192, 8192)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = base64.b64encode(_png(Image.new("L", (5000, 5000)))).decode()
    assert len(bomb) < 100_000  # a small text that would decode to 25 Mpx
    with pytest.raises(CoupleError, match="5000x5000 pixels; the limit is"):
        decode_mask_image(bomb, 1)


def test_a_truncated_png_is_refused() -> None:
    data = _png(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)))
    with pytest.raises(CoupleError, match="mask 1 is .*(truncated|not a base64)"):
        decode_mask_image(base64.b64encode(data[: len(data) // 2]).decode(), 1)


def test_base64_text_is_capped_before_decoding() -> None:
    with pytest.raises(CoupleError, match="mask 2's base64 text is .* the limit is"):
        decode_mask_image("A" * (limits.MASK_BASE64.max_chars + 4), 2)


# ---------------------------------------------------------------- the README lists every limit


def test_readme_lists_every_limit() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Limits") :]
    for name in dir(limits):
        limit = getattr(limits, name)
        if isinstance(limit, (limits.NumberLimit, limits.TextLimit, limits.CountLimit)):
            assert f"`{name}`" in section, f"README's Limits table lacks {name}"
