"""Opt-in: the extension installed in a running Forge or Forge Neo, checked through the host's API.

    FORGE_COUPLE_HOST_URL=http://127.0.0.1:7862 FORGE_COUPLE_HOST_LOG=<host>/neo.log \\
        pytest tests/test_real_host_api.py

The host must run with `--api` and an SD1.5 checkpoint loaded (any weights: the checks compare
the host with itself). `FORGE_COUPLE_HOST_LOG` (optional) is the host's console log, read for
errors from the extension's UI code. Skipped without the URL.
"""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from lib_couple.infotext import ENABLED_KEY, from_infotext, to_infotext
from lib_couple.params import ARG_NAMES, CoupleParams, params_to_args

URL = os.environ.get("FORGE_COUPLE_HOST_URL", "").rstrip("/")
LOG = os.environ.get("FORGE_COUPLE_HOST_LOG", "")
pytestmark = pytest.mark.skipif(not URL, reason="set FORGE_COUPLE_HOST_URL to a running host's API")
PROMPT = "a red circle\na blue square"
SIZE = 64


def call(path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def txt2img(
    args: list[object] | None, prompt: str = PROMPT, path: str = "/sdapi/v1/txt2img", **fields: Any
) -> tuple[list[str], dict[str, Any]]:
    """The images (base64) and the parsed info of a small, seeded generation."""
    body: dict[str, Any] = {
        "prompt": prompt,
        "steps": 2,
        "width": SIZE,
        "height": SIZE,
        "seed": 1,
        "sampler_name": "Euler",
        **fields,
    }
    if args is not None:
        body["alwayson_scripts"] = {"forge couple": {"args": args}}
    status, result = call(path, body)
    assert status == 200, result
    return list(result["images"]), json.loads(result["info"])


def couple_keys(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info["extra_generation_params"].items() if k.startswith(ENABLED_KEY)}


def mask(left: bool) -> str:
    image = Image.new("L", (SIZE, SIZE), 0)
    image.paste(255, (0, 0, SIZE // 2, SIZE) if left else (SIZE // 2, 0, SIZE, SIZE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


CASES = {
    "Basic": CoupleParams(enabled=True),
    "Advanced": CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 1, 0, 0.5, 1], [0, 1, 0.5, 1, 1]]),
    "Mask": CoupleParams(
        enabled=True,
        mode="Mask",
        mapping=[{"mask": mask(True), "weight": 1.0}, {"mask": mask(False), "weight": 1.0}],
    ),
}


@pytest.fixture(scope="module")
def plain_before() -> list[str]:
    """An image without the couple, made before any couple generation."""
    return txt2img(None)[0]


def test_the_panel_is_built_in_both_tabs_and_the_log_has_no_ui_error() -> None:
    status, info = call("/sdapi/v1/script-info")
    assert status == 200, info
    ours = [s for s in info if s["name"] == "forge couple"]
    assert sorted(s["is_img2img"] for s in ours) == [False, True]
    assert all(s["is_alwayson"] and len(s["args"]) == len(ARG_NAMES) for s in ours)
    if LOG:
        lines = Path(LOG).read_text(errors="replace").splitlines()
        # the host's report of a failing callback names our file; ours says what was left out
        errors = [
            line
            for line in lines
            if ("forge-couple" in line and ("Error" in line or "Traceback" in line))
            or "could not be built" in line
        ]
        assert errors == []


@pytest.mark.parametrize("mode", sorted(CASES))
def test_each_mode_generates_with_the_peers_infotext_keys(mode: str, plain_before: list[str]) -> None:
    params = CASES[mode]
    images, info = txt2img(params_to_args(params))
    assert len(images) == 1
    written = couple_keys(info)
    assert set(written) == set(to_infotext(params))
    restored = from_infotext({k: str(v) for k, v in written.items()})
    assert restored["enabled"] is True
    assert restored["mode"] == mode
    assert f"forge_couple_mode: {mode}" in info["infotexts"][0]
    assert images != plain_before  # the regions changed the image


def test_hires_fix_and_img2img_generate_with_the_couple(plain_before: list[str]) -> None:
    # The hires pass's hooks differ between the hosts (Forge calls the sampling hook twice, Neo once).
    params = CoupleParams(enabled=True, compatibility=False)
    # Neo lists no Latent upscaler, and its hires pass reads hr_additional_modules (None fails)
    hires: dict[str, Any] = {"enable_hr": True, "hr_scale": 1.5, "hr_second_pass_steps": 1}
    hires |= {"denoising_strength": 0.5, "hr_upscaler": "None", "hr_additional_modules": ["Use same choices"]}
    images, info = txt2img(params_to_args(params), **hires)
    assert len(images) == 1
    width, height = Image.open(io.BytesIO(base64.b64decode(images[0]))).size
    assert width == height > SIZE  # the hires pass ran (the host rounds its size its own way)
    assert set(couple_keys(info)) == set(to_infotext(params))
    images, info = txt2img(
        params_to_args(params), path="/sdapi/v1/img2img", init_images=plain_before, denoising_strength=0.6
    )
    assert len(images) == 1
    assert set(couple_keys(info)) == set(to_infotext(params))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([True, True, "Diagonal"], "argument mode"),
        (params_to_args(CoupleParams(enabled=True, background_weight=7.0)), "argument background_weight"),
        (params_to_args(CoupleParams(enabled=True, mode="Advanced", mapping="[[0, 0.5")), "mapping"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_argument_is_refused_with_the_field_named_and_no_image(args: list[object], field: str) -> None:
    images, info = txt2img(args)
    assert images == []
    extra = info["extra_generation_params"]
    assert extra[ENABLED_KEY] == "ERROR"
    assert field in extra["forge_couple_error"]


def test_the_model_is_unpatched_afterwards(plain_before: list[str]) -> None:
    for params in CASES.values():  # whatever ran before in this module, run each once more
        txt2img(params_to_args(params))
    txt2img([True, True, "Diagonal"])
    assert txt2img(None)[0] == plain_before
    assert txt2img(params_to_args(CoupleParams(enabled=False)))[0] == plain_before
