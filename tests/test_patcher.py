"""The Forge patcher adapter through a double of Forge's patch contract."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from bench.naive_couple import NaiveCouple
from lib_couple.attention.cross_attention import multihead_attention
from lib_couple.errors import CoupleError
from lib_couple.grid import token_grid
from lib_couple.hosts.patcher import AttentionCouple, find_cross_attention_layers
from lib_couple.token_masks import token_weights
from tests.doubles.forge_unet import ModelPatcher, make_patcher, run_unet

CONTEXT_DIM = 24


def columns(height: int, width: int, cuts: list[float], weights: list[float] | None = None) -> torch.Tensor:
    edges = [0, *[round(c * width) for c in cuts], width]
    masks = torch.zeros(len(edges) - 1, height, width)
    for index in range(len(edges) - 1):
        masks[index, :, edges[index] : edges[index + 1]] = 1.0 if weights is None else weights[index]
    return masks


def conds(lengths: list[int], seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(1, length, CONTEXT_DIM, generator=generator) for length in lengths]


def inputs(batch_rows: int, latent_hw: tuple[int, int], tokens: int = 77, seed: int = 2):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_rows, 4, *latent_hw, generator=generator)
    context = torch.randn(batch_rows, tokens, CONTEXT_DIM, generator=generator)
    return x, context


LAYOUTS = [[0], [1, 0], [0, 1], [1, 0, 0]]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("batch", [1, 2])
def test_equals_naive_peer_algorithm_on_grid_aligned_masks(layout: list[int], batch: int) -> None:
    unet = make_patcher()
    # 256 x 192 px: latent 32 x 24, coarsest grid 8 x 6 (32 px cells); edges at 128 px and a
    # weighted overlap, all on the coarsest grid.
    masks = columns(192, 256, [0.5])
    masks = torch.cat([masks, torch.zeros(1, 192, 256)])
    masks[2, :96, 64:192] = 2.0
    region_conds = conds([77, 154, 77])
    x, context = inputs(batch * len(layout), (24, 32))
    ours = run_unet(AttentionCouple(region_conds, masks).patch_unet(unet), x, context, layout)
    naive = run_unet(NaiveCouple(region_conds, masks).patch_unet(unet), x, context, layout)
    assert (ours - naive).abs().max().item() <= 1e-4


def test_split_sub_batches_equal_one_joint_call() -> None:
    unet = make_patcher()
    patched = AttentionCouple(conds([77, 77]), columns(128, 128, [0.5])).patch_unet(unet)
    x, context = inputs(2, (16, 16))
    joint = run_unet(patched, x, context, [1, 0])
    uncond = run_unet(patched, x[:1], context[:1], [1])
    cond = run_unet(patched, x[1:], context[1:], [0])
    assert torch.allclose(joint, torch.cat([uncond, cond]), atol=1e-5)


def test_uncond_rows_are_untouched() -> None:
    unet = make_patcher()
    patched = AttentionCouple(conds([77, 77]), columns(128, 128, [0.5])).patch_unet(unet)
    x, context = inputs(2, (16, 16))
    out = run_unet(patched, x, context, [1, 1])
    plain = run_unet(unet, x, context, [1, 1])
    assert torch.allclose(out, plain, atol=1e-6)


def test_one_region_over_everything_equals_the_plain_prompt() -> None:
    unet = make_patcher()
    x, context = inputs(2, (16, 16))
    region = context[1:2].clone()
    patched = AttentionCouple([region], torch.ones(1, 128, 128)).patch_unet(unet)
    assert torch.allclose(
        run_unet(patched, x, context, [1, 0]), run_unet(unet, x, context, [1, 0]), atol=1e-5
    )


def dense_reference(
    region_conds: list[torch.Tensor], masks: torch.Tensor, negatives: list[torch.Tensor] | None = None
):
    """Direct per-region computation: every region attends with every token, then blend; uncond
    rows attend their own context, or with `negatives` each region's negative line."""

    def replace(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict[str, Any]) -> torch.Tensor:
        heads = extra["n_heads"]
        layer = extra["layer_module"][(extra["block"][0], extra["block"][1], extra["block_index"])]
        shape = extra["original_shape"]
        weights = token_weights(masks, token_grid(shape[2], shape[3], q.shape[1])).weights
        size = q.shape[0] // len(extra["cond_or_uncond"])
        out = []
        for index, kind in enumerate(extra["cond_or_uncond"]):
            rows = slice(index * size, (index + 1) * size)
            if kind == 1 and negatives is None:
                out.append(multihead_attention(q[rows], k[rows], v[rows], heads))
                continue
            blended = torch.zeros_like(q[rows])
            lines = region_conds if kind == 0 or negatives is None else negatives
            for cond, weight in zip(lines, weights, strict=True):
                region = multihead_attention(q[rows], layer.to_k(cond), layer.to_v(cond), heads)
                blended += region * weight[None, :, None]
            out.append(blended)
        return torch.cat(out)

    return replace


