import json
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer

KEYFRAMES = [Keyframe("a red circle", 1), Keyframe("a blue square", 2), Keyframe("a green triangle", 3)]


class CountingEncoder:
    def __init__(self):
        self.calls = 0

    def __call__(self, prompt):
        self.calls += 1
        g = torch.Generator().manual_seed(sum(map(ord, prompt)))
        return torch.randn(1, 77, 16, generator=g)


def make(max_history=5, encode=None):
    return LatentSpaceExplorer(
        KEYFRAMES, encode or CountingEncoder(), architecture="sd15", max_history=max_history
    )


class Model:
    """The reference: unbounded lists, trimmed to the bound like a deque."""

    def __init__(self, bound):
        self.bound, self.pos, self.past, self.future = bound, 0.0, [], []

    def move(self, target):
        self.past = ([*self.past, self.pos])[-self.bound :]
        self.future = []
        self.pos = min(2.0, max(0.0, target))

    def undo(self):
        if not self.past:
            return False
        self.future = ([*self.future, self.pos])[-self.bound :]
        self.pos = self.past.pop()
        return True

    def redo(self):
        if not self.future:
            return False
        self.past = ([*self.past, self.pos])[-self.bound :]
        self.pos = self.future.pop()
        return True


ops = st.one_of(
    st.tuples(st.just("step"), st.sampled_from([-1, 1]), st.floats(0.0, 1.5)),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
)


@settings(max_examples=60)
@given(st.lists(ops, max_size=40), st.integers(1, 6))
def test_undo_redo_against_model(sequence, bound):
    explorer, model = make(bound), Model(bound)
    for op in sequence:
        if op[0] == "step":
            explorer.step(op[1], op[2])
            model.move(model.pos + op[1] * op[2])
        elif op[0] == "undo":
            assert explorer.undo() == model.undo()
        else:
            assert explorer.redo() == model.redo()
        assert explorer.position == model.pos
        assert list(explorer.history) == model.past
        assert list(explorer.future) == model.future


def test_point_and_clamping():
    explorer = make()
    assert explorer.step(1, 1.25) == 1.25
    at = explorer.point()
    assert (at.transition, at.t, at.start.prompt) == (1, 0.25, "a blue square")
    assert explorer.step(1, 10.0) == 2.0
    end = explorer.point()
    assert (end.transition, end.t) == (1, 1.0)
    with pytest.raises(ValueError, match="direction"):
        explorer.step(0, 1.0)


def test_json_round_trip_re_renders_frames_exactly():
    encoder = CountingEncoder()
    explorer = make(encode=encoder)
    for size in (0.3, 0.5, 0.45):
        explorer.step(1, size)
    explorer.undo()
    saved = explorer.to_json()
    assert "tensor" not in saved.lower()
    restored = LatentSpaceExplorer.from_json(saved, CountingEncoder())
    assert restored.position == explorer.position
    assert restored.history == explorer.history
    assert restored.future == explorer.future
    for position in restored.visited:
        assert torch.equal(restored.conditioning(position), explorer.conditioning(position))  # type: ignore[arg-type]
        assert torch.equal(restored.noise((1, 4, 8, 8), position), explorer.noise((1, 4, 8, 8), position))
    assert encoder.calls <= 3  # each keyframe prompt encoded once


def test_keyframe_is_reproduced_at_integer_positions():
    explorer = make()
    cond = explorer.conditioning(1.0)
    assert torch.equal(cond, explorer.encode("a blue square"))


def _saved_state(**changes: object) -> str:
    state = json.loads(make().to_json())
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    return json.dumps(state)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"version": 2}, "field 'version' must be one of 1"),
        ({"keyframes": None}, "has no field 'keyframes'"),
        ({"keyframes": "ab"}, "field 'keyframes' must be a list of objects"),
        ({"keyframes": [{"prompt": "a", "seed": 1}]}, "needs at least two keyframes, got 1"),
        ({"keyframes": [{"prompt": "a", "seed": 1}, {"prompt": "b"}]}, "(keyframe 2) has no field 'seed'"),
        ({"keyframes": [{"prompt": 3, "seed": 1}, {"prompt": "b", "seed": 2}]}, "'prompt' must be a string"),
        ({"architecture": "sd9"}, "field 'architecture' must be one of"),
        ({"method": "cubic"}, "field 'method' must be one of"),
        ({"scalars": 1}, "field 'scalars' must be one of"),
        ({"max_history": 0}, "field 'max_history' must be 1 to 1000"),
        ({"max_history": 10**400}, "field 'max_history' must be 1 to 1000"),
        ({"max_history": 1.5}, "field 'max_history' must be a whole number"),
        ({"position": "1"}, "field 'position' must be a finite number"),
        ({"history": [0.5, "x"]}, "field 'history' must be a list of finite numbers"),
        ({"visited": {"a": 1}}, "field 'visited' must be a list of finite numbers"),
    ],
)
def test_a_malformed_saved_walk_is_refused_naming_the_file_and_field(
    changes: dict[str, object], problem: str
) -> None:
    with pytest.raises(CoupleError, match=re.escape(problem)) as refused:
        LatentSpaceExplorer.from_json(_saved_state(**changes), CountingEncoder(), source="walk-state.json")
    assert str(refused.value).startswith("walk-state.json")


@pytest.mark.parametrize("text", ["", "{", "[1]", "null", "[" * 100_000])
def test_a_saved_walk_that_is_no_json_object_is_refused(text: str) -> None:
    with pytest.raises(CoupleError, match="walk-state.json"):
        LatentSpaceExplorer.from_json(text, CountingEncoder(), source="walk-state.json")
