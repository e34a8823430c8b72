"""The standalone host on the demo architecture (random weights: wiring, not image quality)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from lib_couple.demo.model import DemoComponents, decode_latents, load_demo_pipeline, write_untrained_weights
from lib_couple.demo.sampling import img2img_start
from lib_couple.errors import CoupleError
from lib_couple.hosts.standalone import GenerationRequest, generate, image_latents, to_pil
from lib_couple.infotext import from_infotext, parse_parameters
from lib_couple.memory.manager import get_memory_manager
from lib_couple.params import CoupleParams


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> DemoComponents:
    directory = write_untrained_weights(tmp_path_factory.mktemp("weights"))
    return load_demo_pipeline(weights_dir=directory)


def request(couple: CoupleParams, **overrides: object) -> GenerationRequest:
    values: dict[str, object] = {
        "prompt": "a red circle\na blue square",
        "width": 72,
        "height": 56,
        "steps": 2,
    }
    values.update(overrides)
    return GenerationRequest(couple=couple, **values)  # type: ignore[arg-type]


def test_couple_changes_the_image_and_is_removed_afterwards(random_model: DemoComponents) -> None:
    processors = dict(random_model.unet.attn_processors)
    plain = generate(random_model, request(CoupleParams()), progress=False)
    coupled = generate(random_model, request(CoupleParams(enabled=True)), progress=False)
    assert plain.image.size == coupled.image.size == (72, 56)
    assert plain.image.tobytes() != coupled.image.tobytes()
    assert dict(random_model.unet.attn_processors) == processors
    again = generate(random_model, request(CoupleParams()), progress=False)
    assert again.image.tobytes() == plain.image.tobytes()


def test_parameters_text_carries_the_couple_keys(random_model: DemoComponents) -> None:
    couple = CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1.5]])
    result = generate(random_model, request(couple), progress=False)
    prompt, _, params = parse_parameters(result.parameters)
    assert prompt == "a red circle\na blue square"
    assert params["Size"] == "72x56"
    assert from_infotext(params)["mapping"] == couple.mapping


def test_bad_regions_fail_before_sampling(random_model: DemoComponents) -> None:
    processors = dict(random_model.unet.attn_processors)
    with pytest.raises(CoupleError, match="2 region rows but the prompt has 3 lines"):
        generate(
            random_model,
            request(CoupleParams(enabled=True, mode="Advanced"), prompt="a\nb\nc"),
            progress=False,
        )
    assert dict(random_model.unet.attn_processors) == processors


def test_a_repeated_generation_encodes_nothing_again(tmp_path: Path) -> None:
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights", seed=1))
    calls: list[int] = []
    model.text_encoder.register_forward_hook(lambda *_: calls.append(1))
    couple = CoupleParams(enabled=True)
    first = generate(model, request(couple), progress=False).image
    encoded_first = len(calls)
    second = generate(model, request(couple), progress=False).image
    assert encoded_first == 3  # the whole prompt, the negative, the two lines in one batch
    assert len(calls) == encoded_first
    assert first.tobytes() == second.tobytes()
    manager = get_memory_manager()
    assert manager.pool.in_use == 0
    entries = len(manager.cache)
    del model, first, second
    gc.collect()
    assert len(manager.cache) == 0 < entries  # the encoder is gone, so are its encodings


@given(st.integers(1, 60), st.floats(0.0, 1.0))
def test_img2img_skips_the_steps_its_strength_does_not_run(steps: int, strength: float) -> None:
    start = img2img_start(steps, strength)
    assert 0 <= start <= steps
    assert steps - start == round(strength * steps)
    assert img2img_start(steps, 0.0) == steps
    assert img2img_start(steps, 1.0) == 0


def test_img2img_runs_only_the_remaining_steps_and_strength_0_gives_the_input_back(
    random_model: DemoComponents,
) -> None:
    calls: list[int] = []
    hook = random_model.unet.register_forward_hook(lambda *_: calls.append(1))
    source = Image.new("RGB", (64, 48), (200, 30, 30))
    try:
        half = generate(
            random_model, request(CoupleParams(), init_image=source, denoising_strength=0.5, steps=4)
        )
        assert len(calls) == 2  # 4 steps at strength 0.5: the last 2
        calls.clear()
        kept = generate(random_model, request(CoupleParams(), init_image=source, denoising_strength=0.0))
        assert calls == []
    finally:
        hook.remove()
    encoded = image_latents(random_model, source, 72, 56)
    assert kept.image.tobytes() == to_pil(decode_latents(random_model, encoded)).tobytes()
    assert half.image.size == (72, 56)
    _, _, params = parse_parameters(half.parameters)
    assert params["Denoising strength"] == "0.5"


def test_img2img_refuses_a_strength_out_of_range(random_model: DemoComponents) -> None:
    source = Image.new("RGB", (8, 8))
    with pytest.raises(CoupleError, match="denoising strength must be a number from 0 to 1; got 1.5"):
        generate(random_model, request(CoupleParams(), init_image=source, denoising_strength=1.5))


def test_a_negative_line_per_region_changes_the_image_and_one_line_does_not(
    random_model: DemoComponents,
) -> None:
    on = CoupleParams(enabled=True, region_negatives=True)
    today = generate(random_model, request(CoupleParams(enabled=True), negative="red"), progress=False)
    one_line = generate(random_model, request(on, negative="red"), progress=False)
    per_region = generate(random_model, request(on, negative="red\n"), progress=False)
    assert one_line.image.tobytes() == today.image.tobytes()
    assert "applies everywhere" in one_line.notes[0]
    assert per_region.image.tobytes() != today.image.tobytes()
    assert per_region.notes == ("per-region negative prompts: 2 lines, one per region",)
    assert today.notes == ()
    _, negative, params = parse_parameters(per_region.parameters)
    assert negative == "red\n"  # the empty line of the second region survives the round trip
    assert params["forge_couple_region_negatives"] == "True"
