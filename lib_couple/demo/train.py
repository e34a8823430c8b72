"""Train the demo model on synthetic shapes: VAE first, then UNet and text encoder jointly.

    python -m lib_couple.demo.train --out lib_couple/demo/weights [--minutes N] [--resume]
    python -m lib_couple.demo.train --out DIR --init-from lib_couple/demo/weights --high-res-every 1

Stages keep their results in `--work-dir`. `--init-from` fine-tunes exported weights: the VAE
and its latent normalisation are kept (the UNet learned that latent scale) and only the UNet
and text encoder train, here on 256 px scenes at every step where shapes span enough latents.

`--vae-minutes` and `--minutes` are each stage's total training time: a resumed run
continues a stage from its checkpoint (weights, EMA, optimiser, step, RNG state) until its
total is spent, and re-encodes the latent data set only when the VAE changed.
`--export-only` writes the weights of the last checkpoint.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import AutoencoderTiny, DDIMScheduler
from safetensors.torch import load_file
from tqdm import tqdm

from lib_couple.demo.architecture import (
    NUM_TRAIN_TIMESTEPS,
    VAE_SCALE,
    build_scheduler,
    build_text_encoder,
    build_unet,
    build_vae,
)
from lib_couple.demo.model import (
    TEXT_ENCODER_FILE,
    UNET_FILE,
    VAE_FILE,
    embed_tokens,
    normalise_latents,
    read_latent_normalisation,
    save_module,
    save_vae,
    tokenize,
)
from lib_couple.demo.regional_training import TrainableRegions, strip_masks
from lib_couple.demo.shapes import make_batch, make_strip_batch
from lib_couple.demo.tokenizer import build_tokenizer
from lib_couple.demo.train_common import LatentSet, cosine_lr, encode_dataset, plain_batch, save_atomic
from lib_couple.demo.train_config import TrainConfig, parse_args
from lib_couple.demo.train_loop import JointTraining, read_emas
from lib_couple.hosts.diffusers_host import DiffusersCouple

# (regions, columns) of the strip scenes for regional steps: the Basic layouts users draw most.
STRIP_LAYOUTS: tuple[tuple[int, bool], ...] = ((2, True), (2, False), (3, True), (3, False))
# The joint stage's checkpoint in `--work-dir` and its models' names there (`train_loop.py`).
UNET_CHECKPOINT = "unet_checkpoint.pt"
JOINT_NAMES = ("unet", "text_encoder")


@dataclass(frozen=True)
class RegionalSet:
    """Normalised 256 px strip-scene latents, token ids per strip `[N, regions, 77]`, strip masks."""

    latents: torch.Tensor
    ids: torch.Tensor
    masks: torch.Tensor


def train_vae(config: TrainConfig) -> tuple[AutoencoderTiny, int]:
    """Reconstruct random shape crops for `vae_minutes` in all; L1 keeps edges sharper than MSE alone.

    Returns the VAE and its step count (latents encoded by an older VAE are stale).
    """
    torch.manual_seed(config.seed)
    vae = build_vae()
    optimiser = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    checkpoint_path = config.work_dir / "vae_checkpoint.pt"
    step, spent = 0, 0.0
    if config.resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, weights_only=False)
        vae.load_state_dict(state["vae"])
        optimiser.load_state_dict(state["optimiser"])
        step, spent = int(state["step"]), float(state["seconds"])
        print(f"vae: resumed at step {step} after {spent / 60:.1f} min")
    budget = config.vae_minutes * 60.0
    start = time.monotonic() - spent
    progress = tqdm(desc="vae", unit="step", initial=step, mininterval=20.0, file=sys.stdout)
    while (elapsed := time.monotonic() - start) < budget:
        # Decay over the time budget: the number of steps is not known in advance.
        for group in optimiser.param_groups:
            group["lr"] = cosine_lr(config.vae_lr, elapsed / budget)
        # Batches depend only on the step, so a resumed run sees the same data.
        images, _ = make_batch(config.seed * 1_000_003 + step, config.vae_batch, config.vae_size)
        target = torch.from_numpy(images)
        decoded = vae.decode(vae.encode(target).latents).sample
        mse = F.mse_loss(decoded, target)
        loss = mse + F.l1_loss(decoded, target)
        optimiser.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimiser.step()
        step += 1
        progress.update(1)
        if step % config.log_every == 0:
            progress.write(f"vae step {step} mse {mse.item():.5f} ({elapsed / 60:.1f} min)")
    progress.close()
    state = {
        "vae": vae.state_dict(),
        "optimiser": optimiser.state_dict(),
        "step": step,
        "seconds": time.monotonic() - start,
    }
    save_atomic(state, checkpoint_path)
    return vae.eval().requires_grad_(False), step


def build_latent_sets(
    config: TrainConfig, vae: AutoencoderTiny, keep_normalisation: bool = False
) -> tuple[LatentSet, LatentSet, AutoencoderTiny]:
    """Encode both resolutions and set the VAE's normalisation from their statistics (unless kept)."""
    low, low_ids = encode_dataset(vae, 10_000_000 + config.seed, config.low_res_count, 128)
    high, high_ids = encode_dataset(vae, 20_000_000 + config.seed, config.high_res_count, 256)
    if not keep_normalisation:
        flat = torch.cat([low.flatten(), high.flatten()])
        vae.register_to_config(scaling_factor=float(1.0 / flat.std()), shift_factor=float(flat.mean()))
    return (
        LatentSet(normalise_latents(vae, low), low_ids),
        LatentSet(normalise_latents(vae, high), high_ids),
        vae,
    )


