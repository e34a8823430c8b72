"""A tiny Stable-Diffusion-shaped text-to-image model trained on coloured shapes.

It ships its own weights (`weights/`), so the regional-attention engine can be run and
tested end to end offline on a CPU. Modules: `shapes` (training data), `tokenizer`,
`architecture` (part configs), `model` (loading, text and latent codecs), `sampling` (with
`block_stop`, a stop check inside the UNet for background frames), `train` and `evaluate`
(command-line scripts).
"""

from lib_couple.demo.model import DemoComponents, decode_latents, encode_prompts, load_demo_pipeline
from lib_couple.demo.sampling import sample

__all__ = ["DemoComponents", "decode_latents", "encode_prompts", "load_demo_pipeline", "sample"]
