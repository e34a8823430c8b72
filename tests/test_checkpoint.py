"""A user's checkpoint through diffusers: detection, offline loading errors, regional generation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from lib_couple.errors import CoupleError
from lib_couple.hosts.checkpoint import detect_architecture, generate_with_pipeline, load_checkpoint
from lib_couple.hosts.standalone import GenerationRequest
from lib_couple.params import CoupleParams


def checkpoint(tmp_path: Path, key: str, name: str = "model.safetensors") -> Path:
    path = tmp_path / name
    save_file({key: torch.zeros(2)}, str(path))
    return path


@pytest.mark.parametrize(
    ("key", "architecture"),
    [
        ("conditioner.embedders.1.model.ln_final.weight", "SDXL"),
        ("cond_stage_model.transformer.text_model.final_layer_norm.weight", "SD1.5"),
    ],
)
def test_architecture_from_the_keys(tmp_path: Path, key: str, architecture: str) -> None:
    assert detect_architecture(checkpoint(tmp_path, key)) == architecture


def test_other_models_and_pickles_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CoupleError, match="not an SD1.5 or SDXL"):
        detect_architecture(checkpoint(tmp_path, "model.diffusion_model.double_blocks.0.img_attn.qkv.weight"))
    with pytest.raises(CoupleError, match="only .safetensors"):
        detect_architecture(tmp_path / "model.ckpt")
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CoupleError, match="cannot read"):
        detect_architecture(tmp_path / "broken.safetensors")


def test_a_config_folder_without_model_index_is_refused(tmp_path: Path) -> None:
    path = checkpoint(tmp_path, "cond_stage_model.transformer.text_model.final_layer_norm.weight")
    with pytest.raises(CoupleError, match="model_index.json"):
        load_checkpoint(path, tmp_path)


def tiny_pipeline(tmp_path: Path) -> Any:
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    words = ["a", "red", "blue", "circle", "square"]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{f"{w}</w>": i + 2 for i, w in enumerate(words)}}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"), model_max_length=77)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=32,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=4,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
    )
    pipeline = StableDiffusionPipeline(
        vae,
        text_encoder,
        tokenizer,
        unet,
        DDIMScheduler(clip_sample=False),
        None,
        None,
        requires_safety_checker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.mark.parametrize("cfg", [5.0, 1.0])
def test_regions_act_through_the_pipeline_and_are_removed(tmp_path: Path, cfg: float) -> None:
    pipeline = tiny_pipeline(tmp_path)
    processors = dict(pipeline.unet.attn_processors)

    def run(enabled: bool) -> Any:
        couple = CoupleParams(enabled=enabled)
        request = GenerationRequest(
            "a red circle\na blue square", width=64, height=64, steps=2, cfg=cfg, couple=couple
        )
        return generate_with_pipeline(pipeline, request, "tiny")

    plain, regional = run(False), run(True)
    assert regional.image.size == (64, 64)
    assert plain.image.tobytes() != regional.image.tobytes()
    assert "forge_couple_mode: Basic" in regional.parameters
    assert "Model: tiny" in regional.parameters
    assert dict(pipeline.unet.attn_processors) == processors
