"""Fake Forge pieces the Latent Walk tab touches: txt2img processing, the prompt cache, the queue,
the main thread, the state, extra networks and the paste buttons (WALK_FACTS 4.1-4.7).

`process_images` runs Forge's order for one txt2img batch: extra networks are parsed off the
prompt and activated, `setup_conds` makes the conds (the positive ones through a prompt cache keyed
by the prompt text, as Forge's `get_conds_with_caching` is), and `sample` takes `modified_noise`
in place of the seed's noise. What each sampling saw is recorded on the model.
"""

from __future__ import annotations

import re
import sys
import threading
import types
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image

from tests.doubles.forge_modules import SdConditioning, fake_forge, installed
from tests.doubles.forge_processing import CONTEXT_DIM, embed

ScheduledPromptConditioning = namedtuple("ScheduledPromptConditioning", ["end_at_step", "cond"])
TAG = re.compile(r"<(\w+):([^>]+)>")


class ComposableScheduledPromptConditioning:
    def __init__(self, schedules: list[Any], weight: float = 1.0) -> None:
        self.schedules = schedules
        self.weight = weight


class MulticondLearnedConditioning:
    def __init__(
        self, shape: tuple[int, ...], batch: list[list[ComposableScheduledPromptConditioning]]
    ) -> None:
        self.shape = shape
        self.batch = batch


@dataclass
class Sampled:
    """One sampling call: the positive cond of its first item, the negative, the noise, the prompt."""

    cond: Any
    uncond: Any
    noise: torch.Tensor
    prompt: str
    cfg_scale: float
    sampler_name: str | None


