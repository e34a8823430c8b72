"""The Flux demo's regional training steps: strip scenes through the joint-attention mask of inference.

As for the UNet demo (`regional_training.py`): a model this small, trained on whole-scene captions,
draws one object per image, so regions leave all but one empty. A share of steps on strip scenes,
each strip's image tokens attending to its own caption through the mask the sampler uses
(`joint_attention.joint_mask` over `patch_token_weights`, the processors of
`hosts/flux_regional.py`), teaches each region to draw its own line. The own text is the strips'
captions joined (the whole prompt at inference), the pooled vector is its.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lib_couple.attention.joint_attention import joint_mask
from lib_couple.demo.flux_model import SEQUENCE_LENGTH, embed_flux
from lib_couple.demo.tokenizer import BOS, EOS, vocabulary_ids
from lib_couple.hosts.flux_regional import FixedMask, regional_processors
from lib_couple.token_masks import patch_token_weights
from lib_couple.walk.flux import transformer_inputs


def joined_ids(strip_ids: torch.Tensor, length: int = SEQUENCE_LENGTH) -> torch.Tensor:
    """`[N, R, T]` per-strip ids -> `[N, length]` ids of the captions joined: bos, words, eos, eos pads."""
    ids = vocabulary_ids()
    bos, eos = ids[BOS], ids[EOS]
    rows = []
    for strips in strip_ids.tolist():
        words = [token for line in strips for token in line if token not in (bos, eos)]
        row = [bos, *words[: length - 2], eos]
        rows.append(row + [eos] * (length - len(row)))
    return torch.tensor(rows, dtype=strip_ids.dtype)


def region_lengths(strip_ids: torch.Tensor, padding: int, length: int = SEQUENCE_LENGTH) -> list[int]:
    """Tokens kept per strip line, as the sampler trims them: the batch's longest real line + pads."""
    eos = vocabulary_ids()[EOS]
    real = (strip_ids[..., 1:length] != eos).sum(dim=-1) + 2  # bos, words, first eos
    return [min(length, int(n) + padding) for n in real.max(dim=0).values]


def strip_flow_loss(
    parts: tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module],
    latents: torch.Tensor,
    strip_ids: torch.Tensor,
    masks: torch.Tensor,
    generator: torch.Generator,
    padding: int = 16,
) -> torch.Tensor:
    """The rectified-flow loss of strip scenes `[N, C, h, w]`, captions `[N, R, T]`, masks `[R, h, w]`."""
    transformer, t5, clip = parts
    noise = torch.randn(latents.shape, generator=generator)
    t = torch.sigmoid(torch.randn(latents.shape[0], generator=generator))
    noisy = (1.0 - t[:, None, None, None]) * latents + t[:, None, None, None] * noise
    batch, regions = strip_ids.shape[:2]
    own, pooled = embed_flux(t5, clip, joined_ids(strip_ids))
    lines = t5(input_ids=strip_ids[..., :SEQUENCE_LENGTH].reshape(batch * regions, -1)).last_hidden_state
    lines = lines.view(batch, regions, SEQUENCE_LENGTH, -1)
    lengths = region_lengths(strip_ids, padding)
    context = torch.cat([own, *(lines[:, r, :n] for r, n in enumerate(lengths))], dim=1)
    weights = patch_token_weights(masks, (int(latents.shape[-2]), int(latents.shape[-1])))
    mask = joint_mask(weights, lengths, int(own.shape[1]), has_fallback=False)[None, None]
    source = FixedMask(mask, int(context.shape[1]))
    with regional_processors(transformer, lambda: source):
        inputs = transformer_inputs({"crossattn": context, "vector": pooled}, noisy, t)
        prediction: torch.Tensor = transformer(**inputs)[0]
    target = transformer_inputs({"crossattn": context, "vector": pooled}, noise - latents, t)["hidden_states"]
    return F.mse_loss(prediction, target)
