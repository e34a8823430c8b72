"""Load the shipped demo model offline and use its parts: prompts to embeddings, latents to images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderTiny, DDIMScheduler, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPTextModel, PreTrainedTokenizerFast

from lib_couple.demo.architecture import build_scheduler, build_text_encoder, build_unet, build_vae
from lib_couple.demo.tokenizer import CONTEXT_LENGTH, build_tokenizer

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
VAE_FILE = "vae.safetensors"
UNET_FILE = "unet.safetensors"
TEXT_ENCODER_FILE = "text_encoder.safetensors"
WEIGHT_FILES: tuple[str, ...] = (VAE_FILE, UNET_FILE, TEXT_ENCODER_FILE)


@dataclass(frozen=True)
class DemoComponents:
    """The demo model's parts, laid out like a Stable Diffusion pipeline's."""

    vae: AutoencoderTiny
    unet: UNet2DConditionModel
    text_encoder: CLIPTextModel
    tokenizer: PreTrainedTokenizerFast
    scheduler: DDIMScheduler


def weights_present(directory: Path = WEIGHTS_DIR) -> bool:
    return all((directory / name).is_file() for name in WEIGHT_FILES)


def save_module(module: torch.nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write a module's tensors as fp16 safetensors (half the size; loaded back as the caller's dtype)."""
    tensors = {
        name: (t.detach().to(torch.float16) if t.is_floating_point() else t.detach()).contiguous()
        for name, t in module.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)


def save_vae(vae: AutoencoderTiny, path: Path) -> None:
    """The latent normalisation travels in the file's metadata, next to the weights it belongs to."""
    metadata = {
        "scaling_factor": repr(float(vae.config.scaling_factor)),
        "shift_factor": repr(float(vae.config.shift_factor)),
    }
    save_module(vae, path, metadata)


def write_untrained_weights(directory: Path, seed: int = 0) -> Path:
    """Seeded random weights in the shipped layout: the wiring of the model without its training."""
    torch.manual_seed(seed)
    save_vae(build_vae(), directory / VAE_FILE)
    save_module(build_unet(), directory / UNET_FILE)
    save_module(build_text_encoder(), directory / TEXT_ENCODER_FILE)
    return directory


def read_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` of a safetensors file: its header is an 8-byte little-endian length and JSON."""
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(length))
    metadata: dict[str, str] = header.get("__metadata__", {})
    return metadata


def read_latent_normalisation(path: Path) -> tuple[float, float]:
    metadata = read_metadata(path)
    return float(metadata.get("scaling_factor", "1.0")), float(metadata.get("shift_factor", "0.0"))


def _load_into(module: torch.nn.Module, path: Path) -> None:
    state = load_file(str(path))
    module.load_state_dict(state, strict=True)


def load_demo_pipeline(
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    weights_dir: Path = WEIGHTS_DIR,
) -> DemoComponents:
    """Build the parts and fill them from the safetensors in `weights_dir`; no network access."""
    missing = [name for name in WEIGHT_FILES if not (weights_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"demo weights missing in {weights_dir}: {', '.join(missing)}")
    scaling, shift = read_latent_normalisation(weights_dir / VAE_FILE)
    vae = build_vae(scaling_factor=scaling, shift_factor=shift)
    unet = build_unet()
    text_encoder = build_text_encoder()
    for module, name in ((vae, VAE_FILE), (unet, UNET_FILE), (text_encoder, TEXT_ENCODER_FILE)):
        _load_into(module, weights_dir / name)
        module.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return DemoComponents(vae, unet, text_encoder, build_tokenizer(), build_scheduler())


def tokenize(tokenizer: PreTrainedTokenizerFast, prompts: list[str]) -> torch.Tensor:
    """[N, 77] token ids: bos, words, eos, then eos padding as in SD's CLIP."""
    batch = tokenizer(
        prompts, padding="max_length", max_length=CONTEXT_LENGTH, truncation=True, return_tensors="pt"
    )
    ids: torch.Tensor = batch.input_ids
    return ids


def embed_tokens(text_encoder: CLIPTextModel, ids: torch.Tensor) -> torch.Tensor:
    """[N, 77, D] last hidden states, the UNet's cross-attention context."""
    hidden: torch.Tensor = text_encoder(ids.to(text_encoder.device)).last_hidden_state
    return hidden


@torch.no_grad()
def encode_prompts(components: DemoComponents, prompts: list[str]) -> torch.Tensor:
    """[N, 77, D] text embeddings of the prompts."""
    return embed_tokens(components.text_encoder, tokenize(components.tokenizer, prompts))


def normalise_latents(vae: AutoencoderTiny, raw: torch.Tensor) -> torch.Tensor:
    """Raw VAE latents to the zero-mean, unit-variance space the UNet works in."""
    return (raw - float(vae.config.shift_factor)) * float(vae.config.scaling_factor)


def denormalise_latents(vae: AutoencoderTiny, latents: torch.Tensor) -> torch.Tensor:
    return latents / float(vae.config.scaling_factor) + float(vae.config.shift_factor)


@torch.no_grad()
def encode_images(components: DemoComponents, images: torch.Tensor) -> torch.Tensor:
    """Images [N, 3, H, W] in [0, 1] to normalised latents [N, 4, H/8, W/8]."""
    vae = components.vae
    raw: torch.Tensor = vae.encode(images.to(vae.device, vae.dtype) * 2.0 - 1.0).latents
    return normalise_latents(vae, raw)


@torch.no_grad()
def decode_latents(components: DemoComponents, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents [N, 4, h, w] to images [N, 3, 8h, 8w] in [0, 1]."""
    vae = components.vae
    decoded: torch.Tensor = vae.decode(denormalise_latents(vae, latents.to(vae.device, vae.dtype))).sample
    return ((decoded + 1.0) / 2.0).clamp(0.0, 1.0)
