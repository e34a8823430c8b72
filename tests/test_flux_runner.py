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
            "crossattn": torch.cat([self.encode_line(line) for line in lines]),
            "vector": torch.zeros(1, 8),
        }

    def encode_line(self, line: str) -> torch.Tensor:
        return embed(line, tokens=6)


PADDED = 24


def padded_flux(neo: bool) -> Flux:
    """Forge's T5 engine as the runner sees it: every line padded to PADDED tokens, and a count."""
    model = Flux(neo)

    def text_tokens(line: str) -> int:
        return len(line.split()) + 1  # the words and the end token

    def encode_line(line: str) -> torch.Tensor:
        real = text_tokens(line)
        return torch.cat([embed(line, tokens=real), embed(f"{line} <pad>", PADDED - real)], dim=1)

    model.text_tokens = text_tokens  # type: ignore[attr-defined]
    model.encode_line = encode_line  # type: ignore[method-assign]
    return model


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


def _patched_with(
    monkeypatch: pytest.MonkeyPatch, model: Flux, params: CoupleParams
) -> tuple[list[dict[str, Any]], CoupleRunner, Processing]:
    """Run the hooks up to the patch, recording what the runner hands the patcher."""
    from lib_couple.hosts.forge import runner as runner_module
    from lib_couple.hosts.forge.patchers import PatchRequest, patcher_for

    calls: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, module: Any) -> None:
            self.module = module

        def patch(self, unet: Any, request: PatchRequest) -> Any:
            calls.append({"regions": request.regions, "controls": request.controls})
            return self.module.patch(unet, request)

    monkeypatch.setattr(runner_module, "patcher_for", lambda row: Recorder(patcher_for(row)))
    p = Processing(PROMPT, model)  # type: ignore[arg-type]
    runner = CoupleRunner(Services())
    runner.setup(p, params_to_args(params))
    runner.process(p)
    p.prompts = [PROMPT]
    runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
    runner.process_before_every_sampling(p, torch.zeros(1, 16, 16, 16))
    assert not runner.error, runner.error
    return calls, runner, p


@pytest.mark.parametrize("neo", [False, True])
@pytest.mark.parametrize("padding", [0, 3, 100])
def test_region_lines_are_cut_to_their_tokens_and_padding(
    monkeypatch: pytest.MonkeyPatch, neo: bool, padding: int
) -> None:
    model = padded_flux(neo)
    params = CoupleParams(enabled=True, flux_region_padding=padding)
    calls, runner, p = _patched_with(monkeypatch, model, params)
    (call,) = calls
    (region_set,) = call["regions"]
    lengths = [int(c.shape[1]) for c in region_set.conds]
    lines = PROMPT.split("\n")
    expected = [min(PADDED, model.text_tokens(line) + padding) for line in lines]  # type: ignore[attr-defined]
    assert lengths == expected
    full = model.get_learned_conditioning(lines)["crossattn"]
    for row, cond in enumerate(region_set.conds):
        torch.testing.assert_close(cond[0], full[row, : cond.shape[1]])  # a prefix, never changed
    runner.postprocess(p)


def test_lines_stay_whole_where_the_host_cannot_count(monkeypatch: pytest.MonkeyPatch) -> None:
    model = Flux(neo=True)  # no text_tokens: the host cannot tell the real count
    calls, runner, p = _patched_with(monkeypatch, model, CoupleParams(enabled=True, flux_region_padding=0))
    assert [int(c.shape[1]) for c in calls[0]["regions"][0].conds] == [6, 6]
    runner.postprocess(p)


@pytest.mark.parametrize("neo", [False, True])
def test_the_runner_hands_the_params_controls_to_the_patcher(
    monkeypatch: pytest.MonkeyPatch, neo: bool
) -> None:
    params = CoupleParams(
        enabled=True,
        flux_blocks="range",
        flux_block_start=1,
        flux_block_stop=3,
        flux_steps=0.8,
        flux_base_ratio=0.25,
    )
    calls, runner, p = _patched_with(monkeypatch, Flux(neo), params)
    assert calls[0]["controls"] == params.joint_controls()
    assert calls[0]["controls"].block_range == (1, 3)
    assert p.extra_generation_params["forge_couple_flux_steps"] == 0.8
    runner.postprocess(p)


@pytest.mark.parametrize("neo", [False, True])
def test_a_zero_step_share_leaves_the_model_plain(neo: bool) -> None:
    """flux_steps 0 masks no call: the generation equals the unpatched model, and the default does not."""
    for steps, regional in ((0.0, False), (1.0, True)):
        model = Flux(neo)
        p = Processing(PROMPT, model)  # type: ignore[arg-type]
        runner = CoupleRunner(Services())
        runner.setup(p, params_to_args(CoupleParams(enabled=True, flux_steps=steps)))
        runner.process(p)
        p.prompts = [PROMPT]
        runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
        runner.process_before_every_sampling(p, torch.zeros(1, 16, 16, 16))
        _, output = _sample(model, p.prompts, (16, 16))
        runner.postprocess(p)
        plain = _sample(model, p.prompts, (16, 16))[1]
        assert ((output - plain).abs().max() > 1e-3) == regional
