"""Regional training steps use the engine's attention, with gradients reaching every caption."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.attention.couple import COND, RegionSet
from lib_couple.demo.regional_training import TrainableRegions, strip_masks


@given(regions=st.integers(1, 4), columns=st.booleans(), side=st.sampled_from([8, 16, 32]))
def test_strip_masks_partition_the_latent_into_equal_strips(regions: int, columns: bool, side: int) -> None:
    masks = strip_masks(regions, columns, side)
    assert masks.shape == (regions, side, side)
    assert torch.allclose(masks.sum(0), torch.ones(side, side))
    assert torch.allclose(masks.sum((1, 2)), torch.full((regions,), side * side / regions))
    first = masks[0].sum(0 if columns else 1)  # weight along the split axis
    assert float(first[0]) == pytest.approx(side)
    if regions > 1:
        assert float(first[-1]) == pytest.approx(0.0, abs=1e-6)


def projection(weight: torch.Tensor) -> torch.nn.Linear:
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    layer.weight.data.copy_(weight)
    return layer


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), regions=st.integers(2, 3), columns=st.booleans())
def test_training_attention_equals_the_engines_and_trains_every_caption(
    seed: int, regions: int, columns: bool
) -> None:
    torch.manual_seed(seed)
    to_k, to_v = projection(torch.randn(8, 6)), projection(torch.randn(8, 6))
    contexts = [torch.randn(1, 5, 6, requires_grad=True) for _ in range(regions)]
    masks = strip_masks(regions, columns, 8)
    q = torch.randn(1, 64, 8)

    def project(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return to_k(context), to_v(context)

    call = {"layer": "l", "project": project, "heads": 2, "latent_hw": (8, 8), "cond_or_uncond": [COND]}
    out = TrainableRegions(contexts, masks)(q, q, q, **call)  # type: ignore[arg-type]
    reference = RegionSet([c.detach() for c in contexts], masks).cond_attention(
        q, q, q, layer="l", project=project, heads=2, latent_hw=(8, 8)
    )
    assert torch.allclose(out, reference, atol=1e-5)
    out.square().sum().backward()
    for context in contexts:
        assert context.grad is not None
        assert bool(context.grad.abs().sum() > 0)


def test_contexts_and_masks_must_agree() -> None:
    with pytest.raises(ValueError, match="2 contexts for 3 masks"):
        TrainableRegions([torch.zeros(1, 2, 4)] * 2, strip_masks(3, True, 8))
