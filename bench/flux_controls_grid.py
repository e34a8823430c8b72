"""A picture of the joint-attention controls' effect on the Flux demo model (docs/FLUX.md).

    python -m bench.flux_controls_grid [--out docs/flux_controls.png] [--seeds 1 2] [--threads 1]

One two-column prompt ("a blue circle" / "a yellow triangle", colours the tests do not use) at
192 px, 20 steps, CFG 5, drawn with each control changed alone from the defaults; one row per seed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from lib_couple.demo.flux_model import load_flux_demo
from lib_couple.hosts.flux_standalone import generate_flux
from lib_couple.hosts.standalone import GenerationRequest
from lib_couple.params import CoupleParams

PROMPT = "a blue circle\na yellow triangle"
SIDE = 192
DEFAULTS = CoupleParams(enabled=True)
# Each changes one control from the defaults (the demo's blocks: 0-1 double, 2-3 single).
VARIANTS: tuple[tuple[str, CoupleParams], ...] = (
    ("no regions", replace(DEFAULTS, enabled=False)),
    ("defaults", DEFAULTS),
    ("blocks every-other", replace(DEFAULTS, flux_blocks="every-other")),
    ("blocks 0-1 (double)", replace(DEFAULTS, flux_blocks="range", flux_block_start=0, flux_block_stop=2)),
    ("steps 0.2", replace(DEFAULTS, flux_steps=0.2)),
    ("steps 1.0", replace(DEFAULTS, flux_steps=1.0)),
    ("base ratio 0.5", replace(DEFAULTS, flux_base_ratio=0.5)),
    ("image attn region", replace(DEFAULTS, flux_image_attention="region")),
    ("global everywhere", replace(DEFAULTS, flux_global_everywhere=True)),
)
LABEL = 16


def grid(seeds: Sequence[int]) -> Image.Image:
    demo = load_flux_demo()
    sheet = Image.new("RGB", (SIDE * len(VARIANTS), LABEL + SIDE * len(seeds)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for column, (label, couple) in enumerate(VARIANTS):
        draw.text((column * SIDE + 4, 2), label, fill=(0, 0, 0))
        for row, seed in enumerate(seeds):
            request = GenerationRequest(PROMPT, width=SIDE, height=SIDE, steps=20, seed=seed, couple=couple)
            image = generate_flux(demo, request, progress=False).image
            sheet.paste(image.convert("RGB"), (column * SIDE, LABEL + row * SIDE))
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("docs/flux_controls.png"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # 64 palette colours: the shapes are flat, and the file stays small enough for the docs.
    grid(args.seeds).quantize(colors=64).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
