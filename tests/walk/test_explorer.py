import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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
