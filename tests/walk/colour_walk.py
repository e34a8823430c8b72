"""What the colour-walk tests share: one colour fades out across the frames while another comes in."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from lib_couple.demo.evaluate import Image3, colour_share
from lib_couple.demo.shapes import Colour


def assert_colour_moves(
    frames: Sequence[Image3],
    start: Colour,
    end: Colour,
    *,
    present: float = 0.1,
    absent: float = 0.01,
    slack: float = 0.02,
) -> None:
    """`start` covers over `present` of the first frame (HWC in [0, 1]) and under `absent` of the
    last, `end` the reverse; frame to frame each moves against its trend by no more than `slack`."""
    going = [colour_share(frame, start) for frame in frames]
    coming = [colour_share(frame, end) for frame in frames]
    # Plain asserts in a helper are not rewritten by pytest: the messages carry the shares.
    shares = f"{start} {going}, {end} {coming}"
    assert going[0] > present, f"{start} missing from the first frame: {shares}"
    assert coming[-1] > present, f"{end} missing from the last frame: {shares}"
    assert going[-1] < absent, f"{start} left in the last frame: {shares}"
    assert coming[0] < absent, f"{end} already in the first frame: {shares}"
    assert all(later <= earlier + slack for earlier, later in pairwise(going)), f"{start} came back: {shares}"
    assert all(later >= earlier - slack for earlier, later in pairwise(coming)), f"{end} fell back: {shares}"
