"""Train the Flux demo's transformer and text encoders on synthetic shapes (rectified flow).

    python -m lib_couple.demo.flux_train --out lib_couple/demo/flux_weights [--minutes N] [--resume]
        [--init-from lib_couple/demo/flux_weights --regional-every 2 --lr 3e-4 --warmup-steps 100]

With `--regional-every N` one step in N trains 256 px strip scenes through the regional mask
(flux_regional_training.py); `--init-from` fine-tunes exported weights. The VAE is the UNet
demo's shipped one, kept as it is with its latent normalisation; scenes are encoded once into
`--work-dir`. `--minutes` is the total training time: a resumed run continues
from its checkpoint (weights, EMA, optimiser, step, RNG state) until the total is spent.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from lib_couple.demo.architecture import build_text_encoder
from lib_couple.demo.flux_model import (
    CLIP_FILE,
    SEQUENCE_LENGTH,
    T5_FILE,
    TRANSFORMER_FILE,
    build_t5,
    build_transformer,
    embed_flux,
    tokenize_sequence,
)
from lib_couple.demo.flux_regional_training import strip_flow_loss
from lib_couple.demo.model import VAE_FILE, WEIGHTS_DIR, load_demo_pipeline, normalise_latents, save_module
from lib_couple.demo.tokenizer import build_tokenizer
from lib_couple.demo.train import RegionalSet, encode_strip_sets
from lib_couple.demo.train_common import LatentSet, encode_dataset, plain_batch, save_atomic
from lib_couple.demo.train_loop import JointTraining, read_emas
from lib_couple.walk.flux import transformer_inputs

# The joint stage's checkpoint in `--work-dir` and its models' names there (`train_loop.py`).
FLUX_CHECKPOINT = "flux_checkpoint.pt"
JOINT_NAMES = ("transformer", "t5", "clip")


@dataclass(frozen=True)
class FluxTrainConfig:
    out: Path
    work_dir: Path
    minutes: float
    resume: bool
    seed: int = 0
    low_res_count: int = 3000  # 128 px scenes, 8 x 8 tokens
    high_res_count: int = 400  # 256 px scenes, 16 x 16 tokens: rope positions past 8 get trained
    batch: int = 24
    high_res_batch: int = 12
    high_res_every: int = 4
    lr: float = 6e-4
    warmup_steps: int = 200
    ema_decay: float = 0.998
    caption_dropout: float = 0.1
    checkpoint_seconds: float = 120.0
    log_every: int = 100
    init_from: Path | None = None  # fine-tune these exported weights
    regional_every: int = 0  # one step in this many trains strip scenes through the mask (0: never)
    regional_count: int = 400  # strip scenes per layout
    regional_batch: int = 12


def flow_loss(
    parts: tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module],
    latents: torch.Tensor,
    ids: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Rectified flow: x_t = (1 - t) x0 + t noise, the model predicts noise - x0.

    t is logit-normal (as SD3 and Flux train), so the middle of the path gets most steps.
    """
    transformer, t5, clip = parts
    noise = torch.randn(latents.shape, generator=generator)
    t = torch.sigmoid(torch.randn(latents.shape[0], generator=generator))
    noisy = (1.0 - t[:, None, None, None]) * latents + t[:, None, None, None] * noise
    sequence, pooled = embed_flux(t5, clip, ids)
    inputs = transformer_inputs({"crossattn": sequence, "vector": pooled}, noisy, t)
    prediction: torch.Tensor = transformer(**inputs)[0]
    target = transformer_inputs({"crossattn": sequence, "vector": pooled}, noise - latents, t)[
        "hidden_states"
    ]
    return F.mse_loss(prediction, target)


def latent_sets(config: FluxTrainConfig) -> tuple[LatentSet, LatentSet]:
    """Scenes at 128 and 256 px through the shipped VAE, normalised as the UNet demo's are."""
    path = config.work_dir / "flux_latents.pt"
    if config.resume and path.is_file():
        saved = torch.load(path, weights_only=True)
        print("latents: reusing encoded data set")
        return LatentSet(saved["low"], saved["low_ids"]), LatentSet(saved["high"], saved["high_ids"])
    vae = load_demo_pipeline(weights_dir=WEIGHTS_DIR).vae
    sets, ids = [], []
    for seed, count, size in (
        (10_000_000, config.low_res_count, 128),
        (20_000_000, config.high_res_count, 256),
    ):
        raw, clip_ids = encode_dataset(vae, seed + config.seed, count, size)
        sets.append(normalise_latents(vae, raw))
        # CLIP's 77 ids cut to the T5 length: bos, words, eos and eos padding either way.
        ids.append(clip_ids[:, :SEQUENCE_LENGTH].contiguous())
    save_atomic({"low": sets[0], "low_ids": ids[0], "high": sets[1], "high_ids": ids[1]}, path)
    return LatentSet(sets[0], ids[0]), LatentSet(sets[1], ids[1])


