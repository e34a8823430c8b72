"""Fuzz the loaders of saved state: the explorer's walk, the 2D pad, presets and directions.

Each case is a valid saved state with one field (or one nested field) replaced by a hostile
value, so the fuzz reaches past the first check; it must load or raise CoupleError.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st

from lib_couple.ui.explore_pad import parse_directions
from lib_couple.ui.presets import PresetStore
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.pad import PadState, compass_directions
from tests.fuzz.test_fuzz import FUZZ, accepted_or_refused, values


def encode(prompt: str) -> torch.Tensor:
    return torch.full((1, 4, 8), float(len(prompt) % 7))


def _explorer_state() -> dict[str, Any]:
    explorer = LatentSpaceExplorer([Keyframe("red", 1), Keyframe("blue", 2)], encode, architecture="sd15")
    return dict(json.loads(explorer.to_json()))


def _pad_state() -> dict[str, Any]:
    state = PadState("a cat", compass_directions(["a", "b", "c", "d"]), seed=1, other_seed=2)
    return dict(json.loads(state.to_json()))


def _mutate(state: dict[str, Any], path: list[str], value: object) -> str:
    """`state` with the value at the first existing part of `path` replaced (or deleted for None)."""
    holder: Any = state
    for i, key in enumerate(path):
        if isinstance(holder, dict) and key in holder:
            if i == len(path) - 1 or not isinstance(holder[key], dict | list):
                holder[key] = value
                break
            holder = holder[key]
        elif isinstance(holder, list) and holder:
            holder = holder[0]
            if not isinstance(holder, dict):
                break
    return json.dumps(state, allow_nan=True)


paths = st.lists(
    st.sampled_from(
        [
            "version",
            "keyframes",
            "prompt",
            "seed",
            "point",
            "x",
            "y",
            "seed_t",
            "history",
            "future",
            "trail",
            "saved",
            "directions",
            "at",
            "max_history",
            "position",
            "architecture",
            "method",
            "scalars",
            "base",
            "other_seed",
            "visited",
        ]
    ),
    min_size=1,
    max_size=3,
)


@FUZZ
@given(paths, values)
def test_explorer_state(path: list[str], value: object) -> None:
    text = _mutate(_explorer_state(), path, value)
    accepted_or_refused(lambda: LatentSpaceExplorer.from_json(text, encode))


@FUZZ
@given(paths, values)
def test_pad_state(path: list[str], value: object) -> None:
    text = _mutate(_pad_state(), path, value)
    accepted_or_refused(lambda: PadState.from_json(text))


@FUZZ
@given(st.dictionaries(st.text(max_size=8), values, max_size=4) | values)
def test_presets_file(data: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "presets.json"
        path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
        accepted_or_refused(lambda: PresetStore(path).load())


@FUZZ
@given(st.text(alphabet="ab ,:;\n[]0123456789.-e", max_size=300))
def test_direction_text(text: str) -> None:
    accepted_or_refused(lambda: parse_directions(text))
