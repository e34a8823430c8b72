"""Fuzz of the public entry points: every case ends accepted or as CoupleError, never another error.

The suite runs a small number of cases per target; `FC_FUZZ_EXAMPLES=20000 pytest tests/fuzz` runs
it large (see the README's "Limits" section).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib_couple.config import load_defaults
from lib_couple.errors import CoupleError
from lib_couple.infotext import from_infotext, parse_parameters
from lib_couple.params import ARG_NAMES, CoupleParams, params_from_args
from lib_couple.planning import decode_mask_image, plan_regions
from lib_couple.prompts import expand_common_prompts, split_lines, strip_extra_networks
from lib_couple.ui.walk_tab import walk_from_values

EXAMPLES = int(os.environ.get("FC_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Hostile scalars: nulls, text, NaN, infinities, huge and negative numbers, containers.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([10**400, -1, 0, 8, 64, 2**32, 2**70]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "", " ", "512", "Basic", "Advanced", "Mask"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)
prompt_text = st.text(alphabet="{}<>:,\n ab\\", max_size=200)


def accepted_or_refused(call: Callable[[], object]) -> None:
    message = None
    try:
        call()
    except CoupleError as error:
        message = str(error)
    assert message != "", "a refusal must say why"


@FUZZ
@given(prompt_text, st.sampled_from(["off", "{ }", "< >"]), st.booleans(), st.text(max_size=6))
def test_prompt_parsing(prompt: str, syntax: str, keep: bool, separator: str) -> None:
    expanded = expand_common_prompts(prompt, syntax, keep)  # type: ignore[arg-type]
    split_lines(expanded, separator)
    strip_extra_networks(prompt)


@FUZZ
@given(st.lists(values, max_size=len(ARG_NAMES) + 1))
def test_api_arguments(args: list[object]) -> None:
    accepted_or_refused(lambda: params_from_args(args))


FLUX_ARGS = [name for name in ARG_NAMES if name.startswith("flux_")]
flux_values = st.sampled_from(["all", "every-other", "range", "free", "region", "0.5", "-0", "57"]) | scalars


@FUZZ
@given(st.dictionaries(st.sampled_from(FLUX_ARGS), flux_values, max_size=len(FLUX_ARGS)))
def test_flux_arguments(given_values: dict[str, object]) -> None:
    """The Flux controls with hostile values; what is accepted makes a valid JointControls."""
    args: list[object] = [None] * len(ARG_NAMES)
    for name, value in given_values.items():
        args[ARG_NAMES.index(name)] = value
    accepted_or_refused(lambda: params_from_args(args).joint_controls())


mapping_rows = st.lists(st.lists(scalars | st.floats(0, 1), min_size=4, max_size=6), max_size=5)


@FUZZ
@given(
    st.sampled_from(["Basic", "Advanced", "Mask"]),
    prompt_text,
    mapping_rows | values,
    st.sampled_from(["None", "First Line", "Last Line"]),
    st.sampled_from([8, 16, 64, 0, -8, 100_000]),
    st.sampled_from([8, 24, 64, 7]),
)
def test_region_planning(mode: str, prompt: str, mapping: object, background: str, w: int, h: int) -> None:
    def plan() -> object:
        params = params_from_args([True, True, mode, "", None, background, None, mapping])
        return plan_regions(params, prompt, w, h)

    accepted_or_refused(plan)


@FUZZ
@given(st.binary(max_size=200) | st.sampled_from([b"\x89PNG\r\n\x1a\n" + bytes(range(40))]), st.booleans())
def test_mask_decoding(data: bytes, prefix: bool) -> None:
    text = ("data:image/png;base64," if prefix else "") + base64.b64encode(data).decode()
    accepted_or_refused(lambda: decode_mask_image(text, 1))
    accepted_or_refused(lambda: decode_mask_image(data.decode("latin-1"), 1))


infotext_line = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "Steps",
                "Size",
                "forge_couple",
                "forge_couple_mapping",
                "forge_couple_background_weight",
                "forge_couple_mode",
                "forge_couple_flux_blocks",
                "forge_couple_flux_steps",
                "forge_couple_flux_block_start",
                "a b",
            ]
        ),
        st.text(alphabet='ab01.[],":\\ nNaif', max_size=20),
    ),
    max_size=8,
).map(lambda pairs: ", ".join(f"{k}: {v}" for k, v in pairs))


@FUZZ
@given(prompt_text, infotext_line)
def test_infotext_parse_and_paste(prompt: str, line: str) -> None:
    def paste() -> object:
        _, _, params = parse_parameters(f"{prompt}\n{line}")
        return from_infotext(params)

    accepted_or_refused(paste)


@FUZZ
@given(
    st.text(alphabet="ab \n", max_size=40),
    st.text(alphabet="0123456789, -", max_size=30),
    scalars,
    scalars,
    scalars,
    scalars,
    scalars,
    st.sampled_from(["linear", "nope"]),
)
def test_walk_plans(
    prompts: str,
    seeds: str,
    frames: object,
    width: object,
    steps: object,
    cfg: object,
    height: object,
    easing: str,
) -> None:
    def plan() -> object:
        walk, _ = walk_from_values(prompts, seeds, frames, easing, "slerp", width, height, steps, cfg, "")
        return walk.positions()

    accepted_or_refused(plan)


CONFIG_KEYS = [*ARG_NAMES[:10], *FLUX_ARGS[:4], "colour"]


@FUZZ
@given(st.dictionaries(st.sampled_from(CONFIG_KEYS), values, max_size=4) | values)
def test_config_loading(data: object) -> None:
    import tempfile

    import yaml

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        try:
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
        except (yaml.YAMLError, ValueError, UnicodeEncodeError):
            return
        accepted_or_refused(lambda: load_defaults(path))


def test_defaults_survive_the_fuzz() -> None:
    assert params_from_args([]) == CoupleParams()
