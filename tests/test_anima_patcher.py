"""Anima regions through a tiny random-weight model shaped after Neo's `backend/nn/anima.py`."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.cross_attention import multihead_attention
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.architectures import architecture_of
from lib_couple.hosts.forge.patchers import PatchRequest, anima

DIM, CTX, HEADS, PATCH, CH = 16, 12, 2, 2, 4


class CrossAttention(nn.Module):
    """The children and call of Neo's SelfCrossAttention in its cross form."""

    def __init__(self) -> None:
        super().__init__()
        self.n_heads, self.head_dim = HEADS, DIM // HEADS
        self.q_proj = nn.Linear(DIM, DIM, bias=False)
        self.q_norm = nn.RMSNorm(self.head_dim, eps=1e-6)
        self.k_proj = nn.Linear(CTX, DIM, bias=False)
        self.k_norm = nn.RMSNorm(self.head_dim, eps=1e-6)
        self.v_proj = nn.Linear(CTX, DIM, bias=False)
        self.v_norm = nn.Identity()
        self.output_proj = nn.Linear(DIM, DIM, bias=False)
        self.output_dropout = nn.Identity()

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, rope_emb: Any = None, transformer_options: Any = None
    ) -> torch.Tensor:
        def heads(t: torch.Tensor, norm: nn.Module) -> torch.Tensor:
            out: torch.Tensor = norm(t.view(*t.shape[:-1], HEADS, DIM // HEADS))
            return out.flatten(-2)

        q, k = heads(self.q_proj(x), self.q_norm), heads(self.k_proj(context), self.k_norm)
        v = heads(self.v_proj(context), self.v_norm)
        out: torch.Tensor = self.output_proj(multihead_attention(q, k, v, HEADS))
        return out


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cross_attn = CrossAttention()

    def forward(self, x: torch.Tensor, context: torch.Tensor, options: Any) -> torch.Tensor:
        b, t, h, w, d = x.shape
        out = self.cross_attn(x.reshape(b, t * h * w, d), context, None, transformer_options=options)
        return x + out.reshape(b, t, h, w, d)


class TinyAnima(nn.Module):
    def __init__(self, blocks: int = 2) -> None:
        super().__init__()
        self.patch_spatial = PATCH
        self.x_embedder = nn.Linear(CH * PATCH * PATCH, DIM, bias=False)
        self.blocks = nn.ModuleList([Block() for _ in range(blocks)])

    def forward(self, x: torch.Tensor, timesteps: Any, context: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        b, c, h, w = x.shape
        x = nn.functional.pad(x, (0, -w % PATCH, 0, -h % PATCH), mode="circular")
        hp, wp = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        tokens = x.reshape(b, c, hp, PATCH, wp, PATCH).permute(0, 2, 4, 1, 3, 5).reshape(b, 1, hp, wp, -1)
        y = self.x_embedder(tokens)
        for block in self.blocks:
            y = block(y, context, kwargs.get("transformer_options", {}))
        return y


class FakePatcher:
    """The parts of Neo's ModelPatcher the patcher uses (object patches applied on load)."""

    def __init__(self, model: TinyAnima, backups: dict[str, Any] | None = None) -> None:
        self.model = nn.Module()
        self.model.diffusion_model = model
        self.model_options: dict[str, Any] = {"transformer_options": {}}
        self.object_patches: dict[str, Any] = {}
        self.object_patches_backup = backups if backups is not None else {}

    def clone(self) -> FakePatcher:
        n = FakePatcher(self.model.diffusion_model, self.object_patches_backup)  # type: ignore[arg-type]
        n.object_patches = dict(self.object_patches)
        return n

    def add_object_patch(self, name: str, obj: Any) -> None:
        self.object_patches[name] = obj

    def set_model_unet_function_wrapper(self, wrapper: Any) -> None:
        self.model_options["model_function_wrapper"] = wrapper

    def patch_model(self) -> None:
        for name, obj in self.object_patches.items():
            parent, attr = name.rsplit(".", 1)
            holder = self.model.get_submodule(parent)
            self.object_patches_backup.setdefault(name, getattr(holder, attr))
            setattr(holder, attr, obj)

    def run(self, x: torch.Tensor, context: torch.Tensor, cond_or_uncond: list[int]) -> torch.Tensor:
        model = self.model.get_submodule("diffusion_model")
        c = {"context": context, "transformer_options": {"cond_or_uncond": cond_or_uncond}}
        wrapper = self.model_options.get("model_function_wrapper")
        if wrapper is None:
            out: torch.Tensor = model(x, None, **c)
            return out
        args = {"input": x, "timestep": torch.zeros(x.shape[0]), "c": c, "cond_or_uncond": cond_or_uncond}
        result: torch.Tensor = wrapper(model, args)
        return result


def _setup(h: int = 8, w: int = 8) -> tuple[TinyAnima, FakePatcher, list[torch.Tensor], torch.Tensor]:
    torch.manual_seed(0)
    model = TinyAnima().eval()
    conds = [torch.randn(1, 5, CTX), torch.randn(1, 7, CTX)]
    masks = torch.zeros(2, h // PATCH, w // PATCH)
    masks[0, :, : w // PATCH // 2] = 1
    masks[1, :, w // PATCH // 2 :] = 1
    return model, FakePatcher(model), conds, masks


def _reference(
    model: TinyAnima, x: torch.Tensor, conds: list[torch.Tensor], left: torch.Tensor
) -> torch.Tensor:
    """Each block directly: the original cross-attention per region, picked per token by its mask."""
    b, c, h, w = x.shape
    tokens = x.reshape(b, c, h // PATCH, PATCH, w // PATCH, PATCH).permute(0, 2, 4, 1, 3, 5)
    y = model.x_embedder(tokens.reshape(b, 1, h // PATCH, w // PATCH, -1)).flatten(1, 3)
    for block in model.blocks:
        attn = block.get_submodule("cross_attn")
        outs = [attn(y, cond.expand(b, -1, -1)) for cond in conds]
        y = y + torch.where(left[None, :, None], outs[0], outs[1])
    return y


@torch.no_grad()
def test_patched_equals_direct_per_region_reference_for_cond_rows() -> None:
    model, unet, conds, masks = _setup()
    patched = anima.patch(unet, PatchRequest([RegionSet(conds, masks)], [0, 0]))
    patched.unet.patch_model()
    x = torch.randn(4, CH, 8, 8)
    context = torch.randn(4, 9, CTX)
    out = patched.unet.run(x, context, [0, 1]).flatten(1, 3)
    left = masks[0].flatten() > 0
    assert torch.allclose(out[:2], _reference(model, x[:2], conds, left), atol=1e-5)
    patched.clear()
    plain = unet.run(x, context, [0, 1]).flatten(1, 3)
    assert torch.allclose(out[2:], plain[2:], atol=1e-5)  # uncond rows stay plain
    assert not torch.allclose(out[:2], plain[:2], atol=1e-3)


@torch.no_grad()
def test_one_full_region_with_the_prompt_equals_unpatched() -> None:
    model, unet, _, _ = _setup()
    context = torch.randn(2, 9, CTX)
    x = torch.randn(2, CH, 6, 10)  # pads to the patch grid
    before = unet.run(x, context, [0]).clone()
    patched = anima.patch(unet, PatchRequest([RegionSet([context[:1]], torch.ones(1, 3, 5))], [0, 0]))
    patched.unet.patch_model()
    same = torch.allclose(
        patched.unet.run(x[:1].expand(2, -1, -1, -1), context[:1].expand(2, -1, -1), [0]),
        unet.run(x[:1].expand(2, -1, -1, -1), context[:1].expand(2, -1, -1), [0]),
        atol=1e-5,
    )
    patched.clear()
    assert same
    assert torch.equal(unet.run(x, context, [0]), before)


@torch.no_grad()
def test_state_dict_keys_unchanged_and_restored_by_clear_even_after_an_error() -> None:
    model, unet, conds, masks = _setup()
    keys = set(model.state_dict())
    originals = [b.cross_attn for b in model.blocks]
    patched = anima.patch(unet, PatchRequest([RegionSet(conds, masks)], [0]))
    patched.unet.patch_model()
    assert set(model.state_dict()) == keys
    assert all(isinstance(b.cross_attn, anima.RegionalCrossAttention) for b in model.blocks)
    with pytest.raises(CoupleError):
        patched.unet.run(torch.randn(1, CH, 8, 12), torch.randn(1, 9, CTX), [0, 1])  # 1 row, 2 chunks
    patched.clear()
    assert [b.cross_attn for b in model.blocks] == originals
    assert not unet.object_patches_backup


def test_anima_row_points_to_this_patcher() -> None:
    config = type("Config", (), {"huggingface_repo": "circlestone-labs/Anima"})()
    row = architecture_of(type("Anima", (), {"model_config": config})())
    assert row is not None
    assert row.patcher == "anima"
    assert row.supports_regions


class TinyAnimaWithReference(TinyAnima):
    """Neo's reference latents: one more frame of tokens beside the generated one."""

    def forward(self, x: torch.Tensor, timesteps: Any, context: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return super().forward(torch.cat([x, x.flip(-1)], dim=-2), timesteps, context, **kwargs)


@torch.no_grad()
def test_reference_frames_run_without_regions_and_say_so(caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    model = TinyAnimaWithReference().eval()
    unet = FakePatcher(model)
    masks = torch.zeros(2, 4, 4)
    masks[0, :, :2], masks[1, :, 2:] = 1, 1
    conds = [torch.randn(1, 5, CTX), torch.randn(1, 7, CTX)]
    x, context = torch.randn(1, CH, 8, 8), torch.randn(1, 9, CTX)
    plain = unet.run(x, context, [0])
    patched = anima.patch(unet, PatchRequest([RegionSet(conds, masks)], [0]))
    patched.unet.patch_model()
    with caplog.at_level("WARNING", logger="forge_couple"):
        out = patched.unet.run(x, context, [0])  # the blocks see two frames
    patched.clear()
    assert torch.allclose(out, plain, atol=1e-6)
    assert sum("without regions" in r.message for r in caplog.records) == 1