def patch_reference(
    unet: ModelPatcher,
    region_conds: list[torch.Tensor],
    masks: torch.Tensor,
    negatives: list[torch.Tensor] | None = None,
) -> ModelPatcher:
    patched = unet.clone()
    layers = find_cross_attention_layers(unet.model.diffusion_model)
    patched.model_options["transformer_options"]["layer_module"] = layers
    for block, number, index in layers:
        patched.set_model_attn2_replace(dense_reference(region_conds, masks, negatives), block, number, index)
    return patched


@pytest.mark.parametrize(("height", "width"), [(104, 80), (200, 136), (72, 264)])
def test_sizes_off_the_64_grid_match_direct_computation(height: int, width: int) -> None:
    unet = make_patcher()
    masks = columns(height, width, [0.3, 0.7], weights=[1.0, 1.5, 0.5])
    region_conds = conds([77, 154, 231])
    x, context = inputs(2, (height // 8, width // 8))
    ours = run_unet(AttentionCouple(region_conds, masks).patch_unet(unet), x, context, [1, 0])
    reference = run_unet(patch_reference(unet, region_conds, masks), x, context, [1, 0])
    assert (ours - reference).abs().max().item() <= 1e-4


def test_uncovered_pixels_fall_back_to_the_whole_prompt() -> None:
    unet = make_patcher()
    x, context = inputs(1, (16, 16))
    left = columns(128, 128, [0.5])[:1]
    region = conds([77])
    ours = run_unet(AttentionCouple(region, left).patch_unet(unet), x, context, [0])
    explicit = torch.cat([left, 1 - left])
    reference = run_unet(AttentionCouple([*region, context[:1]], explicit).patch_unet(unet), x, context, [0])
    assert torch.allclose(ours, reference, atol=1e-5)


def test_strict_coverage_refuses_uncovered_pixels() -> None:
    with pytest.raises(CoupleError, match="covered by no region"):
        AttentionCouple(conds([77]), columns(128, 128, [0.5])[:1], strict=True)


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float16, 2e-2), (torch.bfloat16, 1e-1)])
def test_half_precision_follows_fp32(dtype: torch.dtype, tolerance: float) -> None:
    unet = make_patcher()
    masks = columns(128, 128, [0.5])
    region_conds = conds([77, 154])
    x, context = inputs(2, (16, 16))
    reference = run_unet(AttentionCouple(region_conds, masks).patch_unet(unet), x, context, [1, 0])
    unet.model.to(dtype)
    half = run_unet(
        AttentionCouple(region_conds, masks).patch_unet(unet), x.to(dtype), context.to(dtype), [1, 0]
    )
    assert half.dtype == dtype
    assert (half.float() - reference).abs().max().item() <= tolerance * reference.abs().max().item()


def test_patching_leaves_the_original_patcher_unchanged() -> None:
    unet = make_patcher()
    before = repr(unet.model_options)
    x, context = inputs(2, (16, 16))
    plain = run_unet(unet, x, context, [1, 0])
    patched = AttentionCouple(conds([77, 77]), columns(128, 128, [0.5])).patch_unet(unet)
    run_unet(patched, x, context, [1, 0])
    assert repr(unet.model_options) == before
    assert torch.equal(run_unet(unet, x, context, [1, 0]), plain)


