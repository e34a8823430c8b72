import pytest
import torch

from lib_couple.walk.adaptive import adaptive_step, density_ratio
from lib_couple.walk.directions import Anchor, DirectionMapper


def test_denser_visited_area_gives_smaller_step():
    visited = [0.5 + 0.01 * i for i in range(10)] + [1.8]
    dense = adaptive_step(visited, 0.55, base=0.2, alpha=2.0)
    sparse = adaptive_step(visited, 1.3, base=0.2, alpha=2.0)
    assert dense < sparse <= 0.2
    assert density_ratio(visited, 0.55) > density_ratio(visited, 1.3)


def test_step_clamped_and_base_without_history():
    assert adaptive_step([0.5], 0.5, base=0.2) == 0.2
    assert adaptive_step([0.5] * 50, 0.5, base=0.2, alpha=100.0, min_step=0.05) == 0.05


def test_two_dimensional_pad_coordinates():
    visited = [[0.0, 0.0], [0.01, 0.0], [0.0, 0.02], [1.0, 1.0]]
    assert adaptive_step(visited, [0.0, 0.0], base=1.0) < adaptive_step(visited, [0.5, -0.8], base=1.0)
    with pytest.raises(ValueError, match="2-D"):
        density_ratio(visited, 0.3)


def anchors_setup():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(1, 77, 32, generator=g)
    conds = [base + torch.randn(1, 77, 32, generator=g) for _ in range(4)]
    pads = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]
    return base, conds, DirectionMapper(base, [Anchor(c, p) for c, p in zip(conds, pads, strict=True)])


def test_move_toward_anchor_follows_its_direction():
    base, conds, mapper = anchors_setup()
    weights = mapper.weights((0.0, 2.0))
    assert int(weights.argmax()) == 1
    assert float(weights[1]) > 0.9
    moved = mapper.apply(base, (0.0, 0.5))
    assert isinstance(moved, torch.Tensor)
    delta = (moved - base).flatten()
    cos = [float(torch.nn.functional.cosine_similarity(delta, (c - base).flatten(), dim=0)) for c in conds]
    assert max(range(4), key=lambda i: cos[i]) == 1
    assert cos[1] > 0.9
    torch.testing.assert_close(delta.norm(), torch.tensor(0.5), rtol=0.1, atol=0.0)


def test_zero_move_is_identity_and_guidance_untouched():
    base = {"crossattn": torch.zeros(1, 4, 8), "vector": torch.zeros(1, 6), "guidance": torch.tensor([3.5])}
    anchor = {"crossattn": torch.ones(1, 4, 8), "vector": torch.ones(1, 6), "guidance": torch.tensor([1.0])}
    mapper = DirectionMapper(base, [Anchor(anchor, (1.0, 0.0))])
    moved = mapper.apply(base, (1.0, 0.0))
    assert isinstance(moved, dict)
    assert torch.equal(moved["guidance"], base["guidance"])
    torch.testing.assert_close(moved["vector"].norm(), torch.tensor(1.0))
    still = mapper.apply(base, (0.0, 0.0))
    assert isinstance(still, dict)
    assert torch.equal(still["crossattn"], base["crossattn"])
