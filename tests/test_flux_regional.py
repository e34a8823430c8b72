"""Regions on a tiny random-weight diffusers FluxTransformer2DModel, through hosts/flux_regional.py."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from diffusers import FluxTransformer2DModel
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.joint_attention import JointControls
from lib_couple.demo.flux_sampling import unpack_latents
from lib_couple.errors import CoupleError
from lib_couple.hosts.flux_regional import RegionalFluxProcessor, regional_predictor, regional_processors
from lib_couple.hosts.forge.patchers.flux import FluxCouple
from lib_couple.walk.flux import pack_latents, transformer_inputs

WIDTH = 32  # T5-like context width


@pytest.fixture(scope="module")
def transformer() -> FluxTransformer2DModel:
    torch.manual_seed(0)
    model = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=WIDTH,
        pooled_projection_dim=8,
        guidance_embeds=False,
        axes_dims_rope=(4, 6, 6),
    )
    return model.eval().requires_grad_(False)


def plain(model: FluxTransformer2DModel, latents: torch.Tensor, context: torch.Tensor, pooled: torch.Tensor):
    t = torch.tensor(0.7)
    tokens = model(**transformer_inputs({"crossattn": context, "vector": pooled}, latents, t))[0]
    return unpack_latents(tokens, latents.shape[-2], latents.shape[-1])


def regional(
    model: FluxTransformer2DModel,
    latents: torch.Tensor,
    context: torch.Tensor,
    pooled: torch.Tensor,
    region_set: RegionSet,
    controls: JointControls,
) -> torch.Tensor:
    """The patched call on rows [uncond; cond], as the demo sampler makes it."""
    couple = FluxCouple([region_set], None, controls, lambda share: 1.0 - share)
    with regional_processors(model, couple.current):
        return regional_predictor(model, couple)(
            latents, torch.tensor(0.7), {"crossattn": context, "vector": pooled}
        )


def inputs(batch: int, height: int, width: int, seed: int = 1) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(2 * batch, 4, height, width, generator=generator)
    context = torch.randn(2 * batch, 12, WIDTH, generator=generator)
    pooled = torch.randn(2 * batch, 8, generator=generator)
    return latents, context, pooled


@given(
    batch=st.integers(1, 2),
    height=st.sampled_from([2, 4, 6]),
    width=st.sampled_from([2, 4, 8]),
    image_attention=st.sampled_from(["free", "region"]),
)
@settings(max_examples=12, deadline=None)
def test_one_full_region_with_the_whole_prompt_equals_the_unpatched_model(
    transformer: FluxTransformer2DModel,
    batch: int,
    height: int,
    width: int,
    image_attention: Any,
) -> None:
    latents, context, pooled = inputs(batch, height, width)
    context[batch:] = context[batch]  # one cond line for the whole batch, as the standalone makes it
    region_set = RegionSet([context[batch : batch + 1]], torch.ones(1, 8 * height, 8 * width))
    # every block masked: an unmasked block would see the line twice (own text and region text)
    controls = JointControls(steps=1.0, image_attention=image_attention)
    patched = regional(transformer, latents, context, pooled, region_set, controls)
    torch.testing.assert_close(patched, plain(transformer, latents, context, pooled), atol=2e-5, rtol=1e-4)


def test_with_region_attention_each_half_is_the_model_on_that_half_with_its_own_line(
    transformer: FluxTransformer2DModel,
) -> None:
    """The direct per-region reference: with image tokens kept in their regions, the left half is the
    plain model on the left half alone with the left line as its only text, and likewise the right."""
    height, width = 4, 8
    latents, context, pooled = inputs(1, height, width, seed=3)
    generator = torch.Generator().manual_seed(4)
    lines = [torch.randn(1, n, WIDTH, generator=generator) for n in (5, 9)]
    masks = torch.zeros(2, 8 * height, 8 * width)
    masks[0, :, : 4 * width], masks[1, :, 4 * width :] = 1.0, 1.0
    region_set = RegionSet(lines, masks)
    controls = JointControls(steps=1.0, image_attention="region")
    patched = regional(transformer, latents, context, pooled, region_set, controls)
    half = width // 2
    for number, columns in enumerate((slice(0, half), slice(half, width))):
        crop = latents[1:, :, :, columns]
        ids = torch.zeros(height // 2, half // 2, 3)
        ids[..., 1] = torch.arange(height // 2)[:, None]
        ids[..., 2] = torch.arange(half // 2)[None, :] + (columns.start // 2)
        tokens = transformer(
            hidden_states=pack_latents(crop),
            encoder_hidden_states=lines[number],
            pooled_projections=pooled[1:],
            timestep=torch.tensor([0.7]),
            img_ids=ids.reshape(-1, 3),
            txt_ids=torch.zeros(lines[number].shape[1], 3),
            return_dict=False,
        )[0]
        reference = unpack_latents(tokens, height, half)
        torch.testing.assert_close(patched[1:, :, :, columns], reference, atol=2e-5, rtol=1e-4)
    # the uncond row is the plain model's on the whole image
    torch.testing.assert_close(
        patched[:1], plain(transformer, latents[:1], context[:1], pooled[:1]), atol=2e-5, rtol=1e-4
    )


def test_regions_change_the_image_and_a_zero_share_does_not(transformer: FluxTransformer2DModel) -> None:
    latents, context, pooled = inputs(1, 4, 4, seed=5)
    generator = torch.Generator().manual_seed(6)
    masks = torch.zeros(2, 32, 32)
    masks[0, :, :16], masks[1, :, 16:] = 1.0, 1.0
    region_set = RegionSet([torch.randn(1, 6, WIDTH, generator=generator) for _ in range(2)], masks)
    reference = plain(transformer, latents, context, pooled)
    on = regional(transformer, latents, context, pooled, region_set, JointControls(steps=1.0))
    off = regional(transformer, latents, context, pooled, region_set, JointControls(steps=0.0))
    assert float((on[1:] - reference[1:]).abs().max()) > 1e-3
    torch.testing.assert_close(on[:1], reference[:1], atol=2e-5, rtol=1e-4)  # uncond stays plain
    torch.testing.assert_close(off, reference)


class BoomError(Exception):
    pass


@pytest.mark.parametrize("error", [BoomError, KeyboardInterrupt])
def test_processors_are_restored_after_the_block_an_error_or_an_interrupt(
    transformer: FluxTransformer2DModel, error: type[BaseException]
) -> None:
    before = dict(transformer.attn_processors)
    region_set = RegionSet([torch.zeros(1, 4, WIDTH)], torch.ones(1, 32, 32))
    couple = FluxCouple([region_set], None, JointControls(), lambda share: 1.0 - share)
    with regional_processors(transformer, couple.current):
        inside = transformer.attn_processors
        assert all(isinstance(p, RegionalFluxProcessor) for p in inside.values())
        assert sorted(p.index for p in inside.values()) == [0, 1, 2, 3]
    assert transformer.attn_processors == before
    with pytest.raises(error), regional_processors(transformer, couple.current):
        raise error()
    after = transformer.attn_processors
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)


def test_nested_installation_is_refused(transformer: FluxTransformer2DModel) -> None:
    region_set = RegionSet([torch.zeros(1, 4, WIDTH)], torch.ones(1, 32, 32))
    couple = FluxCouple([region_set], None, JointControls(), lambda share: 1.0 - share)
    with (
        regional_processors(transformer, couple.current),
        pytest.raises(CoupleError, match="already has regional processors"),
        regional_processors(transformer, couple.current),
    ):
        pass
    assert not any(isinstance(p, RegionalFluxProcessor) for p in transformer.attn_processors.values())
