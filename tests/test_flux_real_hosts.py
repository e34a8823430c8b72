"""Opt-in: the couple through the hosts' own Flux code (never copied here), each with a tiny config.

    FORGE_COUPLE_FORGE_FLUX=<forge>/backend/nn/flux.py FORGE_COUPLE_NEO_FLUX=<neo>/backend/nn/flux.py \\
        pytest tests/test_flux_real_hosts.py

The host's `flux.py` is imported with small stand-ins for the `backend` modules it imports (SDPA
attention that takes a mask, the fp16 clip, padding), plus `comfy_kitchen`'s rope for Neo and
`einops`, which must be installed. Skipped without the variables.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import types
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.joint_attention import JointControls, joint_mask, plain_mask
from lib_couple.hosts.forge.patchers import PatchRequest, flux
from lib_couple.params import CoupleParams
from lib_couple.token_masks import patch_token_weights
from tests.doubles.flux_model import FluxPatcher, Predictor
from tests.doubles.host_sources import modules_in_place


def _attention_function(q: Any, k: Any, v: Any, heads: int, mask: Any = None, **kwargs: Any) -> Any:
    b, h, n, d = q.shape
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(b, n, h * d)


def _rotate(x: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    pairs = x.float().reshape(*x.shape[:-1], -1, 1, 2)
    return (pe[..., 0] * pairs[..., 0] + pe[..., 1] * pairs[..., 1]).reshape(*x.shape).type_as(x)


def _pad(img: torch.Tensor, patch_size: Any = (2, 2), padding_mode: str = "circular") -> torch.Tensor:
    return F.pad(
        img, (0, -img.shape[-1] % patch_size[1], 0, -img.shape[-2] % patch_size[0]), mode=padding_mode
    )


def _stand_ins() -> dict[str, types.ModuleType]:
    modules = {
        name: types.ModuleType(name)
        for name in (
            "backend",
            "backend.attention",
            "backend.utils",
            "backend.memory_management",
            "backend.args",
            "comfy_kitchen",
        )
    }
    modules["backend.attention"].attention_function = _attention_function  # type: ignore[attr-defined]
    utils = modules["backend.utils"]
    utils.fp16_fix = lambda x: x.clip(-32768.0, 32768.0) if x.dtype == torch.float16 else x  # type: ignore[attr-defined]
    utils.tensor2parameter = lambda x: torch.nn.Parameter(x, requires_grad=False)  # type: ignore[attr-defined]
    utils.pad_to_patch_size = _pad  # type: ignore[attr-defined]
    memory = modules["backend.memory_management"]
    memory.is_device_mps = lambda device: False  # type: ignore[attr-defined]
    memory.is_intel_xpu = memory.is_directml_enabled = lambda: False  # type: ignore[attr-defined]
    modules["backend.args"].dynamic_args = types.SimpleNamespace(ref_latents=None)  # type: ignore[attr-defined]
    modules["backend"].memory_management = memory  # type: ignore[attr-defined]
    kitchen = modules["comfy_kitchen"]
    kitchen.apply_rope = lambda q, k, pe: (_rotate(q, pe), _rotate(k, pe))  # type: ignore[attr-defined]
    kitchen.apply_rope1 = _rotate  # type: ignore[attr-defined]
    return modules


@pytest.fixture
def host_flux(request: pytest.FixtureRequest) -> Iterator[Any]:
    path = os.environ.get(request.param)
    if not path:
        pytest.skip(f"{request.param} is not set")
    pytest.importorskip("einops")
    with modules_in_place(_stand_ins()):
        spec = importlib.util.spec_from_file_location("host_flux", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


class _KModel(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.diffusion_model = model
        self.predictor = Predictor()

    def apply_model(
        self, x: Any, t: Any, c_crossattn: Any, y: Any, transformer_options: Any = None, **kw: Any
    ) -> Any:
        return self.diffusion_model(
            x, t, c_crossattn, y, transformer_options=copy.copy(transformer_options or {}), **kw
        )


def _model(module: Any) -> FluxPatcher:
    torch.manual_seed(0)
    config: dict[str, Any] = dict(
        in_channels=16,
        vec_in_dim=8,
        context_in_dim=24,
        hidden_size=64,
        mlp_ratio=2.0,
        num_heads=4,
        depth=2,
        depth_single_blocks=3,
        axes_dim=[4, 6, 6],
        theta=10000,
        qkv_bias=True,
        guidance_embed=False,
    )
    try:
        model = module.IntegratedFluxTransformer2DModel(**config)
    except TypeError:  # Neo's signature: out_channels and patch_size too
        model = module.IntegratedFluxTransformer2DModel(**config, out_channels=16, patch_size=2)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return FluxPatcher(_KModel(model.eval()))  # type: ignore[arg-type]


@pytest.mark.parametrize("host_flux", ["FORGE_COUPLE_FORGE_FLUX", "FORGE_COUPLE_NEO_FLUX"], indirect=True)
@pytest.mark.parametrize(("h", "w"), [(8, 12), (7, 9)])
@pytest.mark.parametrize(
    "params",
    [
        CoupleParams(flux_steps=1.0),
        CoupleParams(flux_steps=1.0, flux_image_attention="region", flux_global_everywhere=True),
    ],
)
@torch.no_grad()
def test_the_hosts_flux_patched_equals_a_direct_reference_and_is_unpatched_after(
    host_flux: Any, h: int, w: int, params: CoupleParams
) -> None:
    controls = params.joint_controls()  # the script arguments as the runner hands them over
    unet = _model(host_flux)
    g = torch.Generator().manual_seed(1)
    x, ctx, y = (
        torch.randn(2, 16, h, w, generator=g),
        torch.randn(2, 5, 24, generator=g),
        torch.randn(2, 8, generator=g),
    )
    whole = RegionSet([ctx[:1]], torch.ones(1, 8 * h, 8 * w))
    same = flux.patch(unet, PatchRequest([whole], [0, 0], controls=JointControls(steps=1.0))).unet
    c1 = ctx[:1].expand(2, -1, -1)
    torch.testing.assert_close(
        same.run(x, 1.0, c1, y, [0]), unet.run(x, 1.0, c1, y, [0]), atol=1e-4, rtol=1e-3
    )
    gw = (w + 1) // 2
    masks = torch.zeros(2, 8 * h, 8 * w)
    masks[0, :, : 16 * (gw // 2)] = 1
    masks[1, :, 16 * (gw // 2) :] = 1
    regions = RegionSet([torch.randn(1, 3, 24, generator=g), torch.randn(1, 4, 24, generator=g)], masks)
    out = flux.patch(unet, PatchRequest([regions], [0], controls=controls)).unet.run(x, 1.0, ctx, y, [1, 0])
    mask = joint_mask(
        patch_token_weights(masks, (h, w)),
        [3, 4],
        5,
        has_fallback=False,
        image_attention=params.flux_image_attention,
        global_everywhere=params.flux_global_everywhere,
    )
    rows = torch.stack([plain_mask(5, 12, ((h + 1) // 2) * gw), mask])[:, None]
    extended = torch.cat([ctx, torch.cat([torch.zeros(1, 7, 24), torch.cat(regions.conds, 1)])], 1)
    original = host_flux.attention
    if "mask" not in original.__code__.co_varnames:  # lllyasviel Forge: no mask argument, reference only
        host_flux.attention = lambda q, k, v, pe: _attention_function(
            *_rotate_pair(q, k, pe), v, 0, mask=rows
        )
    try:
        reference = unet.model.apply_model(x, torch.full((2,), 1.0), extended, y, attention_mask=rows)
    finally:
        host_flux.attention = original
    torch.testing.assert_close(out, reference, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(out[:1], unet.run(x[:1], 1.0, ctx[:1], y[:1], [1]), atol=1e-4, rtol=1e-3)
    blocks = unet.model.diffusion_model.double_blocks
    assert all(type(b).__name__ == "DoubleStreamBlock" for b in blocks)
    assert "patches_replace" not in unet.model_options["transformer_options"]


def _rotate_pair(q: torch.Tensor, k: torch.Tensor, pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _rotate(q, pe), _rotate(k, pe)
