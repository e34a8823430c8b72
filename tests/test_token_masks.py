"""Region weight maps brought to a token grid: validation, the uncovered fallback, per-token weights."""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lib_couple.errors import CoupleError
from lib_couple.token_masks import add_fallback, check_masks, token_weights

# Dyadic values: sums and means of a few of them are exact in float32.
MASK_VALUES = [0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0]


@st.composite
def mask_stacks(draw: st.DrawFn, max_regions: int = 4, max_side: int = 12) -> torch.Tensor:
    shape = (
        draw(st.integers(1, max_regions)),
        draw(st.integers(1, max_side)),
        draw(st.integers(1, max_side)),
    )
    array = draw(hnp.arrays(np.float32, shape, elements=st.sampled_from(MASK_VALUES)))
    return torch.from_numpy(array)


# ---------------------------------------------------------------- check_masks


@pytest.mark.parametrize(
    "masks",
    [
        torch.ones(8, 8),
        torch.ones(1, 1, 8, 8),
        torch.ones(8),
        torch.ones(0, 8, 8),
        torch.ones(2, 0, 8),
        torch.ones(2, 8, 0),
    ],
)
def test_check_masks_rejects_wrong_shape(masks: torch.Tensor) -> None:
    with pytest.raises(CoupleError, match=r"\[regions, height, width\]"):
        check_masks(masks)


@pytest.mark.parametrize(
    ("bad", "words"), [(math.nan, "NaN"), (math.inf, "NaN or infinite"), (-math.inf, "infinite")]
)
def test_check_masks_rejects_non_finite(bad: float, words: str) -> None:
    masks = torch.ones(2, 4, 4)
    masks[1, 2, 3] = bad
    with pytest.raises(CoupleError, match=words):
        check_masks(masks)


@settings(max_examples=50)
@given(masks=mask_stacks(), negative=st.floats(-5.0, -1e-30), data=st.data())
def test_check_masks_rejects_any_negative_weight(
    masks: torch.Tensor, negative: float, data: st.DataObject
) -> None:
    index = tuple(data.draw(st.integers(0, size - 1)) for size in masks.shape)
    masks[index] = negative
    with pytest.raises(CoupleError, match="negative"):
        check_masks(masks)


# ---------------------------------------------------------------- add_fallback


@settings(max_examples=100)
@given(masks=mask_stacks())
def test_add_fallback_gives_exactly_the_uncovered_pixels(masks: torch.Tensor) -> None:
    original = masks.clone()
    uncovered = torch.ones(masks.shape[1:])
    for region in masks:
        uncovered[region > 0] = 0.0

    result, added = add_fallback(masks)

    assert torch.equal(masks, original)  # the input is not modified
    if not bool(uncovered.any()):
        assert added is False
        assert torch.equal(result, original)
    else:
        assert added is True
        assert result.shape == (masks.shape[0] + 1, *masks.shape[1:])
        assert torch.equal(result[:-1], original)
        assert torch.equal(result[-1], uncovered)
        # After the fallback every pixel has weight.
        assert bool((result.sum(dim=0) > 0).all())


@settings(max_examples=100)
@given(masks=mask_stacks())
def test_add_fallback_strict_raises_with_the_uncovered_share(masks: torch.Tensor) -> None:
    uncovered = int((masks.sum(dim=0) == 0).sum())
    share = uncovered / (masks.shape[1] * masks.shape[2])
    if uncovered == 0:
        result, added = add_fallback(masks, strict=True)
        assert added is False
        assert torch.equal(result, masks)
    else:
        with pytest.raises(CoupleError) as raised:
            add_fallback(masks, strict=True)
        found = re.search(r"([0-9.]+)% of the image is covered by no region", str(raised.value))
        assert found is not None
        assert abs(float(found.group(1)) - 100 * share) <= 0.05 + 1e-9  # one decimal, either rounding


def test_add_fallback_example() -> None:
    masks = torch.zeros(2, 2, 4)
    masks[0, :, 0] = 1.0
    masks[1, :, 1:3] = 0.5  # columns 0..2 covered, column 3 not
    result, added = add_fallback(masks)
    assert added
    assert torch.equal(result[2], torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]]))
    with pytest.raises(CoupleError, match=r"25\.0% of the image"):
        add_fallback(masks, strict=True)


