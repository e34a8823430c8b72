"""Extra check through Neo's own `backend/nn/anima.py` (from the fetched Neo snapshot, with stubs
for its host imports). Skips where the snapshot or einops is absent (CI: no network)."""

from __future__ import annotations

import types
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from lib_couple.attention.couple import RegionSet
from lib_couple.hosts.forge.patchers import PatchRequest, anima
from tests.doubles.host_sources import NEO, host_source, modules_in_place
from tests.test_anima_patcher import FakePatcher

pytest.importorskip("einops")


def _attention(q: Any, k: Any, v: Any, heads: int, skip_reshape: bool = False, **_: Any) -> torch.Tensor:
    b, h, n, d = q.shape  # Neo calls it with [B, H, S, D] and skip_reshape=True
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, h * d)


def _load_neo_anima() -> Any:
    source = host_source(NEO, "webui/backend/nn/anima.py")
    stubs: dict[str, dict[str, Any]] = {
        "comfy_kitchen": {"apply_rope_split_half": lambda q, k, rope: (q, k)},
        "torchvision": {},  # used only with a padding mask, which these calls do not pass
        "torchvision.transforms": {
            "InterpolationMode": types.SimpleNamespace(NEAREST=0),
            "functional": types.SimpleNamespace(),
        },
        "backend": {},
        "backend.args": {"dynamic_args": types.SimpleNamespace(ref_latents=[])},
        "backend.attention": {"attention_function": _attention},
        "backend.memory_management": {"is_device_mps": lambda device: False},
        "backend.operations": {"scaled_dot_product_attention": F.scaled_dot_product_attention},
        "backend.utils": {"pad_to_patch_size": _pad},
    }
    modules = {name: types.ModuleType(name) for name in stubs}
    for name, attrs in stubs.items():
        modules[name].__dict__.update(attrs)
    neo = types.ModuleType("neo_anima")
    with modules_in_place(modules):
        exec(compile(source, "neo/backend/nn/anima.py", "exec"), neo.__dict__)
    return neo


def _pad(
    img: torch.Tensor, patch_size: tuple[int, ...] = (2, 2), padding_mode: str = "circular"
) -> torch.Tensor:
    pad: tuple[int, ...] = ()
    for i in range(img.ndim - 2):
        pad = (0, (patch_size[i] - img.shape[i + 2] % patch_size[i]) % patch_size[i], *pad)
    return F.pad(img, pad, mode=padding_mode)


@torch.no_grad()
def test_neo_anima_patched_equals_direct_reference_and_is_unpatched_after() -> None:
    neo = _load_neo_anima()
    torch.manual_seed(0)
    model = neo.Anima(
        4, 4, 2, 1, model_channels=32, crossattn_emb_channels=24, adaln_lora_dim=8, num_blocks=2, num_heads=2
    ).eval()
    originals = [b.cross_attn for b in model.blocks]
    keys = set(model.state_dict())
    x, t = torch.randn(2, 4, 1, 8, 8), torch.rand(2)
    context = torch.randn(2, 6, 24)
    conds = [torch.randn(1, 5, 24), torch.randn(1, 7, 24)]
    masks = torch.zeros(2, 4, 4)
    masks[0, :, :2], masks[1, :, 2:] = 1, 1
    unet = FakePatcher(model)
    patched = anima.patch(unet, PatchRequest([RegionSet(conds, masks)], [0, 0]))
    patched.unet.patch_model()
    assert set(model.state_dict()) == keys
    out = patched.unet.model_options["model_function_wrapper"](
        model, {"input": x, "timestep": t, "c": {"context": context}, "cond_or_uncond": [0]}
    )
    patched.clear()
    assert [b.cross_attn for b in model.blocks] == originals

    # Direct reference: each block's cross_attn forward replaced by the per-region pick.
    left = (masks[0].flatten() > 0)[None, :, None]
    for block in model.blocks:
        attn = block.cross_attn
        plain = attn.forward
        attn.forward = lambda h, c, plain=plain, **kw: torch.where(
            left, plain(h, conds[0].expand(2, -1, -1), **kw), plain(h, conds[1].expand(2, -1, -1), **kw)
        )
    reference = model(x, t, context)
    for block in model.blocks:
        del block.cross_attn.forward
    assert torch.allclose(out, reference, atol=1e-5)
    assert not torch.allclose(model(x, t, context), reference, atol=1e-4)
