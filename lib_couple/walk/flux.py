"""A walked Flux conditioning as the inputs of a diffusers `FluxTransformer2DModel` call.

Flux takes packed latents (2 x 2 patches as tokens), position ids for image and text tokens,
the T5 sequence, the pooled CLIP-L vector and a distilled guidance value. The walk changes
only the conditioning; everything else here is the model's fixed input layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] latents (H and W even) -> [B, H/2 * W/2, 4C] tokens, as Flux's pipeline packs them."""
    batch, channels, height, width = latents.shape
    if height % 2 or width % 2:
        raise ValueError(
            f"Flux packs 2 x 2 patches: latent height and width must be even, got {height}x{width}"
        )
    patches = latents.view(batch, channels, height // 2, 2, width // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(batch, (height // 2) * (width // 2), channels * 4)


def image_ids(latent_height: int, latent_width: int) -> torch.Tensor:
    """[H/2 * W/2, 3] position ids of the packed image tokens: (0, row, column)."""
    rows, columns = latent_height // 2, latent_width // 2
    ids = torch.zeros(rows, columns, 3)
    ids[..., 1] = torch.arange(rows)[:, None]
    ids[..., 2] = torch.arange(columns)[None, :]
    return ids.reshape(rows * columns, 3)


def transformer_inputs(
    conditioning: Mapping[str, torch.Tensor], latents: torch.Tensor, timestep: torch.Tensor
) -> dict[str, Any]:
    """Keyword arguments of one `FluxTransformer2DModel` call on `[B, C, H, W]` latents.

    `conditioning` is a (walked) Flux conditioning: `crossattn` [B or 1, T, D] (T5),
    `vector` [B or 1, P] (pooled CLIP-L) and, for guidance-distilled models, `guidance` [1]
    (the transformer scales it itself, as it does the timestep in [0, 1]).
    """
    batch = latents.shape[0]
    context = conditioning["crossattn"].expand(batch, -1, -1)
    inputs: dict[str, Any] = {
        "hidden_states": pack_latents(latents),
        "encoder_hidden_states": context,
        "pooled_projections": conditioning["vector"].expand(batch, -1),
        "timestep": timestep.expand(batch),
        "img_ids": image_ids(latents.shape[-2], latents.shape[-1]).to(latents),
        "txt_ids": torch.zeros(context.shape[1], 3).to(latents),
        "return_dict": False,
    }
    if "guidance" in conditioning:
        inputs["guidance"] = conditioning["guidance"].reshape(-1)[:1].expand(batch).to(latents)
    return inputs
