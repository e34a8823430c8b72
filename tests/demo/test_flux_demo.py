"""The Flux demo model: its sampler, its training loop, the shipped weights and the CLI."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
import torch
from diffusers.models.attention_processor import FluxAttnProcessor2_0
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load_file

from bench.flux_demo import measure
from lib_couple.cli import EXIT_USAGE, main
from lib_couple.demo.evaluate import generate_flux
from lib_couple.demo.flux_model import (
    CLIP_FILE,
    FLUX_WEIGHT_FILES,
    FLUX_WEIGHTS_DIR,
    T5_FILE,
    TRANSFORMER_FILE,
    FluxDemo,
    build_t5,
    build_transformer,
    encode_flux_prompts,
    load_flux_demo,
    write_untrained_flux_weights,
)
from lib_couple.demo.flux_sampling import (
    Conditioning,
    decode_flux_latents,
    flux_sigmas,
    initial_flux_latents,
    sample_flux,
    unpack_latents,
)
from lib_couple.demo.flux_train import FluxTrainConfig, export_checkpoint, train
from lib_couple.demo.shapes import Colour
from lib_couple.demo.train_common import LatentSet
from lib_couple.walk.flux import pack_latents
from tests.demo.following import seeds_followed


@pytest.fixture(scope="module")
def shipped() -> FluxDemo:
    return load_flux_demo()


@given(steps=st.integers(1, 60), side=st.sampled_from([16, 32, 64]))
@settings(max_examples=40, deadline=None)
def test_sigmas_fall_from_one_to_zero_and_shift_up_with_size(steps: int, side: int) -> None:
    sigmas = flux_sigmas(steps, side * side)
    assert sigmas[0] == pytest.approx(1.0)
    assert sigmas[-1] == 0.0
    assert len(sigmas) == steps + 1
    assert all(a > b for a, b in pairwise(sigmas))
    even = [1.0 - i / steps for i in range(steps)]
    if steps > 1:  # Flux's shift keeps more steps at high noise, more so for bigger images
        assert sigmas[1] > even[1]
        assert flux_sigmas(steps, 4 * side * side)[1] > sigmas[1]


@given(rows=st.integers(1, 6), cols=st.integers(1, 6), batch=st.integers(1, 3))
@settings(max_examples=30, deadline=None)
def test_unpack_undoes_pack(rows: int, cols: int, batch: int) -> None:
    latents = torch.randn(batch, 4, 2 * rows, 2 * cols)
    assert torch.equal(unpack_latents(pack_latents(latents), 2 * rows, 2 * cols), latents)


def _conditioning(batch: int) -> Conditioning:
    return {"crossattn": torch.randn(batch, 32, 64), "vector": torch.randn(batch, 64)}


def test_euler_on_the_exact_velocity_lands_on_the_clean_latents() -> None:
    clean = torch.randn(1, 4, 4, 4, dtype=torch.float64)
    seen: list[float] = []

    def exact(x: torch.Tensor, t: torch.Tensor, _: Conditioning) -> torch.Tensor:
        seen.append(float(t))
        return (x - clean) / t  # on a straight path x_t = (1 - t) x0 + t noise, v = noise - x0

    demo = FluxDemo(build_transformer().double(), None, None, None, None)
    out = sample_flux(
        demo,
        _conditioning(1),
        _conditioning(1),
        height=32,
        width=32,
        steps=5,
        cfg=3.0,
        seed=0,
        progress=False,
        predictor=exact,
    )
    assert torch.allclose(out, clean)
    assert seen == pytest.approx(flux_sigmas(5, 4)[:-1])


def test_sizes_not_multiples_of_16_are_refused() -> None:
    with pytest.raises(ValueError, match="multiples of 16"):
        initial_flux_latents(1, 120, 128, 0)


def test_replaced_attention_processors_run_in_the_sampler() -> None:
    torch.manual_seed(0)
    transformer = build_transformer().eval().requires_grad_(False)
    calls: list[int] = []

    class Counting(FluxAttnProcessor2_0):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            calls.append(1)
            return super().__call__(*args, **kwargs)

    transformer.set_attn_processor(Counting())
    demo = FluxDemo(transformer, None, None, None, None)
    sample_flux(
        demo,
        _conditioning(1),
        _conditioning(1),
        height=32,
        width=48,
        steps=3,
        cfg=2.0,
        seed=1,
        progress=False,
    )
    assert len(calls) == 3 * 4  # every step, 2 double + 2 single blocks


def test_a_resumed_run_continues_from_the_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latents = torch.randn(8, 4, 8, 8)
    ids = torch.ones(8, 32, dtype=torch.long)
    data = LatentSet(latents, ids)
    config = FluxTrainConfig(tmp_path, tmp_path, 0.01, False, batch=4, high_res_batch=2, log_every=1)
    train(config, data, data)
    first = int(torch.load(tmp_path / "flux_checkpoint.pt", weights_only=False)["step"])
    train(FluxTrainConfig(tmp_path, tmp_path, 0.03, True, batch=4, high_res_batch=2, log_every=1), data, data)
    assert f"flux: resumed at step {first}" in capsys.readouterr().out
    assert int(torch.load(tmp_path / "flux_checkpoint.pt", weights_only=False)["step"]) > first


def test_export_only_writes_the_ema_weights_of_the_last_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = LatentSet(torch.randn(8, 4, 8, 8), torch.ones(8, 32, dtype=torch.long))
    config = FluxTrainConfig(tmp_path / "out", tmp_path, 0.01, False, batch=4, high_res_batch=2)
    emas = train(config, data, data)
    step = int(torch.load(tmp_path / "flux_checkpoint.pt", weights_only=False)["step"])
    export_checkpoint(config)
    assert f"exported step {step} " in capsys.readouterr().out
    for ema, name in zip(emas, (TRANSFORMER_FILE, T5_FILE, CLIP_FILE), strict=True):
        written = load_file(str(tmp_path / "out" / name))
        expected = {
            k: v.to(torch.float16) if v.is_floating_point() else v for k, v in ema.state_dict().items()
        }
        assert written.keys() == expected.keys()
        assert all(torch.equal(written[k], expected[k]) for k in expected)


def test_untrained_weights_load_in_the_shipped_layout(tmp_path: Path) -> None:
    write_untrained_flux_weights(tmp_path)
    demo = load_flux_demo(weights_dir=tmp_path)
    assert sum(p.numel() for p in demo.text_encoder_2.parameters()) == sum(
        p.numel() for p in build_t5().parameters()
    )
    with pytest.raises(FileNotFoundError, match="flux demo weights missing"):
        load_flux_demo(weights_dir=tmp_path / "none")


def test_shipped_weights_are_small_and_in_the_repository() -> None:
    sizes = [(FLUX_WEIGHTS_DIR / name).stat().st_size for name in FLUX_WEIGHT_FILES]
    assert sum(sizes) <= 10 * 2**20


@pytest.mark.parametrize(("width", "height"), [(256, 256), (192, 128)])
def test_shipped_model_makes_images_of_the_asked_size(shipped: FluxDemo, width: int, height: int) -> None:
    cond = encode_flux_prompts(shipped, ["a red circle"])
    latents = sample_flux(
        shipped,
        cond,
        encode_flux_prompts(shipped, [""]),
        height=height,
        width=width,
        steps=2,
        cfg=4.0,
        seed=0,
        progress=False,
    )
    assert tuple(decode_flux_latents(shipped, latents).shape) == (1, 3, height, width)


# Prompts the shipped model follows at the evaluation's settings (256 px, 20 steps, CFG 5); it does
# not yet follow red, black or objects on white reliably (see the README's evaluation).
FOLLOWED: tuple[tuple[str, Colour, Colour], ...] = (
    ("a yellow triangle on a black background", "yellow", "black"),
    ("a blue square on a black background", "blue", "black"),
    ("a green circle on a black background", "green", "black"),
)


@pytest.mark.parametrize(("prompt", "colour", "background"), FOLLOWED)
def test_shipped_model_follows_colour_prompts(
    shipped: FluxDemo, prompt: str, colour: Colour, background: Colour
) -> None:
    cond, uncond = encode_flux_prompts(shipped, [prompt]), encode_flux_prompts(shipped, [""])

    def decoded(seed: int) -> torch.Tensor:
        latents = sample_flux(
            shipped, cond, uncond, height=256, width=256, steps=20, cfg=5.0, seed=seed, progress=False
        )
        return decode_flux_latents(shipped, latents)

    assert seeds_followed(decoded, colour, background) >= 2


def test_cli_writes_a_flux_demo_png_with_its_parameters(tmp_path: Path) -> None:
    out = tmp_path / "flux.png"
    argv = [
        "generate",
        "--model",
        "flux-demo",
        "--no-couple",
        "--prompt",
        "a red circle on a white background",
    ]
    assert main([*argv, "--width", "128", "--height", "96", "--steps", "4", "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (128, 96)
        parameters = image.info["parameters"]
    assert "Model: forge-couple-flux-demo" in parameters
    assert "Size: 128x96" in parameters


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--no-couple", "--width", "136"], "multiple of 16"), (["--width", "136"], "multiple of 16")],
)
def test_cli_refuses_what_the_flux_demo_cannot_do(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--model", "flux-demo", "--prompt", "a red circle\na blue square", *extra]
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_evaluation_and_bench_run_on_the_flux_demo() -> None:
    images = generate_flux(["a red circle"], [0, 1], 32, 1, 5.0, FLUX_WEIGHTS_DIR)
    assert [image.shape for image in images["a red circle"]] == [(32, 32, 3), (32, 32, 3)]
    results = measure(32, 1)
    assert results["flux_over_unet"] == pytest.approx(results["flux_demo_s"] / results["unet_demo_s"])
