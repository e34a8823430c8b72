"""A walk between Flux conditionings drives a tiny random-weight FluxTransformer2DModel."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
from diffusers import FluxTransformer2DModel
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.walk.flux import image_ids, pack_latents, transformer_inputs
from lib_couple.walk.interpolate import equalise_tokens, interpolate_conditioning

T5_DIM, POOLED_DIM = 32, 16


@pytest.fixture(scope="module")
def transformer() -> FluxTransformer2DModel:
    torch.manual_seed(0)
    model = FluxTransformer2DModel(
        in_channels=16,  # 4 latent channels x a 2 x 2 patch
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=8,
        num_attention_heads=2,
        joint_attention_dim=T5_DIM,
        pooled_projection_dim=POOLED_DIM,
        guidance_embeds=True,
        axes_dims_rope=(2, 2, 4),
    )
    return model.eval().requires_grad_(False)


def flux_conditioning(seed: int, tokens: int, guidance: float) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "crossattn": torch.randn(1, tokens, T5_DIM, generator=generator),
        "vector": torch.randn(1, POOLED_DIM, generator=generator),
        "guidance": torch.tensor([guidance]),
    }


def run(model: FluxTransformer2DModel, conditioning: dict[str, torch.Tensor]) -> torch.Tensor:
    latents = torch.randn(2, 4, 8, 12, generator=torch.Generator().manual_seed(7))
    out: torch.Tensor = model(**transformer_inputs(conditioning, latents, torch.tensor([0.5])))[0]
    return out


def test_packing_matches_the_layout_of_the_ids() -> None:
    latents = torch.arange(2 * 4 * 4 * 6, dtype=torch.float32).view(2, 4, 4, 6)
    packed = pack_latents(latents)
    ids = image_ids(4, 6)
    assert packed.shape == (2, 6, 16)
    assert ids.shape == (6, 3)
    token = 4  # row 1, column 1 of the 2 x 3 patch grid
    assert ids[token].tolist() == [0.0, 1.0, 1.0]
    assert torch.equal(packed[0, token].view(4, 2, 2), latents[0, :, 2:4, 2:4])
    with pytest.raises(ValueError, match="must be even"):
        pack_latents(torch.zeros(1, 4, 5, 6))


@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1), tokens_b=st.integers(3, 20))
def test_walked_flux_conditioning_drives_the_transformer(
    transformer: FluxTransformer2DModel, seed: int, tokens_b: int
) -> None:
    a, b = flux_conditioning(seed, 12, guidance=3.5), flux_conditioning(seed + 1, tokens_b, guidance=1.0)
    walk = [interpolate_conditioning(a, b, t / 10, "flux") for t in range(11)]
    outputs = [run(transformer, point) for point in walk]  # type: ignore[arg-type]
    assert all(bool(torch.isfinite(out).all()) for out in outputs)
    assert all(torch.equal(point["guidance"], a["guidance"]) for point in walk)  # type: ignore[index]
    # Endpoints: the walk starts at a and ends at b, with both T5 sequences of one length.
    start_tokens, end_tokens = equalise_tokens(a["crossattn"], b["crossattn"])
    first = run(transformer, {**a, "crossattn": start_tokens})
    last = run(transformer, {**b, "crossattn": end_tokens, "guidance": a["guidance"]})
    torch.testing.assert_close(outputs[0], first, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outputs[-1], last, atol=1e-4, rtol=1e-4)
    # Continuous: no single step of the walk carries most of the change between its ends.
    total = (outputs[-1] - outputs[0]).norm()
    steps = [float((after - before).norm()) for before, after in pairwise(outputs)]
    assert max(steps) < 0.5 * float(total)


def test_guidance_reaches_the_model(transformer: FluxTransformer2DModel) -> None:
    a = flux_conditioning(0, 12, guidance=3.5)
    assert not torch.allclose(run(transformer, a), run(transformer, {**a, "guidance": torch.tensor([1.0])}))