@torch.no_grad()
def encode_strip_sets(vae: AutoencoderTiny, count: int, seed: int = 0) -> list[RegionalSet]:
    """`count` strip scenes per layout, normalised latents at 256 px (the Flux trainer's too)."""
    tokenizer = build_tokenizer()
    sets = []
    for number, (regions, columns) in enumerate(STRIP_LAYOUTS):
        latents, ids = [], []
        for index in tqdm(range(0, count, 32), desc=f"encode strips {number}", file=sys.stdout):
            images, captions = make_strip_batch(
                30_000_000 + 1_000_000 * number + seed + index, min(32, count - index), 256, regions, columns
            )
            latents.append(vae.encode(torch.from_numpy(images)).latents)
            per_strip = [tokenize(tokenizer, [lines[r] for lines in captions]) for r in range(regions)]
            ids.append(torch.stack(per_strip, dim=1))
        masks = strip_masks(regions, columns, 256 // VAE_SCALE)
        sets.append(RegionalSet(normalise_latents(vae, torch.cat(latents)), torch.cat(ids), masks))
    return sets


def diffusion_loss(
    unet: torch.nn.Module,
    text_encoder: torch.nn.Module,
    scheduler: DDIMScheduler,
    latents: torch.Tensor,
    ids: torch.Tensor,
    generator: torch.Generator,
    masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """MSE of the UNet's v-prediction at uniformly drawn timesteps.

    With `masks` ([regions, h, w]), `ids` are `[N, regions, 77]` and each region attends to its
    own caption through the engine's regional attention.
    """
    noise = torch.randn(latents.shape, generator=generator)
    timesteps = torch.randint(0, NUM_TRAIN_TIMESTEPS, (latents.shape[0],), generator=generator)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    target = scheduler.get_velocity(latents, noise, timesteps)
    if masks is None:
        context = embed_tokens(text_encoder, ids)
        prediction = unet(noisy, timesteps, encoder_hidden_states=context).sample
    else:
        contexts = [embed_tokens(text_encoder, ids[:, r]) for r in range(masks.shape[0])]
        with DiffusersCouple.with_attention(TrainableRegions(contexts, masks)).applied(unet):
            prediction = unet(noisy, timesteps, encoder_hidden_states=contexts[0]).sample
    return F.mse_loss(prediction, target)


def train_unet(
    config: TrainConfig, low: LatentSet, high: LatentSet, strips: Sequence[RegionalSet] = ()
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Joint UNet + text encoder training for `config.minutes` in all; returns the EMA copies."""
    torch.manual_seed(config.seed)
    unet = build_unet().train()
    text_encoder = build_text_encoder().train()
    ema_unet = copy.deepcopy(unet).eval().requires_grad_(False)
    ema_text = copy.deepcopy(text_encoder).eval().requires_grad_(False)
    if config.init_from is not None:
        for module, name in ((unet, UNET_FILE), (text_encoder, TEXT_ENCODER_FILE)):
            module.load_state_dict(load_file(str(config.init_from / name)))
        ema_unet.load_state_dict(unet.state_dict())
        ema_text.load_state_dict(text_encoder.state_dict())
    training = JointTraining(
        "unet",
        JOINT_NAMES,
        (unet, text_encoder),
        (ema_unet, ema_text),
        config,
        config.work_dir / UNET_CHECKPOINT,
    )
    generator = training.generator
    scheduler = build_scheduler()
    uncond_ids = tokenize(build_tokenizer(), [""])[0]
    step, spent = training.resume() if config.resume else (0, 0.0)

    def loss_at(step: int) -> torch.Tensor:
        if strips and step % config.regional_every == config.regional_every - 1:
            chosen = strips[int(torch.randint(0, len(strips), (1,), generator=generator))]
            index = torch.randint(0, chosen.latents.shape[0], (config.high_res_batch,), generator=generator)
            return diffusion_loss(
                unet,
                text_encoder,
                scheduler,
                chosen.latents[index],
                chosen.ids[index],
                generator,
                chosen.masks,
            )
        latents, ids = plain_batch(config, step, (low, high), generator, uncond_ids)
        return diffusion_loss(unet, text_encoder, scheduler, latents, ids, generator)

    training.run(loss_at, step, spent, bar_seconds=20.0)
    return ema_unet, ema_text


def export_checkpoint(config: TrainConfig) -> None:
    """Write the EMA weights of the last UNet checkpoint (and the VAE) without training."""
    if config.init_from is not None:
        vae, _ = initial_vae(config)
    else:
        state = torch.load(config.work_dir / "latents.pt", weights_only=True)
        vae = build_vae(float(state["scaling_factor"]), float(state["shift_factor"]))
        vae.load_state_dict(torch.load(config.work_dir / "vae_checkpoint.pt", weights_only=False)["vae"])
    save_vae(vae, config.out / VAE_FILE)
    unet, text_encoder = build_unet(), build_text_encoder()
    step, seconds = read_emas(config.work_dir / UNET_CHECKPOINT, JOINT_NAMES, (unet, text_encoder))
    save_module(unet, config.out / UNET_FILE)
    save_module(text_encoder, config.out / TEXT_ENCODER_FILE)
    print(f"exported step {step} ({seconds / 60:.1f} min) to {config.out}")


def initial_vae(config: TrainConfig) -> tuple[AutoencoderTiny, int]:
    """The VAE to encode with: trained here, or the one of `--init-from` (step -1) as it is."""
    if config.init_from is None:
        return train_vae(config)
    scaling, shift = read_latent_normalisation(config.init_from / VAE_FILE)
    vae = build_vae(scaling, shift)
    vae.load_state_dict(load_file(str(config.init_from / VAE_FILE)))
    return vae.float().eval().requires_grad_(False), -1


def load_or_encode_strips(config: TrainConfig, vae: AutoencoderTiny, vae_step: int) -> list[RegionalSet]:
    path = config.work_dir / "strip_latents.pt"
    if config.resume and path.is_file():
        saved = torch.load(path, weights_only=False)
        if saved["vae_step"] == vae_step and saved["count"] == config.regional_count:
            print("strip latents: reusing encoded data set")
            return list(saved["sets"])
    sets = encode_strip_sets(vae, config.regional_count, config.seed)
    save_atomic({"vae_step": vae_step, "count": config.regional_count, "sets": sets}, path)
    return sets


def run(config: TrainConfig) -> None:
    config.work_dir.mkdir(parents=True, exist_ok=True)
    vae, vae_step = initial_vae(config)
    latents_path = config.work_dir / "latents.pt"
    saved = torch.load(latents_path, weights_only=True) if config.resume and latents_path.is_file() else None
    if saved is not None and int(saved["vae_step"]) == vae_step:
        vae.register_to_config(
            scaling_factor=float(saved["scaling_factor"]), shift_factor=float(saved["shift_factor"])
        )
        low = LatentSet(saved["low"], saved["low_ids"])
        high = LatentSet(saved["high"], saved["high_ids"])
        print("latents: reusing encoded data set")
    else:
        low, high, vae = build_latent_sets(config, vae, keep_normalisation=config.init_from is not None)
        save_atomic(
            {
                "low": low.latents,
                "low_ids": low.ids,
                "high": high.latents,
                "high_ids": high.ids,
                "scaling_factor": torch.tensor(float(vae.config.scaling_factor)),
                "shift_factor": torch.tensor(float(vae.config.shift_factor)),
                "vae_step": torch.tensor(vae_step),
            },
            latents_path,
        )
    print(f"latent normalisation: scale {vae.config.scaling_factor:.4f} shift {vae.config.shift_factor:.4f}")
    save_vae(vae, config.out / VAE_FILE)
    strips = load_or_encode_strips(config, vae, vae_step) if config.regional_every else []
    unet, text_encoder = train_unet(config, low, high, strips)
    save_module(unet, config.out / UNET_FILE)
    save_module(text_encoder, config.out / TEXT_ENCODER_FILE)
    print(f"weights written to {config.out}")


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv, __doc__)
    if config.export_only:
        export_checkpoint(config)
    else:
        run(config)


if __name__ == "__main__":
    main()