def test_region_projections_run_once_per_layer_not_every_step() -> None:
    unet = make_patcher()
    layers = find_cross_attention_layers(unet.model.diffusion_model)
    calls = []
    hooks = [
        layer.get_submodule("to_k").register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
        for layer in layers.values()
    ]
    patched = AttentionCouple(conds([77, 77, 77]), columns(128, 128, [0.3, 0.6])).patch_unet(unet)
    x, context = inputs(2, (16, 16))
    steps = 4
    for _ in range(steps):
        run_unet(patched, x, context, [1, 0])
    for hook in hooks:
        hook.remove()
    # Forge projects the call's own context once per layer and step; regions once per layer.
    assert len(calls) == steps * len(layers) + 3 * len(layers)


class IpLikeReplace:
    """An extension's replace patch in IP-Adapter's manner: base attention plus image tokens,
    built per chunk from `cond_or_uncond`; setting it again on a taken key calls
    `set_new_condition` on whatever sits there."""

    def __init__(self, tokens: torch.Tensor, scale: float) -> None:
        self.tokens, self.scale = tokens, scale

    def set_new_condition(self, tokens: torch.Tensor, scale: float) -> None:
        raise AssertionError("IP-style patch found a foreign object in its slot")

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict[str, Any]
    ) -> torch.Tensor:
        heads = extra["n_heads"]
        batch_prompt = q.shape[0] // len(extra["cond_or_uncond"])
        image = self.tokens[..., : q.shape[-1]].to(q).repeat(batch_prompt, 1, 1)
        ip = torch.cat([image * (1 - 0.5 * kind) for kind in extra["cond_or_uncond"]])
        base = multihead_attention(q, k, v, heads)
        return base + self.scale * multihead_attention(q, ip, ip, heads)


def set_ip_like(unet: ModelPatcher, patch: IpLikeReplace, full_keys: bool) -> ModelPatcher:
    patched = unet.clone()
    table = (
        patched.model_options["transformer_options"].setdefault("patches_replace", {}).setdefault("attn2", {})
    )
    layers = find_cross_attention_layers(unet.model.diffusion_model)
    keys = dict.fromkeys(key if full_keys else key[:2] for key in layers)
    for key in keys:
        if key in table:
            table[key].set_new_condition(patch.tokens, patch.scale)
        else:
            table[key] = patch
    return patched


def ip_and_regions_reference(
    unet: ModelPatcher,
    region_conds: list[torch.Tensor],
    masks: torch.Tensor,
    ip: IpLikeReplace,
    negatives: list[torch.Tensor] | None = None,
) -> ModelPatcher:
    """Both effects by hand: regional blend of (region attention + IP term) per cond row."""
    patched = patch_reference(unet, region_conds, masks, negatives)
    regional = dense_reference(region_conds, masks, negatives)

    def replace(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict[str, Any]) -> torch.Tensor:
        ip_term = ip(q, k, v, extra) - multihead_attention(q, k, v, extra["n_heads"])
        return regional(q, k, v, extra) + ip_term

    table = patched.model_options["transformer_options"]["patches_replace"]["attn2"]
    for key in table:
        table[key] = replace
    return patched


