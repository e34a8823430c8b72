"""Forge runs this at launch (`python install.py`): install what Forge lacks, quietly when all is there."""

from __future__ import annotations

import importlib.util

# Import name -> pip requirement. Forge already ships torch, numpy, Pillow, gradio, PyYAML,
# safetensors, diffusers and transformers; these are checked, not pinned over Forge's.
REQUIREMENTS: dict[str, str] = {"yaml": "PyYAML"}


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
