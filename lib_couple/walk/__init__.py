"""Latent Walk engine: interpolation of conditionings and noise, easing, the explorer, caching, video.

Pure functions and small classes; no Forge or Gradio imports. Hosts (Forge tab, standalone app)
encode prompts and sample; this package decides *what* to render and remembers where the walk went.
"""
