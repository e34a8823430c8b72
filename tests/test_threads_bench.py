"""The thread-count bench runs every count it is given and restores torch's own count."""

from __future__ import annotations

import math

import pytest
import torch

from bench.threads import main, thread_counts
from lib_couple.demo.model import weights_present


def test_counts_default_to_one_two_and_the_cpu_count() -> None:
    assert thread_counts([3, 1, 3]) == [1, 3]
    assert thread_counts([])[:1] == [1]


@pytest.mark.skipif(not weights_present(), reason="the demo weights are not in lib_couple/demo/weights")
def test_every_count_gets_a_time_and_the_default_comes_back(capsys: pytest.CaptureFixture[str]) -> None:
    before = torch.get_num_threads()
    medians = main(["--rounds", "1", "--counts", "1", "2", "--steps", "1", "--size", "32"])
    assert set(medians) == {1, 2}
    assert all(math.isfinite(value) and value > 0 for value in medians.values())
    assert torch.get_num_threads() == before
    assert "<- fastest" in capsys.readouterr().out
