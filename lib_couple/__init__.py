"""Forge Couple: regional prompting ("attention couple") for Stable Diffusion."""

__version__ = "0.1.0"
