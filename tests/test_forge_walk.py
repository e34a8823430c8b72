"""The Latent Walk in Forge, through doubles of Forge's processing: injection, noise, Flux, LoRA,
Stop, the frame cache, the tab and its defaults."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.walk_frames import forge_walk_frames, per_prompt, walk_tags
from lib_couple.hosts.forge.walk_host import (
    FORGE_TXT2IMG_DEFAULTS,
    UI_CONFIG_KEYS,
    ForgeWalkServices,
    defaults_from_ui_config,
    walk_architecture,
)
from lib_couple.ui.walk_tab import frame_parameters, make_walk_handler
from lib_couple.walk.explorer import LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.plan import WalkPlan, WalkSettings
from tests.doubles.forge_walk import Flux, WalkModel, fake_forge_walk

ROOT = Path(__file__).resolve().parents[1]
PLAN = WalkPlan(("a red apple", "a blue ball"), (3, 4), frames=4)
SETTINGS = WalkSettings(64, 64, 2, 5.0, "blurry", "Euler")


def walk(
    plan: WalkPlan = PLAN, settings: WalkSettings = SETTINGS, cache: FrameCache | None = None
) -> list[Any]:
    return list(forge_walk_frames(ForgeWalkServices(), cache)(plan, settings))


def reference(model: WalkModel, plan: WalkPlan, architecture: Any) -> LatentSpaceExplorer:
    """The walk computed directly from the model's encoder: what every frame must have sampled."""
    return LatentSpaceExplorer(
        plan.keyframes(),
        lambda prompt: model.get_learned_conditioning([prompt]),
        architecture=architecture,
        method=plan.method,
    )


def same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.allclose(a, b, atol=1e-6)
    return set(a) == set(b) and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_every_frame_samples_the_walked_conditioning_and_noise_not_the_prompt_cache() -> None:
    with fake_forge_walk() as forge:
        frames = walk()
        model = forge.model
        expected = reference(WalkModel(), PLAN, "sd15")
        positions = PLAN.positions()
        assert len(frames) == len(positions) == len(model.samples) == 5
        for sampled, position in zip(model.samples, positions, strict=True):
            assert same(sampled.cond, per_prompt(expected.conditioning(position)))
            assert torch.equal(sampled.noise, expected.noise((1, 4, 8, 8), position))
            assert sampled.sampler_name == "Euler"
        # Positions 0 and 0.25 share the nearest keyframe's prompt text, which Forge's prompt
        # cache would answer with one cond: theirs differ.
        assert model.samples[0].prompt == model.samples[1].prompt == "a red apple"
        assert not same(model.samples[0].cond, model.samples[1].cond)
        assert forge.shared.state.jobs == ["latent walk"] * 5  # a Forge job per frame
        assert forge.shared.state.job_count == 5  # ... placed in one progress bar
        assert forge.shared.state.job_no == 4
        assert forge.shared.state.ended == 5
        assert forge.reloads == [1]  # the checkpoint is loaded before the walk reads its kind


def test_sdxl_walks_its_dict_and_keeps_the_size_part_of_the_vector() -> None:
    with fake_forge_walk(WalkModel("sdxl")) as forge:
        walk()
        expected = reference(WalkModel("sdxl"), PLAN, "sdxl")
        for sampled, position in zip(forge.model.samples, PLAN.positions(), strict=True):
            assert same(sampled.cond, per_prompt(expected.conditioning(position)))
            assert torch.equal(sampled.cond["vector"][-4:], torch.ones(4))


def test_flux_runs_at_cfg_1_without_a_negative_and_keeps_its_guidance() -> None:
    with fake_forge_walk(Flux()) as forge:
        walk()
        for sampled in forge.model.samples:
            assert sampled.cfg_scale == 1.0
            assert sampled.uncond is None
            assert sampled.cond["guidance"].item() == 3.5
        assert all(text != "blurry" for text, _ in forge.model.encode_calls)


def test_lora_tags_reach_every_frame_and_keyframes_are_encoded_once_with_them_active() -> None:
    plan = WalkPlan(("a red apple <lora:ink:0.7>", "a blue ball"), (1, 2), frames=3)
    with fake_forge_walk() as forge:
        walk(plan)
        assert all(s.prompt.endswith("<lora:ink:0.7>") for s in forge.model.samples)
        keyframe_calls = [c for c in forge.model.encode_calls if c[0] in ("a red apple", "a blue ball")]
        assert sorted(text for text, _ in keyframe_calls) == ["a blue ball", "a red apple"]
        assert all(active == ("<lora:ink:0.7>",) for _, active in keyframe_calls)


def test_stop_drops_the_interrupted_frame_and_saves_nothing(tmp_path: Path) -> None:
    with fake_forge_walk() as forge:
        forge.model.on_sample = lambda index: forge.shared.state.interrupt() if index == 3 else None
        render = forge_walk_frames(ForgeWalkServices())
        values = ("a red apple\na blue ball", "3, 4", 4, "linear", "slerp", 64, 64, 2, 5.0, "", 4, ".gif")
        updates = list(make_walk_handler(render, tmp_path)(*values))
        assert len(updates[-1][0]) == 2  # the third frame was being sampled: dropped
        assert updates[-1][2] is None
        assert list(tmp_path.iterdir()) == []
        assert forge.shared.state.ended == 3  # each frame's job ended, the stopped one too


