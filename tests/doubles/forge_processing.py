"""Doubles of Forge's processing object, loaded model and script services (FORGE_FACTS 4.3-4.7).

`run_generation` calls the script's hooks in the host's order and "samples" by calling the current
`p.sd_model.forge_objects.unet` once per pass, as the sampler reads it at call time. Where
lllyasviel Forge and Forge Neo differ (the model's flags and names, the hires pass's hooks) the
model's `flavour` says which host's code the double follows (`modules/processing.py`,
`backend/diffusion_engine/*.py` of Forge dfdcbab6 and Neo v3.5 5692d2d).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch
from PIL import Image

from lib_couple.attention.cross_attention import multihead_attention
from tests.doubles.forge_unet import Flavour, ModelPatcher, make_patcher, run_unet

CONTEXT_DIM = 24


def embed(text: str, tokens: int = 77) -> torch.Tensor:
    """A deterministic fake text encoder: the same text gives the same conditioning."""
    generator = torch.Generator().manual_seed(abs(hash(text)) % (2**31))
    return torch.randn(1, tokens, CONTEXT_DIM, generator=generator)


class ExtraNetworkParams:
    """Shaped like Forge's (modules/extra_networks.py): one tag's arguments, `items`, parsed into
    `positional` and `name=value` pairs; equality by items, no __repr__ (its repr is an address)."""

    def __init__(self, items: list[str] | None = None) -> None:
        self.items = items or []
        self.positional: list[str] = []
        self.named: dict[str, str] = {}
        for item in self.items:
            name, equals, value = item.partition("=")
            if equals:
                self.named[name] = value
            else:
                self.positional.append(item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExtraNetworkParams) and self.items == other.items

    __hash__ = None  # type: ignore[assignment]  # as in Forge: __eq__ without __hash__


def lora(name: str, weight: float) -> dict[str, list[ExtraNetworkParams]]:
    """Forge's `extra_network_data` for a prompt with one `<lora:name:weight>` tag."""
    return {"lora": [ExtraNetworkParams([name, str(weight)])]}


@dataclass
class ForgeObjects:
    unet: ModelPatcher

    def shallow_copy(self) -> ForgeObjects:
        return ForgeObjects(self.unet)


# Neo's engines set only these flags (ForgeDiffusionEngine.fix_for_webui_backward_compatibility).
NEO_FLAGS = ("is_sd1", "is_sdxl", "is_wan")
# Neo's model_config.huggingface_repo (huggingface_guess/model_list.py) of the flag's model.
NEO_REPOS = {
    "is_sd1": "runwayml/stable-diffusion-v1-5",
    "is_sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "is_wan": "Wan-AI/Wan2.1-T2V-14B",
}


class SdModel:
    """A loaded checkpoint: flags and names as the host sets them, encoders that count their calls.

    Forge sets True the flags given; Neo has `is_sd1`, `is_sdxl` and `is_wan` only (True or
    False) and names the model by `model_config.huggingface_repo` (`repo`, else the flag's model).
    """

    def __init__(
        self,
        flags: Sequence[str] = ("is_sd1",),
        sdxl_dict: bool = False,
        flavour: Flavour = "forge",
        repo: str | None = None,
    ) -> None:
        self.flavour = flavour
        if flavour == "neo":
            unknown = set(flags) - set(NEO_FLAGS)
            if unknown:
                raise ValueError(f"Neo's models have no {sorted(unknown)}; name the model by repo")
            for flag in NEO_FLAGS:
                setattr(self, flag, flag in flags)
            named = repo or next((NEO_REPOS[f] for f in flags), None)
            self.model_config = SimpleNamespace(huggingface_repo=named)
        else:
            for flag in flags:
                setattr(self, flag, True)
        self.sdxl_dict = sdxl_dict
        self.encode_calls: list[str] = []
        self.forge_objects_original = ForgeObjects(make_patcher(context_dim=CONTEXT_DIM, flavour=flavour))
        self.forge_objects = self.forge_objects_original.shallow_copy()
        # Both hosts' LoRA code leaves this copy of forge_objects for the sampler to start from.
        self.forge_objects_after_applying_lora = self.forge_objects_original.shallow_copy()

    def get_learned_conditioning(self, lines: list[str]) -> Any:
        self.encode_calls.extend(lines)
        cond = torch.cat([embed(line) for line in lines])
        return {"crossattn": cond, "vector": torch.zeros(len(lines), 8)} if self.sdxl_dict else cond


