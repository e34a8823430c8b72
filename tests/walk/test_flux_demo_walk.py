"""The Latent Walk's Flux path on the trained Flux demo model: yellow to blue moves the colour in order."""

from __future__ import annotations

import numpy as np

from lib_couple.demo.flux_model import encode_flux_prompts, load_flux_demo
from lib_couple.demo.flux_sampling import decode_flux_latents, sample_flux
from lib_couple.walk.interpolate import interpolate_conditioning
from tests.walk.colour_walk import assert_colour_moves


def test_yellow_to_blue_flux_walk_moves_the_colour_in_order() -> None:
    demo = load_flux_demo()
    yellow_end = encode_flux_prompts(demo, ["a yellow circle on a black background"])
    blue_end = encode_flux_prompts(demo, ["a blue square on a black background"])
    uncond = encode_flux_prompts(demo, [""])
    images = []
    for t in np.linspace(0.0, 1.0, 5):
        conditioning = interpolate_conditioning(yellow_end, blue_end, float(t), "flux")
        assert isinstance(conditioning, dict)
        latents = sample_flux(
            demo, conditioning, uncond, height=256, width=256, steps=20, cfg=5.0, seed=3, progress=False
        )
        images.append(decode_flux_latents(demo, latents)[0].permute(1, 2, 0).numpy())
    assert_colour_moves(images, "yellow", "blue", present=0.05)
