"""The YAML defaults file and the launch-time files Forge runs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import preload
from lib_couple.config import SHIPPED_DEFAULTS, load_defaults
from lib_couple.errors import CoupleError
from lib_couple.params import CoupleParams


def test_shipped_defaults_are_the_built_in_ones() -> None:
    assert load_defaults(SHIPPED_DEFAULTS) == CoupleParams()


def test_a_user_file_overrides_some_keys(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("mode: Advanced\nbackground_weight: 0.8\nstrict_coverage: true\n")
    defaults = load_defaults(path)
    assert (defaults.mode, defaults.background_weight, defaults.strict_coverage) == ("Advanced", 0.8, True)
    assert defaults.separator == CoupleParams().separator


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mode: Sideways\n", "mode"),
        ("colour: red\n", "unknown keys"),
        ("- just\n- a list\n", "must be a mapping"),
        ("mode: [unclosed\n", "not valid YAML"),
        ("mode: !!python/object:os.system x\n", "not valid YAML"),
        ("1: 2\ncolour: red\n", r"unknown keys \['1', 'colour'\]"),
        ("[" * 10_000 + "\n", "nested too deeply"),
        ("mapping: &loop [*loop]\n", "not plain data"),
        ("mapping: !!binary aGVsbG8=\n", "not plain data"),
        ("background_weight: .nan\n", "background_weight must be a number from 0 to 5"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CoupleError, match=message) as raised:
        load_defaults(path)
    assert str(path) in str(raised.value)


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00mode")
    with pytest.raises(CoupleError, match="is not UTF-8 text") as raised:
        load_defaults(path)
    assert str(path) in str(raised.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CoupleError, match="cannot read"):
        load_defaults(tmp_path / "absent.yaml")


def test_preload_adds_the_config_flag() -> None:
    parser = argparse.ArgumentParser()
    preload.preload(parser)
    assert parser.parse_args(["--forge-couple-config", "x.yaml"]).forge_couple_config == "x.yaml"
    assert parser.parse_args([]).forge_couple_config is None