def test_a_walk_run_again_samples_nothing() -> None:
    cache = FrameCache()
    with fake_forge_walk() as forge:
        first = walk(cache=cache)
        sampled = len(forge.model.samples)
        again = walk(cache=cache)
        assert len(forge.model.samples) == sampled
        assert [f.tobytes() for f in again] == [f.tobytes() for f in first]
        walk(settings=WalkSettings(64, 64, 3, 5.0, "blurry", "Euler"), cache=cache)  # other steps
        assert len(forge.model.samples) == 2 * sampled


def test_an_unsupported_model_is_refused_with_a_clear_message() -> None:
    with fake_forge_walk(WalkModel("sd3")) as forge, pytest.raises(CoupleError, match="SD1.5, SDXL and Flux"):
        walk()
    assert forge.model.samples == []


def test_frames_carry_forges_infotext_with_the_position() -> None:
    with fake_forge_walk():
        frames = walk()
    assert frames[2].info["parameters"].endswith("Latent walk position: 0.5000")
    assert "Steps: 2" in frames[2].info["parameters"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"is_sd1": True}, "sd15"),
        ({"is_sd2": True}, "sd15"),
        ({"is_sdxl": True}, "sdxl"),
        ({"is_flux": True}, "flux"),
        ({}, None),
    ],
)
def test_architecture_from_forge_and_neo_flags(flags: dict[str, bool], expected: str | None) -> None:
    model = type("Model", (), flags)()
    assert walk_architecture(model) == expected


def test_forges_flux_engine_is_known_by_its_class() -> None:
    assert walk_architecture(Flux()) == "flux"


def test_walk_tags_keep_each_tag_once_in_order() -> None:
    assert walk_tags(["a <lora:x:1> b <lora:y:0.5>", "c <lora:x:1>", "d"]) == "<lora:x:1> <lora:y:0.5>"
    assert walk_tags(["a", "b"]) == ""


@settings(suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(
    st.dictionaries(
        st.sampled_from(sorted(UI_CONFIG_KEYS)),
        st.one_of(st.integers(8, 2048), st.floats(1, 30), st.text(max_size=8), st.booleans(), st.none()),
    )
)
def test_defaults_follow_txt2img_values_and_keep_forges_for_odd_ones(values: dict[str, Any]) -> None:
    defaults = defaults_from_ui_config({UI_CONFIG_KEYS[k]: v for k, v in values.items()})
    for field in ("width", "height", "steps", "cfg"):
        value = values.get(field)
        good = isinstance(value, int | float) and not isinstance(value, bool)
        wanted = value if good else getattr(FORGE_TXT2IMG_DEFAULTS, field)
        assert getattr(defaults, field) == (int(wanted) if field != "cfg" else wanted)  # type: ignore[arg-type]
    sampler = values.get("sampler")
    assert defaults.sampler == (sampler if isinstance(sampler, str) else None)


def test_frame_parameters_from_images_and_gallery_files(tmp_path: Path) -> None:
    image = Image.new("RGB", (8, 8))
    image.info["parameters"] = "a red apple\nSteps: 2"
    path = tmp_path / "frame.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "from the file")
    image.save(path, pnginfo=info)
    assert frame_parameters([image], 0) == "a red apple\nSteps: 2"
    assert frame_parameters([(str(path), None)], 0) == "from the file"
    assert frame_parameters([(str(path), None)], 1) == ""
    assert frame_parameters(None, 0) == ""


def load_walk_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "forge_couple_walk_script", ROOT / "scripts" / "forge_couple_walk.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tab_registers_with_txt2img_defaults_and_send_buttons(tmp_path: Path) -> None:
    (tmp_path / "ui-config.json").write_text(
        json.dumps(
            {UI_CONFIG_KEYS["steps"]: 28, UI_CONFIG_KEYS["sampler"]: "Euler", UI_CONFIG_KEYS["width"]: 768}
        )
    )
    with fake_forge_walk(tmp=tmp_path) as forge:
        load_walk_script()
        assert len(forge.tabs) == 1
        # the explorer's pre-render watches every sampling step, before and after its model call
        assert [c.__name__ for c in forge.denoiser_callbacks] == ["step_check"]
        assert [c.__name__ for c in forge.after_cfg_callbacks] == ["step_check"]
        [(blocks, title, elem_id)] = forge.tabs[0]()
        assert isinstance(blocks, gr.Blocks)
        assert (title, elem_id) == ("Latent Walk", "forge_couple_latent_walk")
        values = {c.label: c.value for c in blocks.blocks.values() if hasattr(c, "value") and c.label}
        assert values["Sampling steps"] == 28
        assert values["Sampling method"] == "Euler"
        assert values["Width"] == 768
        assert values["Height"] == 512  # not in ui-config: Forge's
        assert sorted(b.tabname for b in forge.bindings) == ["img2img", "txt2img"]


def test_the_explorer_fast_path_routes_are_added_to_forge_app_once() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    with fake_forge_walk() as forge:
        load_walk_script()
        [started] = forge.app_started
        app = FastAPI()
        started(None, app)
        started(None, app)  # Reload UI starts the app again
        paths = [str(getattr(route, "path", "")) for route in app.routes]
        assert paths.count("/forge-couple/explore/ahead") == 1
        assert paths.count("/forge-couple/explore/frame") == 1
        answer = TestClient(app).get("/forge-couple/explore/ahead", params={"token": "x" * 22})
        assert answer.status_code == 404
        assert answer.json()["error"].startswith("token:")
