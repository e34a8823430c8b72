"""The one table of architectures: how each is recognised on lllyasviel Forge and on Forge Neo, and
what the extension does for it (regions through which form of attention, latent walk, or neither).

lllyasviel Forge sets `is_sd1` / `is_sd2` / `is_sdxl` / `is_sd3` on its engine and knows Flux and
Chroma only by the engine class; Neo sets `is_sd1` / `is_sdxl` / `is_wan` and names every model by
`model_config.huggingface_repo`. Detection tries the repo, then the class, then the flags, so the
same row serves both hosts. Nothing outside this module asks which model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Which attention the regions go through (each a module of its own under lib_couple/attention/).
RegionsForm = Literal["unet-cross", "dit-joint", "dit-cross"]
# The conditioning form the latent walk interpolates (lib_couple.walk.interpolate.Architecture).
WalkForm = Literal["sd15", "sdxl", "flux"]


@dataclass(frozen=True)
class Architecture:
    """One row: a model family, how to recognise it, and what the extension does for it."""

    name: str
    neo_repos: tuple[str, ...] = ()  # lower-case substrings of Neo's model_config.huggingface_repo
    engine_classes: tuple[str, ...] = ()  # the engine's class name (Forge's and Neo's diffusion_engine)
    flags: tuple[str, ...] = ()  # sd_model flags that are True for it (Forge; Neo for sd1/sdxl/wan)
    regions: RegionsForm | None = None  # None: generates normally, with a message
    patcher: str | None = None  # module under lib_couple.hosts.forge.patchers
    walk: WalkForm | None = None  # None: the Latent Walk refuses it with a message

    @property
    def supports_regions(self) -> bool:
        return self.regions is not None and self.patcher is not None


# Order matters only where one row's keys could match another's model: specific rows first.
ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        "SD1.5",
        engine_classes=("StableDiffusion",),
        flags=("is_sd1",),
        regions="unet-cross",
        patcher="unet",
        walk="sd15",
    ),
    Architecture(
        "SDXL",
        engine_classes=("StableDiffusionXL", "StableDiffusionXLRefiner"),
        flags=("is_sdxl",),
        regions="unet-cross",
        patcher="unet",
        walk="sdxl",
    ),
    Architecture(  # Neo: an SDXL UNet with its own VAE; sets is_sdxl, named here for messages
        "Mugen",
        neo_repos=("cabalresearch/mugen",),
        engine_classes=("Mugen",),
        regions="unet-cross",
        patcher="unet",
        walk="sdxl",
    ),
    Architecture(
        "SD2",
        engine_classes=("StableDiffusion2",),
        flags=("is_sd2",),
        regions="unet-cross",
        patcher="unet",
        walk="sd15",
    ),
    Architecture("SD3", engine_classes=("StableDiffusion3",), flags=("is_sd3",)),
    Architecture(
        "Chroma", neo_repos=("chroma",), engine_classes=("Chroma",), regions="dit-joint", patcher="flux"
    ),
    Architecture("Flux.2 Klein", neo_repos=("flux.2",), engine_classes=("Flux2",)),
    Architecture(
        "Flux",
        neo_repos=("flux.1",),
        engine_classes=("Flux",),
        flags=("is_flux",),
        regions="dit-joint",
        patcher="flux",
        walk="flux",
    ),
    Architecture(
        "Anima", neo_repos=("anima",), engine_classes=("Anima",), regions="dit-cross", patcher="anima"
    ),
    Architecture("Qwen-Image", neo_repos=("qwen-image",), engine_classes=("QwenImage",)),
    Architecture("Z-Image", neo_repos=("z-image",), engine_classes=("ZImage",)),
    Architecture("Lumina 2", neo_repos=("lumina",), engine_classes=("Lumina2",)),
    # Neo sets is_wan on Anima, Krea 2 and Qwen-Image too, so Wan is known by repo and class only.
    Architecture("Wan", neo_repos=("wan-ai/",), engine_classes=("Wan",)),
    Architecture("Krea 2", neo_repos=("krea-2",), engine_classes=("Krea2",)),
    Architecture("ERNIE-Image", neo_repos=("baidu/ernie-image",), engine_classes=("ErnieImage",)),
    Architecture("PiD", neo_repos=("nvidia/pid",), engine_classes=("PiD",)),
)


def _repo(sd_model: Any) -> str:
    config = getattr(sd_model, "model_config", None)
    repo = getattr(config, "huggingface_repo", None)
    return repo.lower() if isinstance(repo, str) else ""


def architecture_of(sd_model: Any, table: tuple[Architecture, ...] = ARCHITECTURES) -> Architecture | None:
    """The row of a loaded model: by Neo's repo name, then the engine class, then the flags."""
    repo = _repo(sd_model)
    if repo:
        for row in table:
            if any(key in repo for key in row.neo_repos):
                return row
    class_name = type(sd_model).__name__
    for row in table:
        if class_name in row.engine_classes:
            return row
    for row in table:
        if any(getattr(sd_model, flag, False) is True for flag in row.flags):
            return row
    return None


def regions_architecture(sd_model: Any) -> Architecture | None:
    """The row of a model the couple can patch; None for any other."""
    row = architecture_of(sd_model)
    return row if row is not None and row.supports_regions else None


def supported_names(table: tuple[Architecture, ...] = ARCHITECTURES) -> str:
    """'SDXL, SD1.5 and SD2': the architectures with regions, for messages."""
    names = [row.name for row in table if row.supports_regions]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def model_label(sd_model: Any) -> str:
    """A name for messages: the checkpoint's title if the host knows it, else the model family."""
    info = getattr(sd_model, "sd_checkpoint_info", None)
    title = getattr(info, "title", None) or getattr(info, "name", None)
    if title:
        return str(title)
    row = architecture_of(sd_model)
    return row.name if row is not None else type(sd_model).__name__