def strip_sets(config: FluxTrainConfig) -> list[RegionalSet]:
    """The UNet trainer's strip scenes (same VAE, same seeds), captions cut to the T5 length."""
    path = config.work_dir / "flux_strips.pt"
    if config.resume and path.is_file():
        saved = torch.load(path, weights_only=False)
        if saved["count"] == config.regional_count:
            print("strips: reusing encoded data set")
            return list(saved["sets"])
    vae = load_demo_pipeline(weights_dir=WEIGHTS_DIR).vae
    sets = [
        RegionalSet(s.latents, s.ids[..., :SEQUENCE_LENGTH].contiguous(), s.masks)
        for s in encode_strip_sets(vae, config.regional_count, config.seed)
    ]
    save_atomic({"count": config.regional_count, "sets": sets}, path)
    return sets


def initial_models(config: FluxTrainConfig) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    """Fresh parts, or those of `config.init_from`."""
    models = (build_transformer(), build_t5(), build_text_encoder())
    if config.init_from is not None:
        for model, name in zip(models, (TRANSFORMER_FILE, T5_FILE, CLIP_FILE), strict=True):
            model.load_state_dict(load_file(str(config.init_from / name)))
    return models


def train(
    config: FluxTrainConfig, low: LatentSet, high: LatentSet, strips: Sequence[RegionalSet] = ()
) -> tuple[torch.nn.Module, ...]:
    """Joint training for `config.minutes` in all; returns the EMA transformer, T5 and CLIP."""
    torch.manual_seed(config.seed)
    models = tuple(m.train() for m in initial_models(config))
    emas = tuple(copy.deepcopy(m).eval().requires_grad_(False) for m in models)
    training = JointTraining("flux", JOINT_NAMES, models, emas, config, config.work_dir / FLUX_CHECKPOINT)
    generator = training.generator
    uncond_ids = tokenize_sequence(build_tokenizer(), [""])[0]
    step, spent = training.resume() if config.resume else (0, 0.0)
    parts = (models[0], models[1], models[2])

    def loss_at(step: int) -> torch.Tensor:
        if strips and step % config.regional_every == config.regional_every - 1:
            chosen = strips[int(torch.randint(0, len(strips), (1,), generator=generator))]
            index = torch.randint(0, chosen.latents.shape[0], (config.regional_batch,), generator=generator)
            return strip_flow_loss(parts, chosen.latents[index], chosen.ids[index], chosen.masks, generator)
        latents, ids = plain_batch(config, step, (low, high), generator, uncond_ids)
        return flow_loss(parts, latents, ids, generator)

    return training.run(loss_at, step, spent, bar_seconds=30.0)


def export(emas: Sequence[torch.nn.Module], out: Path) -> None:
    for module, name in zip(emas, (TRANSFORMER_FILE, T5_FILE, CLIP_FILE), strict=True):
        save_module(module, out / name)
    print(f"weights written to {out} (VAE: {WEIGHTS_DIR / VAE_FILE})")


def export_checkpoint(config: FluxTrainConfig) -> None:
    """The EMA weights of the last checkpoint, without training."""
    models = (build_transformer(), build_t5(), build_text_encoder())
    step, seconds = read_emas(config.work_dir / FLUX_CHECKPOINT, JOINT_NAMES, models)
    export(models, config.out)
    print(f"exported step {step} ({seconds / 60:.1f} min)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the safetensors weights")
    parser.add_argument("--minutes", type=float, default=25.0, help="training time in all")
    parser.add_argument("--resume", action="store_true", help="reuse the encoded data and last checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "forge_couple_flux_demo_train"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--export-only", action="store_true", help="write weights from the last checkpoint")
    parser.add_argument("--init-from", type=Path, default=None, help="fine-tune these exported weights")
    parser.add_argument(
        "--regional-every",
        type=int,
        default=0,
        help="one step in this many trains strip scenes through the regional mask (0: never)",
    )
    parser.add_argument("--regional-count", type=int, default=FluxTrainConfig.regional_count)
    parser.add_argument("--lr", type=float, default=FluxTrainConfig.lr)
    parser.add_argument("--warmup-steps", type=int, default=FluxTrainConfig.warmup_steps)
    args = parser.parse_args(argv)
    if args.regional_every < 0:
        parser.error("--regional-every must be 0 or more")
    torch.set_num_threads(args.threads)
    config = FluxTrainConfig(
        args.out,
        args.work_dir,
        args.minutes,
        args.resume,
        args.seed,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        init_from=args.init_from,
        regional_every=args.regional_every,
        regional_count=args.regional_count,
    )
    if args.export_only:
        export_checkpoint(config)
        return
    config.work_dir.mkdir(parents=True, exist_ok=True)
    low, high = latent_sets(config)
    strips = strip_sets(config) if config.regional_every else []
    export(train(config, low, high, strips), config.out)


if __name__ == "__main__":
    main()
