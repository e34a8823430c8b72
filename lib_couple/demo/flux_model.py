"""A tiny Flux-shaped demo model: joint-attention transformer, T5-like and CLIP-like text encoders.

The image side reuses the UNet demo's VAE (4 latent channels at 1/8 side); Flux packs 2 x 2
latent patches into tokens, so the transformer sees 16 channels a token and image sides are
multiples of 16. The weights files hold tensors only: these builders are the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderTiny, FluxTransformer2DModel
from safetensors.torch import load_file
from transformers import CLIPTextModel, PreTrainedTokenizerFast, T5Config, T5EncoderModel

from lib_couple.demo.architecture import LATENT_CHANNELS, build_text_encoder, build_vae
from lib_couple.demo.model import VAE_FILE, WEIGHTS_DIR, read_latent_normalisation, save_module
from lib_couple.demo.tokenizer import build_tokenizer, vocabulary_ids

FLUX_WEIGHTS_DIR = Path(__file__).resolve().parent / "flux_weights"
TRANSFORMER_FILE = "transformer.safetensors"
T5_FILE = "text_encoder_2.safetensors"  # named as in Flux's pipeline: text_encoder_2 is T5
CLIP_FILE = "text_encoder.safetensors"
FLUX_WEIGHT_FILES: tuple[str, ...] = (TRANSFORMER_FILE, T5_FILE, CLIP_FILE)
T5_DIM = 64
POOLED_DIM = 64  # the CLIP-like encoder is the UNet demo's shape; its pooled output is this wide
SEQUENCE_LENGTH = 32  # T5 tokens: the longest demo caption is well under this
PATCH = 2
SIZE_MULTIPLE = 8 * PATCH  # VAE scale times the 2 x 2 patch


def build_transformer() -> FluxTransformer2DModel:
    """2 double-stream and 2 single-stream blocks, 4 heads of 32; rope axes (time, row, column)."""
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * PATCH * PATCH,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=32,
        num_attention_heads=4,
        joint_attention_dim=T5_DIM,
        pooled_projection_dim=POOLED_DIM,
        guidance_embeds=False,  # not distilled: real classifier-free guidance at sampling
        axes_dims_rope=(8, 12, 12),
    )


def build_t5() -> T5EncoderModel:
    ids = vocabulary_ids()
    config = T5Config(
        vocab_size=len(ids),
        d_model=T5_DIM,
        d_kv=16,
        d_ff=2 * T5_DIM,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=16,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|endoftext|>"],
    )
    return T5EncoderModel(config)


@dataclass(frozen=True)
class FluxDemo:
    """The Flux demo's parts, named as in diffusers' FluxPipeline."""

    transformer: FluxTransformer2DModel
    text_encoder: CLIPTextModel  # pooled vector
    text_encoder_2: T5EncoderModel  # token sequence
    tokenizer: PreTrainedTokenizerFast  # one word-level tokenizer serves both encoders
    vae: AutoencoderTiny


def write_untrained_flux_weights(directory: Path, seed: int = 0) -> Path:
    """Seeded random weights in the shipped layout (the VAE stays the UNet demo's)."""
    torch.manual_seed(seed)
    save_module(build_transformer(), directory / TRANSFORMER_FILE)
    save_module(build_t5(), directory / T5_FILE)
    save_module(build_text_encoder(), directory / CLIP_FILE)
    return directory


def load_flux_demo(
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    weights_dir: Path = FLUX_WEIGHTS_DIR,
    vae_dir: Path = WEIGHTS_DIR,
) -> FluxDemo:
    """Build the parts and fill them from the repository's safetensors; no network access."""
    missing = [name for name in FLUX_WEIGHT_FILES if not (weights_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"flux demo weights missing in {weights_dir}: {', '.join(missing)}")
    scaling, shift = read_latent_normalisation(vae_dir / VAE_FILE)
    vae = build_vae(scaling_factor=scaling, shift_factor=shift)
    vae.load_state_dict(load_file(str(vae_dir / VAE_FILE)))
    transformer, t5, clip = build_transformer(), build_t5(), build_text_encoder()
    for module, name in ((transformer, TRANSFORMER_FILE), (t5, T5_FILE), (clip, CLIP_FILE)):
        module.load_state_dict(load_file(str(weights_dir / name)), strict=True)
    for part in (vae, transformer, t5, clip):
        part.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return FluxDemo(transformer, clip, t5, build_tokenizer(), vae)


def tokenize_sequence(tokenizer: PreTrainedTokenizerFast, prompts: list[str]) -> torch.Tensor:
    """[N, 32] token ids (bos, words, eos, eos padding), for both encoders."""
    batch = tokenizer(
        prompts, padding="max_length", max_length=SEQUENCE_LENGTH, truncation=True, return_tensors="pt"
    )
    ids: torch.Tensor = batch.input_ids
    return ids


def token_counts(tokenizer: PreTrainedTokenizerFast, prompts: list[str]) -> list[int]:
    """Each prompt's real tokens in `tokenize_sequence`'s ids: bos, its words and the first eos."""
    eos = int(tokenizer.eos_token_id)
    counts = []
    for row in tokenize_sequence(tokenizer, prompts).tolist():
        counts.append(row.index(eos, 1) + 1 if eos in row[1:] else len(row))
    return counts


def embed_flux(
    t5: T5EncoderModel, clip: CLIPTextModel, ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """([N, 32, 64] T5 sequence, [N, 64] pooled CLIP vector at the first eos) of token ids."""
    device = t5.device
    sequence: torch.Tensor = t5(input_ids=ids.to(device)).last_hidden_state
    pooled: torch.Tensor = clip(ids.to(clip.device)).pooler_output
    return sequence, pooled


@torch.no_grad()
def encode_flux_prompts(demo: FluxDemo, prompts: list[str]) -> dict[str, torch.Tensor]:
    """A Flux conditioning per prompt batch: `crossattn` [N, 32, 64] and `vector` [N, 64]."""
    sequence, pooled = embed_flux(
        demo.text_encoder_2, demo.text_encoder, tokenize_sequence(demo.tokenizer, prompts)
    )
    return {"crossattn": sequence, "vector": pooled}
