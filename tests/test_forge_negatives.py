"""Per-region negative prompts through the Forge runner, driven in Forge's hook order."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lib_couple.hosts.forge.runner import CoupleRunner
from lib_couple.infotext import fill_absent_keys, from_infotext
from lib_couple.params import CoupleParams, params_to_args
from tests.doubles.forge_processing import Processing, SdModel, Services, embed, run_generation
from tests.doubles.forge_unet import run_unet
from tests.test_forge_runner import is_patched
from tests.test_patcher import patch_reference
from tests.test_region_negatives import three_columns

PROMPT = "a red circle\na blue square"
NEGATIVES = "red\nblue"
KEY = "forge_couple_region_negatives"


def args(**fields: object) -> list[object]:
    return params_to_args(CoupleParams(enabled=True, **fields))  # type: ignore[arg-type]


class RecordingServices(Services):
    """Services that remember which lines were encoded as negative prompts (SDXL reads it)."""

    def __init__(self) -> None:
        super().__init__()
        self.negative_lines: list[str] = []

    def encode(
        self, sd_model: Any, line: str, width: int, height: int, negative: bool = False
    ) -> torch.Tensor:
        if negative:
            self.negative_lines.append(line)
        return super().encode(sd_model, line, width, height, negative)


def generate(
    negative: str, prompt: str = PROMPT, flags: tuple[str, ...] = ("is_sd1",), **fields: object
) -> tuple[CoupleRunner, Processing, list[Any]]:
    processing: dict[str, Any] = {k: fields.pop(k) for k in ("batch_size", "enable_hr") if k in fields}
    runner = CoupleRunner(RecordingServices())
    p = Processing(
        prompt, SdModel(flags=flags, sdxl_dict="is_sdxl" in flags), negative_prompt=negative, **processing
    )
    passes = run_generation(runner, p, args(**fields))
    return runner, p, passes


def test_one_negative_line_per_region_drives_each_regions_uncond_rows() -> None:
    runner, p, passes = generate(NEGATIVES, region_negatives=True)
    _, _, whole = generate(NEGATIVES)  # the option off: the two-line text applies everywhere
    assert runner.negative_lines == [["red", "blue"]]
    assert runner.services.negative_lines == ["red", "blue"]  # type: ignore[attr-defined]
    assert (passes[0].output - whole[0].output).abs().max().item() > 1e-3
    assert p.extra_generation_params[KEY] is True
    assert "Forge Couple: per-region negative prompts: 2 lines, one per region" in p.comments


def test_the_patched_pass_equals_a_direct_per_region_reference() -> None:
    runner, p, passes = generate(NEGATIVES, region_negatives=True)
    plan = runner.plans[0]
    reference = patch_reference(
        p.sd_model.forge_objects_original.unet,
        [embed(line) for line in plan.prompts],
        plan.masks,
        [embed("red"), embed("blue")],
    )
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, *passes[0].latent_hw, generator=generator)
    context = torch.cat([embed(NEGATIVES), embed(PROMPT)])
    assert (passes[0].output - run_unet(reference, x, context, [1, 0])).abs().max().item() <= 1e-4


@pytest.mark.parametrize(("negative", "lines"), [("blurry, lowres", 1), ("", 1), ("red\nblue\ngreen", 3)])
def test_any_other_line_count_is_bit_identical_to_the_option_off(negative: str, lines: int) -> None:
    runner, p, passes = generate(negative, region_negatives=True)
    _, off, today = generate(negative)
    assert runner.negative_lines == [None]
    assert runner.services.negative_lines == []  # type: ignore[attr-defined]
    assert torch.equal(passes[0].output, today[0].output)
    assert any(f"has {lines} line" in text and "applies everywhere" in text for text in p.comments)
    assert KEY not in off.extra_generation_params  # written only when the option is on


def test_the_global_line_takes_a_negative_line_of_its_own() -> None:
    runner, _, _ = generate(
        "g\nl\nr", prompt="whole\nleft\nright", region_negatives=True, background="First Line"
    )
    assert runner.negative_lines == [["g", "l", "r"]]


def test_advanced_and_mask_modes_and_the_custom_separator() -> None:
    mapping = [[0, 0.3, 0, 1, 1], [0.3, 0.7, 0, 1, 1.5], [0.7, 1, 0, 1, 0.5]]
    runner, _, _ = generate(
        "a | b | c",
        prompt="x | y | z",
        region_negatives=True,
        mode="Advanced",
        mapping=mapping,
        separator="|",
    )
    assert runner.negative_lines == [["a", "b", "c"]]
    masks = [{"mask": mask.numpy() * 255, "weight": 1.0} for mask in three_columns(128, 128) > 0]
    runner, p, passes = generate(
        "a\nb\nc", prompt="x\ny\nz", region_negatives=True, mode="Mask", mapping=masks
    )
    assert runner.negative_lines == [["a", "b", "c"]]
    assert is_patched(passes[0].unet)


def test_batch_images_with_different_negatives_get_their_own_sets_and_hires_keeps_them() -> None:
    runner = CoupleRunner(RecordingServices())
    p = Processing(PROMPT, SdModel(), batch_size=2, enable_hr=True)
    p.all_negative_prompts = ["red\nblue", "plain"]
    passes = run_generation(runner, p, args(region_negatives=True, compatibility=False))
    assert runner.item_sets == [0, 1]
    assert runner.negative_lines == [["red", "blue"], None]
    assert [is_patched(pass_.unet) for pass_ in passes] == [True, True]  # hires pass included


def test_repeated_negative_lines_come_from_the_cache() -> None:
    runner = CoupleRunner(RecordingServices())
    p = Processing(PROMPT, SdModel(), negative_prompt="red\nred")
    run_generation(runner, p, args(region_negatives=True))
    assert runner.services.negative_lines == ["red"]  # type: ignore[attr-defined]
    run_generation(runner, p, args(region_negatives=True))
    assert runner.services.negative_lines == ["red"]  # type: ignore[attr-defined]
    assert runner.cache.stats.hits == 1 + 4  # the repeat in the first; 2 regions + 2 negatives next


def test_a_negative_line_is_cached_apart_from_the_same_positive_line() -> None:
    runner, _, _ = generate("a red circle\nx", region_negatives=True, flags=("is_sdxl",))
    assert runner.services.negative_lines == ["a red circle", "x"]  # type: ignore[attr-defined]


def test_the_infotext_key_restores_the_option_and_old_infotexts_paste_it_off() -> None:
    _, p, _ = generate(NEGATIVES, region_negatives=True)
    pasted = {k: str(v) for k, v in p.extra_generation_params.items()}
    assert from_infotext(pasted)["region_negatives"] is True
    old = {k: v for k, v in pasted.items() if k != KEY}
    fill_absent_keys(old)
    assert from_infotext(old)["region_negatives"] is False
