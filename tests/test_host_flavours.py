"""The script's whole hook sequence against both hosts' doubles: lllyasviel Forge and Forge Neo.

The doubles follow each host's code where they differ (tests/doubles: Neo's flags and
`huggingface_repo`, its patcher's clone, its hires pass's one `process_before_every_sampling`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np
import pytest

from lib_couple.hosts.patcher import REPLACE_TABLE_KEY
from lib_couple.infotext import ENABLED_KEY, from_infotext, to_infotext
from lib_couple.params import ARG_NAMES, CoupleParams, params_from_args, params_to_args
from tests.doubles.forge_modules import api_default_script_args, fake_forge
from tests.doubles.forge_processing import Processing, ScriptHooks, SdModel, run_generation, sample_pass
from tests.doubles.forge_unet import FLAVOURS, Flavour, ModelPatcher

PROMPT = "a red circle\na blue square"


def is_patched(unet: ModelPatcher) -> bool:
    return REPLACE_TABLE_KEY in unet.model_options["transformer_options"]


def host_objects_unpatched(model: SdModel) -> bool:
    """The host's own UNets (as loaded, after LoRAs) carry no patch, and the current one is one of them."""
    own = [model.forge_objects_original.unet, model.forge_objects_after_applying_lora.unet]
    return not any(is_patched(unet) for unet in own) and any(model.forge_objects.unet is u for u in own)


def halves() -> list[dict[str, Any]]:
    left = np.zeros((16, 16), dtype=np.float32)
    left[:, :8] = 1.0
    return [{"mask": left, "weight": 1.0}, {"mask": 1.0 - left, "weight": 1.0}]


CASES = {
    "Basic": CoupleParams(enabled=True),
    "Advanced": CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 1, 0, 0.5, 1], [0, 1, 0.5, 1, 1]]),
    "Mask": CoupleParams(enabled=True, mode="Mask", mapping=halves()),
}


def stopped(forge: Any) -> Callable[[], bool]:
    return lambda: bool(forge.shared.state.interrupted)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("mode", sorted(CASES))
def test_each_mode_patches_the_sampling_and_leaves_the_host_model_unpatched(
    flavour: Flavour, mode: str
) -> None:
    params = CASES[mode]
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        p = Processing(PROMPT, SdModel(flavour=flavour))
        passes = run_generation(ScriptHooks(script), p, params_to_args(params), interrupted=stopped(forge))
        assert not forge.shared.state.interrupted
    assert len(passes) == 1
    assert is_patched(passes[0].unet)
    plain = sample_pass(p, passes[0].latent_hw, seed=0)
    assert not is_patched(plain.unet)
    assert (passes[0].output - plain.output).abs().max().item() > 1e-3
    assert host_objects_unpatched(p.sd_model)
    written = {k: str(v) for k, v in p.extra_generation_params.items() if k.startswith(ENABLED_KEY)}
    assert set(written) == set(to_infotext(params))
    assert from_infotext(written)["mode"] == mode


