"""A tiny random-weight Flux-shaped transformer in the two forms the hosts have, and a patcher.

Written from FORGE_FACTS section 5 and NEO_FACTS (not from either host's code):
- lllyasviel Forge: blocks `forward(img, txt, vec, pe)` / `forward(x, vec, pe)` call a module-level
  `attention(q, k, v, pe)` with no mask; the model's forward swallows `transformer_options`;
- Neo: blocks take `attn_mask` and `transformer_options`; the model reads
  `patches_replace["dit"][("double_block", i)]` / `[("single_block", i)]`, which get
  `(args, {"original_block": fn})`;
- tokens `[txt, img]`, the latent circular-padded to even size and patchified 2 x 2 row-major, text
  positions all zero; the patcher's object patches are set on the model for a run and put back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# What the model's attention is: tests swap in a direct reference through this attribute.
Attention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def rope_table(ids: torch.Tensor, axes: tuple[int, ...], theta: float = 10_000.0) -> torch.Tensor:
    """`[B, 1, L, D/2, 2, 2]` rotations from positions `[B, L, n_axes]`."""
    parts = []
    for axis, dim in enumerate(axes):
        freqs = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        angle = ids[..., axis].double()[..., None] * freqs
        cos, sin = torch.cos(angle), torch.sin(angle)
        parts.append(torch.stack([cos, -sin, sin, cos], dim=-1).view(*angle.shape, 2, 2))
    return torch.cat(parts, dim=-3).float()[:, None]


def rotate(x: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    pairs = x.float().reshape(*x.shape[:-1], -1, 1, 2)
    return (pe[..., 0] * pairs[..., 0] + pe[..., 1] * pairs[..., 1]).reshape(x.shape).type_as(x)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    """Forge's form: no mask."""
    return _merge(sdpa(rotate(q, pe), rotate(k, pe), v, None))


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class QKNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query_norm = nn.RMSNorm(dim, eps=1e-6)
        self.key_norm = nn.RMSNorm(dim, eps=1e-6)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.query_norm(q), self.key_norm(k)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.norm = QKNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)


class Modulation(nn.Module):
    def __init__(self, dim: int, parts: int) -> None:
        super().__init__()
        self.parts = parts
        self.lin = nn.Linear(dim, parts * dim)

    def forward(self, vec: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.lin(F.silu(vec))[:, None, :].chunk(self.parts, dim=-1))


def _split(qkv: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, n, _ = qkv.shape
    q, k, v = qkv.view(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4)
    return q, k, v


class Attend:
    """The attention blocks call when they stand outside a model (the bench)."""

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pe: torch.Tensor, mask: Any
    ) -> torch.Tensor:
        return _merge(sdpa(rotate(q, pe), rotate(k, pe), v, mask))


class DoubleStreamBlock(nn.Module):
    def __init__(self, dim: int, heads: int, owner: Any, mlp: int = 2) -> None:
        super().__init__()
        self.num_heads, self.hidden_size = heads, dim
        self.__dict__["owner"] = owner
        for side in ("img", "txt"):
            self.add_module(f"{side}_mod", Modulation(dim, 6))
            self.add_module(f"{side}_norm1", nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6))
            self.add_module(f"{side}_attn", SelfAttention(dim, heads))
            self.add_module(f"{side}_norm2", nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6))
            self.add_module(
                f"{side}_mlp",
                nn.Sequential(nn.Linear(dim, mlp * dim), nn.GELU("tanh"), nn.Linear(mlp * dim, dim)),
            )

    def run(
        self, img: torch.Tensor, txt: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor, mask: Any
    ) -> Any:
        out = {}
        qkvs = {}
        for side, x in (("img", img), ("txt", txt)):
            mod = getattr(self, f"{side}_mod")(vec)
            attn = getattr(self, f"{side}_attn")
            q, k, v = _split(
                attn.qkv((1 + mod[1]) * getattr(self, f"{side}_norm1")(x) + mod[0]), self.num_heads
            )
            q, k = attn.norm(q, k, v)
            qkvs[side] = (q, k, v, mod)
        q, k, v = (torch.cat([qkvs["txt"][i], qkvs["img"][i]], dim=2) for i in range(3))
        joint = self.__dict__["owner"].attend(q, k, v, pe, mask)
        text = txt.shape[1]
        for side, x, part in (("img", img, joint[:, text:]), ("txt", txt, joint[:, :text])):
            mod = qkvs[side][3]
            x = x + mod[2] * getattr(self, f"{side}_attn").proj(part)
            x = x + mod[5] * getattr(self, f"{side}_mlp")(
                (1 + mod[4]) * getattr(self, f"{side}_norm2")(x) + mod[3]
            )
            out[side] = x
        return out["img"], out["txt"]

    def forward(self, img: torch.Tensor, txt: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor) -> Any:
        return self.run(img, txt, vec, pe, None)


