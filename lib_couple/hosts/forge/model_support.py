"""Which loaded models the couple supports, read from Forge's (and Forge Neo's) model flags."""

from __future__ import annotations

from typing import Any

# Forge sets is_sd1/is_sd2/is_sdxl/is_sd3; Neo sets is_sd1/is_sdxl/is_flux/... and no is_sd2/is_sd3,
# so every flag is read with a default.
SUPPORTED_FLAGS: tuple[tuple[str, str], ...] = (("is_sdxl", "SDXL"), ("is_sd1", "SD1.5"), ("is_sd2", "SD2"))


def model_kind(sd_model: Any) -> str | None:
    """ "SD1.5", "SDXL" or "SD2" for UNet models the couple can patch; None for any other."""
    for flag, kind in SUPPORTED_FLAGS:
        if getattr(sd_model, flag, False) is True:
            return kind
    return None


def model_label(sd_model: Any) -> str:
    """A name for messages: the checkpoint's title if Forge knows it, else the model class."""
    info = getattr(sd_model, "sd_checkpoint_info", None)
    title = getattr(info, "title", None) or getattr(info, "name", None)
    return str(title) if title else type(sd_model).__name__
