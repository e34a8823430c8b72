"""The UNet demo trainer's settings and its command line."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    work_dir: Path
    minutes: float
    vae_minutes: float
    resume: bool
    seed: int = 0
    vae_batch: int = 16
    vae_size: int = 64
    vae_lr: float = 2e-3
    low_res_count: int = 3000  # 128 px images, 16 x 16 latents
    high_res_count: int = 400  # 256 px images, 32 x 32 latents
    batch: int = 24
    high_res_batch: int = 16
    high_res_every: int = 4  # one step in this many uses 32 x 32 latents, so 256 px works too
    lr: float = 6e-4
    warmup_steps: int = 200
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    checkpoint_seconds: float = 120.0
    export_only: bool = False
    log_every: int = 100
    init_from: Path | None = None
    regional_every: int = 0  # one step in this many trains through regional attention (0: never)
    regional_count: int = 400  # strip scenes per layout


def parse_args(argv: Sequence[str] | None, description: str | None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the safetensors weights")
    parser.add_argument(
        "--minutes",
        type=float,
        default=40.0,
        help="UNet training time in all (a resumed run continues until then)",
    )
    parser.add_argument("--vae-minutes", type=float, default=12.0, help="VAE training time in all")
    parser.add_argument("--resume", action="store_true", help="reuse finished stages and the last checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "forge_couple_demo_train",
        help="checkpoints",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--export-only", action="store_true", help="write weights from the last checkpoint")
    parser.add_argument("--low-res-count", type=int, default=TrainConfig.low_res_count, help="128 px scenes")
    parser.add_argument(
        "--high-res-count", type=int, default=TrainConfig.high_res_count, help="256 px scenes"
    )
    parser.add_argument(
        "--high-res-every",
        type=int,
        default=TrainConfig.high_res_every,
        help="one step in this many trains on 256 px scenes (1: every step)",
    )
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--warmup-steps", type=int, default=TrainConfig.warmup_steps)
    parser.add_argument(
        "--init-from", type=Path, default=None, help="fine-tune these exported weights (VAE kept as it is)"
    )
    parser.add_argument(
        "--regional-every",
        type=int,
        default=TrainConfig.regional_every,
        help="one step in this many trains strip scenes through regional attention (0: never)",
    )
    parser.add_argument("--regional-count", type=int, default=TrainConfig.regional_count)
    args = parser.parse_args(argv)
    if args.regional_every < 0:
        parser.error("--regional-every must be 0 or more")
    if args.high_res_every < 1:
        parser.error("--high-res-every must be at least 1")
    torch.set_num_threads(args.threads)
    return TrainConfig(
        out=args.out,
        work_dir=args.work_dir,
        minutes=args.minutes,
        vae_minutes=args.vae_minutes,
        resume=args.resume,
        seed=args.seed,
        low_res_count=args.low_res_count,
        high_res_count=args.high_res_count,
        export_only=args.export_only,
        high_res_every=args.high_res_every,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        init_from=args.init_from,
        regional_every=args.regional_every,
        regional_count=args.regional_count,
    )
