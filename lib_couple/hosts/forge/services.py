"""The runner's services backed by Forge itself: the thin layer that imports `modules.*`."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch

from lib_couple.attention.cross_attention import AttentionFn


class ForgeHostServices:
    """Text encoding with the loaded model's own encoders, options and the interrupt."""

    def encode(
        self, sd_model: Any, line: str, width: int, height: int, negative: bool = False
    ) -> torch.Tensor:
        from modules.prompt_parser import SdConditioning

        # SdConditioning carries the size and the negative flag that SDXL's conditioning reads.
        cond = sd_model.get_learned_conditioning(SdConditioning([line], negative, width, height, None))
        if isinstance(cond, dict):
            cond = cond["crossattn"]  # SDXL: the pooled vector stays the whole prompt's
        if isinstance(cond, list):
            cond = cond[0]  # Anima (Neo): one [1, L, D] per line, L padded up to 512 tokens
        tensor: torch.Tensor = cond[:1].detach()
        return tensor

    def text_tokens(self, sd_model: Any, line: str) -> int | None:
        """The real T5 tokens of a line (its end token included), before the engine pads it.

        Forge's and Neo's Flux / Chroma engines have `text_processing_engine_t5.tokenize_line`,
        which returns the chunks and that count; a line of more chunks (BREAK) is left whole."""
        engine = getattr(sd_model, "text_processing_engine_t5", None)
        tokenize_line = getattr(engine, "tokenize_line", None)
        if not callable(tokenize_line):
            return None
        chunks, count = tokenize_line(line)
        return int(count) if len(chunks) == 1 else None

    def conditioning_identity(self, sd_model: Any) -> Hashable:
        from modules import shared

        info = getattr(sd_model, "sd_checkpoint_info", None)
        return (
            getattr(info, "filename", None),
            getattr(sd_model, "sd_model_hash", None),
            id(sd_model),
            getattr(shared.opts, "CLIP_stop_at_last_layers", 1),
        )

    def interrupt_on_error(self) -> bool:
        from modules import shared

        return bool(getattr(shared.opts, "fc_do_interrupt", True))

    def attention_function(self) -> AttentionFn:
        from backend.attention import attention_function

        function: AttentionFn = attention_function
        return function

    def interrupt(self) -> None:
        from modules import shared

        shared.state.interrupt()
