"""DDIM sampling with classifier-free guidance for the demo model (v-prediction, trailing timesteps)."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from tqdm import tqdm

from lib_couple.demo.architecture import LATENT_CHANNELS, VAE_SCALE
from lib_couple.demo.block_stop import SamplingStopped, stop_checked
from lib_couple.demo.model import DemoComponents

# (latents [2B, C, h, w], timestep [], context [2B, T, D]) -> v-prediction [2B, C, h, w]
VPredictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (steps done, steps to run) -> stop now? Called before the first step and after each.
StepCallback = Callable[[int, int], bool]


def trailing_timesteps(num_train_timesteps: int, steps: int) -> list[int]:
    """Even timesteps starting at the last one (zero SNR): "Common Diffusion Noise Schedules are Flawed"."""
    if not 1 <= steps <= num_train_timesteps:
        raise ValueError(f"steps must be in [1, {num_train_timesteps}], got {steps}")
    stride = num_train_timesteps / steps
    return [round(num_train_timesteps - index * stride) - 1 for index in range(steps)]


def ddim_step_v(latents: torch.Tensor, v: torch.Tensor, alpha: float, alpha_prev: float) -> torch.Tensor:
    """One deterministic DDIM step (eta = 0) from a v-prediction; alphas are cumulative products."""
    sqrt_alpha, sqrt_sigma = math.sqrt(alpha), math.sqrt(1.0 - alpha)
    denoised = sqrt_alpha * latents - sqrt_sigma * v
    noise = sqrt_alpha * v + sqrt_sigma * latents
    return math.sqrt(alpha_prev) * denoised + math.sqrt(1.0 - alpha_prev) * noise


def guided(uncond_v: torch.Tensor, cond_v: torch.Tensor, cfg: float) -> torch.Tensor:
    """Classifier-free guidance."""
    return uncond_v + cfg * (cond_v - uncond_v)


def initial_latents(
    batch: int, height: int, width: int, seed: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Seeded Gaussian latents; drawn on the CPU so a seed gives the same image on every device."""
    if height % VAE_SCALE or width % VAE_SCALE:
        raise ValueError(f"height and width must be multiples of {VAE_SCALE}, got {height}x{width}")
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, LATENT_CHANNELS, height // VAE_SCALE, width // VAE_SCALE)
    return torch.randn(shape, generator=generator).to(device=device, dtype=dtype)


def unet_predictor(components: DemoComponents) -> VPredictor:
    """The plain UNet call; attention processors installed on the UNet take effect here."""

    def predict(latents: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = components.unet(latents, timestep, encoder_hidden_states=context).sample
        return out

    return predict


def img2img_start(steps: int, strength: float) -> int:
    """How many of the `steps` an img2img pass skips: the first `steps - round(strength x steps)`.

    Strength 1 skips none (a txt2img from the noised input, which is pure noise then), strength 0
    skips all (the input comes back as it was encoded).
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"denoising strength must be from 0 to 1, got {strength}")
    return steps - round(strength * steps)


def noised(
    init_latents: torch.Tensor, noise: torch.Tensor, alphas: list[float], timestep: int
) -> torch.Tensor:
    """The input latents at `timestep` of the forward process: sqrt(a) x0 + sqrt(1 - a) noise."""
    alpha = alphas[timestep]
    mixed: torch.Tensor = math.sqrt(alpha) * init_latents + math.sqrt(1.0 - alpha) * noise
    return mixed


@torch.no_grad()
def sample(
    components: DemoComponents,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    *,
    height: int,
    width: int,
    steps: int,
    cfg: float,
    seed: int,
    progress: bool = True,
    predictor: VPredictor | None = None,
    latents: torch.Tensor | None = None,
    init_latents: torch.Tensor | None = None,
    strength: float = 1.0,
    on_step: StepCallback | None = None,
    stop_within_step: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Normalised latents [B, 4, height/8, width/8] for `cond` [B, T, D]; decode with `decode_latents`.

    Each step calls the model once on the batch [uncond, cond] (uncond [1 or B, T, D] is broadcast).
    With `init_latents` (img2img) the noise is added to them at the step `strength` starts from,
    and only the remaining steps run. `on_step` answering True ends the sampling there (Interrupt,
    Skip, a cancelled request): the latents of the steps done so far come back.
    `stop_within_step` is also asked between the UNet's blocks, for this sampling only (the
    explorer's background frames): True abandons the step in progress, with the same result.
    """
    unet = components.unet
    batch = cond.shape[0]
    context = torch.cat([uncond.expand(batch, -1, -1), cond]).to(unet.device, unet.dtype)
    predict = predictor or unet_predictor(components)
    alphas = components.scheduler.alphas_cumprod.tolist()
    timesteps = trailing_timesteps(len(alphas), steps)
    if latents is None:
        latents = initial_latents(batch, height, width, seed, unet.dtype, unet.device)
    else:  # given noise (a seed walk), drawn by the caller
        expected = (batch, LATENT_CHANNELS, height // VAE_SCALE, width // VAE_SCALE)
        if tuple(latents.shape) != expected:
            raise ValueError(f"initial latents must have shape {expected}, got {tuple(latents.shape)}")
        latents = latents.to(unet.device, unet.dtype)
    start = 0
    if init_latents is not None:
        start = img2img_start(steps, strength)
        init = init_latents.to(unet.device, unet.dtype)
        if init.shape != latents.shape:
            raise ValueError(f"init latents must have shape {tuple(latents.shape)}, got {tuple(init.shape)}")
        if start == steps:
            return init
        latents = noised(init, latents, alphas, timesteps[start])
    total = steps - start
    if on_step is not None and on_step(0, total):
        return latents
    checked: AbstractContextManager[None] = nullcontext()
    if stop_within_step is not None:
        checked = stop_checked(unet, stop_within_step)
    with checked:
        for index in tqdm(range(start, steps), desc="demo sampling", disable=not progress):
            t = timesteps[index]
            try:
                v = predict(torch.cat([latents, latents]), torch.tensor(t, device=unet.device), context)
            except SamplingStopped:
                break  # the step in progress is dropped: the latents stay those of the steps done
            uncond_v, cond_v = v.chunk(2)
            alpha_prev = alphas[timesteps[index + 1]] if index + 1 < steps else 1.0
            latents = ddim_step_v(latents, guided(uncond_v, cond_v, cfg), alphas[t], alpha_prev)
            if on_step is not None and on_step(index + 1 - start, total):
                break
    return latents
