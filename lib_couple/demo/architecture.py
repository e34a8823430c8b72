"""Shapes of the demo model's parts: a tiny Stable Diffusion.

A VAE at 1/8 of the image side, a cross-attention UNet and a CLIP text encoder.

Sizes follow what trained within minutes on a 2-core CPU (see the demo model facts);
the weights files hold tensors only, so these builders are the single source of the config.
"""

from __future__ import annotations

from diffusers import AutoencoderTiny, DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from lib_couple.demo.tokenizer import BOS, CONTEXT_LENGTH, EOS, vocabulary_ids

LATENT_CHANNELS = 4
TEXT_DIM = 64
VAE_SCALE = 8  # image side / latent side
NUM_TRAIN_TIMESTEPS = 1000


def build_vae(scaling_factor: float = 1.0, shift_factor: float = 0.0) -> AutoencoderTiny:
    """TAESD-shaped autoencoder, 32 channels a level; group norm in AutoencoderKL smeared flat colours."""
    return AutoencoderTiny(
        encoder_block_out_channels=(32, 32, 32, 32),
        decoder_block_out_channels=(32, 32, 32, 32),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=LATENT_CHANNELS,
        scaling_factor=scaling_factor,
        shift_factor=shift_factor,
    )


def build_unet() -> UNet2DConditionModel:
    """Three levels; cross-attention on the two coarser levels and the mid block."""
    return UNet2DConditionModel(
        sample_size=32,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=4,  # diffusers reads this as the number of heads
    )


def build_text_encoder() -> CLIPTextModel:
    ids = vocabulary_ids()
    config = CLIPTextConfig(
        vocab_size=len(ids),
        hidden_size=TEXT_DIM,
        intermediate_size=2 * TEXT_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=CONTEXT_LENGTH,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[EOS],
        projection_dim=TEXT_DIM,
    )
    return CLIPTextModel(config)


def build_scheduler() -> DDIMScheduler:
    """v-prediction on zero-terminal-SNR betas (with epsilon on SD's schedule backgrounds came out black)."""
    return DDIMScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=True,
    )