@pytest.mark.parametrize("strict", [False, True])
def test_add_fallback_validates_masks(strict: bool) -> None:
    masks = torch.ones(1, 4, 4)
    masks[0, 0, 0] = -1.0
    with pytest.raises(CoupleError, match="negative"):
        add_fallback(masks, strict=strict)


# ---------------------------------------------------------------- token_weights


def area_average(masks: torch.Tensor, grid: tuple[int, int]) -> npt.NDArray[np.float64]:
    """Reference: each token averages the pixels of its cell [floor(i*H/h), ceil((i+1)*H/h))."""
    regions, height, width = masks.shape
    h, w = grid
    data = masks.double().numpy()
    out = np.zeros((regions, h * w))
    for i in range(h):
        top, bottom = (i * height) // h, -(-((i + 1) * height) // h)
        for j in range(w):
            left, right = (j * width) // w, -(-((j + 1) * width) // w)
            out[:, i * w + j] = data[:, top:bottom, left:right].mean(axis=(1, 2))
    return out


@st.composite
def masks_and_grid(draw: st.DrawFn) -> tuple[torch.Tensor, tuple[int, int]]:
    masks, _ = add_fallback(draw(mask_stacks(max_regions=4, max_side=16)))
    grid = (draw(st.integers(1, masks.shape[1])), draw(st.integers(1, masks.shape[2])))
    return masks, grid


@settings(max_examples=80)
@given(masks_and_grid())
def test_token_weights_are_normalised_area_averages(drawn: tuple[torch.Tensor, tuple[int, int]]) -> None:
    masks, grid = drawn
    result = token_weights(masks, grid)
    tokens = grid[0] * grid[1]
    assert result.weights.shape == (masks.shape[0], tokens)
    assert bool((result.weights >= 0).all())
    assert torch.allclose(result.weights.sum(dim=0), torch.ones(tokens), atol=1e-6)

    pooled = area_average(masks, grid)
    expected = pooled / pooled.sum(axis=0, keepdims=True)
    assert np.allclose(result.weights.double().numpy(), expected, atol=1e-6)

    # A region covers a token when any pixel of the token's cell has weight in the region.
    assert len(result.covered) == masks.shape[0]
    for covered, weights, touched in zip(result.covered, result.weights, pooled > 0, strict=True):
        assert torch.equal(weights > 0, torch.from_numpy(touched))
        if touched.all():
            assert covered is None
        else:
            assert covered is not None
            assert covered.tolist() == np.flatnonzero(touched).tolist()


@settings(max_examples=100)
@given(
    grid=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    factors=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    regions=st.integers(1, 4),
    data=st.data(),
)
def test_token_weights_of_grid_aligned_blocks_are_exact(
    grid: tuple[int, int], factors: tuple[int, int], regions: int, data: st.DataObject
) -> None:
    blocks = torch.from_numpy(
        data.draw(hnp.arrays(np.float32, (regions, *grid), elements=st.sampled_from(MASK_VALUES)))
    )
    blocks[0][blocks.sum(dim=0) == 0] = 1.0  # every token has some weight
    masks = blocks.repeat_interleave(factors[0], dim=1).repeat_interleave(factors[1], dim=2)

    result = token_weights(masks, grid)

    flat = blocks.flatten(1)
    assert torch.equal(result.weights, flat / flat.sum(dim=0, keepdim=True))
    for covered, row in zip(result.covered, flat, strict=True):
        if bool((row > 0).all()):
            assert covered is None
        else:
            assert covered is not None
            assert torch.equal(covered, torch.nonzero(row > 0).flatten())


def test_token_weights_token_order_is_row_major() -> None:
    """Token i * w + j is grid row i, column j: a region in the top-right cell of a 2 x 3 grid."""
    masks = torch.zeros(2, 4, 6)
    masks[0] = 1.0
    masks[1, :2, 4:] = 1.0
    result = token_weights(masks, (2, 3))
    assert torch.equal(result.weights[1], torch.tensor([0.0, 0.0, 0.5, 0.0, 0.0, 0.0]))
    assert result.covered[0] is None
    assert result.covered[1] is not None
    assert result.covered[1].tolist() == [2]


def test_token_weights_rejects_tokens_without_weight() -> None:
    masks = torch.zeros(1, 8, 8)
    masks[0, :4] = 1.0
    with pytest.raises(CoupleError, match="4x2 grid"):
        token_weights(masks, (4, 2))
