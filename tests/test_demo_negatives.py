"""On the embedded demo model: a region's negative line acts on that region, not on the others."""

from __future__ import annotations

import pytest

from bench.region_negatives import measure
from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.demo.model import weights_present

pytestmark = pytest.mark.skipif(
    not weights_present(), reason="the demo weights are not in lib_couple/demo/weights"
)

SEEDS = range(1, 7)


@pytest.fixture(scope="module")
def model() -> DemoComponents:
    return load_demo_pipeline()


def test_a_region_whose_negative_names_its_colour_shows_less_of_it(model: DemoComponents) -> None:
    result = measure(model, SEEDS, ["empty lines per region", "right line, right region"])
    control = result["empty lines per region"]
    assert control["red left"].change == control["blue right"].change == 0.0  # the path alone moves nothing
    named, other = (
        result["right line, right region"]["blue right"],
        result["right line, right region"]["red left"],
    )
    assert named.lower_in >= len(SEEDS) - 1
    assert named.change < -0.1  # of about 0.36: the region loses most of its blue
    # The other region's red moves by less than its seeds' noise (2.5 standard errors) and far
    # less than the named region's blue.
    assert abs(other.change) <= 2.5 * other.standard_error
    assert abs(other.change) < abs(named.change) / 2
