"""The controls picture of docs/FLUX.md (bench/flux_controls_grid.py): each column changes one control."""

from __future__ import annotations

from dataclasses import fields

from bench.flux_controls_grid import DEFAULTS, VARIANTS
from lib_couple.params import params_from_args, params_to_args


def test_each_variant_changes_one_control_from_the_defaults_and_is_valid() -> None:
    assert len({label for label, _ in VARIANTS}) == len(VARIANTS)
    for label, couple in VARIANTS:
        assert params_from_args(params_to_args(couple)) == couple  # every value within its limit
        changed = {f.name for f in fields(couple) if getattr(couple, f.name) != getattr(DEFAULTS, f.name)}
        if label == "defaults":
            assert not changed
        elif label.startswith("blocks 0-1"):
            assert changed == {"flux_blocks", "flux_block_stop"}
        else:
            assert len(changed) == 1, (label, changed)
