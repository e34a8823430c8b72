"""The command line's argument handling: one clear line and exit status 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib_couple.cli import EXIT_USAGE, build_parser, couple_params, main
from lib_couple.walk.output import plan_from_record
from lib_couple.walk.video import count_frames


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--prompt", "a\\nb", "--width", "13"], "got 13 (not a multiple of 8)"),
        (["generate", "--prompt", "a", "--cfg", "nan"], "CFG scale must be a number from 0 to 30; got NaN"),
        (["generate", "--prompt", "a\\nb", "--seed", str(2**70)], "seed must be a whole number"),
        (["generate", "--prompt", "\\n".join("a" * 40)], "40 is outside 1 to 32"),
        (["generate", "--prompt", "a\\nb", "--steps", "0"], "positive whole number"),
        (["generate", "--prompt", "a"], "at least 2 prompt lines"),
        (["generate", "--prompt", "a\\nb", "--mode", "advanced"], "needs --mapping"),
        (
            ["generate", "--prompt", "a\\nb", "--mode", "advanced", "--mapping", "[[0,0.5,0,1,1]]"],
            "1 region rows",
        ),
        (["generate", "--prompt", "a\\nb", "--mode", "advanced", "--mapping", "[[0,1"], "not valid JSON"),
        (
            ["generate", "--prompt", "a\\nb", "--mode", "advanced", "--mapping", "[[1,0,0,1,1],[0,1,0,1,1]]"],
            "row 1",
        ),
        (["generate", "--prompt", "a\\nb", "--mode", "mask"], "needs --masks"),
        (
            ["generate", "--prompt", "a\\nb", "--mode", "mask", "--masks", "/nonexistent.png", "b.png"],
            "cannot read",
        ),
        (["generate", "--prompt", "a\\nb", "--mode", "sideways"], "invalid choice"),
        (["generate"], "--prompt"),
        (
            ["generate", "--prompt", "a\\nb\\nc", "--background", "first", "--background-weight", "9"],
            "background_weight",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status: object
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status == EXIT_USAGE
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_options_become_the_script_arguments() -> None:
    args = build_parser().parse_args(
        ["generate", "--prompt", "x", "--mode", "advanced", "--mapping", "[[0,1,0,1,2]]", "--strict"]
    )
    params = couple_params(args)
    assert not params.region_negatives
    assert couple_params(
        build_parser().parse_args(["generate", "--prompt", "x", "--region-negatives"])
    ).region_negatives
    assert params.mode == "Advanced"
    assert params.mapping == [[0, 1, 0, 1, 2]]
    assert params.strict_coverage
    assert params.enabled


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["walk", "--keyframes", "a red circle"], "at least two keyframe prompts"),
        (["walk", "--keyframes", "a", "b", "--seeds", "1"], "one each"),
        (["walk", "--keyframes", "a", "b", "--easing", "wobbly"], "easing 'wobbly' is not one of"),
        (["walk", "--keyframes", "a", "b", "--out", "walk.avi"], "--out must end"),
        (["walk", "--keyframes", "a", "b", "--width", "100"], "multiple of 8"),
        (["walk", "--keyframes", "a", "b", "--width", "20000"], "whole number from 8 to 2048"),
        (["walk", "--keyframes", "a", "b", "--fps", "0"], "video frames per second must be a number from 1"),
        (["walk", "--keyframes", "a", "b", "--cfg", "nan"], "got NaN"),
        (["walk", "--keyframes", "a", "b", "--frames", "100000"], "frames per transition must be"),
        (["walk", "--keyframes", *"abcdefghij", "--frames", "240"], "frames in the whole walk: 2161"),
    ],
)
def test_bad_walk_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_walk_writes_a_video_of_every_frame_and_its_walk_json(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"walk{suffix}"
    keyframes = ["a red circle on a white background", "a blue circle on a white background"]
    argv = ["walk", "--keyframes", *keyframes, "--frames", "2", "--steps", "2"]
    argv += ["--width", "64", "--height", "64", "--out", str(out)]
    assert main(argv) == 0
    assert count_frames(out) == 3  # two a transition and the last keyframe
    record_path = out.with_name(out.name + ".json")  # walk.mp4.json: a .gif beside keeps its own
    record = json.loads(record_path.read_text())
    plan, settings = plan_from_record(record)  # the app's walk.json shape: it renders the walk again
    assert list(plan.prompts) == keyframes
    assert (plan.frames, settings.width, settings.height, settings.steps) == (2, 64, 64, 2)
    assert len(record["positions"]) == 3
    assert f"wrote {out} (3 frames) and {record_path}" in capsys.readouterr().err


def test_help_shows_the_defaults_and_the_real_easings(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("generate", "walk", "serve"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--threads" in text
        assert "(default: 1)" in text
    with pytest.raises(SystemExit):
        main(["walk", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "ease_in_out_cosine" in text
    assert "(keyframes - 1) x frames + 1 frames" in text
    assert "(default: 8)" in text


def test_threads_out_of_range_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--prompt", "a\\nb", "--threads", "0"])
    assert exit_.value.code == EXIT_USAGE
    assert "--threads: must be from 1 to 256, got 0" in capsys.readouterr().err
