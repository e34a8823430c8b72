"""`python -m lib_couple walk --model flux-demo`: the Flux walk on the shipped model, from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from lib_couple.cli import main
from lib_couple.walk.output import plan_from_record
from tests.walk.colour_walk import assert_colour_moves


def test_red_to_blue_flux_walk_writes_the_video_and_moves_the_colour_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "walk.gif"
    keyframes = ["a red circle on a black background", "a blue circle on a black background"]
    argv = ["walk", "--model", "flux-demo", "--keyframes", *keyframes, "--seeds", "1", "1"]
    argv += ["--frames", "4", "--steps", "12", "--width", "128", "--height", "128", "--out", str(out)]
    assert main(argv) == 0
    with Image.open(out) as video:
        arrays = [
            np.asarray(f.convert("RGB"), dtype=np.float32) / 255.0 for f in ImageSequence.Iterator(video)
        ]
    assert len(arrays) == 5  # four a transition and the last keyframe
    assert_colour_moves(arrays, "red", "blue")
    record_path = out.with_name(out.name + ".json")
    record = json.loads(record_path.read_text())
    plan, settings = plan_from_record(record)  # the UNet walk's record shape
    assert list(plan.prompts) == keyframes
    assert (plan.frames, settings.width, settings.height, settings.steps) == (4, 128, 128, 12)
    assert record["positions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert f"wrote {out} (5 frames) and {record_path}" in capsys.readouterr().err


@pytest.mark.parametrize(("field", "value"), [("--width", "120"), ("--height", "200")])
def test_flux_walk_refuses_sides_that_are_not_multiples_of_16(
    field: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "walk.gif"
    argv = ["walk", "--model", "flux-demo", "--keyframes", "a red circle", "a blue circle", field, value]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{field[2:]} must be a multiple of 16 on the Flux demo model, got {value}" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_unet_walk_still_takes_multiples_of_8(tmp_path: Path) -> None:
    out = tmp_path / "walk.gif"
    argv = ["walk", "--keyframes", "a red circle", "a blue circle", "--frames", "1", "--steps", "1"]
    assert main([*argv, "--width", "40", "--height", "40", "--out", str(out)]) == 0
    assert out.is_file()
