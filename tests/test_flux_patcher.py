import pytest
import torch
import torch.nn.functional as F

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.joint_attention import AttentionGroups, JointControls, RowPlan
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.patchers import PatchRequest, flux
from lib_couple.hosts.forge.patchers.flux_blocks import DoubleBlockWrapper
from tests.doubles.flux_model import make_flux

CONTEXT, VEC = 24, 8


@pytest.fixture(autouse=True)
def _no_grad():
    # Grad off inside these tests only: a module-level switch would leak into every later test.
    with torch.no_grad():
        yield


def _patch(unet, sets, items, controls):
    return flux.patch(unet, PatchRequest(sets, items, controls=controls))


def _inputs(batch=1, h=8, w=12, tokens=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 16, h, w, generator=g)
    context = torch.randn(batch, tokens, CONTEXT, generator=g)
    y = torch.randn(batch, VEC, generator=g)
    return x, context, y


def _halves(h, w, lengths=(3, 4), seed=1):
    g = torch.Generator().manual_seed(seed)
    split = 16 * (((w + 1) // 2) // 2)  # on a token column: the halves share no token
    masks = torch.zeros(2, 8 * h, 8 * w)
    masks[0, :, :split] = 1
    masks[1, :, split:] = 1
    conds = [torch.randn(1, n, CONTEXT, generator=g) for n in lengths]
    return RegionSet(conds, masks)


def _direct(own, lengths, grid):
    """Attention computed group by group over the keys each group may see (no mask tensor)."""
    h, w = grid
    text = own + sum(lengths)
    starts = [own + sum(lengths[:r]) for r in range(len(lengths))]
    left = [text + i for i in range(h * w) if i % w < w // 2]
    right = [text + i for i in range(h * w) if text + i not in left]
    images = list(range(text, text + h * w))

    def attend(q, k, v, mask):
        out = torch.empty_like(q)
        groups = [(list(range(own)), list(range(own)))]
        for r, side in enumerate((left, right)):
            region = list(range(starts[r], starts[r] + lengths[r]))
            groups.append((region, region + side))
            groups.append((side, region + images))
        for rows, keys in groups:
            out[:, :, rows] = F.scaled_dot_product_attention(q[:, :, rows], k[:, :, keys], v[:, :, keys])
        return out

    return attend


@pytest.mark.parametrize("neo", [False, True])
def test_single_region_with_the_global_prompt_equals_the_unpatched_model(neo):
    unet = make_flux(neo)
    x, context, y = _inputs(batch=2)
    whole = RegionSet([context[:1]], torch.ones(1, 64, 96))
    patched = _patch(unet, [whole], [0, 0], JointControls(steps=1.0)).unet
    torch.testing.assert_close(
        patched.run(x, 1.0, context[:1].expand(2, -1, -1), y, [0]),
        unet.run(x, 1.0, context[:1].expand(2, -1, -1), y, [0]),
        atol=1e-4,
        rtol=1e-3,
    )


@pytest.mark.parametrize("neo", [False, True])
@pytest.mark.parametrize(("h", "w"), [(8, 12), (7, 9)])
def test_masked_model_equals_a_direct_per_region_reference(neo, h, w):
    unet = make_flux(neo)
    x, context, y = _inputs(h=h, w=w)
    regions = _halves(h, w)
    grid = ((h + 1) // 2, (w + 1) // 2)
    patched = _patch(unet, [regions], [0], JointControls(steps=1.0)).unet
    out = patched.run(x, 1.0, context, y, [0])
    model = unet.model.diffusion_model
    extended = torch.cat([context, torch.cat(regions.conds, dim=1)], dim=1)
    model.attention_override = _direct(5, (3, 4), grid)
    try:
        reference = unet.run(x, 1.0, extended, y, [0])
    finally:
        model.attention_override = None
    torch.testing.assert_close(out, reference, atol=1e-4, rtol=1e-3)
    assert not torch.allclose(out, unet.run(x, 1.0, context, y, [0]), atol=1e-3)


@pytest.mark.parametrize("neo", [False, True])
def test_uncond_rows_pass_unmasked_and_batches_split_by_set(neo):
    unet = make_flux(neo)
    x, context, y = _inputs(batch=2)
    sets = [_halves(8, 12, (3, 4), seed=1), _halves(8, 12, (2, 2), seed=2)]
    patched = _patch(unet, sets, [0, 1], JointControls(steps=1.0)).unet
    xs, cs, ys = torch.cat([x, x]), torch.cat([context, context]), torch.cat([y, y])
    out = patched.run(xs, 1.0, cs, ys, [1, 0])
    plain = unet.run(x, 1.0, context, y, [1])
    torch.testing.assert_close(out[:2], plain, atol=1e-4, rtol=1e-3)  # uncond: as unpatched
    for row, index in ((2, 0), (3, 1)):  # cond rows: each as its own set alone
        alone = _patch(unet, [sets[index]], [0], JointControls(steps=1.0)).unet
        single = alone.run(x[row - 2 : row - 1], 1.0, context[row - 2 : row - 1], y[row - 2 : row - 1], [0])
        torch.testing.assert_close(out[row : row + 1], single, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("neo", [False, True])
def test_schedule_blocks_and_base_ratio(neo):
    unet = make_flux(neo)
    x, context, y = _inputs()
    regions = _halves(8, 12)
    plain = unet.run(x, 0.3, context, y, [0])
    late = _patch(unet, [regions], [0], JointControls(steps=0.5)).unet
    torch.testing.assert_close(late.run(x, 0.3, context, y, [0]), plain)  # past the first half
    early = late.run(x, 0.8, context, y, [0])
    assert not torch.allclose(early, unet.run(x, 0.8, context, y, [0]), atol=1e-3)
    full = _patch(unet, [regions], [0], JointControls(steps=1.0)).unet.run(x, 0.8, context, y, [0])
    other = JointControls(steps=1.0, blocks="every-other")
    alternate = _patch(unet, [regions], [0], other).unet.run(x, 0.8, context, y, [0])
    assert not torch.allclose(alternate, full, atol=1e-4)
    blended = JointControls(steps=1.0, base_ratio=0.5)
    half = _patch(unet, [regions], [0], blended).unet.run(x, 0.8, context, y, [0])
    assert not torch.allclose(half, full, atol=1e-4)


def test_forge_and_neo_paths_agree():
    x, context, y = _inputs()
    regions = _halves(8, 12)
    outs = []
    for neo in (False, True):
        unet = make_flux(neo)
        outs.append(_patch(unet, [regions], [0], JointControls(steps=1.0)).unet.run(x, 1.0, context, y, [0]))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-4, rtol=1e-3)


def test_the_patch_lives_on_the_clone_and_is_gone_afterwards():
    unet = make_flux(False)
    model = unet.model.diffusion_model
    blocks = list(model.double_blocks) + list(model.single_blocks)
    x, context, y = _inputs()
    patched = _patch(unet, [_halves(8, 12)], [0], JointControls(steps=1.0))
    assert not unet.object_patches
    assert "model_function_wrapper" not in unet.model_options
    assert isinstance(patched.unet.object_patches["diffusion_model.double_blocks.0"], DoubleBlockWrapper)
    patched.unet.run(x, 1.0, context, y, [0])
    assert list(model.double_blocks) + list(model.single_blocks) == blocks
    assert type(model.double_blocks[0]).__name__ == "DoubleStreamBlock"
    assert flux._CALL.get() is None
    names = {n for n, _ in model.named_parameters()}
    wrapper = patched.unet.object_patches["diffusion_model.double_blocks.0"]
    assert {f"double_blocks.0.{n}" for n, _ in wrapper.named_parameters()} <= names  # same keys
    patched.clear()
    assert len(patched.unet.model_options["model_function_wrapper"].__closure__ or ()) > 0
    torch.testing.assert_close(unet.run(x, 1.0, context, y, [0]), unet.clone().run(x, 1.0, context, y, [0]))


def test_region_negatives_make_uncond_rows_regional():
    unet = make_flux(False)
    x, context, y = _inputs()
    positive = _halves(8, 12, (3, 4), seed=1)
    negative = _halves(8, 12, (2, 3), seed=5)
    with_negatives = RegionSet(positive.conds, positive.masks, negatives=negative.conds)
    patched = _patch(unet, [with_negatives], [0], JointControls(steps=1.0)).unet
    out = patched.run(torch.cat([x, x]), 1.0, torch.cat([context, context]), torch.cat([y, y]), [1, 0])
    alone = _patch(unet, [negative], [0], JointControls(steps=1.0)).unet.run(x, 1.0, context, y, [0])
    torch.testing.assert_close(out[:1], alone, atol=1e-4, rtol=1e-3)  # uncond: the negatives' regions
    cond = _patch(unet, [positive], [0], JointControls(steps=1.0)).unet.run(x, 1.0, context, y, [0])
    torch.testing.assert_close(out[1:], cond, atol=1e-4, rtol=1e-3)


def test_forge_path_attends_in_groups_and_neo_gets_the_dense_mask():
    x, context, y = _inputs()
    seen = {}
    for neo in (False, True):
        unet = make_flux(neo)
        couple_patch = _patch(unet, [_halves(8, 12)], [0], JointControls(steps=1.0))
        wrapper = couple_patch.unet.model_options["model_function_wrapper"]

        def spy(apply_model, args, neo=neo, wrapper=wrapper):
            def apply(*a, **k):
                call = flux._CALL.get()
                assert call is not None
                seen[neo] = call.masks
                return apply_model(*a, **k)

            return wrapper(apply, args)

        couple_patch.unet.model_options["model_function_wrapper"] = spy
        couple_patch.unet.run(x, 1.0, context, y, [0])
    plan = seen[False]
    assert isinstance(plan, RowPlan)
    assert isinstance(plan.parts[0][1], AttentionGroups)
    assert isinstance(seen[True], torch.Tensor)
    with pytest.raises(CoupleError):
        _patch(make_flux(False), [_halves(8, 12)], [1], JointControls())