class WalkModel:
    """A loaded checkpoint: `kind` is "sd15", "sdxl", "flux" or anything else (unsupported)."""

    def __init__(self, kind: str = "sd15") -> None:
        self.kind = kind
        if kind == "sd15":
            self.is_sd1 = True
        elif kind == "sdxl":
            self.is_sdxl = True
        self.sd_checkpoint_info = types.SimpleNamespace(filename=f"/models/{kind}.safetensors", title=kind)
        self.sd_model_hash = "abc123"
        self.encode_calls: list[tuple[str, tuple[str, ...]]] = []  # (text, active extra networks)
        self.active_networks: tuple[str, ...] = ()
        self.samples: list[Sampled] = []
        self.on_sample: Callable[[int], None] = lambda index: None
        self.on_step: Callable[[int], None] = lambda step: None  # before each step's denoiser
        self.on_model: Callable[[int], None] = lambda step: None  # during each step's model call
        self.steps_run = 0

    def get_learned_conditioning(self, texts: list[str]) -> Any:
        for text in texts:
            self.encode_calls.append((text, self.active_networks))
        cross = torch.cat([embed(text) for text in texts])
        if self.kind == "sd15":
            return cross
        if self.kind == "sdxl":  # pooled CLIP-G (1280) then the size embeddings (6 x 256)
            pooled = torch.stack(
                [embed(text, tokens=1280 // CONTEXT_DIM + 1).flatten()[:1280] for text in texts]
            )
            return {"crossattn": cross, "vector": torch.cat([pooled, torch.ones(len(texts), 1536)], dim=1)}
        pooled = torch.stack([embed(text, tokens=1)[0, 0] for text in texts])
        return {"crossattn": cross, "vector": pooled, "guidance": torch.full((len(texts),), 3.5)}


class Flux(WalkModel):
    """Forge's Flux engine has no is_flux flag: the walk knows it by its class name."""

    def __init__(self) -> None:
        super().__init__("flux")


class WalkState:
    def __init__(self) -> None:
        self.interrupted = False
        self.job_count = -1
        self.job_no = 0
        self.jobs: list[str] = []
        self.ended = 0

    def begin(self, job: str = "(unknown)") -> None:
        self.interrupted = False
        self.job_count = -1
        self.job_no = 0
        self.jobs.append(job)

    def end(self) -> None:
        self.ended += 1

    def interrupt(self) -> None:
        self.interrupted = True


class RNG:
    def __init__(self, shape: tuple[int, ...], seed: int) -> None:
        self.shape = shape
        self.seed = seed

    def next(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        return torch.randn(1, *self.shape, generator=generator)


def first_item(cond: Any) -> Any:
    return cond[0] if isinstance(cond, torch.Tensor) else {key: value[0] for key, value in cond.items()}


class StableDiffusionProcessingTxt2Img:
    # Forge's cache is class-level and keyed by the prompt text (and more): a walk that went
    # through it would get the same conds for every frame of one prompt.
    prompt_cache: ClassVar[dict[str, Any]] = {}
    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    cfg_scale: float
    width: int
    height: int
    sampler_name: str | None
    batch_size: int
    prompts: list[str]
    rng: RNG
    c: Any
    uc: Any
    firstpass_steps: int

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)
        self.modified_noise: torch.Tensor | None = None
        self.closed = False

    @property
    def sd_model(self) -> WalkModel:
        return sys.modules["modules.shared"].sd_model

    def setup_conds(self) -> None:
        prompt_parser = sys.modules["modules.prompt_parser"]
        self.firstpass_steps = self.steps
        model = self.sd_model
        if self.cfg_scale == 1:
            self.uc = None
        else:
            negative = model.get_learned_conditioning(SdConditioning([self.negative_prompt]))
            first = (
                negative[0] if isinstance(negative, torch.Tensor) else {k: v[0] for k, v in negative.items()}
            )
            self.uc = [[ScheduledPromptConditioning(self.steps, first)]]
        text = self.prompts[0]
        if text not in self.prompt_cache:
            cond = model.get_learned_conditioning(SdConditioning([text]))
            self.prompt_cache[text] = cond
        cached = self.prompt_cache[text]
        self.c = prompt_parser.MulticondLearnedConditioning(
            (1,),
            [
                [
                    ComposableScheduledPromptConditioning(
                        [
                            ScheduledPromptConditioning(
                                self.steps,
                                cached[0]
                                if isinstance(cached, torch.Tensor)
                                else {k: v[0] for k, v in cached.items()},
                            )
                        ]
                    )
                ]
            ],
        )

    def sample(
        self, conditioning: Any, unconditional_conditioning: Any, *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        x = self.rng.next()
        if self.modified_noise is not None:
            x, self.modified_noise = self.modified_noise, None
        model = self.sd_model
        cond = conditioning.batch[0][0].schedules[0].cond
        uncond = None if unconditional_conditioning is None else unconditional_conditioning[0][0].cond
        model.samples.append(Sampled(cond, uncond, x, self.prompt, self.cfg_scale, self.sampler_name))
        model.on_sample(len(model.samples))
        state = sys.modules["modules.shared"].state
        callbacks = sys.modules["modules.script_callbacks"]
        for step in range(self.steps):  # Forge's CFGDenoiser.forward, in its order
            model.on_step(step)
            if state.interrupted:
                break  # Forge's denoiser raises at the step's start; sampling keeps what it has
            params = types.SimpleNamespace(sampling_step=step, total_sampling_steps=self.steps)
            for callback in callbacks.cfg_denoiser_callbacks:
                callback(params)
            model.on_model(step)  # the model's call, the bulk of the step
            model.steps_run += 1
            for callback in callbacks.cfg_after_cfg_callbacks:
                callback(params)
        crossattn = cond if isinstance(cond, torch.Tensor) else cond["crossattn"]
        return x + crossattn.mean()  # depends on both, so frames differ as their inputs do

    def close(self) -> None:
        self.closed = True


@dataclass
class Processed:
    images: list[Image.Image]
    infotexts: list[str] = field(default_factory=list)


def process_images(p: StableDiffusionProcessingTxt2Img) -> Processed:
    model = p.sd_model
    model.active_networks = tuple(match.group(0) for match in TAG.finditer(p.prompt))
    p.prompts = [TAG.sub("", p.prompt)] * p.batch_size
    p.rng = RNG((4, p.height // 8, p.width // 8), p.seed)
    p.setup_conds()
    samples = p.sample(p.c, p.uc)
    value = int(torch.sigmoid(samples.mean()).item() * 255)
    image = Image.new("RGB", (p.width, p.height), (value, 255 - value, 0))
    return Processed([image], [f"{p.prompt}\nSteps: {p.steps}, Seed: {p.seed}, Size: {p.width}x{p.height}"])


@contextmanager
def fake_forge_walk(
    model: WalkModel | None = None, tmp: Path | None = None
) -> Iterator[types.SimpleNamespace]:
    """`fake_forge` plus the modules the walk host imports; yields handles to the fakes."""
    with fake_forge(cmd_opts={"ui_config_file": str(tmp / "ui-config.json") if tmp else ""}) as forge:
        shared = forge.shared
        shared.state = WalkState()
        shared.sd_model = model or WalkModel()
        shared.opts.outdir_samples = str(tmp) if tmp else ""
        StableDiffusionProcessingTxt2Img.prompt_cache = {}
        prompt_parser = sys.modules["modules.prompt_parser"]
        prompt_parser.ScheduledPromptConditioning = ScheduledPromptConditioning  # type: ignore[attr-defined]
        prompt_parser.ComposableScheduledPromptConditioning = ComposableScheduledPromptConditioning  # type: ignore[attr-defined]
        prompt_parser.MulticondLearnedConditioning = MulticondLearnedConditioning  # type: ignore[attr-defined]
        processing = types.ModuleType("modules.processing")
        processing.StableDiffusionProcessingTxt2Img = StableDiffusionProcessingTxt2Img  # type: ignore[attr-defined]
        processing.process_images = process_images  # type: ignore[attr-defined]
        devices = types.ModuleType("modules.devices")
        devices.device = torch.device("cpu")  # type: ignore[attr-defined]
        call_queue = types.ModuleType("modules.call_queue")
        call_queue.queue_lock = threading.Lock()  # type: ignore[attr-defined]
        reloads: list[int] = []
        sd_models = types.ModuleType("modules.sd_models")
        sd_models.forge_model_reload = lambda: reloads.append(1)  # type: ignore[attr-defined]
        sd_samplers = types.ModuleType("modules.sd_samplers")
        sd_samplers.visible_sampler_names = lambda: ["Euler a", "Euler", "DPM++ 2M"]  # type: ignore[attr-defined]
        paths_internal = types.ModuleType("modules.paths_internal")
        paths_internal.default_output_dir = str(tmp or ".")  # type: ignore[attr-defined]
        bindings: list[Any] = []
        infotext_utils = types.ModuleType("modules.infotext_utils")
        infotext_utils.ParamBinding = lambda **kw: types.SimpleNamespace(**kw)  # type: ignore[attr-defined]
        infotext_utils.register_paste_params_button = bindings.append  # type: ignore[attr-defined]
        tabs: list[Callable[[], Any]] = []
        script_callbacks = sys.modules["modules.script_callbacks"]
        script_callbacks.on_ui_tabs = tabs.append  # type: ignore[attr-defined]
        app_started: list[Callable[[Any, Any], None]] = []
        script_callbacks.on_app_started = app_started.append  # type: ignore[attr-defined]
        denoiser_callbacks: list[Callable[[Any], None]] = []
        script_callbacks.cfg_denoiser_callbacks = denoiser_callbacks  # type: ignore[attr-defined]
        script_callbacks.on_cfg_denoiser = denoiser_callbacks.append  # type: ignore[attr-defined]
        after_cfg_callbacks: list[Callable[[Any], None]] = []
        script_callbacks.cfg_after_cfg_callbacks = after_cfg_callbacks  # type: ignore[attr-defined]
        script_callbacks.on_cfg_after_cfg = after_cfg_callbacks.append  # type: ignore[attr-defined]
        progress = types.ModuleType("modules.progress")
        progress.pending_tasks = {}  # type: ignore[attr-defined]
        progress.current_task = None  # type: ignore[attr-defined]
        forge_package = types.ModuleType("modules_forge")
        forge_package.__path__ = []
        main_thread = types.ModuleType("modules_forge.main_thread")
        main_thread.run_and_wait_result = lambda function, *args, **kwargs: function(*args, **kwargs)  # type: ignore[attr-defined]
        fakes = {
            "modules.processing": processing,
            "modules.devices": devices,
            "modules.call_queue": call_queue,
            "modules.progress": progress,
            "modules.sd_models": sd_models,
            "modules.sd_samplers": sd_samplers,
            "modules.paths_internal": paths_internal,
            "modules.infotext_utils": infotext_utils,
            "modules_forge": forge_package,
            "modules_forge.main_thread": main_thread,
        }
        from lib_couple.hosts.forge import walk_host

        with installed(fakes):
            walk_host.walk_processing_class.cache_clear()  # the subclass must derive from this fake
            try:
                yield types.SimpleNamespace(
                    shared=shared,
                    model=shared.sd_model,
                    reloads=reloads,
                    bindings=bindings,
                    tabs=tabs,
                    app_started=app_started,
                    progress=progress,
                    queue_lock=call_queue.queue_lock,
                    denoiser_callbacks=denoiser_callbacks,
                    after_cfg_callbacks=after_cfg_callbacks,
                )
            finally:
                walk_host.walk_processing_class.cache_clear()
