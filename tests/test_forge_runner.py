"""The Forge script's hook logic, driven in Forge's order through doubles of Forge's objects."""

from __future__ import annotations

import pytest
import torch

from lib_couple.hosts.forge.runner import CoupleRunner
from lib_couple.hosts.patcher import REPLACE_TABLE_KEY
from lib_couple.infotext import from_infotext
from lib_couple.log import setup_logging
from lib_couple.params import ARG_NAMES, CoupleParams, params_to_args
from tests.doubles.forge_processing import (
    Processing,
    SdModel,
    Services,
    run_generation,
    run_sd_upscale,
    sample_pass,
)
from tests.doubles.forge_unet import ModelPatcher

PROMPT = "a red circle\na blue square"


def args(**fields: object) -> list[object]:
    return params_to_args(CoupleParams(enabled=True, **fields))  # type: ignore[arg-type]


def is_patched(unet: ModelPatcher) -> bool:
    return REPLACE_TABLE_KEY in unet.model_options["transformer_options"]


def unpatched_after(model: SdModel) -> bool:
    return model.forge_objects.unet is model.forge_objects_original.unet and not is_patched(
        model.forge_objects.unet
    )


def setup(prompt: str = PROMPT, **options: object) -> tuple[CoupleRunner, Processing, Services]:
    services = Services()
    model = SdModel(flags=options.pop("flags", ("is_sd1",)))  # type: ignore[arg-type]
    return CoupleRunner(services), Processing(prompt, model, **options), services  # type: ignore[arg-type]


def test_txt2img_patches_the_sampling_and_leaves_the_model_unpatched() -> None:
    runner, p, services = setup()
    passes = run_generation(runner, p, args())
    assert services.attention_calls > 0  # the regions use the host's attention function
    assert len(passes) == 1
    assert is_patched(passes[0].unet)
    plain = sample_pass(p, passes[0].latent_hw, seed=0)
    assert not is_patched(plain.unet)
    assert (passes[0].output - plain.output).abs().max().item() > 1e-3
    assert unpatched_after(p.sd_model)
    restored = from_infotext({k: str(v) for k, v in p.extra_generation_params.items()})
    assert restored["enabled"] is True
    assert restored["mode"] == "Basic"


def test_disabled_does_nothing() -> None:
    runner, p, _ = setup()
    passes = run_generation(runner, p, params_to_args(CoupleParams(enabled=False)))
    assert not is_patched(passes[0].unet)
    assert p.extra_generation_params == {}


@pytest.mark.parametrize("compatibility", [True, False])
def test_hires_pass_follows_the_compatibility_toggle(compatibility: bool) -> None:
    runner, p, _ = setup(enable_hr=True, n_iter=2)
    passes = run_generation(runner, p, args(compatibility=compatibility))
    first_passes, hires_passes = passes[0::2], passes[1::2]
    assert all(is_patched(pass_.unet) for pass_ in first_passes)  # every batch, not only the first
    assert all(is_patched(pass_.unet) != compatibility for pass_ in hires_passes)
    assert hires_passes[0].latent_hw == (24, 24)
    assert unpatched_after(p.sd_model)


def test_batch_items_with_different_prompts_get_their_own_regions() -> None:
    runner, p, _ = setup(batch_size=2)
    p.all_prompts = ["a red circle\na blue square", "a green circle\na yellow square\na white circle"]
    passes = run_generation(runner, p, args())
    assert is_patched(passes[0].unet)
    assert runner.item_sets == [0, 1]
    assert [len(plan.prompts) for plan in runner.plans] == [2, 3]


def test_same_lines_are_not_encoded_again_in_the_next_generation() -> None:
    runner, p, _ = setup()
    run_generation(runner, p, args())
    first = list(p.sd_model.encode_calls)
    run_generation(runner, p, args())
    assert first == ["a red circle", "a blue square"]
    assert p.sd_model.encode_calls == first
    assert runner.cache.stats.hits == 2


def test_partial_api_arguments_use_the_defaults() -> None:
    runner, p, _ = setup()
    passes = run_generation(
        runner, p, [True, True, "Advanced", "", None, None, None, [[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1]]]
    )
    assert is_patched(passes[0].unet)
    assert runner.params.common_parser == CoupleParams().common_parser
    assert len(ARG_NAMES) > 8