@pytest.mark.parametrize("full_keys", [False, True], ids=["sd15-keys", "sdxl-keys"])
@pytest.mark.parametrize("couple_first", [True, False], ids=["couple-first", "other-first"])
def test_composes_with_another_replace_patch_in_either_order(full_keys: bool, couple_first: bool) -> None:
    unet = make_patcher()
    masks = columns(128, 128, [0.5])
    region_conds = conds([77, 154])
    ip = IpLikeReplace(torch.randn(1, 4, 64, generator=torch.Generator().manual_seed(5)), scale=0.7)
    couple = AttentionCouple(region_conds, masks)
    if couple_first:
        patched = set_ip_like(couple.patch_unet(unet), ip, full_keys)
    else:
        patched = couple.patch_unet(set_ip_like(unet, ip, full_keys))
    x, context = inputs(4, (16, 16))
    ours = run_unet(patched, x, context, [1, 0])
    reference = run_unet(ip_and_regions_reference(unet, region_conds, masks, ip), x, context, [1, 0])
    ip_only = run_unet(set_ip_like(unet, ip, full_keys), x, context, [1, 0])
    assert (ours - reference).abs().max().item() <= 1e-4
    assert (ours - ip_only).abs().max().item() > 1e-2  # the regions did act


def test_a_model_without_cross_attention_is_refused() -> None:
    patcher = make_patcher()
    patcher.model.diffusion_model = torch.nn.Linear(2, 2)
    with pytest.raises(CoupleError, match="no UNet cross-attention"):
        AttentionCouple(conds([77]), torch.ones(1, 64, 64)).patch_unet(patcher)


@pytest.mark.parametrize(
    ("region_conds", "masks", "message"),
    [
        ([torch.randn(1, 77, 24)], torch.ones(2, 64, 64), "masks of shape"),
        ([], torch.ones(0, 64, 64), "no regions"),
        ([torch.randn(2, 77, 24)], torch.ones(1, 64, 64), r"\[1, tokens, dim\]"),
        ([torch.full((1, 77, 24), float("nan"))], torch.ones(1, 64, 64), "NaN"),
        ([torch.randn(1, 77, 24), torch.randn(1, 77, 32)], torch.ones(2, 64, 64), "differ in width"),
        ([torch.randn(1, 77, 24)], torch.full((1, 64, 64), float("nan")), "NaN"),
        ([torch.randn(1, 77, 24)], -torch.ones(1, 64, 64), "negative"),
    ],
)
def test_invalid_regions_raise_one_clear_error(region_conds, masks, message: str) -> None:
    with pytest.raises(CoupleError, match=message):
        AttentionCouple(region_conds, masks)


def test_images_of_a_batch_can_use_different_regions() -> None:
    from lib_couple.attention.couple import RegionalAttention, RegionSet

    unet = make_patcher()
    first = (conds([77, 77], seed=3), columns(128, 128, [0.5]))
    second = (conds([77, 154, 77], seed=4), columns(128, 128, [0.25, 0.5]))
    attention = RegionalAttention([RegionSet(*first), RegionSet(*second)], item_sets=[1, 0, 1])
    x, context = inputs(6, (16, 16))
    batched = run_unet(AttentionCouple.for_batch(attention).patch_unet(unet), x, context, [1, 0])
    for item, (region_conds, masks) in enumerate([second, first, second]):
        rows = [item, 3 + item]
        alone = run_unet(
            AttentionCouple(region_conds, masks).patch_unet(unet), x[rows], context[rows], [1, 0]
        )
        assert torch.allclose(batched[rows], alone, atol=1e-5)


def test_a_host_attention_function_is_used_with_a_full_batch_of_keys() -> None:
    from lib_couple.attention.couple import RegionalAttention, RegionSet

    calls = []

    def forge_like(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
        # Forge's attention_pytorch views every input with q's batch size.
        b, _, inner = q.shape
        q, k, v = (t.view(b, -1, heads, inner // heads).transpose(1, 2) for t in (q, k, v))
        calls.append(b)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return out.transpose(1, 2).reshape(b, -1, inner)

    unet = make_patcher()
    region_conds, masks = conds([77, 154]), columns(128, 128, [0.5])
    attention = RegionalAttention([RegionSet(region_conds, masks)], attention=forge_like)
    x, context = inputs(4, (16, 16))
    hosted = run_unet(AttentionCouple.for_batch(attention).patch_unet(unet), x, context, [1, 0])
    default = run_unet(AttentionCouple(region_conds, masks).patch_unet(unet), x, context, [1, 0])
    assert calls
    assert torch.allclose(hosted, default, atol=1e-5)
