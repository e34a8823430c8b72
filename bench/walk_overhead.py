"""The latent walk's own cost per frame against a one-step sample on the demo model.

    python -m bench.walk_overhead [--rounds 30] [--threads 1]

Per frame, a walk interpolates the conditioning, slerps the seeds' noise, hashes both into the
frame-cache key and looks the key up; sampling and decoding are the model's work. Both are
timed side by side, interleaved, and reported as medians and their ratio.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bench.timing import interleaved_medians
from lib_couple.demo import DemoComponents, encode_prompts, load_demo_pipeline, sample
from lib_couple.demo.architecture import LATENT_CHANNELS, VAE_SCALE
from lib_couple.hosts.walk_standalone import WalkSettings, demo_explorer
from lib_couple.walk.explorer import Keyframe
from lib_couple.walk.frame_cache import FrameCache, frame_key

KEYFRAMES = (Keyframe("a red circle", 1), Keyframe("a blue square", 2), Keyframe("a green triangle", 3))


@dataclass(frozen=True)
class OverheadResult:
    walk_seconds: float
    sample_seconds: float

    @property
    def ratio(self) -> float:
        return self.walk_seconds / self.sample_seconds

    def table(self) -> str:
        return "\n".join(
            [
                "| per frame | median ms |",
                "|---|---|",
                "| walk work (interpolation, noise slerp, cache key and lookup) | "
                f"{self.walk_seconds * 1e3:.3f} |",
                f"| one-step sample on the demo model | {self.sample_seconds * 1e3:.3f} |",
                f"| ratio walk / sample | {self.ratio:.4f} ({self.ratio:.2%}) |",
            ]
        )


def measure(model: DemoComponents, rounds: int, size: int = 256) -> OverheadResult:
    settings = WalkSettings(width=size, height=size, steps=1)
    explorer = demo_explorer(model, KEYFRAMES)
    cache = FrameCache(capacity=16)
    shape = (1, LATENT_CHANNELS, size // VAE_SCALE, size // VAE_SCALE)
    # Fresh positions every frame, so the walk pays interpolation and a cache miss each time.
    positions = itertools.cycle(i * explorer.end / 997 for i in range(997))
    cond = explorer.conditioning(0.0)
    uncond = encode_prompts(model, [""])
    assert isinstance(cond, torch.Tensor)

    def walk_work() -> object:
        position = next(positions)
        point_cond = explorer.conditioning(position)
        noise = explorer.noise(shape, position)
        return cache.get(frame_key(point_cond, noise, vars(settings)))

    def one_step_sample() -> object:
        return sample(model, cond, uncond, height=size, width=size, steps=1, cfg=5.0, seed=0, progress=False)

    with torch.inference_mode():
        medians = interleaved_medians({"walk": walk_work, "sample": one_step_sample}, rounds)
    return OverheadResult(medians["walk"], medians["sample"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        parser.error("--rounds and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    print(measure(load_demo_pipeline(), args.rounds).table())


if __name__ == "__main__":
    main()
