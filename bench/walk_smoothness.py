"""Smoothness of a walk on the demo model: slerp vs lerp, with and without the KDE step.

    OMP_NUM_THREADS=1 python -m bench.walk_smoothness [--size 128] [--steps 12] [--step 0.125]

The Explore pad's walk, as a user steps it: forward to the end, back to the middle, forward to
the end again (the second pass goes over visited ground, where the KDE step shrinks). Each
variant renders its frames on the demo model; the table gives the mean and the spread (standard
deviation, and their ratio) of the distance between consecutive frames: CIE Lab ΔE76 per pixel,
averaged over the frame, and the RGB RMS. A smooth walk has small, even steps: a small spread
relative to the mean.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from PIL import Image

from lib_couple.demo import DemoComponents, load_demo_pipeline
from lib_couple.hosts.walk_standalone import demo_explorer, render_frame
from lib_couple.ui.walk_pad import step_size
from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.interpolate import Method
from lib_couple.walk.plan import WalkSettings

KEYFRAMES = (
    Keyframe("a red circle on a black background", 1),
    Keyframe("a blue square on a white background", 2),
)
VARIANTS: tuple[tuple[Method, bool], ...] = (
    ("slerp", False),
    ("lerp", False),
    ("slerp", True),
    ("lerp", True),
)
MOST_STEPS = 400  # a walk that never reaches its end (a step too small to move) stops here


def srgb_to_lab(image: Image.Image) -> npt.NDArray[np.float64]:
    """CIE L*a*b* (D65) of an sRGB picture, per pixel."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def delta_e(a: Image.Image, b: Image.Image) -> float:
    """Mean CIE76 ΔE between two pictures of one size (about 2.3: a just noticeable change)."""
    return float(np.linalg.norm(srgb_to_lab(a) - srgb_to_lab(b), axis=-1).mean())


def rgb_rms(a: Image.Image, b: Image.Image) -> float:
    """Root mean square difference of the RGB values, 0-255."""
    diff = np.asarray(a.convert("RGB"), dtype=np.float64) - np.asarray(b.convert("RGB"), dtype=np.float64)
    return float(np.sqrt((diff**2).mean()))


def walk_positions(explorer: LatentSpaceExplorer, base: float, adaptive: bool) -> list[float]:
    """Forward to the end, back to the middle, forward to the end, with the pad's step rule."""
    end = explorer.end
    positions = [explorer.position]
    for direction, stop in ((1, end), (-1, end / 2), (1, end)):
        while (explorer.position - stop) * direction < 0 and len(positions) < MOST_STEPS:
            explorer.step(direction, step_size(explorer, base, adaptive))
            positions.append(explorer.position)
    return positions


@dataclass(frozen=True)
class Smoothness:
    variant: str
    frames: int
    delta_e_mean: float
    delta_e_std: float
    rms_mean: float
    rms_std: float

    def row(self) -> str:
        spread = self.delta_e_std / self.delta_e_mean if self.delta_e_mean else 0.0
        return (
            f"| {self.variant} | {self.frames} | {self.delta_e_mean:.2f} | {self.delta_e_std:.2f} "
            f"| {spread:.2f} | {self.rms_mean:.2f} | {self.rms_std:.2f} |"
        )


def measure(
    model: DemoComponents, method: Method, adaptive: bool, base: float, settings: WalkSettings
) -> Smoothness:
    explorer = demo_explorer(model, KEYFRAMES, method)
    positions = walk_positions(explorer, base, adaptive)
    cache = FrameCache(capacity=len(positions) + 1)
    frames = [render_frame(model, explorer, p, settings, cache) for p in positions]
    deltas = [delta_e(a, b) for a, b in pairwise(frames)]
    rms = [rgb_rms(a, b) for a, b in pairwise(frames)]
    name = f"{method}, {'KDE step' if adaptive else 'fixed step'}"
    return Smoothness(
        name,
        len(frames),
        float(np.mean(deltas)),
        float(np.std(deltas)),
        float(np.mean(rms)),
        float(np.std(rms)),
    )


HEADER = (
    "| walk | frames | ΔE mean | ΔE std | std / mean | RGB RMS mean | RGB RMS std |\n"
    "|---|---|---|---|---|---|---|"
)


def main(argv: Sequence[str] | None = None) -> list[Smoothness]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=128, help="frame width and height (8 to 512)")
    parser.add_argument("--steps", type=int, default=12, help="sampling steps (1 to 50)")
    parser.add_argument("--step", type=float, default=0.125, help="the pad's step (0.01 to 0.5)")
    args = parser.parse_args(argv)
    if not 8 <= args.size <= 512 or args.size % 8:
        parser.error("--size must be a multiple of 8 from 8 to 512")
    if not 1 <= args.steps <= 50:
        parser.error("--steps must be from 1 to 50")
    if not 0.01 <= args.step <= 0.5:
        parser.error("--step must be from 0.01 to 0.5")
    model = load_demo_pipeline()
    settings = WalkSettings(width=args.size, height=args.size, steps=args.steps)
    results = [measure(model, method, adaptive, args.step, settings) for method, adaptive in VARIANTS]
    print(HEADER)
    for result in results:
        print(result.row())
    return results


if __name__ == "__main__":
    main()