@dataclass
class Processing:
    prompt: str
    sd_model: SdModel
    width: int = 128
    height: int = 128
    batch_size: int = 1
    n_iter: int = 1
    enable_hr: bool = False
    hr_scale: float = 1.5
    prompts: list[str] = field(default_factory=list)
    all_prompts: list[str] = field(default_factory=list)
    negative_prompt: str = ""
    negative_prompts: list[str] = field(default_factory=list)
    all_negative_prompts: list[str] = field(default_factory=list)
    extra_generation_params: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, int] = field(default_factory=dict)
    is_hr_pass: bool = False
    init_images: list[Any] = field(default_factory=list)  # img2img only
    # What Forge's parse_prompts found in the prompts: {network: [ExtraNetworkParams]}.
    extra_network_data: dict[str, list[ExtraNetworkParams]] = field(default_factory=dict)

    def comment(self, text: str) -> None:
        self.comments[text] = 1


class Services:
    """The runner's ForgeServices over the doubles."""

    def __init__(self, interrupt_on_error: bool = True) -> None:
        self.interrupts = 0
        self.attention_calls = 0
        self._interrupt_on_error = interrupt_on_error

    def attention_function(self) -> Any:
        def counted(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
            self.attention_calls += 1
            return multihead_attention(q, k, v, heads)

        return counted

    def encode(
        self, sd_model: Any, line: str, width: int, height: int, negative: bool = False
    ) -> torch.Tensor:
        cond = sd_model.get_learned_conditioning([line])
        if isinstance(cond, dict):
            cond = cond["crossattn"]
        return cond[:1]

    def text_tokens(self, sd_model: Any, line: str) -> int | None:
        """The model double's own count where it pads its lines (the Flux doubles), else None."""
        count = getattr(sd_model, "text_tokens", None)
        return count(line) if callable(count) else None

    def conditioning_identity(self, sd_model: Any) -> Hashable:
        return id(sd_model)

    def interrupt_on_error(self) -> bool:
        return self._interrupt_on_error

    def interrupt(self) -> None:
        self.interrupts += 1


@dataclass
class Pass:
    """What one sampling pass saw."""

    unet: ModelPatcher
    output: torch.Tensor
    latent_hw: tuple[int, int]


def sample_pass(p: Processing, latent_hw: tuple[int, int], seed: int) -> Pass:
    generator = torch.Generator().manual_seed(seed)
    rows = p.batch_size
    x = torch.randn(2 * rows, 4, *latent_hw, generator=generator)
    negatives = p.negative_prompts or [p.negative_prompt] * rows
    context = torch.cat([torch.cat([embed(t) for t in negatives]), torch.cat([embed(t) for t in p.prompts])])
    unet = p.sd_model.forge_objects.unet
    return Pass(unet, run_unet(unet, x, context, [1, 0]), latent_hw)


class ScriptHooks:
    """Calls a `scripts.Script`'s hooks with the hosts' signatures (the same on Forge and Neo:
    `modules/scripts.py` ScriptRunner), so `run_generation` can drive the real script (pass it
    `interrupted` reading the fake `shared.state`)."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.args: list[object] = []

    def setup(self, p: Any, args: list[object]) -> None:
        self.args = args
        self.script.setup(p, *args)

    def process(self, p: Any) -> None:
        self.script.process(p, *self.args)

    def after_extra_networks_activate(self, p: Any, prompts: list[str], data: object) -> None:
        self.script.after_extra_networks_activate(
            p, *self.args, batch_number=0, prompts=prompts, seeds=[1], subseeds=[1], extra_network_data=data
        )

    def process_batch(self, p: Any) -> None:
        self.script.process_batch(p, *self.args, batch_number=0, prompts=p.prompts, seeds=[1], subseeds=[1])

    def process_before_every_sampling(self, p: Any, x: Any) -> None:
        self.script.process_before_every_sampling(p, *self.args, x=x, noise=x, c=None, uc=None)

    def postprocess(self, p: Any) -> None:
        self.script.postprocess(p, object(), *self.args)


def run_generation(
    runner: Any,
    p: Processing,
    args: Sequence[object],
    fail_in_sampling: bool = False,
    interrupted: Callable[[], bool] | None = None,
) -> list[Pass]:
    """The host's hook order for txt2img (img2img is the same around sampling), by the model's flavour.

    Both hosts: `setup`, `process`; per batch a fresh `forge_objects`, `after_extra_networks_activate`
    (from `extra_networks.activate`; twice more in `setup_conds` with hires fix, for the hires and
    first-pass networks), `process_batch`, then `process_before_every_sampling` on a fresh copy
    before sampling; `postprocess` once. The hires pass: Forge calls `process_before_every_sampling`
    on the first pass's objects and again on a fresh copy, Neo once on a fresh copy.

    `interrupted` reads the host's `state.interrupted` (default: the runner's Services recorded an
    interrupt); like the hosts, the loop stops before a batch once it is set.
    """
    stopped = interrupted or (lambda: runner.services.interrupts > 0)
    passes: list[Pass] = []
    runner.setup(p, list(args))
    runner.process(p)
    model = p.sd_model
    for batch in range(p.n_iter):
        if stopped():
            break
        model.forge_objects = model.forge_objects_original.shallow_copy()
        p.prompts = (
            p.all_prompts[batch * p.batch_size : (batch + 1) * p.batch_size] or [p.prompt] * p.batch_size
        )
        p.negative_prompts = (
            p.all_negative_prompts[batch * p.batch_size : (batch + 1) * p.batch_size]
            or [p.negative_prompt] * p.batch_size
        )
        runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
        model.forge_objects = model.forge_objects_after_applying_lora.shallow_copy()
        runner.process_batch(p)
        if p.enable_hr:  # setup_conds: the hires networks, then the first pass's again
            for _ in range(2):
                runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
        first = (p.height // 8, p.width // 8)
        model.forge_objects = model.forge_objects_after_applying_lora.shallow_copy()
        runner.process_before_every_sampling(p, torch.zeros(p.batch_size, 4, *first))
        if fail_in_sampling:
            raise RuntimeError("sampler failed")
        passes.append(sample_pass(p, first, seed=batch))
        if p.enable_hr:
            hires = (int(first[0] * p.hr_scale), int(first[1] * p.hr_scale))
            p.is_hr_pass = True
            runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
            x = torch.zeros(p.batch_size, 4, *hires)
            if model.flavour == "forge":  # before_hr's companion call, on the first pass's objects
                runner.process_before_every_sampling(p, x)
            model.forge_objects = model.forge_objects_after_applying_lora.shallow_copy()
            runner.process_before_every_sampling(p, x)
            passes.append(sample_pass(p, hires, seed=100 + batch))
            p.is_hr_pass = False
    runner.postprocess(p)
    return passes


def run_sd_upscale(runner: Any, p: Processing, args: Sequence[object], tiles: int) -> list[list[str]]:
    """SD Upscale's sequence: one img2img generation per batch of tiles, hooks in Forge's order.

    Returns the prompts each batch's conditioning was made from (`p.prompts` after process_batch).
    """
    p.init_images = [Image.new("RGB", (p.width, p.height))]  # the input before it is cut
    runner.setup(p, list(args))
    model = p.sd_model
    seen: list[list[str]] = []
    for start in range(0, tiles, p.batch_size):
        p.init_images = [f"tile {i}" for i in range(start, min(start + p.batch_size, tiles))]
        p.prompts = [p.prompt] * p.batch_size
        model.forge_objects = model.forge_objects_original.shallow_copy()
        runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
        runner.process_batch(p)
        seen.append(list(p.prompts))
        runner.process_before_every_sampling(p, torch.zeros(p.batch_size, 4, p.height // 8, p.width // 8))
        sample_pass(p, (p.height // 8, p.width // 8), seed=start)  # patched UNets would count attention
        runner.postprocess(p)
    return seen
