"""Forge and Forge Neo run this at launch (`python install.py`): install what the host lacks, never
change a version the host ships, quietly when all is there.

lllyasviel Forge pins numpy 1.26.2; Forge Neo pins numpy 2.3.5, Pillow 12.2.0, joblib 1.5.3 and
gets SciPy 1.17.1. So nothing here is pinned: each requirement is a lower bound that both hosts'
versions meet, a package already installed at or above it is left alone, and the one pip command
that installs the rest holds every installed package they depend on at its installed version
(pip then picks versions that fit the host, or fails without changing anything).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    module: str  # import name
    distribution: str  # pip's name
    minimum: str  # lowest version the extension works with


# Forge and Neo already ship torch, numpy, Pillow, gradio, safetensors, diffusers and transformers.
REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("yaml", "PyYAML", "5.1"),  # safe_load, YAMLError
    Requirement("scipy", "scipy", "1.8"),  # scikit-learn's own floor
    Requirement("sklearn", "scikit-learn", "1.0"),  # KernelDensity
    Requirement("imageio", "imageio", "2.16"),  # imageio.v2
    Requirement("imageio_ffmpeg", "imageio-ffmpeg", "0.4.9"),  # H.264 / VP9 writer with a bundled ffmpeg
)

# Host packages that the requirements above depend on: held at their installed version in the
# install command, so pip cannot up- or downgrade them to fit a newer scikit-learn or imageio.
HELD: tuple[str, ...] = ("numpy", "scipy", "Pillow", "joblib", "threadpoolctl", "PyYAML", "setuptools")

_SAFE = re.compile(r"[A-Za-z0-9._+!-]+")


def release(version: str) -> tuple[int, ...]:
    """'2.13.0+cpu' -> (2, 13, 0): the leading numeric release segments, for comparison."""
    parts: list[int] = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() != len(piece):
            break
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def needed(
    requirements: Sequence[Requirement],
    versions: Mapping[str, str | None],
    importable: Callable[[str], bool],
) -> list[Requirement]:
    """The requirements to install: missing (no metadata and no module) or installed below the floor."""
    result = []
    for requirement in requirements:
        version = versions.get(requirement.distribution)
        if version is None:
            if not importable(requirement.module):
                result.append(requirement)
        elif release(version) < release(requirement.minimum):
            result.append(requirement)
    return result


def _spec(name: str, operator: str, version: str) -> str:
    # Forge runs pip through the shell (bash or cmd.exe): double quotes keep '>' literal in both.
    if not (_SAFE.fullmatch(name) and _SAFE.fullmatch(version)):
        raise ValueError(f"unexpected package name or version {name!r} {version!r}")
    return f'"{name}{operator}{version}"'


def install_command(requirements: Sequence[Requirement], versions: Mapping[str, str | None]) -> str | None:
    """pip's arguments: each needed requirement at its floor, each installed held package at its version."""
    if not requirements:
        return None
    installing = {requirement.distribution for requirement in requirements}
    specs = [_spec(requirement.distribution, ">=", requirement.minimum) for requirement in requirements]
    for name in HELD:
        version = versions.get(name)
        if version is not None and name not in installing:
            specs.append(_spec(name, "==", version))
    return "install " + " ".join(specs)


def host_versions() -> dict[str, str | None]:
    names = {requirement.distribution for requirement in REQUIREMENTS} | set(HELD)
    return {name: installed_version(name) for name in sorted(names)}


def main() -> None:
    versions = host_versions()
    todo = needed(REQUIREMENTS, versions, lambda module: importlib.util.find_spec(module) is not None)
    command = install_command(todo, versions)
    if command is None:
        return
    import launch  # the host's launcher module, on PYTHONPATH when Forge or Neo runs this file

    names = ", ".join(requirement.distribution for requirement in todo)
    launch.run_pip(command, f"Forge Couple requirements: {names}")


if __name__ == "__main__":
    main()
