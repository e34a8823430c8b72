"""The Flux demo's strip-scene steps through the regional mask (lib_couple/demo/flux_regional_training.py)."""

from __future__ import annotations

import torch

from lib_couple.demo.architecture import build_text_encoder
from lib_couple.demo.flux_model import SEQUENCE_LENGTH, build_t5, build_transformer, tokenize_sequence
from lib_couple.demo.flux_regional_training import joined_ids, region_lengths, strip_flow_loss
from lib_couple.demo.regional_training import strip_masks
from lib_couple.demo.tokenizer import build_tokenizer


def strip_ids(lines: list[list[str]]) -> torch.Tensor:
    tokenizer = build_tokenizer()
    return torch.stack([tokenize_sequence(tokenizer, row) for row in lines])


def test_joined_ids_are_the_lines_as_one_caption() -> None:
    ids = strip_ids([["a red circle", "a blue square"]])
    whole = tokenize_sequence(build_tokenizer(), ["a red circle a blue square"])
    assert torch.equal(joined_ids(ids), whole)


def test_region_lengths_are_the_longest_line_plus_padding() -> None:
    ids = strip_ids([["a red circle", "a blue square on a white background"], ["a red", "a blue"]])
    # bos + words + first eos: 5 and 9 tokens; padding 4
    assert region_lengths(ids, 4) == [9, 13]
    assert region_lengths(ids, 1000) == [SEQUENCE_LENGTH, SEQUENCE_LENGTH]


def test_the_strip_loss_trains_the_transformer_and_both_encoders() -> None:
    torch.manual_seed(0)
    parts = (build_transformer(), build_t5(), build_text_encoder())
    ids = strip_ids([["a red circle", "a blue square"], ["a green shape", "a yellow triangle"]])
    latents = torch.randn(2, 4, 8, 8)
    loss = strip_flow_loss(parts, latents, ids, strip_masks(2, True, 8), torch.Generator().manual_seed(1))
    assert loss.ndim == 0
    assert torch.isfinite(loss)
    loss.backward()
    for part in parts:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