class SingleStreamBlock(nn.Module):
    def __init__(self, dim: int, heads: int, owner: Any, mlp: int = 2) -> None:
        super().__init__()
        self.num_heads, self.hidden_size, self.mlp_hidden_dim = heads, dim, mlp * dim
        self.__dict__["owner"] = owner
        self.linear1 = nn.Linear(dim, 3 * dim + mlp * dim)
        self.linear2 = nn.Linear(dim + mlp * dim, dim)
        self.norm = QKNorm(dim // heads)
        self.pre_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp_act = nn.GELU("tanh")
        self.modulation = Modulation(dim, 3)

    def run(self, x: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor, mask: Any) -> torch.Tensor:
        shift, scale, gate = self.modulation(vec)
        qkv, mlp = self.linear1((1 + scale) * self.pre_norm(x) + shift).split(
            [3 * self.hidden_size, self.mlp_hidden_dim], -1
        )
        q, k, v = _split(qkv, self.num_heads)
        q, k = self.norm(q, k, v)
        attn = self.__dict__["owner"].attend(q, k, v, pe, mask)
        return x + gate * self.linear2(torch.cat([attn, self.mlp_act(mlp)], dim=2))

    def forward(self, x: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
        return self.run(x, vec, pe, None)


class NeoDoubleStreamBlock(DoubleStreamBlock):
    def forward(
        self,
        img: torch.Tensor,
        txt: torch.Tensor,
        vec: torch.Tensor,
        pe: torch.Tensor,
        attn_mask: Any = None,
        transformer_options: Any = None,
    ) -> Any:
        return self.run(img, txt, vec, pe, attn_mask)


class NeoSingleStreamBlock(SingleStreamBlock):
    def forward(
        self,
        x: torch.Tensor,
        vec: torch.Tensor,
        pe: torch.Tensor,
        attn_mask: Any = None,
        transformer_options: Any = None,
    ) -> torch.Tensor:
        return self.run(x, vec, pe, attn_mask)


class TinyFlux(nn.Module):
    """Flux's layout at toy width: 16 latent channels, 2x2 patches, [txt, img], double then single."""

    def __init__(
        self,
        neo: bool = False,
        dim: int = 32,
        heads: int = 4,
        context: int = 24,
        vec: int = 8,
        doubles: int = 2,
        singles: int = 3,
    ) -> None:
        super().__init__()
        self.neo, self.heads, self.axes = neo, heads, (2, 2, 4)
        assert sum(self.axes) == dim // heads
        self.attention_override: Attention | None = None
        self.img_in = nn.Linear(64, dim)
        self.txt_in = nn.Linear(context, dim)
        self.time_in = nn.Linear(1, dim)
        self.vector_in = nn.Linear(vec, dim)
        double, single = (
            (NeoDoubleStreamBlock, NeoSingleStreamBlock) if neo else (DoubleStreamBlock, SingleStreamBlock)
        )
        self.double_blocks = nn.ModuleList([double(dim, heads, self) for _ in range(doubles)])
        self.single_blocks = nn.ModuleList([single(dim, heads, self) for _ in range(singles)])
        self.final = nn.Linear(dim, 64)

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pe: torch.Tensor, mask: Any
    ) -> torch.Tensor:
        q, k = rotate(q, pe), rotate(k, pe)
        if self.attention_override is not None:
            return _merge(self.attention_override(q, k, v, mask))
        return _merge(sdpa(q, k, v, mask))

    def forward(
        self,
        x: torch.Tensor,
        timestep: torch.Tensor,
        context: torch.Tensor,
        y: torch.Tensor,
        transformer_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        b, _, h, w = x.shape
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="circular")
        gh, gw = x.shape[-2] // 2, x.shape[-1] // 2
        img = x.view(b, 16, gh, 2, gw, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, 64)
        rows = torch.arange(gh).repeat_interleave(gw).float()
        cols = torch.arange(gw).repeat(gh).float()
        img_ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=-1)
        ids = torch.cat([torch.zeros(context.shape[1], 3), img_ids])[None].expand(b, -1, -1)
        pe = rope_table(ids, self.axes)
        img, txt = self.img_in(img), self.txt_in(context)
        vec = self.time_in(timestep[:, None].float()) + self.vector_in(y)
        replace = ((transformer_options or {}).get("patches_replace", {}).get("dit", {})) if self.neo else {}
        for i, block in enumerate(self.double_blocks):
            if ("double_block", i) in replace:

                def original(args: dict[str, Any], block: nn.Module = block) -> dict[str, Any]:
                    out = block(
                        img=args["img"],
                        txt=args["txt"],
                        vec=args["vec"],
                        pe=args["pe"],
                        attn_mask=args.get("attn_mask"),
                    )
                    return {"img": out[0], "txt": out[1]}

                out = replace[("double_block", i)](
                    {
                        "img": img,
                        "txt": txt,
                        "vec": vec,
                        "pe": pe,
                        "attn_mask": None,
                        "transformer_options": transformer_options,
                    },
                    {"original_block": original},
                )
                img, txt = out["img"], out["txt"]
            else:
                img, txt = block(img=img, txt=txt, vec=vec, pe=pe)
        seq = torch.cat([txt, img], dim=1)
        for i, block in enumerate(self.single_blocks):
            if ("single_block", i) in replace:

                def original_single(args: dict[str, Any], block: nn.Module = block) -> dict[str, Any]:
                    return {
                        "img": block(
                            args["img"], vec=args["vec"], pe=args["pe"], attn_mask=args.get("attn_mask")
                        )
                    }

                seq = replace[("single_block", i)](
                    {
                        "img": seq,
                        "vec": vec,
                        "pe": pe,
                        "attn_mask": None,
                        "transformer_options": transformer_options,
                    },
                    {"original_block": original_single},
                )["img"]
            else:
                seq = block(seq, vec=vec, pe=pe)
        out = self.final(seq[:, txt.shape[1] :])
        out = out.view(b, gh, gw, 16, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, 16, 2 * gh, 2 * gw)
        return out[:, :, :h, :w]