class CountingHooks(ScriptHooks):
    def __init__(self, script: Any) -> None:
        super().__init__(script)
        self.sampling_hooks = 0

    def process_before_every_sampling(self, p: Any, x: Any) -> None:
        self.sampling_hooks += 1
        super().process_before_every_sampling(p, x)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_hires_pass_is_regional_on_each_hosts_hook_order(flavour: Flavour) -> None:
    with fake_forge() as forge:
        hooks = CountingHooks(forge.script.ForgeCouple())
        p = Processing(PROMPT, SdModel(flavour=flavour), enable_hr=True)
        args = params_to_args(CoupleParams(enabled=True, compatibility=False))
        passes = run_generation(hooks, p, args, interrupted=stopped(forge))
    assert [is_patched(pass_.unet) for pass_ in passes] == [True, True]
    # Forge calls the hook on the first pass's patched objects too; Neo only on fresh ones
    assert hooks.sampling_hooks == (3 if flavour == "forge" else 2)
    assert host_objects_unpatched(p.sd_model)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([True, True, "Diagonal"], "argument mode"),
        (params_to_args(CoupleParams(enabled=True, background_weight=7.0)), "argument background_weight"),
        (params_to_args(CoupleParams(enabled=True, mode="Advanced", mapping="[[0, 0.5")), "mapping"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_argument_is_refused_with_its_field_named_and_nothing_is_sampled(
    flavour: Flavour, args: list[object], field: str
) -> None:
    with fake_forge() as forge:
        forge.settings_callbacks[0]()
        script = forge.script.ForgeCouple()
        p = Processing(PROMPT, SdModel(flavour=flavour))
        passes = run_generation(ScriptHooks(script), p, args, interrupted=stopped(forge))
        assert forge.shared.state.interrupted
    assert passes == []  # interrupted before the first batch: no image
    assert p.extra_generation_params[ENABLED_KEY] == "ERROR"
    assert field in p.extra_generation_params["forge_couple_error"]
    assert any(field in comment for comment in p.comments)
    assert host_objects_unpatched(p.sd_model)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_exception_mid_sampling_leaves_the_host_model_unpatched(flavour: Flavour) -> None:
    with fake_forge() as forge:
        hooks = ScriptHooks(forge.script.ForgeCouple())
        p = Processing(PROMPT, SdModel(flavour=flavour))
        args = params_to_args(CoupleParams(enabled=True))
        with pytest.raises(RuntimeError, match="sampler failed"):
            run_generation(hooks, p, args, fail_in_sampling=True, interrupted=stopped(forge))
        model = p.sd_model
        assert is_patched(model.forge_objects.unet)  # the host never reached postprocess
        assert not is_patched(model.forge_objects_original.unet)
        assert not is_patched(model.forge_objects_after_applying_lora.unet)
        hooks.setup(p, params_to_args(CoupleParams(enabled=True)))  # the next generation begins
    assert host_objects_unpatched(model)


@pytest.mark.parametrize(
    ("flavour", "flags", "repo", "name"),
    [
        ("forge", ("is_sd3",), None, "SD3"),
        ("neo", ("is_wan",), "Qwen/Qwen-Image", "Qwen-Image"),  # Neo sets is_wan on Qwen-Image too
        ("neo", ("is_wan",), None, "Wan"),
        ("neo", (), "black-forest-labs/FLUX.2-klein-4B", "Flux.2 Klein"),
    ],
)
def test_an_unsupported_model_generates_normally_with_its_name_in_the_message(
    flavour: Flavour, flags: tuple[str, ...], repo: str | None, name: str
) -> None:
    with fake_forge() as forge:
        hooks = ScriptHooks(forge.script.ForgeCouple())
        p = Processing(PROMPT, SdModel(flags, flavour=flavour, repo=repo))
        args = params_to_args(CoupleParams(enabled=True))
        passes = run_generation(hooks, p, args, interrupted=stopped(forge))
        assert not forge.shared.state.interrupted
    assert len(passes) == 1
    assert not is_patched(passes[0].unet)
    assert any(f"{name} is not one" in comment for comment in p.comments)
    assert ENABLED_KEY not in p.extra_generation_params


def test_the_apis_unguarded_ui_calls_get_defaults_even_when_the_panel_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise RuntimeError("gradio changed")

    with fake_forge() as forge:
        scripts = [forge.script.ForgeCouple() for _ in range(2)]
        for script, is_img2img in zip(scripts, (False, True), strict=True):
            script.is_img2img = is_img2img
        built = api_default_script_args(scripts)
        monkeypatch.setattr(forge.script, "build_couple_ui", broken)
        placeholders = api_default_script_args(scripts)  # no guard around: it must not raise
    for values in (built, placeholders):
        assert len(values) == 2 * len(ARG_NAMES)
        for tab in (values[: len(ARG_NAMES)], values[len(ARG_NAMES) :]):
            assert params_from_args(tab).enabled is False
