"""scripts/forge_couple.py against fake `modules.*`: registration, ui() and the hooks' wiring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.hosts.patcher import REPLACE_TABLE_KEY
from lib_couple.infotext import KEYS, format_parameters, from_infotext, parse_parameters, to_infotext
from lib_couple.params import ARG_NAMES, CoupleParams, params_to_args
from tests.doubles.forge_modules import fake_forge
from tests.doubles.forge_processing import Processing, ScriptHooks, SdModel, run_generation


def stopped(forge: Any) -> Callable[[], bool]:
    return lambda: bool(forge.shared.state.interrupted)


def test_script_identity_and_settings() -> None:
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        assert script.title() == "Forge Couple"
        assert script.show(False) is forge.scripts.AlwaysVisible
        assert len(forge.settings_callbacks) == 1
        forge.settings_callbacks[0]()
        options = forge.shared.opts.data_labels
        assert {"fc_do_interrupt", "fc_default_mode", "fc_sync_delay_ms", "fc_cache_entries"} <= set(options)
        assert all(info.section == ("forge_couple", "Forge Couple") for info in options.values())


@pytest.mark.parametrize("is_img2img", [False, True])
def test_ui_can_be_built_again_and_returns_the_arguments_in_order(is_img2img: bool) -> None:
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        for _ in range(2):  # Forge builds it again for the API and on Reload UI
            with gr.Blocks():
                controls = script.ui(is_img2img)
            assert len(controls) == len(ARG_NAMES)
            defaults = params_to_args(CoupleParams())
            values = [c.value for c in controls]
            assert values[: ARG_NAMES.index("mapping")] == defaults[: ARG_NAMES.index("mapping")]
            assert {key for _, key in KEYS} <= set(script.paste_field_names)


def test_user_config_sets_the_controls_defaults(tmp_path: Path) -> None:
    config = tmp_path / "couple.yaml"
    config.write_text("mode: Advanced\nseparator: '|'\n")
    with fake_forge({"forge_couple_config": str(config)}) as forge:
        script = forge.script.ForgeCouple()
        with gr.Blocks():
            controls = script.ui(False)
        assert controls[ARG_NAMES.index("mode")].value == "Advanced"
        assert controls[ARG_NAMES.index("separator")].value == "|"


def test_default_mode_setting_sets_the_mode_control() -> None:
    with fake_forge() as forge:
        forge.settings_callbacks[0]()
        forge.shared.opts.fc_default_mode = "Mask"
        script = forge.script.ForgeCouple()
        with gr.Blocks():
            controls = script.ui(True)
        assert controls[ARG_NAMES.index("mode")].value == "Mask"


def test_hooks_patch_and_unpatch_through_forges_signatures() -> None:
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        p = Processing("a red circle\na blue square", SdModel())
        passes = run_generation(
            ScriptHooks(script), p, params_to_args(CoupleParams(enabled=True)), interrupted=stopped(forge)
        )
        assert REPLACE_TABLE_KEY in passes[0].unet.model_options["transformer_options"]
        assert p.sd_model.forge_objects.unet is p.sd_model.forge_objects_original.unet
        assert p.extra_generation_params["forge_couple"] is True


def test_bad_input_interrupts_through_shared_state() -> None:
    with fake_forge() as forge:
        forge.settings_callbacks[0]()
        script = forge.script.ForgeCouple()
        p = Processing("one line only", SdModel())
        run_generation(
            ScriptHooks(script), p, params_to_args(CoupleParams(enabled=True)), interrupted=stopped(forge)
        )
        assert forge.shared.state.interrupted
        assert p.extra_generation_params["forge_couple"] == "ERROR"


def test_loading_a_model_forgets_the_cached_encodings() -> None:
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        script.runner.cache.clear()  # the process's manager outlives other tests' scripts
        p = Processing("a red circle\na blue square", SdModel())
        run_generation(
            ScriptHooks(script), p, params_to_args(CoupleParams(enabled=True)), interrupted=stopped(forge)
        )
        assert len(script.runner.cache) == 2
        assert len(forge.model_loaded_callbacks) == 1
        forge.model_loaded_callbacks[0](SdModel())
        assert len(script.runner.cache) == 0


def pasted_values(script: Any, controls: list[Any], forge: Any, infotext: str) -> dict[str, object]:
    """What Forge's paste sets in each argument's control; keys it cannot find leave it unchanged."""
    _, _, params = parse_parameters(infotext)
    for callback in forge.infotext_pasted_callbacks:
        callback(infotext, params)
    names = {id(control): name for name, control in zip(ARG_NAMES, controls, strict=True)}
    values: dict[str, object] = {}
    for component, key in script.infotext_fields:
        value = key(params) if callable(key) else params.get(key)
        if value is not None and id(component) in names:
            values[names[id(component)]] = value
    return values


@settings(max_examples=25)
@given(
    strict=st.booleans(),
    def_in_prompt=st.booleans(),
    mode=st.sampled_from(["Basic", "Advanced"]),
)
def test_pasting_our_infotext_restores_the_toggles_it_leaves_out(
    strict: bool, def_in_prompt: bool, mode: str
) -> None:
    # Strict coverage is written only when on: pasted after an infotext that had it on, a
    # generation without it must turn it off again, not keep the earlier paste's value.
    params = CoupleParams(enabled=True, mode=mode, strict_coverage=strict, def_in_prompt=def_in_prompt)  # type: ignore[arg-type]
    infotext = format_parameters("a cat\na dog", "", {"Steps": 3, "Seed": 1, **to_infotext(params)})
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        with gr.Blocks():
            controls = script.ui(False)
        values = pasted_values(script, controls, forge, infotext)
    assert from_infotext({"k": "v", "forge_couple_strict_coverage": str(values["strict_coverage"])}) == {
        "strict_coverage": strict
    }
    assert str(values["def_in_prompt"]) == str(def_in_prompt)


def test_a_peer_infotext_keeps_definitions_and_plain_infotexts_change_nothing_but_enable() -> None:
    peer = "a | b\nSteps: 3, Seed: 1, forge_couple: True, forge_couple_mode: Basic, forge_couple_separator: |"
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()
        with gr.Blocks():
            controls = script.ui(False)
        from_peer = pasted_values(script, controls, forge, peer)
        plain = pasted_values(script, controls, forge, "a cat\nSteps: 3, Seed: 1, Size: 64x64")
    assert from_peer["def_in_prompt"] == "True"
    assert from_peer["strict_coverage"] == "False"
    assert plain == {"enabled": False}
