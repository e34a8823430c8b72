"""Euler sampling of the Flux demo along its rectified-flow path, with Flux's resolution shift.

The transformer is called as a plain module, so attention processors installed on it with
diffusers' `set_attn_processor` (regional prompting) take effect; `predictor` replaces the call
altogether.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from tqdm import tqdm

from lib_couple.demo.architecture import LATENT_CHANNELS, VAE_SCALE
from lib_couple.demo.flux_model import PATCH, SIZE_MULTIPLE, FluxDemo
from lib_couple.demo.model import denormalise_latents
from lib_couple.walk.flux import transformer_inputs

Conditioning = Mapping[str, torch.Tensor]
# (latents [2B, 4, h, w], t [] in [0, 1], conditioning of 2B rows) -> velocity [2B, 4, h, w]
FlowPredictor = Callable[[torch.Tensor, torch.Tensor, Conditioning], torch.Tensor]
StepCallback = Callable[[int, int], bool]

# Flux's shift grows with the image token count: mu from 0.5 (8 x 8 tokens, 128 px here) to
# 1.15 (32 x 32 tokens, 512 px), linear in between; Flux's own ends are 256 and 4096 tokens.
BASE_TOKENS, MAX_TOKENS = 64, 1024
BASE_SHIFT, MAX_SHIFT = 0.5, 1.15


def shift_mu(image_tokens: int) -> float:
    slope = (MAX_SHIFT - BASE_SHIFT) / (MAX_TOKENS - BASE_TOKENS)
    return BASE_SHIFT + slope * (image_tokens - BASE_TOKENS)


def flux_sigmas(steps: int, image_tokens: int) -> list[float]:
    """`steps + 1` noise levels from 1 to 0: even ones shifted as Flux does, exp(mu) / (exp(mu) + 1/s - 1)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    shift = math.exp(shift_mu(image_tokens))
    even = [1.0 - index / steps for index in range(steps)]
    return [shift / (shift + (1.0 / s - 1.0)) for s in even] + [0.0]


def percent_to_sigma(share: float, image_tokens: int) -> float:
    """The noise level `share` of the way through `flux_sigmas`' schedule (1 at 0, 0 at 1)."""
    if share >= 1.0:
        return 0.0
    shift = math.exp(shift_mu(image_tokens))
    return shift / (shift + (1.0 / (1.0 - max(share, 0.0)) - 1.0))


def unpack_latents(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[B, h/2 * w/2, 4C] tokens -> [B, C, h, w] latents (h, w: latent sides), undoing `pack_latents`."""
    batch, _, features = tokens.shape
    channels = features // (PATCH * PATCH)
    patches = tokens.view(batch, height // PATCH, width // PATCH, channels, PATCH, PATCH)
    return patches.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, height, width)


def transformer_predictor(demo: FluxDemo) -> FlowPredictor:
    def predict(latents: torch.Tensor, t: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        tokens: torch.Tensor = demo.transformer(**transformer_inputs(conditioning, latents, t))[0]
        return unpack_latents(tokens, latents.shape[-2], latents.shape[-1])

    return predict


def check_size(height: int, width: int) -> None:
    if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE or height < 1 or width < 1:
        raise ValueError(
            f"the Flux demo needs sides that are multiples of {SIZE_MULTIPLE}, got {width}x{height}"
        )


def initial_flux_latents(batch: int, height: int, width: int, seed: int) -> torch.Tensor:
    """Seeded Gaussian latents [B, 4, height/8, width/8], drawn on the CPU."""
    check_size(height, width)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, LATENT_CHANNELS, height // VAE_SCALE, width // VAE_SCALE), generator=generator)


def batched(uncond: Conditioning, cond: Conditioning, batch: int) -> dict[str, torch.Tensor]:
    """[uncond rows, cond rows] of every entry, uncond broadcast to the batch."""
    return {
        key: torch.cat([uncond[key].expand(batch, *cond[key].shape[1:]), cond[key]])
        for key in ("crossattn", "vector")
    }


@torch.no_grad()
def sample_flux(
    demo: FluxDemo,
    cond: Conditioning,
    uncond: Conditioning,
    *,
    height: int,
    width: int,
    steps: int,
    cfg: float,
    seed: int,
    progress: bool = True,
    predictor: FlowPredictor | None = None,
    latents: torch.Tensor | None = None,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """Normalised latents [B, 4, height/8, width/8] for `cond` (`crossattn` [B, T, D], `vector` [B, P]).

    Each step calls the model once on [uncond, cond] and mixes the two velocities by `cfg`;
    x <- x + (sigma_next - sigma) v. `on_step` answering True ends the sampling there.
    """
    batch = cond["crossattn"].shape[0]
    device, dtype = demo.transformer.device, demo.transformer.dtype
    if latents is None:
        latents = initial_flux_latents(batch, height, width, seed)
    else:
        check_size(height, width)
    x = latents.to(device, dtype)
    conditioning = {k: v.to(device, dtype) for k, v in batched(uncond, cond, batch).items()}
    predict = predictor or transformer_predictor(demo)
    sigmas = flux_sigmas(steps, (height // SIZE_MULTIPLE) * (width // SIZE_MULTIPLE))
    if on_step is not None and on_step(0, steps):
        return x
    for index in tqdm(range(steps), desc="flux demo sampling", disable=not progress):
        sigma = torch.tensor(sigmas[index], device=device, dtype=dtype)
        uncond_v, cond_v = predict(torch.cat([x, x]), sigma, conditioning).chunk(2)
        x = x + (sigmas[index + 1] - sigmas[index]) * (uncond_v + cfg * (cond_v - uncond_v))
        if on_step is not None and on_step(index + 1, steps):
            break
    return x


@torch.no_grad()
def decode_flux_latents(demo: FluxDemo, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents [N, 4, h, w] to images [N, 3, 8h, 8w] in [0, 1]."""
    vae = demo.vae
    decoded: torch.Tensor = vae.decode(denormalise_latents(vae, latents.to(vae.device, vae.dtype))).sample
    return ((decoded + 1.0) / 2.0).clamp(0.0, 1.0)
