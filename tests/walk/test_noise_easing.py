import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lib_couple.walk.easing import EASINGS, ease, frame_schedule
from lib_couple.walk.noise import noise_between, seeded_noise, slerp_noise


def test_slerp_noise_keeps_unit_std_where_lerp_shrinks_it():
    shape = (1, 4, 128, 128)
    a, b = seeded_noise(1, shape), seeded_noise(2, shape)
    mid = noise_between(1, 2, 0.5, shape)
    assert abs(float(mid.std()) - 1.0) < 0.02
    assert abs(float(((a + b) / 2).std()) - 0.7071) < 0.02
    assert torch.equal(noise_between(1, 2, 0.0, shape), a)
    assert torch.equal(noise_between(1, 2, 1.0, shape), b)


def test_slerp_noise_one_angle_per_batch_item():
    a, b = seeded_noise(1, (2, 4, 8, 8)), seeded_noise(2, (2, 4, 8, 8))
    out = slerp_noise(a, b, 0.3)
    torch.testing.assert_close(out[1:], slerp_noise(a[1:], b[1:], 0.3))


@pytest.mark.parametrize("name", sorted(EASINGS))
@given(t1=st.floats(0.0, 1.0), t2=st.floats(0.0, 1.0))
def test_easings_monotone_with_exact_endpoints(name, t1, t2):
    assert ease(name, 0.0) == 0.0
    assert ease(name, 1.0) == 1.0
    lo, hi = sorted((t1, t2))
    assert 0.0 <= ease(name, lo) <= ease(name, hi) + 1e-12 <= 1.0 + 1e-12


def test_frame_schedule():
    positions = frame_schedule(3, 4, "ease_in_out_cosine")
    assert len(positions) == 2 * 4 + 1
    assert positions[0] == 0.0
    assert positions[4] == 1.0
    assert positions[-1] == 2.0
    assert positions == sorted(positions)
    assert frame_schedule(2, 2, include_end=False) == [0.0, 0.5]
    with pytest.raises(ValueError, match="unknown easing"):
        frame_schedule(2, 2, "bounce")
