"""The diffusers adapter on a real UNet2DConditionModel with random weights."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from diffusers import UNet2DConditionModel

from lib_couple.attention.cross_attention import multihead_attention
from lib_couple.errors import CoupleError
from lib_couple.grid import token_grid
from lib_couple.hosts.diffusers_host import DiffusersCouple, cross_attention_layers
from lib_couple.token_masks import token_weights

CONTEXT_DIM = 32


@pytest.fixture(scope="module")
def unet() -> Any:
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=CONTEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=8,
    ).eval()


def call(unet: Any, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out: torch.Tensor = unet(x, torch.full((x.shape[0],), 500), context).sample
    return out


def halves(height: int, width: int) -> torch.Tensor:
    masks = torch.zeros(2, height, width)
    masks[0, :, : width // 2] = 1.0
    masks[1, :, width // 2 :] = 1.0
    return masks


def data(batch: int, latent_hw: tuple[int, int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, 4, *latent_hw, generator=generator),
        torch.randn(batch, 77, CONTEXT_DIM, generator=generator),
    )


class DenseReference:
    """Direct per-region computation as an attention processor (AttnProcessor's steps)."""

    def __init__(
        self,
        region_conds: list[torch.Tensor],
        masks: torch.Tensor,
        latent_hw: tuple[int, int],
        negatives: list[torch.Tensor] | None = None,
    ) -> None:
        self.conds, self.masks, self.latent_hw, self.negatives = region_conds, masks, latent_hw, negatives

    def _blend(self, attn: Any, q: torch.Tensor, lines: list[torch.Tensor], weights: torch.Tensor) -> Any:
        return sum(
            multihead_attention(q, attn.to_k(c), attn.to_v(c), attn.heads) * w[None, :, None]
            for c, w in zip(lines, weights, strict=True)
        )

    def __call__(
        self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs
    ):
        q = attn.to_q(hidden_states)
        weights = token_weights(self.masks, token_grid(*self.latent_hw, q.shape[1])).weights
        if self.negatives is None:
            uncond = multihead_attention(
                q[:1], attn.to_k(encoder_hidden_states[:1]), attn.to_v(encoder_hidden_states[:1]), attn.heads
            )
        else:
            uncond = self._blend(attn, q[:1], self.negatives, weights)
        cond = self._blend(attn, q[1:], self.conds, weights)
        return attn.to_out[1](attn.to_out[0](torch.cat([uncond, cond])))


@pytest.mark.parametrize("latent_hw", [(16, 16), (13, 10), (9, 22)])
def test_matches_direct_per_region_computation(unet: Any, latent_hw: tuple[int, int]) -> None:
    x, context = data(2, latent_hw)
    masks = halves(latent_hw[0] * 8, latent_hw[1] * 8)
    region_conds = [torch.randn(1, 77, CONTEXT_DIM), torch.randn(1, 154, CONTEXT_DIM)]
    with DiffusersCouple(region_conds, masks, cond_or_uncond=[1, 0]).applied(unet):
        ours = call(unet, x, context)
    saved = dict(unet.attn_processors)
    reference_processors = dict(saved)
    for name in cross_attention_layers(unet):
        reference_processors[name] = DenseReference(region_conds, masks, latent_hw)
    unet.set_attn_processor(reference_processors)
    try:
        reference = call(unet, x, context)
    finally:
        unet.set_attn_processor(saved)
    assert (ours - reference).abs().max().item() <= 1e-4


def test_one_full_region_with_the_prompt_equals_plain(unet: Any) -> None:
    x, context = data(2, (16, 16))
    plain = call(unet, x, context)
    with DiffusersCouple([context[1:2]], torch.ones(1, 128, 128), cond_or_uncond=[1, 0]).applied(unet):
        regional = call(unet, x, context)
    assert torch.allclose(regional, plain, atol=1e-5)


def test_regions_change_the_output_and_removal_restores_it(unet: Any) -> None:
    x, context = data(2, (16, 16))
    processors_before = dict(unet.attn_processors)
    plain = call(unet, x, context)
    couple = DiffusersCouple(
        [torch.randn(1, 77, CONTEXT_DIM), torch.randn(1, 77, CONTEXT_DIM)], halves(128, 128)
    )
    couple.install(unet)
    regional = call(unet, x, context)
    couple.remove()
    assert (regional - plain).abs().max().item() > 1e-3
    assert dict(unet.attn_processors) == processors_before
    assert torch.equal(call(unet, x, context), plain)


def test_removed_after_an_error_inside_the_block(unet: Any) -> None:
    processors_before = dict(unet.attn_processors)
    couple = DiffusersCouple([torch.randn(1, 77, CONTEXT_DIM)] * 2, halves(128, 128))
    with pytest.raises(KeyboardInterrupt), couple.applied(unet):
        raise KeyboardInterrupt
    assert dict(unet.attn_processors) == processors_before


def test_installing_twice_is_refused(unet: Any) -> None:
    couple = DiffusersCouple([torch.randn(1, 77, CONTEXT_DIM)] * 2, halves(128, 128))
    with couple.applied(unet), pytest.raises(CoupleError, match="already installed"):
        couple.install(unet)


def test_every_cross_attention_layer_gets_the_processor(unet: Any) -> None:
    names = cross_attention_layers(unet)
    assert names
    assert all(name.endswith("attn2.processor") for name in names)
    with DiffusersCouple([torch.randn(1, 77, CONTEXT_DIM)], torch.ones(1, 64, 64)).applied(unet):
        processors = unet.attn_processors
        assert {type(processors[n]).__name__ for n in names} == {"RegionalAttnProcessor"}
        assert all(
            type(p).__name__ != "RegionalAttnProcessor" for n, p in processors.items() if n not in names
        )
