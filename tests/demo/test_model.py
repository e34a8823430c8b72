"""The demo model's parts, weight files, sampler and evaluation metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.demo.architecture import (
    TEXT_DIM,
    build_scheduler,
    build_text_encoder,
    build_unet,
    build_vae,
)
from lib_couple.demo.evaluate import analyse_image, nearest_shape, score_prompt
from lib_couple.demo.model import (
    TEXT_ENCODER_FILE,
    UNET_FILE,
    VAE_FILE,
    WEIGHTS_DIR,
    DemoComponents,
    decode_latents,
    encode_images,
    encode_prompts,
    load_demo_pipeline,
    save_module,
    save_vae,
    weights_present,
)
from lib_couple.demo.sampling import ddim_step_v, guided, sample, trailing_timesteps
from lib_couple.demo.shapes import COLOURS, SHAPES, Box, Colour, Scene, Shape, ShapeObject, render
from lib_couple.demo.tokenizer import CONTEXT_LENGTH, build_tokenizer
from tests.demo.following import seeds_followed

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def random_components() -> DemoComponents:
    torch.manual_seed(0)
    parts = (build_vae(scaling_factor=2.0, shift_factor=0.5), build_unet(), build_text_encoder())
    for part in parts:
        part.eval().requires_grad_(False)
    return DemoComponents(parts[0], parts[1], parts[2], build_tokenizer(), build_scheduler())


@pytest.fixture(scope="module")
def shipped() -> DemoComponents:
    if not weights_present(WEIGHTS_DIR):
        pytest.skip(f"demo weights not found in {WEIGHTS_DIR}")
    return load_demo_pipeline()


def test_trailing_timesteps_start_at_zero_snr() -> None:
    assert trailing_timesteps(1000, 20)[:3] == [999, 949, 899]
    assert trailing_timesteps(1000, 20)[-1] == 49
    assert trailing_timesteps(1000, 1) == [999]
    with pytest.raises(ValueError, match="steps"):
        trailing_timesteps(1000, 0)


def test_zero_terminal_snr_schedule() -> None:
    alphas = build_scheduler().alphas_cumprod
    assert alphas[-1].item() == pytest.approx(0.0, abs=1e-6)
    assert bool((alphas[1:] < alphas[:-1]).all())


@given(alpha=st.floats(0.0, 0.999), alpha_prev=st.floats(0.0, 1.0))
@settings(max_examples=50)
def test_ddim_step_with_true_velocity_lands_on_the_noised_target(alpha: float, alpha_prev: float) -> None:
    generator = torch.Generator().manual_seed(0)
    clean = torch.randn(2, 4, 3, 3, generator=generator, dtype=torch.float64)
    noise = torch.randn(2, 4, 3, 3, generator=generator, dtype=torch.float64)
    noisy = alpha**0.5 * clean + (1 - alpha) ** 0.5 * noise
    velocity = alpha**0.5 * noise - (1 - alpha) ** 0.5 * clean
    expected = alpha_prev**0.5 * clean + (1 - alpha_prev) ** 0.5 * noise
    torch.testing.assert_close(ddim_step_v(noisy, velocity, alpha, alpha_prev), expected)


def test_guidance_scale_one_is_the_conditional_prediction() -> None:
    uncond, cond = torch.zeros(3), torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(guided(uncond, cond, 1.0), cond)
    torch.testing.assert_close(guided(uncond, cond, 3.0), 3 * cond)


def test_encode_prompts_shape(random_components: DemoComponents) -> None:
    embeddings = encode_prompts(
        random_components, ["a red circle", "a blue square on a white background", ""]
    )
    assert tuple(embeddings.shape) == (3, CONTEXT_LENGTH, TEXT_DIM)
    assert not torch.allclose(embeddings[0], embeddings[1])


@pytest.mark.parametrize(("height", "width"), [(264, 200), (72, 136)])
def test_sampler_handles_sizes_not_divisible_by_the_unet(
    random_components: DemoComponents, height: int, width: int
) -> None:
    cond = encode_prompts(random_components, ["a red circle"])
    uncond = encode_prompts(random_components, [""])
    latents = sample(
        random_components, cond, uncond, height=height, width=width, steps=2, cfg=5.0, seed=1, progress=False
    )
    assert tuple(latents.shape) == (1, 4, height // 8, width // 8)
    images = decode_latents(random_components, latents)
    assert tuple(images.shape) == (1, 3, height, width)
    assert images.min() >= 0.0
    assert images.max() <= 1.0


def test_sampler_calls_the_model_once_a_step_on_uncond_then_cond(random_components: DemoComponents) -> None:
    cond = torch.full((2, CONTEXT_LENGTH, TEXT_DIM), 1.0)
    uncond = torch.full((1, CONTEXT_LENGTH, TEXT_DIM), -1.0)
    calls: list[tuple[tuple[int, ...], int, torch.Tensor]] = []

    def record(latents: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        calls.append((tuple(latents.shape), int(timestep), context[:, 0, 0].clone()))
        return torch.zeros_like(latents)

    sample(
        random_components,
        cond,
        uncond,
        height=64,
        width=48,
        steps=4,
        cfg=7.0,
        seed=0,
        progress=False,
        predictor=record,
    )
    assert [c[1] for c in calls] == [999, 749, 499, 249]
    assert all(c[0] == (4, 4, 8, 6) for c in calls)
    assert calls[0][2].tolist() == [-1.0, -1.0, 1.0, 1.0]


def test_sampler_is_deterministic_by_seed(random_components: DemoComponents) -> None:
    cond = encode_prompts(random_components, ["a red circle"])
    uncond = encode_prompts(random_components, [""])
    kwargs = {"height": 32, "width": 32, "steps": 2, "cfg": 3.0, "progress": False}
    first = sample(random_components, cond, uncond, seed=5, **kwargs)  # type: ignore[arg-type]
    again = sample(random_components, cond, uncond, seed=5, **kwargs)  # type: ignore[arg-type]
    other = sample(random_components, cond, uncond, seed=6, **kwargs)  # type: ignore[arg-type]
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)


def test_saved_weights_load_back(random_components: DemoComponents, tmp_path: Path) -> None:
    save_vae(random_components.vae, tmp_path / VAE_FILE)
    save_module(random_components.unet, tmp_path / UNET_FILE)
    save_module(random_components.text_encoder, tmp_path / TEXT_ENCODER_FILE)
    loaded = load_demo_pipeline(weights_dir=tmp_path)
    assert loaded.vae.config.scaling_factor == pytest.approx(2.0)
    assert loaded.vae.config.shift_factor == pytest.approx(0.5)
    assert next(loaded.unet.parameters()).dtype == torch.float32
    prompts = ["a green triangle on a black background"]
    torch.testing.assert_close(
        encode_prompts(loaded, prompts), encode_prompts(random_components, prompts), atol=2e-2, rtol=2e-2
    )


def test_missing_weights_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_demo_pipeline(weights_dir=tmp_path)


def _scene(colour: Colour, shape: Shape, background: Colour) -> npt.NDArray[np.float32]:
    return render(Scene(background, (ShapeObject(colour, shape, Box(0.45, 0.55, 0.3)),), "full"), 128)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("colour", "background"), [("red", "white"), ("blue", "black"), ("black", "yellow"), ("green", "white")]
)
def test_analysis_reads_rendered_scenes(colour: Colour, shape: Shape, background: Colour) -> None:
    report = analyse_image(_scene(colour, shape, background))
    assert (report.object_colour, report.shape, report.background) == (colour, shape, background)


def test_analysis_of_an_empty_image_finds_no_object() -> None:
    report = analyse_image(render(Scene("blue", (), "background"), 64))
    assert report.object_colour is None
    assert report.background == "blue"


def test_nearest_shape_thresholds() -> None:
    assert [nearest_shape(r) for r in (0.45, 0.7, 0.8, 0.95)] == ["triangle", "circle", "circle", "square"]


def test_score_prompt_counts_matches() -> None:
    images = [_scene("red", "circle", "white"), _scene("blue", "circle", "white")]
    score = score_prompt("a red circle on a white background", images)
    assert (score.colour_right, score.background_right, score.shape_right, score.seeds) == (1, 2, 2, 2)


def test_shipped_vae_reconstructs_colours(shipped: DemoComponents) -> None:
    image = _scene("red", "square", "white")
    batch = torch.from_numpy(image).permute(2, 0, 1)[None]
    restored = decode_latents(shipped, encode_images(shipped, batch))[0].permute(1, 2, 0).numpy()
    assert float(np.mean((restored - image) ** 2)) < 0.01
    report = analyse_image(restored)
    assert (report.object_colour, report.background) == ("red", "white")


@pytest.mark.parametrize(
    ("prompt", "colour", "background"),
    [
        ("a green circle on a black background", "green", "black"),
        ("a blue square on a black background", "blue", "black"),
        pytest.param(
            "a red circle on a white background",
            "red",
            "white",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known weakness: at 128 px and 8 steps red on white still comes out yellow "
                "(right at 256 px and 20 steps)",
            ),
        ),
    ],
)
def test_shipped_model_follows_the_prompt(
    shipped: DemoComponents, prompt: str, colour: Colour, background: Colour
) -> None:
    cond = encode_prompts(shipped, [prompt])
    uncond = encode_prompts(shipped, [""])

    def decoded(seed: int) -> torch.Tensor:
        latents = sample(
            shipped, cond, uncond, height=128, width=128, steps=8, cfg=5.0, seed=seed, progress=False
        )
        return decode_latents(shipped, latents)

    assert seeds_followed(decoded, colour, background) >= 2


def test_colour_names_are_distinct_in_the_palette() -> None:
    assert len(set(COLOURS)) == len(COLOURS) == 6