class Predictor:
    def percent_to_sigma(self, percent: float) -> float:
        return 1.0 - percent


class KModel(nn.Module):
    def __init__(self, diffusion_model: TinyFlux) -> None:
        super().__init__()
        self.diffusion_model = diffusion_model
        self.predictor = Predictor()

    def apply_model(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        c_crossattn: torch.Tensor,
        y: torch.Tensor,
        transformer_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        return self.diffusion_model(x, t, c_crossattn, y, transformer_options=transformer_options)


def _set(obj: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for name in parents:
        obj = getattr(obj, name)
    setattr(obj, last, value)


def _get(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


class FluxPatcher:
    """The UnetPatcher surface the Flux patcher uses, with Forge's object-patch life cycle."""

    def __init__(self, model: KModel) -> None:
        self.model = model
        self.model_options: dict[str, Any] = {"transformer_options": {}}
        self.object_patches: dict[str, Any] = {}

    def clone(self) -> FluxPatcher:
        other = FluxPatcher(self.model)
        other.model_options = copy.deepcopy(self.model_options)
        other.object_patches = dict(self.object_patches)
        return other

    def add_object_patch(self, name: str, obj: Any) -> None:
        self.object_patches[name] = obj

    def set_model_unet_function_wrapper(self, fn: Any) -> None:
        self.model_options["model_function_wrapper"] = fn

    def set_model_patch_replace(self, patch: Any, name: str, block_name: str, number: int) -> None:
        options = self.model_options["transformer_options"]
        options.setdefault("patches_replace", {}).setdefault(name, {})[(block_name, number)] = patch

    def run(
        self, x: torch.Tensor, sigma: float, context: torch.Tensor, y: torch.Tensor, cond_or_uncond: list[int]
    ) -> torch.Tensor:
        """One sampling call as Forge makes it: object patches on, the wrapper, patches off."""
        backup = {k: _get(self.model, k) for k in self.object_patches}
        for k, v in self.object_patches.items():
            _set(self.model, k, v)
        try:
            t = torch.full((x.shape[0],), sigma)
            options = dict(self.model_options["transformer_options"], cond_or_uncond=cond_or_uncond)
            c: dict[str, Any] = {"c_crossattn": context, "y": y, "transformer_options": options}
            wrapper = self.model_options.get("model_function_wrapper")
            if wrapper is not None:
                return wrapper(
                    self.model.apply_model,
                    {"input": x, "timestep": t, "c": c, "cond_or_uncond": cond_or_uncond},
                )
            return self.model.apply_model(x, t, **c)
        finally:
            for k, v in backup.items():
                _set(self.model, k, v)


def make_flux(neo: bool = False, seed: int = 0) -> FluxPatcher:
    torch.manual_seed(seed)
    model = TinyFlux(neo=neo)
    for p in model.parameters():  # gates and modulations large enough that attention matters
        nn.init.normal_(p, std=0.3) if p.ndim > 1 else nn.init.normal_(p, std=0.1)
    return FluxPatcher(KModel(model.eval()))
