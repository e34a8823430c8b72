import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.walk.interpolate import (
    SDXL_POOLED,
    equalise_tokens,
    interpolate_conditioning,
    lerp,
    slerp,
    slerp_flat,
)

ts = st.floats(0.0, 1.0)
seeds = st.integers(0, 2**31 - 1)


def pair(seed, shape=(3, 5, 8)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(
        shape, generator=g, dtype=torch.float64
    )


@given(seeds)
def test_endpoints_exact(seed):
    a, b = pair(seed)
    for f in (lerp, slerp, slerp_flat):
        assert torch.equal(f(a, b, 0.0), a)
        assert torch.equal(f(a, b, 1.0), b)


@given(seeds, ts)
def test_slerp_unit_vectors_stay_unit(seed, t):
    a, b = pair(seed)
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    norms = slerp(a, b, t).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


@given(seeds, ts)
def test_slerp_symmetric(seed, t):
    a, b = pair(seed)
    torch.testing.assert_close(slerp(a, b, t), slerp(b, a, 1.0 - t))


@given(seeds, ts, st.floats(-3.0, 3.0).filter(lambda s: abs(s) > 1e-3))
def test_zero_and_parallel_vectors_no_nan(seed, t, scale):
    a, _ = pair(seed)
    zero = torch.zeros_like(a)
    for x, y in ((a, zero), (zero, a), (zero, zero), (a, a * scale), (a, a.clone())):
        out = slerp(x, y, t)
        assert not torch.isnan(out).any()
        torch.testing.assert_close(out, lerp(x, y, t))


def test_equalise_repeats_whole_chunks_and_pads_with_last_token():
    a = torch.randn(1, 77, 4)
    b = torch.randn(1, 154, 4)
    ea, eb = equalise_tokens(a, b)
    assert torch.equal(ea, torch.cat([a, a], dim=1))
    assert eb is b
    flux_a, flux_b = torch.randn(1, 256, 4), torch.randn(1, 300, 4)
    fa, fb = equalise_tokens(flux_a, flux_b)
    assert fa.shape == fb.shape == (1, 300, 4)
    assert torch.equal(fa[:, 256:], flux_a[:, -1:].expand(1, 44, 4))
    assert fa.abs().sum(-1).min() > 0  # no zero rows


def test_sd15_unequal_lengths():
    out = interpolate_conditioning(torch.randn(1, 77, 768), torch.randn(1, 154, 768), 0.5, "sd15")
    assert isinstance(out, torch.Tensor)
    assert out.shape == (1, 154, 768)


def sdxl(seed, sizes):
    g = torch.Generator().manual_seed(seed)
    pooled = torch.randn(2, SDXL_POOLED, generator=g)
    return {"crossattn": torch.randn(2, 77, 2048, generator=g), "vector": torch.cat([pooled, sizes], dim=-1)}


@settings(max_examples=20)
@given(seeds, ts)
def test_sdxl_size_embeddings_not_inflated(seed, t):
    sizes = torch.rand(2, 1536) * 3
    out = interpolate_conditioning(sdxl(seed, sizes), sdxl(seed + 1, sizes), t, "sdxl")
    assert isinstance(out, dict)
    assert out["vector"].shape == (2, 2816)
    assert torch.equal(out["vector"][:, SDXL_POOLED:], sizes)


def test_sdxl_sizes_lerped_when_asked():
    a, b = sdxl(0, torch.zeros(2, 1536)), sdxl(1, torch.ones(2, 1536))
    out = interpolate_conditioning(a, b, 0.25, "sdxl", scalars="lerp")
    assert isinstance(out, dict)
    torch.testing.assert_close(out["vector"][:, SDXL_POOLED:], torch.full((2, 1536), 0.25))


def flux(seed, guidance, length=256):
    g = torch.Generator().manual_seed(seed)
    return {
        "crossattn": torch.randn(1, length, 64, generator=g),
        "vector": torch.randn(1, 768, generator=g),
        "guidance": torch.tensor([guidance]),
    }


@settings(max_examples=20)
@given(seeds, ts)
def test_flux_guidance_kept_or_lerped_never_slerped(seed, t):
    a, b = flux(seed, 3.5), flux(seed + 1, 1.5, length=300)
    kept = interpolate_conditioning(a, b, t, "flux")
    assert isinstance(kept, dict)
    assert torch.equal(kept["guidance"], a["guidance"])
    assert kept["crossattn"].shape == (1, 300, 64)
    lerped = interpolate_conditioning(a, b, t, "flux", scalars="lerp")
    assert isinstance(lerped, dict)
    torch.testing.assert_close(lerped["guidance"], torch.tensor([3.5 + (1.5 - 3.5) * t]))


def test_flux_per_token_slerp_matches_slerp():
    a, b = flux(0, 3.5), flux(1, 3.5)
    out = interpolate_conditioning(a, b, 0.3, "flux")
    assert isinstance(out, dict)
    torch.testing.assert_close(out["crossattn"], slerp(a["crossattn"], b["crossattn"], 0.3))
    torch.testing.assert_close(out["vector"], slerp(a["vector"], b["vector"], 0.3))


def test_mismatched_kinds_rejected():
    with pytest.raises(ValueError, match="different keys"):
        interpolate_conditioning(
            flux(0, 1.0), {"crossattn": torch.zeros(1, 256, 64), "vector": torch.zeros(1, 768)}, 0.5, "flux"
        )
    with pytest.raises(TypeError):
        interpolate_conditioning(torch.zeros(1, 77, 8), flux(0, 1.0), 0.5, "sd15")
    with pytest.raises(ValueError, match="unknown"):
        interpolate_conditioning(flux(0, 1.0), flux(1, 1.0), 0.5, "sdxl")
