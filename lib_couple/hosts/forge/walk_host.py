"""The walk's services backed by Forge itself: the thin layer that imports `modules.*`.

Frames are sampled by Forge's own txt2img processing, through a subclass whose `setup_conds`
puts the walked conditioning in place of the prompt's and whose `sample` starts from the walk's
noise (WALK_FACTS 4.4 A, 4.5). Each frame holds Forge's queue lock and runs on Forge's main
thread, as txt2img does, so a walk never samples beside another generation.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from lib_couple.hosts.forge.architectures import architecture_of, model_label
from lib_couple.hosts.forge.walk_frames import FrameJob, multicond
from lib_couple.ui.walk_tab import WalkDefaults
from lib_couple.walk.interpolate import Architecture, Conditioning
from lib_couple.walk.plan import WalkSettings

logger = logging.getLogger("forge_couple")
WALK_JOB = "latent walk"


def walk_architecture(sd_model: Any) -> Architecture | None:
    """The conditioning form of a loaded Forge (or Neo) model; None for one the walk cannot drive."""
    row = architecture_of(sd_model)
    return row.walk if row is not None else None


@functools.cache
def walk_processing_class() -> type:
    """Forge's txt2img processing with the walk's conditioning and noise injected."""
    from modules import devices, prompt_parser
    from modules.processing import StableDiffusionProcessingTxt2Img

    class WalkTxt2Img(StableDiffusionProcessingTxt2Img):  # type: ignore[misc]
        walk_job: FrameJob

        def setup_conds(self) -> None:
            # Forge's own setup sets the step multipliers and the negative prompt's conds; the
            # positive conds it makes from the frame's prompt text are replaced.
            super().setup_conds()
            cond = self.walk_job.conditioning()
            self.c = multicond(prompt_parser, cond, self.firstpass_steps, len(self.prompts))

        def sample(self, *args: Any, **kwargs: Any) -> Any:
            # Forge's sampler takes `modified_noise` in place of the seed's noise, once.
            noise = self.walk_job.noise((len(self.prompts), *self.rng.shape))
            self.modified_noise = noise.to(devices.device)
            if self.walk_job.before_sampling is not None:
                self.walk_job.before_sampling()
            return super().sample(*args, **kwargs)

    return WalkTxt2Img


class ForgeWalkServices:
    """The walk renderer's services over Forge's shared state, model and processing."""

    def _model(self) -> Any:
        from modules import shared

        return shared.sd_model

    def architecture(self) -> Architecture | None:
        from modules import sd_models
        from modules.call_queue import queue_lock
        from modules_forge import main_thread

        # Forge loads the selected checkpoint lazily, at the first generation: load it now.
        with queue_lock:
            main_thread.run_and_wait_result(sd_models.forge_model_reload)
        return walk_architecture(self._model())

    def model_label(self) -> str:
        return model_label(self._model())

    def identity(self) -> str:
        from modules import shared

        model = self._model()
        info = getattr(model, "sd_checkpoint_info", None)
        return json.dumps(
            [
                getattr(info, "filename", None),
                getattr(model, "sd_model_hash", None),
                getattr(shared.opts, "CLIP_stop_at_last_layers", 1),
            ],
            default=str,
        )

    def encode(self, prompt: str, settings: WalkSettings) -> Conditioning:
        from modules.prompt_parser import SdConditioning

        texts = SdConditioning([prompt], False, settings.width, settings.height, None)
        with torch.inference_mode():
            cond = self._model().get_learned_conditioning(texts)
        # Inference tensors cannot be edited outside inference mode: keep plain copies.
        if isinstance(cond, dict):
            return {key: value.clone() for key, value in cond.items()}
        tensor: torch.Tensor = cond.clone()
        return tensor

    def render(
        self, job: FrameJob, wanted: Callable[[], bool] | None = None, frame: int = 0, frames: int = 1
    ) -> Image.Image | None:
        """One frame as its own Forge job, frame `frame` of a walk of `frames` (Forge's progress
        bar spans the walk). Forge's state is begun and ended inside the queue lock, as txt2img's
        is: a generation holding the queue meanwhile keeps its state (and its Stop)."""
        from modules import shared
        from modules.call_queue import queue_lock

        with queue_lock:
            if wanted is not None and not wanted():
                return None  # superseded while it waited for the queue
            shared.state.begin(job=WALK_JOB)
            shared.state.job_count = frames
            shared.state.job_no = frame  # Forge's processing counts it on (nextjob)
            try:
                return self.render_in_queue(job)
            finally:
                shared.state.end()

    def render_in_queue(self, job: FrameJob) -> Image.Image | None:
        """`render` for a caller that holds the queue lock already (the explorer's pre-render)."""
        from modules import processing, shared
        from modules_forge import main_thread

        settings = job.settings
        p = walk_processing_class()(
            outpath_samples=str(_output_root()),
            outpath_grids=str(_output_root()),
            prompt=job.prompt,
            negative_prompt=job.negative,
            seed=job.seed,
            steps=settings.steps,
            cfg_scale=settings.cfg,
            width=settings.width,
            height=settings.height,
            sampler_name=settings.sampler,
            batch_size=1,
            n_iter=1,
            do_not_save_samples=True,
            do_not_save_grid=True,
        )
        p.walk_job = job
        with closing(p):
            processed = main_thread.run_and_wait_result(processing.process_images, p)
        if shared.state.interrupted or not processed.images:
            return None
        image: Image.Image = processed.images[0]
        if processed.infotexts:
            image.info["parameters"] = f"{processed.infotexts[0]}, Latent walk position: {job.position:.4f}"
        return image


def _output_root() -> Path:
    """Forge's outputs folder (or the user's samples folder), where `latent-walk/` goes."""
    from modules import paths_internal, shared

    chosen = getattr(shared.opts, "outdir_samples", "") or paths_internal.default_output_dir
    return Path(chosen)


def walk_output_dir() -> Path:
    return _output_root() / "latent-walk"


def interrupt() -> None:
    """The tab's Stop: Gradio cancels the walk's event, this stops the sampler inside Forge."""
    from modules import shared

    shared.state.interrupt()


# Where Forge's txt2img keeps its controls' starting values (ui-config.json), and Forge's own.
UI_CONFIG_KEYS = {
    "width": "txt2img/Width/value",
    "height": "txt2img/Height/value",
    "steps": "txt2img/Sampling steps/value",
    "cfg": "txt2img/CFG Scale/value",
    "sampler": "txt2img/Sampling method/value",
}
FORGE_TXT2IMG_DEFAULTS = WalkDefaults(width=512, height=512, steps=20, cfg=7.0, sampler=None)


def defaults_from_ui_config(data: Mapping[str, Any]) -> WalkDefaults:
    """The walk's sampling defaults from txt2img's saved ones; a missing or odd value keeps Forge's."""
    base = FORGE_TXT2IMG_DEFAULTS

    def number(field: str, fallback: float) -> float:
        value = data.get(UI_CONFIG_KEYS[field])
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else fallback

    sampler = data.get(UI_CONFIG_KEYS["sampler"])
    return WalkDefaults(
        width=int(number("width", base.width)),
        height=int(number("height", base.height)),
        steps=int(number("steps", base.steps)),
        cfg=number("cfg", base.cfg),
        sampler=sampler if isinstance(sampler, str) else base.sampler,
    )


def txt2img_defaults() -> WalkDefaults:
    from modules import shared

    path = Path(getattr(shared.cmd_opts, "ui_config_file", "") or "ui-config.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return FORGE_TXT2IMG_DEFAULTS
    return defaults_from_ui_config(data if isinstance(data, dict) else {})


def sampler_names() -> list[str]:
    from modules import sd_samplers

    return list(sd_samplers.visible_sampler_names())
