"""The regional check of both demo models (bench/demo_regions.py): its smallest run and its measures."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import demo_regions
from bench.demo_regions import HELD_OUT, Case, main, measure, passes, separation, strip_shares


def test_held_out_cases_use_neither_the_tests_colours_nor_their_sizes() -> None:
    used_by_tests = {("red", "blue"), ("green", "yellow"), ("yellow", "white")}
    for case in HELD_OUT:
        colours = [colour for colour, _ in case.lines]
        assert not set(pairwise(colours)) & used_by_tests
        assert (case.width, case.height) not in {(64, 64), (256, 256), (200, 264)}
        assert case.width % 16 == 0
        assert case.height % 16 == 0
    assert {len(case.lines) for case in HELD_OUT} == {2, 3}
    assert {case.direction for case in HELD_OUT} == {"Horizontal", "Vertical"}


def test_strip_shares_and_the_pass_rule_on_a_drawn_image() -> None:
    image = Image.new("RGB", (64, 32), (0, 0, 0))
    image.paste((0, 160, 0), (0, 0, 16, 32))  # green on the left quarter
    image.paste((0, 0, 255), (40, 0, 64, 32))  # blue on the right
    shares = strip_shares(image, ["green", "blue"], "Horizontal")
    assert np.asarray(shares) == pytest.approx(np.array([[0.5, 0.0], [0.0, 0.75]]))
    assert passes(shares)
    assert not passes(((shares[0][1], shares[0][0]), shares[1]))
    assert separation([shares]) == pytest.approx(1.0)
    assert separation([((0.1, 0.1), (0.2, 0.2))]) == pytest.approx(0.5)
    assert separation([((0.0,) * 3,) * 3]) == pytest.approx(1 / 3)


def test_rows_and_three_strips() -> None:
    image = Image.new("RGB", (30, 60), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 30, 20))  # red on the top third
    image.paste((0, 0, 255), (0, 20, 30, 25))  # a little blue in the middle third
    image.paste((0, 0, 255), (0, 40, 30, 60))  # blue on the bottom third, where green belongs
    shares = strip_shares(image, ["red", "blue", "green"], "Vertical")
    assert np.asarray(shares) == pytest.approx(np.array([[1, 0, 0], [0, 0.25, 1], [0, 0, 0]]))
    assert not passes(shares)  # blue is more in the bottom strip than its own, green is nowhere
    assert separation([shares]) == pytest.approx((1.0 + 0.25) / 2.25)


def test_the_smallest_run_reports_both_models_in_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = Case((("green", "square"), ("blue", "circle"), ("red", "circle")), "Horizontal", 96, 64)
    results = measure(cases=[tiny], seeds=(1,), steps=2)
    assert set(results) == {"demo", "flux-demo"}
    for report in results.values():
        assert report["cases"] == 1
        assert report["pass_regions"] in (0, 1)
        assert report["pass_plain"] in (0, 1)
        for key in ("separation_regions", "separation_plain"):
            value = report[key]
            assert isinstance(value, float)
            assert 0.0 <= value <= 1.0
    out = tmp_path / "regions.json"
    argv = ["--models", "flux-demo", "--cases", "1", "--seeds", "2", "--steps", "1"]
    assert main([*argv, "--json", str(out)]) == 0
    assert "| flux-demo | " in capsys.readouterr().out
    assert '"flux-demo"' in out.read_text()


def test_bad_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="cases and seeds must not be empty"):
        measure(cases=[])
    with pytest.raises(ValueError, match="model must be one of"):
        demo_regions.generator_for("sdxl")
    with pytest.raises(SystemExit):
        main(["--cases", "9"])
    assert "--cases must be 1 to 5, got 9" in capsys.readouterr().err
