"""The Forge runner's hook order on a Flux-shaped model (lllyasviel Forge's and Neo's block forms)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lib_couple.hosts.forge.architectures import regions_architecture
from lib_couple.hosts.forge.runner import CoupleRunner
from lib_couple.params import CoupleParams, params_to_args
from tests.doubles.flux_model import FluxPatcher, make_flux
from tests.doubles.forge_processing import Processing, Services, embed

PROMPT = "a red circle\na blue square"


class Flux:
    """Forge's Flux engine as the table knows it (by class name): T5 dict conditioning."""

    def __init__(self, neo: bool) -> None:
        self.encode_calls: list[str] = []
        self.original = make_flux(neo)
        self.forge_objects = _Objects(self.original)

    def get_learned_conditioning(self, lines: list[str]) -> dict[str, torch.Tensor]:
        self.encode_calls.extend(lines)
        return {
            "crossattn": torch.cat([embed(line, tokens=6) for line in lines]),
            "vector": torch.zeros(1, 8),
        }


class _Objects:
    def __init__(self, unet: FluxPatcher) -> None:
        self.unet = unet


def _sample(model: Flux, prompts: list[str], latent_hw: tuple[int, int]) -> tuple[FluxPatcher, torch.Tensor]:
    rows = len(prompts)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2 * rows, 16, *latent_hw, generator=generator)
    context = torch.cat([embed("", tokens=6)] * rows + [embed(t, tokens=6) for t in prompts])
    y = torch.zeros(2 * rows, 8)
    unet = model.forge_objects.unet
    with torch.no_grad():
        return unet, unet.run(x, 1.0, context, y, [1, 0])


def _generation(neo: bool, batch: int = 1, hires: bool = False) -> tuple[Flux, list[Any]]:
    model = Flux(neo)
    assert regions_architecture(model) is not None
    p = Processing(PROMPT, model, batch_size=batch)  # type: ignore[arg-type]
    runner = CoupleRunner(Services())
    runner.setup(p, params_to_args(CoupleParams(enabled=True)))
    runner.process(p)
    p.prompts = [PROMPT] * batch
    runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
    passes = []
    sizes = [(16, 16)] + ([(24, 20)] if hires else [])
    for size in sizes:
        model.forge_objects = _Objects(model.original)  # Forge resets to a fresh copy per pass
        runner.process_before_every_sampling(p, torch.zeros(batch, 16, *size))
        passes.append((size, *_sample(model, p.prompts, size)))
    runner.postprocess(p)
    assert not runner.error, runner.error
    return model, passes


@pytest.mark.parametrize("neo", [False, True])
@pytest.mark.parametrize("batch", [1, 2])
def test_flux_generation_is_regional_and_unpatched_afterwards(neo: bool, batch: int) -> None:
    model, passes = _generation(neo, batch=batch, hires=True)
    for size, unet, output in passes:
        assert unet is not model.original
        plain = _sample(model, [PROMPT] * batch, size)[1]
        torch.testing.assert_close(output[:batch], plain[:batch], atol=1e-4, rtol=1e-3)  # uncond rows
        assert (output[batch:] - plain[batch:]).abs().max() > 1e-3  # cond rows follow the regions
    assert model.forge_objects.unet is model.original
    assert not model.original.object_patches
    assert "model_function_wrapper" not in model.original.model_options
    assert "patches_replace" not in model.original.model_options["transformer_options"]
    blocks = model.original.model.diffusion_model.double_blocks
    assert all(type(b).__name__.endswith("DoubleStreamBlock") for b in blocks)
