"""Basic / Advanced / Mask regions on the Flux demo model through the standalone host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lib_couple.cli import EXIT_USAGE, main
from lib_couple.demo.flux_model import FluxDemo, load_flux_demo
from lib_couple.demo.shapes import PALETTE, Colour
from lib_couple.errors import CoupleError
from lib_couple.hosts.flux_regional import RegionalFluxProcessor
from lib_couple.hosts.flux_standalone import generate_flux
from lib_couple.hosts.progress import StepControl
from lib_couple.hosts.standalone import GenerationRequest
from lib_couple.params import CoupleParams


def small(prompt: str, **fields: Any) -> GenerationRequest:
    return GenerationRequest(prompt, width=64, height=64, steps=4, **fields)


@pytest.fixture(scope="module")
def demo() -> FluxDemo:
    return load_flux_demo()


def pixels(image: Image.Image) -> np.ndarray[Any, np.dtype[np.int16]]:
    return np.asarray(image, dtype=np.int16)


def unpatched(demo: FluxDemo) -> bool:
    return not any(isinstance(p, RegionalFluxProcessor) for p in demo.transformer.attn_processors.values())


def test_one_region_of_the_whole_prompt_is_the_plain_image(demo: FluxDemo) -> None:
    prompt = "a red circle on a white background"
    whole = CoupleParams(  # one Advanced region over the image, its line's whole T5 kept
        enabled=True, mode="Advanced", mapping=[[0, 1, 0, 1, 1]], flux_steps=1.0, flux_region_padding=512
    )
    regional = generate_flux(demo, small(prompt, couple=whole, seed=3), progress=False)
    plain = generate_flux(demo, small(prompt, seed=3), progress=False)
    assert int(np.abs(pixels(regional.image) - pixels(plain.image)).max()) <= 1
    assert unpatched(demo)


def test_two_regions_change_the_image_and_the_infotext_says_so(demo: FluxDemo) -> None:
    prompt = "a red circle\na blue square"
    request = small(prompt, couple=CoupleParams(enabled=True, flux_steps=1.0))
    regional = generate_flux(demo, request, progress=False)
    plain = generate_flux(demo, small(prompt), progress=False)
    assert int(np.abs(pixels(regional.image) - pixels(plain.image)).max()) > 10
    assert "forge_couple: True" in regional.parameters
    assert "forge_couple_flux_steps: 1.0" in regional.parameters


class StopAt(StepControl):
    def __init__(self, step: int, error: type[BaseException] | None = None) -> None:
        super().__init__()
        self.step, self.error = step, error

    def on_step(self, done: int, total: int) -> bool:
        if done == self.step:
            if self.error is not None:
                raise self.error()
            self.interrupt()
        return super().on_step(done, total)


def test_an_interrupt_keeps_the_image_and_unpatches(demo: FluxDemo) -> None:
    couple = CoupleParams(enabled=True)
    result = generate_flux(
        demo,
        small("a red circle\na blue square", couple=couple),
        progress=False,
        control=StopAt(2),
    )
    assert result.interrupted
    assert unpatched(demo)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_error_mid_sampling_unpatches(demo: FluxDemo, error: type[BaseException]) -> None:
    couple = CoupleParams(enabled=True)
    request = small("a red circle\na blue square", couple=couple)
    with pytest.raises(error):
        generate_flux(demo, request, progress=False, control=StopAt(1, error))
    assert unpatched(demo)


@pytest.mark.parametrize(
    ("couple", "message"),
    [
        (CoupleParams(enabled=True, flux_steps=1.5), "argument flux_steps must be a number from 0 to 1"),
        (
            CoupleParams(enabled=True, flux_base_ratio=0.99),
            "argument flux_base_ratio must be a number from 0 to 0.95",
        ),
        (CoupleParams(enabled=True, flux_region_padding=-1), "argument flux_region_padding"),
        (
            CoupleParams(enabled=True, flux_blocks="some"),  # type: ignore[arg-type]
            "flux blocks must be one of all, every-other, range",
        ),
        (
            CoupleParams(enabled=True, flux_blocks="range", flux_block_start=3, flux_block_stop=3),
            "flux block range must be 0 <= start < stop",
        ),
    ],
)
def test_bad_flux_controls_are_refused_naming_the_field(
    demo: FluxDemo, couple: CoupleParams, message: str
) -> None:
    with pytest.raises(CoupleError, match=message.replace("(", r"\(")):
        generate_flux(demo, small("a red circle\na blue square", couple=couple))
    assert unpatched(demo)


def test_img2img_is_refused_with_the_way_out(demo: FluxDemo) -> None:
    request = small("a red circle", init_image=Image.new("RGB", (64, 64)))
    with pytest.raises(
        CoupleError, match="img2img on the Flux demo model is not available: use the UNet demo"
    ):
        generate_flux(demo, request)


def test_cli_takes_advanced_and_mask_modes_and_the_flux_flags(tmp_path: Path) -> None:
    mask = tmp_path / "left.png"
    Image.fromarray(np.tile((np.arange(64) < 32).astype(np.uint8) * 255, (64, 1))).save(mask)
    common = ["generate", "--model", "flux-demo", "--width", "64", "--height", "64", "--steps", "3"]
    runs = {
        "advanced": ["--mode", "advanced", "--mapping", "[[0,0.5,0,1,1],[0.5,1,0,1,1.5]]"],
        "mask": ["--mode", "mask", "--masks", str(mask), str(mask), "--mask-weights", "1", "0.5"],
        "flags": ["--flux-steps", "0.6", "--flux-image-attention", "region", "--flux-global-everywhere"],
    }
    for name, extra in runs.items():
        out = tmp_path / f"{name}.png"
        argv = [*common, "--prompt", "a red circle\\na blue square", *extra, "--out", str(out)]
        assert main(argv) == 0
        with Image.open(out) as image:
            assert image.size == (64, 64)
            parameters = image.info["parameters"]
        assert "forge_couple: True" in parameters
    assert "forge_couple_flux_image_attention: region" in parameters
    assert "forge_couple_flux_global_everywhere: True" in parameters


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--flux-steps", "2"], "argument flux_steps must be a number from 0 to 1"),
        (["--flux-region-padding", "600"], "argument flux_region_padding"),
        (["--flux-blocks", "range", "--flux-block-start", "5", "--flux-block-stop", "2"], "start below stop"),
    ],
)
def test_cli_refuses_bad_flux_flags(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--model", "flux-demo", "--prompt", "a red circle\\na blue square", *extra]
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def mean_colour_margin(image: Image.Image, left: Colour, right: Colour) -> float:
    """How much nearer each half's mean colour is to its own line's colour than the other half's is."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    half = rgb.shape[1] // 2
    means = rgb[:, :half].reshape(-1, 3).mean(axis=0), rgb[:, half:].reshape(-1, 3).mean(axis=0)
    margin = 0.0
    for own, colour in enumerate((left, right)):
        target = np.asarray(PALETTE[colour], np.float32)
        margin += float(np.linalg.norm(means[1 - own] - target) - np.linalg.norm(means[own] - target))
    return margin


def test_held_out_colours_land_in_their_columns_and_not_without_regions(demo: FluxDemo) -> None:
    # Colour pairs no other test uses (they use red / blue, green / yellow / white), 192 px, 12 steps.
    regional: list[float] = []
    plain: list[float] = []
    pairs: tuple[tuple[Colour, Colour], ...] = (("blue", "yellow"), ("green", "red"))
    for left, right in pairs:
        prompt = f"a {left} square\na {right} circle"
        for seed in (1, 2, 3, 4):
            for enabled, margins in ((True, regional), (False, plain)):
                request = GenerationRequest(
                    prompt, width=192, height=192, steps=12, seed=seed, couple=CoupleParams(enabled=enabled)
                )
                image = generate_flux(demo, request, progress=False).image
                margins.append(mean_colour_margin(image, left, right))
    # Measured: 8/8 seed-cases positive, mean 0.92 with regions, 0.05 without.
    assert sum(m > 0 for m in regional) >= 6
    assert float(np.mean(regional)) > 0.4
    assert float(np.mean(plain)) < float(np.mean(regional)) - 0.4
