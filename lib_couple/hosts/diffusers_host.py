"""Adapter for diffusers: an attention processor on the cross-attention layers of a UNet.

`DiffusersCouple(conds, masks).install(unet)` sets the processor on every cross-attention layer
and records the latent size of each UNet call; `remove()` restores the previous processors.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

import torch
from torch import nn

from lib_couple.attention.couple import COND, Projection, RegionalAttention
from lib_couple.errors import CoupleError


class CoupleAttention(Protocol):
    """What the processors call: `RegionalAttention`, or another regional attention of that form."""

    def __call__(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        layer: Hashable,
        project: Projection,
        heads: int,
        latent_hw: tuple[int, int],
        cond_or_uncond: Sequence[int],
    ) -> torch.Tensor: ...

    def clear(self) -> None: ...


class RegionalAttnProcessor:
    """diffusers processor for one cross-attention layer; the math mirrors `AttnProcessor2_0`."""

    def __init__(self, couple: DiffusersCouple, layer: str) -> None:
        self.couple = couple
        self.layer = layer

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        if encoder_hidden_states is None or attention_mask is not None:
            raise CoupleError(f"{self.layer}: regional attention needs text context and no attention mask")
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        def project(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if attn.norm_cross:
                context = attn.norm_encoder_hidden_states(context)
            return attn.to_k(context), attn.to_v(context)

        q = attn.to_q(hidden_states)
        k, v = project(encoder_hidden_states)
        out = self.couple.attention(
            q,
            k,
            v,
            layer=self.layer,
            project=project,
            heads=attn.heads,
            latent_hw=self.couple.latent_hw,
            cond_or_uncond=self.couple.cond_or_uncond or [COND],
        )
        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channels, height, width)
        if attn.residual_connection:
            out = out + residual
        result: torch.Tensor = out / attn.rescale_output_factor
        return result


def cross_attention_layers(unet: nn.Module) -> list[str]:
    """Processor names of the cross-attention layers (`...attn2.processor`)."""
    names = []
    for name, module in unet.named_modules():
        if getattr(module, "is_cross_attention", False) and hasattr(module, "set_processor"):
            if getattr(module, "norm_q", None) is not None or getattr(module, "norm_k", None) is not None:
                raise CoupleError(f"{name}: attention with q/k normalisation is not supported")
            names.append(f"{name}.processor")
    return names


class DiffusersCouple:
    """Regional prompting on a diffusers `UNet2DConditionModel`.

    The batch layout is `cond_or_uncond` chunks as in Forge (0 = cond, 1 = uncond); diffusers
    pipelines put `[uncond, cond]`, which is `[1, 0]`. Without a layout every row is cond.
    `negatives` (one conditioning per region) makes the uncond rows regional too.
    """

    def __init__(
        self,
        conds: Sequence[torch.Tensor],
        masks: torch.Tensor,
        *,
        strict: bool = False,
        cond_or_uncond: Sequence[int] | None = None,
        negatives: Sequence[torch.Tensor] | None = None,
    ) -> None:
        attention = RegionalAttention.single(conds, masks, strict=strict, negatives=negatives)
        self._setup(attention, cond_or_uncond)

    @classmethod
    def with_attention(
        cls, attention: CoupleAttention, cond_or_uncond: Sequence[int] | None = None
    ) -> DiffusersCouple:
        """Install another regional attention the same way (the demo model's training uses one)."""
        couple = cls.__new__(cls)
        couple._setup(attention, cond_or_uncond)
        return couple

    def _setup(self, attention: CoupleAttention, cond_or_uncond: Sequence[int] | None) -> None:
        self.attention: CoupleAttention = attention
        self.cond_or_uncond = list(cond_or_uncond) if cond_or_uncond is not None else None
        self.latent_hw: tuple[int, int] = (0, 0)
        self._unet: nn.Module | None = None
        self._saved: dict[str, Any] = {}
        self._hook: Any = None

    def _record_latent(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        sample = args[0] if args else kwargs["sample"]
        self.latent_hw = (int(sample.shape[-2]), int(sample.shape[-1]))

    def install(self, unet: nn.Module) -> DiffusersCouple:
        if self._unet is not None:
            raise CoupleError("this couple is already installed; remove() it first")
        names = cross_attention_layers(unet)
        if not names:
            raise CoupleError("the UNet has no cross-attention layers to patch")
        processors = dict(cast(dict[str, Any], unet.attn_processors))
        self._saved = dict(processors)
        for name in names:
            processors[name] = RegionalAttnProcessor(self, name)
        unet.set_attn_processor(processors)  # type: ignore[operator]
        self._hook = unet.register_forward_pre_hook(self._record_latent, with_kwargs=True)
        self._unet = unet
        return self

    def remove(self) -> None:
        """Restore the processors the UNet had and drop the caches."""
        if self._unet is not None:
            self._unet.set_attn_processor(self._saved)  # type: ignore[operator]
            self._hook.remove()
        self._unet, self._saved, self._hook = None, {}, None
        self.attention.clear()

    @contextmanager
    def applied(self, unet: nn.Module) -> Iterator[DiffusersCouple]:
        """Installed for the block, removed afterwards even on error or interrupt."""
        self.install(unet)
        try:
            yield self
        finally:
            self.remove()
