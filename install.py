"""Forge runs this at launch (`python install.py`): install what Forge lacks, quietly when all is there."""

from __future__ import annotations

import importlib.util

# Import name -> pip requirement. Forge already ships torch, numpy, Pillow, gradio, PyYAML,
# safetensors, diffusers and transformers. The latent walk's extras are pinned to versions that
# keep Forge's numpy 1.26.2 (a newer scipy would pull numpy 2).
REQUIREMENTS: dict[str, str] = {
    "yaml": "PyYAML",
    "sklearn": "scikit-learn==1.5.2 scipy==1.14.1",
    "imageio": "imageio==2.36.0",
    "imageio_ffmpeg": "imageio-ffmpeg==0.5.1",
}


def missing(requirements: dict[str, str]) -> list[str]:
    return [pip_name for module, pip_name in requirements.items() if importlib.util.find_spec(module) is None]


def main() -> None:
    needed = missing(REQUIREMENTS)
    if not needed:
        return
    import launch  # Forge's launcher module, on PYTHONPATH when Forge runs this file

    for requirement in needed:
        launch.run_pip(f"install {requirement}", f"Forge Couple requirement: {requirement}")


if __name__ == "__main__":
    main()
