"""Per-region negative prompts in the engine: uncond rows attend each region's negative line."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lib_couple.attention.couple import RegionalAttention, RegionSet
from lib_couple.errors import CoupleError
from lib_couple.hosts.diffusers_host import DiffusersCouple, cross_attention_layers
from lib_couple.hosts.patcher import AttentionCouple
from tests.doubles.forge_unet import make_patcher, run_unet
from tests.test_diffusers_host import CONTEXT_DIM as DIFFUSERS_DIM
from tests.test_diffusers_host import (
    DenseReference,
    call,
    data,
    halves,
    unet,  # noqa: F401  (the module's fixture)
)
from tests.test_patcher import (
    IpLikeReplace,
    columns,
    conds,
    inputs,
    ip_and_regions_reference,
    patch_reference,
    set_ip_like,
)

LAYOUTS = [[0], [1], [1, 0], [0, 1], [1, 0, 0]]


def three_columns(height: int, width: int) -> torch.Tensor:
    return columns(height, width, [0.3, 0.7], weights=[1.0, 1.5, 0.5])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("batch", [1, 2])
def test_uncond_rows_equal_a_direct_per_region_reference(layout: list[int], batch: int) -> None:
    patcher = make_patcher()
    masks = three_columns(104, 80)  # off the 64-pixel grid: ceil-halved token grids
    region_conds, negatives = conds([77, 154, 77]), conds([77, 77, 231], seed=7)
    x, context = inputs(batch * len(layout), (13, 10))
    couple = AttentionCouple(region_conds, masks, negatives=negatives)
    ours = run_unet(couple.patch_unet(patcher), x, context, layout)
    reference = run_unet(patch_reference(patcher, region_conds, masks, negatives), x, context, layout)
    assert (ours - reference).abs().max().item() <= 1e-4
    if 1 in layout:  # the negatives did act on the uncond rows
        plain = run_unet(AttentionCouple(region_conds, masks).patch_unet(patcher), x, context, layout)
        assert (ours - plain).abs().max().item() > 1e-3


def test_uncovered_pixels_of_uncond_rows_use_the_whole_negative_prompt() -> None:
    patcher = make_patcher()
    left = columns(128, 128, [0.5])[:1]
    x, context = inputs(2, (16, 16))
    ours = run_unet(
        AttentionCouple(conds([77]), left, negatives=conds([77], 3)).patch_unet(patcher), x, context, [1, 0]
    )
    explicit = torch.cat([left, 1 - left])
    whole = [context[:1], context[1:]]  # the call's own uncond and cond rows
    reference = AttentionCouple([*conds([77]), whole[1]], explicit, negatives=[*conds([77], 3), whole[0]])
    assert torch.allclose(ours, run_unet(reference.patch_unet(patcher), x, context, [1, 0]), atol=1e-5)


def test_split_sub_batches_equal_one_joint_call() -> None:
    patcher = make_patcher()
    couple = AttentionCouple(conds([77, 77]), columns(128, 128, [0.5]), negatives=conds([77, 154], 4))
    patched = couple.patch_unet(patcher)
    x, context = inputs(4, (16, 16))
    joint = run_unet(patched, x, context, [1, 0])
    uncond = run_unet(patched, x[:2], context[:2], [1])
    cond = run_unet(patched, x[2:], context[2:], [0])
    assert torch.allclose(joint, torch.cat([uncond, cond]), atol=1e-5)


def test_images_of_one_batch_keep_their_own_negatives() -> None:
    """A set without negatives keeps plain uncond rows beside a set with them, in one chunk."""
    patcher = make_patcher()
    masks = columns(128, 128, [0.5])
    with_negatives = RegionSet(conds([77, 77]), masks, negatives=conds([77, 77], 5))
    without = RegionSet(conds([77, 77], 6), masks)
    x, context = inputs(4, (16, 16))
    mixed = AttentionCouple.for_batch(RegionalAttention([with_negatives, without], [1, 0]))
    ours = run_unet(mixed.patch_unet(patcher), x, context, [1, 0])
    for image, region_set in ((1, with_negatives), (0, without)):
        alone = AttentionCouple.for_batch(
            RegionalAttention([RegionSet(region_set.conds, masks, negatives=_negatives(region_set))])
        )
        rows = [image, 2 + image]
        expected = run_unet(alone.patch_unet(patcher), x[rows], context[rows], [1, 0])
        assert (ours[rows] - expected).abs().max().item() <= 1e-5


def _negatives(region_set: RegionSet) -> list[torch.Tensor] | None:
    return None if region_set.uncond is None else region_set.uncond.conds


@pytest.mark.parametrize("full_keys", [False, True], ids=["sd15-keys", "sdxl-keys"])
def test_composes_with_another_replace_patch(full_keys: bool) -> None:
    patcher = make_patcher()
    masks = columns(128, 128, [0.5])
    region_conds, negatives = conds([77, 154]), conds([77, 77], 8)
    ip = IpLikeReplace(torch.randn(1, 4, 64, generator=torch.Generator().manual_seed(5)), scale=0.7)
    patched = AttentionCouple(region_conds, masks, negatives=negatives).patch_unet(
        set_ip_like(patcher, ip, full_keys)
    )
    x, context = inputs(4, (16, 16))
    ours = run_unet(patched, x, context, [1, 0])
    reference = run_unet(
        ip_and_regions_reference(patcher, region_conds, masks, ip, negatives), x, context, [1, 0]
    )
    assert (ours - reference).abs().max().item() <= 1e-4


@pytest.mark.parametrize(
    ("negatives", "message"),
    [
        (conds([77]), "1 negative lines for 2 regions"),
        ([torch.randn(1, 77, 32), torch.randn(1, 77, 32)], "differ in width"),
        ([torch.randn(1, 77, 24), torch.full((1, 77, 24), float("inf"))], "region 2"),
    ],
)
def test_bad_negatives_are_refused(negatives: list[torch.Tensor], message: str) -> None:
    with pytest.raises(CoupleError, match=message):
        RegionSet(conds([77, 77]), columns(64, 64, [0.5]), negatives=negatives)


@pytest.mark.parametrize("latent_hw", [(16, 16), (13, 10)])
def test_diffusers_uncond_rows_match_direct_per_region_computation(
    unet: Any,  # noqa: F811  (the fixture)
    latent_hw: tuple[int, int],
) -> None:
    x, context = data(2, latent_hw)
    masks = halves(latent_hw[0] * 8, latent_hw[1] * 8)
    generator = torch.Generator().manual_seed(3)
    region_conds = [torch.randn(1, 77, DIFFUSERS_DIM, generator=generator) for _ in range(2)]
    negatives = [torch.randn(1, length, DIFFUSERS_DIM, generator=generator) for length in (154, 77)]
    with DiffusersCouple(region_conds, masks, cond_or_uncond=[1, 0], negatives=negatives).applied(unet):
        ours = call(unet, x, context)
    with DiffusersCouple(region_conds, masks, cond_or_uncond=[1, 0]).applied(unet):
        cond_only = call(unet, x, context)
    saved = dict(unet.attn_processors)
    reference_processors = dict(saved)
    for name in cross_attention_layers(unet):
        reference_processors[name] = DenseReference(region_conds, masks, latent_hw, negatives)
    unet.set_attn_processor(reference_processors)
    try:
        reference = call(unet, x, context)
    finally:
        unet.set_attn_processor(saved)
    assert (ours - reference).abs().max().item() <= 1e-4
    assert (ours - cond_only).abs().max().item() > 1e-3
