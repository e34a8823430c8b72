import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.attention.joint_attention import (
    JointControls,
    JointMaskCache,
    attention_groups,
    for_backend,
    grouped_attention,
    image_grid,
    joint_mask,
    pad_text,
    plain_mask,
    trim_text,
)
from lib_couple.errors import CoupleError
from lib_couple.token_masks import add_fallback, patch_token_weights, token_weights


def _weights(masks: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, bool]:
    masks, fallback = add_fallback(masks)
    return token_weights(masks, grid).weights, fallback


def _attend(q, k, v, mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_image_grid_follows_padding_and_patchify():
    assert image_grid(128, 128) == (64, 64)
    assert image_grid(9, 7) == (5, 4)
    with pytest.raises(CoupleError):
        image_grid(0, 4)


def test_two_halves_direct_reference():
    """Each query row equals attention over exactly the keys the rules allow it, with the bias."""
    torch.manual_seed(0)
    h, w = 4, 6
    masks = torch.zeros(2, 32, 48)
    masks[0, :, :24] = 1
    masks[1, :, 24:] = 1
    weights, fallback = _weights(masks, (h, w))
    own, lengths = 3, (2, 4)
    mask = joint_mask(weights, lengths, own, has_fallback=fallback)
    length = own + sum(lengths) + h * w
    q, k, v = (torch.randn(1, 2, length, 8) for _ in range(3))
    out = _attend(q, k, v, mask)
    text = own + sum(lengths)
    left = [text + i for i in range(h * w) if i % w < w // 2]
    region1 = list(range(own, own + 2))
    images = list(range(text, length))
    for row in left:  # left image tokens: region 1's text and every image token
        keys = region1 + images
        ref = _attend(q[:, :, row : row + 1], k[:, :, keys], v[:, :, keys], None)
        torch.testing.assert_close(out[:, :, row : row + 1], ref)
    ref = _attend(q[:, :, region1], k[:, :, region1 + left], v[:, :, region1 + left], None)
    torch.testing.assert_close(out[:, :, region1], ref)  # region text: itself and its image tokens
    ref = _attend(q[:, :, :own], k[:, :, :own], v[:, :, :own], None)
    torch.testing.assert_close(out[:, :, :own], ref)  # no uncovered pixel: the own text sees itself


def test_weights_bias_and_fallback():
    masks = torch.zeros(2, 16, 16)
    masks[0] = 0.5  # a background line at weight 0.5 over everything
    masks[1, :, :8] = 1.0
    weights, fallback = _weights(masks, (2, 2))
    assert not fallback
    mask = joint_mask(weights, (1, 1), 1, has_fallback=False)
    text = 3
    # left tokens: background 1/3, region 2/3 of the weight, two regions: log(2/3), log(4/3)
    assert mask[text, 1].item() == pytest.approx(math.log(2 / 3), abs=1e-6)
    assert mask[text, 2].item() == pytest.approx(math.log(4 / 3), abs=1e-6)
    assert mask[text + 1, 2].item() == -math.inf  # right tokens do not see the left region
    assert mask[text + 1, 1].item() == 0.0  # and see the background alone, unbiased
    partial = torch.zeros(1, 16, 16)
    partial[0, :, :8] = 1
    weights, fallback = _weights(partial, (2, 2))
    mask = joint_mask(weights, (1,), 2, has_fallback=fallback)
    assert torch.isfinite(mask[4, :2]).all()
    assert not torch.isfinite(mask[3, :2]).any()
    everywhere = joint_mask(weights, (1,), 2, has_fallback=fallback, global_everywhere=True)
    assert torch.isfinite(everywhere[3:, :2]).all()


def test_region_image_attention_splits_the_image():
    masks = torch.zeros(2, 8, 8)
    masks[0, :, :4] = 1
    masks[1, :, 4:] = 1
    weights, fallback = _weights(masks, (1, 2))
    mask = joint_mask(weights, (1, 1), 1, has_fallback=fallback, image_attention="region")
    assert mask[3, 4].item() == -math.inf
    assert mask[3, 3].item() == 0.0
    free = joint_mask(weights, (1, 1), 1, has_fallback=fallback)
    assert free[3, 4].item() == 0.0


def test_single_region_over_the_image_is_plain_attention_for_images():
    torch.manual_seed(1)
    weights, fallback = _weights(torch.ones(1, 8, 8), (2, 2))
    own = 3
    mask = joint_mask(weights, (own,), own, has_fallback=fallback)
    q, k, v = (torch.randn(1, 2, 2 * own + 4, 8) for _ in range(3))
    k[:, :, own : 2 * own], v[:, :, own : 2 * own] = k[:, :, :own], v[:, :, :own]  # the same text
    out = _attend(q, k, v, mask)
    keep = list(range(own)) + list(range(2 * own, 2 * own + 4))
    plain = _attend(q[:, :, keep], k[:, :, keep], v[:, :, keep], None)
    torch.testing.assert_close(out[:, :, 2 * own :], plain[:, :, own:])


def test_pad_text_hides_pads():
    torch.manual_seed(2)
    mask = plain_mask(2, 5, 3)
    q, k, v = (torch.randn(1, 1, 8, 4) for _ in range(3))
    out = _attend(q, k, v, mask)
    keep = [0, 1, 5, 6, 7]
    ref = _attend(q[:, :, keep], k[:, :, keep], v[:, :, keep], None)
    torch.testing.assert_close(out[:, :, keep], ref)
    assert torch.isfinite(out).all()
    with pytest.raises(CoupleError):
        pad_text(mask, 5, 2)


@settings(max_examples=25)
@given(
    regions=st.integers(1, 3),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(["free", "region"]),
    everywhere=st.booleans(),
)
def test_no_row_fully_masked(regions, h, w, seed, mode, everywhere):
    generator = torch.Generator().manual_seed(seed)
    masks = (torch.rand(regions, 4 * h, 4 * w, generator=generator) > 0.6).float()
    weights, fallback = _weights(masks, (h, w))
    mask = joint_mask(
        weights, (2,) * regions, 2, has_fallback=fallback, image_attention=mode, global_everywhere=everywhere
    )
    assert torch.isfinite(mask).any(dim=1).all()
    q = torch.randn(1, 1, mask.shape[0], 4, generator=generator)
    assert torch.isfinite(_attend(q, q, q, mask)).all()


def test_backend_forms_and_cache():
    weights, fallback = _weights(torch.ones(1, 8, 8), (2, 2))
    mask = joint_mask(weights, (2,), 2, has_fallback=fallback)
    allowed = for_backend(mask, torch.float16, as_bool=True)
    assert allowed.dtype == torch.bool
    assert allowed.sum() == int(torch.isfinite(mask).sum())
    assert for_backend(mask, torch.float16).dtype == torch.float16
    cache = JointMaskCache()
    calls = []

    def build():
        calls.append(1)
        return mask

    for _ in range(3):
        cache.get(("k", 1), build)
    assert len(calls) == 1
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0


def test_controls_bounds_and_blocks():
    alternate = JointControls(blocks="every-other")
    assert [alternate.masks_block(i) for i in range(4)] == [True, False, True, False]
    ranged = JointControls(blocks="range", block_range=(2, 4))
    assert [ranged.masks_block(i) for i in range(5)] == [False, False, True, True, False]
    for bad in (
        {"steps": 1.5},
        {"base_ratio": 1.0},
        {"blocks": "some"},
        {"block_range": (3, 3)},
        {"image_attention": "none"},
    ):
        with pytest.raises(CoupleError):
            JointControls(**bad)


def test_patch_token_weights_follow_padding_and_patchify():
    masks = torch.zeros(2, 56, 72)  # a 7 x 9 latent: tokens 4 x 5, the last row and column half padding
    masks[0, :, :32] = 1
    masks[1, :, 32:] = 1
    weights = patch_token_weights(masks, (7, 9))
    assert weights.shape == (2, 20)
    grid = weights[0].view(4, 5)
    assert grid[:, :2].eq(1).all()  # exactly the first two token columns (16 px each)
    assert grid[:, 2:].eq(0).all()
    assert torch.allclose(weights.sum(0), torch.ones(20))
    with pytest.raises(CoupleError):
        patch_token_weights(torch.zeros(1, 16, 16), (2, 2))


@pytest.mark.parametrize("mode", ["free", "region"])
def test_grouped_attention_equals_the_dense_mask(mode):
    torch.manual_seed(3)
    masks = torch.zeros(2, 24, 48)
    masks[0, :, :16] = 1
    masks[1, :, 16:32] = 1  # the last third uncovered: the fallback's
    weights, fallback = _weights(masks, (3, 6))
    mask = joint_mask(weights, (2, 3), 4, has_fallback=fallback, image_attention=mode)
    groups = attention_groups(mask)
    assert groups is not None
    assert len(groups.groups) <= 7
    q, k, v = (torch.randn(2, 2, mask.shape[0], 8) for _ in range(3))
    torch.testing.assert_close(grouped_attention(q, k, v, groups), _attend(q, k, v, mask))


def test_weighted_masks_group_with_their_bias():
    torch.manual_seed(4)
    masks = torch.zeros(2, 24, 40)
    masks[0] = 0.5  # a background line at half weight
    masks[1, :, :20] = 1.0  # its edge falls inside a token column: a fractional weight there
    weights, fallback = _weights(masks, (3, 3))
    mask = joint_mask(weights, (2, 2), 2, has_fallback=fallback)
    groups = attention_groups(mask)
    assert groups is not None
    assert any(bias is not None for _, _, bias in groups.groups)
    q, k, v = (torch.randn(1, 2, mask.shape[0], 8) for _ in range(3))
    torch.testing.assert_close(grouped_attention(q, k, v, groups), _attend(q, k, v, mask))


@settings(deadline=None)
@given(st.integers(1, 40), st.integers(-3, 60) | st.none(), st.integers(-2, 50))
def test_trim_text_keeps_a_prefix_of_the_real_tokens_and_padding(
    length: int, tokens: int | None, padding: int
) -> None:
    cond = torch.randn(1, length, 4)
    cut = trim_text(cond, tokens, padding)
    if tokens is None or tokens < 1:
        assert cut is cond
        return
    assert cut.shape[1] == min(length, tokens + max(0, padding))
    torch.testing.assert_close(cut, cond[:, : cut.shape[1]])
