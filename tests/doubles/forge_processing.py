"""Doubles of Forge's processing object, loaded model and script services (FORGE_FACTS 4.3-4.7).

`run_generation` calls the script's hooks in Forge's order and "samples" by calling the current
`p.sd_model.forge_objects.unet` once per pass, as Forge's sampler reads it at call time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from lib_couple.attention.cross_attention import multihead_attention
from tests.doubles.forge_unet import ModelPatcher, make_patcher, run_unet

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


class SdModel:
    """A loaded checkpoint: flags as Forge sets them, encoders that count their calls."""

    def __init__(self, flags: Sequence[str] = ("is_sd1",), sdxl_dict: bool = False) -> None:
        for flag in flags:
            setattr(self, flag, True)
        self.sdxl_dict = sdxl_dict
        self.encode_calls: list[str] = []
        self.forge_objects_original = ForgeObjects(make_patcher(context_dim=CONTEXT_DIM))
        self.forge_objects = self.forge_objects_original.shallow_copy()

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


def run_generation(
    runner: Any,
    p: Processing,
    args: Sequence[object],
    fail_in_sampling: bool = False,
    interrupted: Callable[[], bool] | None = None,
) -> list[Pass]:
    """Forge's hook order for txt2img (img2img is the same around sampling).

    `interrupted` reads Forge's `state.interrupted` (default: the runner's Services recorded an
    interrupt); like Forge, the loop stops before a batch once it is set.
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
        model.forge_objects = model.forge_objects_original.shallow_copy()
        first = (p.height // 8, p.width // 8)
        runner.process_before_every_sampling(p, torch.zeros(p.batch_size, 4, *first))
        if fail_in_sampling:
            raise RuntimeError("sampler failed")
        passes.append(sample_pass(p, first, seed=batch))
        if p.enable_hr:
            hires = (int(first[0] * p.hr_scale), int(first[1] * p.hr_scale))
            runner.after_extra_networks_activate(p, list(p.prompts), p.extra_network_data)
            p.is_hr_pass = True
            for _ in range(2):  # Forge calls the hook twice in the hires pass, each on a fresh UNet
                model.forge_objects = model.forge_objects_original.shallow_copy()
                runner.process_before_every_sampling(p, torch.zeros(p.batch_size, 4, *hires))
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
