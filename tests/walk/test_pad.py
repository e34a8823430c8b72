"""The 2D explorer: moves go toward their direction prompts, undo/redo restore exact states,
history stays bounded, and saved states load back or are refused with a named field."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.walk.pad import (
    MAX_DIRECTIONS,
    PAD_RADIUS,
    Direction,
    PadPoint,
    PadState,
    compass_directions,
)
from lib_couple.walk.pad_space import PadSpace

DIRECTIONS = compass_directions(["at night", "smiling", "in the rain", "in a forest"])


def encode(prompt: str) -> torch.Tensor:
    """A stand-in text encoder: a fixed random [1, 77, 32] tensor per prompt."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "little")
    return torch.randn(1, 77, 32, generator=torch.Generator().manual_seed(seed))


def encode_dict(prompt: str) -> dict[str, torch.Tensor]:
    tokens = encode(prompt)
    return {"crossattn": tokens * 10, "vector": tokens[0, 0], "guidance": torch.tensor([3.5])}


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def tokens(space: PadSpace, state: PadState) -> torch.Tensor:
    cond = space.conditioning(state)
    assert isinstance(cond, torch.Tensor)
    return cond


def new_state(max_history: int = 100) -> PadState:
    return PadState("a portrait of a cat", DIRECTIONS, seed=1, other_seed=2, max_history=max_history)


@pytest.mark.parametrize("index", range(4))
def test_a_move_toward_a_direction_moves_the_conditioning_toward_its_encoding(index: int) -> None:
    state, space = new_state(), PadSpace(encode)
    base = encode(state.base)
    target = encode(DIRECTIONS[index].prompt)
    before = float((base - target).norm())
    state.move(*DIRECTIONS[index].at, step=0.5)
    moved = space.conditioning(state)
    assert isinstance(moved, torch.Tensor)
    cos = [cosine(moved - base, encode(d.prompt) - base) for d in DIRECTIONS]
    assert max(range(4), key=lambda i: cos[i]) == index
    assert cos[index] > 0.9
    assert float((moved - target).norm()) < before


def test_pad_units_are_the_anchors_distance_and_guidance_stays() -> None:
    state, space = new_state(), PadSpace(encode_dict)
    state.move(1.0, 0.0, step=1.0)
    moved = space.conditioning(state)
    base = encode_dict(state.base)
    assert isinstance(moved, dict)
    assert torch.equal(moved["guidance"], base["guidance"])
    anchors = [encode_dict(d.prompt)["crossattn"] for d in DIRECTIONS]
    mean = sum(float((a - base["crossattn"]).norm()) for a in anchors) / 4
    assert float((moved["crossattn"] - base["crossattn"]).norm()) == pytest.approx(mean, rel=0.05)


def test_seed_mode_slerps_the_noise_toward_the_other_seed() -> None:
    state, space = new_state(), PadSpace(encode)
    shape = (1, 4, 32, 32)
    start = space.noise(state, shape)
    other = space.noise(state, shape, PadPoint(seed_t=1.0))
    state.move(1.0, 0.0, step=0.5, mode="seed")
    assert state.point == PadPoint(0.0, 0.0, 0.5)
    halfway = space.noise(state, shape)
    assert 0.6 < cosine(halfway, start) < 0.8  # cos 45°: halfway along the great circle
    assert 0.6 < cosine(halfway, other) < 0.8
    assert float(halfway.std()) == pytest.approx(1.0, abs=0.15)
    assert torch.equal(tokens(space, state), encode(state.base))  # the prompt stays


def test_undo_redo_and_return_restore_exact_tensors() -> None:
    state, space = new_state(), PadSpace(encode)
    start = tokens(space, state)
    state.move(0.3, 0.8, step=0.4)
    first = tokens(space, state)
    state.move(-1.0, 0.0, step=0.4)
    assert state.undo()
    assert torch.equal(tokens(space, state), first)
    assert state.undo()
    assert torch.equal(tokens(space, state), start)
    assert not state.undo()
    assert state.redo()
    assert torch.equal(tokens(space, state), first)
    state.return_to_start()
    assert torch.equal(tokens(space, state), start)
    assert not state.redo()  # a move clears the future


moves = st.one_of(
    st.tuples(
        st.just("move"),
        st.floats(-3, 3),
        st.floats(-3, 3),
        st.floats(0, 1),
        st.sampled_from(["prompt", "seed"]),
    ),
    st.tuples(st.sampled_from(["undo", "redo", "start"])),
)