@pytest.mark.parametrize(
    ("prompt", "fields", "message"),
    [
        ("a red circle", {}, "at least 2 prompt lines"),
        (PROMPT, {"mode": "Advanced", "mapping": [[0, 1, 0, 1, 1]]}, "1 region rows but the prompt has 2"),
        (PROMPT, {"mode": "Advanced", "mapping": [[0.5, 0.2, 0, 1, 1], [0, 1, 0, 1, 1]]}, "row 1"),
        (PROMPT, {"mode": "Advanced", "mapping": []}, "empty"),
        (
            PROMPT,
            {"mode": "Advanced", "mapping": [[0, 0.5, 0, 1, 1], [0, 0.5, 0, 1, 1]], "strict_coverage": True},
            "covered by no region",
        ),
        (
            PROMPT,
            {"mode": "Mask", "mapping": [{"mask": "???", "weight": 1}, {"mask": "???", "weight": 1}]},
            "base64",
        ),
    ],
)
def test_bad_input_is_reported_and_nothing_is_patched(
    prompt: str, fields: dict[str, object], message: str
) -> None:
    runner, p, services = setup(prompt)
    passes = run_generation(runner, p, args(**fields))
    assert not any(is_patched(pass_.unet) for pass_ in passes)
    assert p.extra_generation_params["forge_couple"] == "ERROR"
    assert message in p.extra_generation_params["forge_couple_error"]
    assert set(p.extra_generation_params) == {"forge_couple", "forge_couple_error"}
    assert any(message in comment for comment in p.comments)
    assert services.interrupts == 1
    assert unpatched_after(p.sd_model)


def test_bad_api_argument_types_are_reported_not_raised() -> None:
    runner, p, services = setup()
    run_generation(runner, p, [True, True, "Diagonal"])
    assert p.extra_generation_params["forge_couple"] == "ERROR"
    assert any("mode" in comment for comment in p.comments)
    assert services.interrupts == 1


def test_the_console_line_of_an_error_names_the_extension(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Forge leaves the root logger without handlers, so our handler names us once on the line:
    # without the name, "the mapping is not valid JSON" does not say whose mapping.
    runner, p, _ = setup()
    setup_logging()
    with caplog.at_level("ERROR", logger="forge_couple"):
        run_generation(runner, p, args(mode="Advanced", mapping="[[0, 0.5"))
    lines = [line for line in capsys.readouterr().err.splitlines() if "not valid JSON" in line]
    assert lines
    assert all(line.startswith("Forge Couple: ERROR: the mapping is not valid JSON") for line in lines), lines
    assert all(comment.startswith("Forge Couple: ") for comment in p.comments)
    assert all(record.exc_info is None for record in caplog.records)


@pytest.mark.parametrize("flags", [("is_wan",), ("is_sd3",), ()])
def test_unsupported_models_generate_normally_with_a_message(flags: tuple[str, ...]) -> None:
    runner, p, services = setup(flags=flags)
    passes = run_generation(runner, p, args())
    assert not is_patched(passes[0].unet)
    assert "forge_couple" not in p.extra_generation_params
    assert any("supports SD1.5, SDXL" in c and "without regions" in c for c in p.comments)
    assert services.interrupts == 0


def test_sdxl_conditioning_dicts_are_used_by_their_crossattn() -> None:
    runner, p, _ = setup(flags=("is_sdxl",))
    p.sd_model.sdxl_dict = True
    passes = run_generation(runner, p, args())
    assert is_patched(passes[0].unet)


def test_adetailer_inner_passes_are_skipped() -> None:
    runner, p, _ = setup()
    p._ad_inner = True  # type: ignore[attr-defined]
    passes = run_generation(runner, p, args())
    assert not is_patched(passes[0].unet)


def test_a_failed_sampling_leaves_no_patch_behind_at_the_next_generation() -> None:
    runner, p, _ = setup()
    with pytest.raises(RuntimeError):
        run_generation(runner, p, args(), fail_in_sampling=True)
    assert is_patched(p.sd_model.forge_objects.unet)  # Forge did not reach postprocess
    runner.setup(p, args())
    assert unpatched_after(p.sd_model)


def test_interrupt_setting_off_still_reports() -> None:
    services = Services(interrupt_on_error=False)
    runner = CoupleRunner(services)
    p = Processing("only one line", SdModel())
    run_generation(runner, p, args())
    assert services.interrupts == 0
    assert p.extra_generation_params["forge_couple"] == "ERROR"


def test_regions_refused_before_the_first_batch_sample_nothing() -> None:
    # Forge decodes an interrupted sampling's starting noise; refused before the loop, no image.
    runner, p, services = setup("only one line")
    passes = run_generation(runner, p, args())
    assert passes == []
    assert services.interrupts == 1
    assert "2 prompt lines" in p.extra_generation_params["forge_couple_error"]


def test_strict_coverage_is_refused_before_the_first_batch() -> None:
    runner, p, services = setup()
    passes = run_generation(
        runner,
        p,
        args(mode="Advanced", mapping=[[0, 0.5, 0, 1, 1], [0.5, 0.9, 0, 1, 1]], strict_coverage=True),
    )
    assert passes == []
    assert services.interrupts == 1
    assert "covered by no region" in p.extra_generation_params["forge_couple_error"]


def test_interrupt_off_samples_unpatched_after_an_early_refusal() -> None:
    services = Services(interrupt_on_error=False)
    runner = CoupleRunner(services)
    p = Processing("only one line", SdModel())
    passes = run_generation(runner, p, args())
    assert len(passes) == 1
    assert not is_patched(passes[0].unet)


def test_extra_network_tags_do_not_count_in_the_early_check() -> None:
    # Forge strips the tag before conditioning: the last line is empty and ignored, leaving 2 lines.
    runner, p, services = setup("<lora:ink:0.8>a red circle\na blue square\n<lora:ink:0.2>")
    p.all_prompts = [p.prompt]
    runner.setup(p, args())
    runner.process(p)
    assert runner.error is None
    assert services.interrupts == 0


def test_trailing_empty_line_is_ignored() -> None:
    runner, p, _ = setup(PROMPT + "\n")
    passes = run_generation(runner, p, args())
    assert is_patched(passes[0].unet)
    assert torch.isfinite(passes[0].output).all()


def test_sd_upscale_tiles_get_the_lines_of_their_regions_and_no_regional_attention() -> None:
    runner, p, services = setup("1girl, red dress\n1boy, blue suit")
    p.batch_size = 2
    tile_args = args(use_tile=True, tile_h=2, tile_v=2, tile_threshold=0.75, tile_replace="1boy: male")
    seen = run_sd_upscale(runner, p, tile_args, tiles=4)
    assert seen == [["1girl, red dress", "male, blue suit"]] * 2  # row by row: left, right, left, right
    assert services.attention_calls == 0
    assert unpatched_after(p.sd_model)


def test_tile_mode_needs_img2img_and_bad_replacement_is_reported() -> None:
    runner, p, _ = setup()
    passes = run_generation(runner, p, args(use_tile=True))
    assert is_patched(passes[0].unet)  # txt2img: tile mode does not apply, the regions do
    runner, p, _ = setup()
    seen = run_sd_upscale(runner, p, args(use_tile=True, tile_replace="no colon"), tiles=2)
    assert seen == [[PROMPT]] * 2
    assert any("subject replacement line 1" in text for text in p.comments)


def test_tile_debug_logs_each_tiles_prompt_and_advanced_boxes_follow_the_threshold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a box half in each top tile and a box over the whole top row; the bottom row has none
    mapping = [[0.25, 0.75, 0.0, 0.25, 1.0], [0.0, 1.0, 0.0, 0.5, 1.0]]
    prompt = "a cat\na sky"
    for threshold, top in ((1.0, "a sky"), (0.0, "a cat, a sky")):
        runner, p, _ = setup(prompt)
        with caplog.at_level("INFO", logger="forge_couple"):
            tile_args = args(
                mode="Advanced",
                mapping=mapping,
                use_tile=True,
                tile_h=2,
                tile_v=2,
                tile_threshold=threshold,
                debug=True,
            )
            seen = run_sd_upscale(runner, p, tile_args, tiles=4)
        assert seen[0] == seen[1] == [top]
        assert seen[2] == seen[3] == ["a cat, a sky"]  # no region there: every line
        assert f"tile 3: {seen[3][0]}" in caplog.text


def test_the_manager_holds_the_patched_unets_only_while_the_generation_runs() -> None:
    runner, p, _ = setup(n_iter=2)
    tracked: list[int] = []
    hook = runner.process_before_every_sampling

    def spy(p: Processing, x: torch.Tensor) -> None:
        hook(p, x)
        tracked.append(runner.manager.tracked_models)

    runner.process_before_every_sampling = spy  # type: ignore[method-assign]
    run_generation(runner, p, args())
    assert tracked == [1, 2]  # one patched clone per batch, both alive until the end
    assert runner.manager.tracked_models == 0
    with pytest.raises(RuntimeError, match="sampler failed"):
        run_generation(runner, p, args(), fail_in_sampling=True)
    assert runner.manager.tracked_models == 1  # an exception skipped postprocess ...
    runner.setup(p, args())
    assert runner.manager.tracked_models == 0  # ... and the next generation cleans up first


@pytest.mark.parametrize("use_pool", [True, False])
def test_the_pool_serves_the_regions_by_default_and_does_not_change_the_image(use_pool: bool) -> None:
    reference_runner, reference_p, _ = setup()
    reference_runner.manager.use_pool = False
    reference = run_generation(reference_runner, reference_p, args())[0].output

    runner, p, _ = setup()
    assert runner.manager.use_pool  # the default
    runner.manager.use_pool = use_pool
    output = run_generation(runner, p, args())[0].output
    assert torch.equal(output, reference)
    assert (runner.manager.pool.stats.requests > 0) is use_pool