@settings(max_examples=80)
@given(st.lists(moves, max_size=40), st.integers(1, 6))
# a subnormal direction: its length rounded to one coordinate and the step came out too long
@example([("move", 5e-324, 5e-324, 0.75, "prompt")], 1)
def test_moves_follow_a_bounded_undo_history(sequence: list[tuple[object, ...]], bound: int) -> None:
    state = new_state(max_history=bound)
    history: list[PadPoint] = []
    future: list[PadPoint] = []
    for action in sequence:
        before = state.point
        if action[0] == "move":
            _, dx, dy, step, mode = action
            after = state.move(float(dx), float(dy), float(step), mode)  # type: ignore[arg-type]
            history = [*history, before][-bound:]
            future = []
            moved = math.hypot(after.x - before.x, after.y - before.y) + abs(after.seed_t - before.seed_t)
            assert moved <= float(step) * math.sqrt(2) + 1e-9  # type: ignore[arg-type]
        elif action[0] == "undo" and state.undo():
            future = [*future, before][-bound:]
            assert state.point == history.pop()
        elif action[0] == "redo" and state.redo():
            history = [*history, before][-bound:]
            assert state.point == future.pop()
        elif action[0] == "start":
            state.return_to_start()
            history, future = [*history, before][-bound:], []
            assert state.point == PadPoint()
        assert list(state.history) == history
        assert list(state.future) == future
        assert len(state.history) <= bound
        assert -PAD_RADIUS <= state.point.x <= PAD_RADIUS
        assert -PAD_RADIUS <= state.point.y <= PAD_RADIUS
        assert 0.0 <= state.point.seed_t <= 1.0
    loaded = PadState.from_json(state.to_json())
    assert loaded.to_json() == state.to_json()
    assert loaded.point == state.point


def test_the_adaptive_step_shrinks_on_the_trail() -> None:
    state = new_state()
    assert state.step_size(0.2, adaptive=True) == 0.2  # one visit: nothing to estimate
    for _ in range(4):
        state.move(1, 0, 0.05)
        state.move(-1, 0, 0.05)
    crowded = state.step_size(0.2, adaptive=True)
    assert 0.2 * 0.125 <= crowded < 0.2 / 1.5


def test_saved_points_and_neighbours() -> None:
    state = new_state()
    state.move(0, 1, 0.5)
    assert state.save_point() == 0
    assert state.saved == [PadPoint(0.0, 0.5, 0.0)]
    assert state.neighbours(0.25)[1] == PadPoint(0.25, 0.5, 0.0)  # east of here
    assert len(state.neighbours(0.25)) == len(DIRECTIONS)


def broken(change: str) -> str:
    raw = json.loads(new_state().to_json())
    exec(change, {"raw": raw})
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("raw['version'] = 9", "version"),
        ("raw['point']['x'] = 5", "point x"),
        ("raw['point']['seed_t'] = float('nan')", "point seed_t"),
        ("raw['seed'] = -1", "seed"),
        ("raw['seed'] = True", "seed"),
        ("raw['max_history'] = 10**9", "max history"),
        ("raw['history'] = [raw['point']] * 101", "history"),
        ("raw['directions'] = raw['directions'] * 3", "directions"),
        ("raw['directions'][0]['at'] = [0, 0]", "centre"),
        ("raw['directions'][0]['prompt'] = 7", "direction 1 prompt"),
        ("raw['trail'] = []", "trail"),
        ("raw['trail'][0] = 'x'", "trail"),
        ("del raw['saved']", "exactly"),
        ("raw['base'] = ''", "base prompt"),
    ],
)
def test_malformed_state_is_refused_naming_the_field(change: str, field: str) -> None:
    with pytest.raises(CoupleError, match=field):
        PadState.from_json(broken(change))


def test_not_json_and_too_many_directions_are_refused() -> None:
    with pytest.raises(CoupleError, match="not JSON"):
        PadState.from_json("{")
    many = tuple(Direction(f"p{i}", (1.0, i / 10)) for i in range(MAX_DIRECTIONS + 1))
    with pytest.raises(CoupleError, match="1 to 8"):
        PadState("base", many)
    with pytest.raises(CoupleError, match="dx"):
        new_state().move(float("inf"), 0, 0.1)
    with pytest.raises(CoupleError, match="step"):
        new_state().move(1, 0, 2.0)


def test_direction_prompts_of_other_token_lengths_are_equalised() -> None:
    def long_for_rain(prompt: str) -> torch.Tensor:
        tokens = encode(prompt)
        return torch.cat([tokens, tokens], dim=-2) if "rain" in prompt else tokens  # 154 tokens

    state, space = new_state(), PadSpace(long_for_rain)
    state.move(0, -1, 0.5)  # south: "in the rain"
    moved = tokens(space, state)
    assert moved.shape == (1, 154, 32)
    base = torch.cat([encode(state.base)] * 2, dim=-2)
    rain = long_for_rain("in the rain")
    assert cosine(moved - base, rain - base) > 0.9
