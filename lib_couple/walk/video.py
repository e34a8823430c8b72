"""Frames to browser-playable video (H.264 MP4, VP9 WebM via imageio-ffmpeg) or GIF (Pillow)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image

# H.264 with yuv420p (the pixel format browsers decode) halves chroma, so sides must be even.
CODECS = {".mp4": ("libx264", "yuv420p"), ".webm": ("libvpx-vp9", "yuv420p")}
FORMATS = (*CODECS, ".gif")


def pick_frames(frames: Sequence[Image.Image], every: int = 1, start: int = 0) -> list[Image.Image]:
    """Every n-th frame from `start` (a time-lapse of a long walk)."""
    if every < 1:
        raise ValueError("every must be at least 1")
    return list(frames[start::every])


def pad_to_even(image: Image.Image) -> Image.Image:
    """Pad the right/bottom edge by one pixel (edge colour) where a side is odd."""
    width, height = image.size
    if width % 2 == 0 and height % 2 == 0:
        return image
    array = np.asarray(image.convert("RGB"))
    padded = np.pad(array, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return Image.fromarray(padded)


def export_video(
    frames: Sequence[Image.Image], path: str | Path, fps: float = 10.0, every: int = 1, quality: int = 8
) -> Path:
    """Write frames to .mp4 (H.264), .webm (VP9) or .gif, chosen by suffix; returns the path."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported video format {suffix!r}; use one of {FORMATS}")
    if fps <= 0:
        raise ValueError("fps must be positive")
    chosen = [frame.convert("RGB") for frame in pick_frames(frames, every)]
    if not chosen:
        raise ValueError("no frames to export")
    if len({frame.size for frame in chosen}) > 1:
        raise ValueError("all frames must share one size")
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        # Pillow merges identical consecutive GIF frames into one longer frame.
        duration = round(1000.0 / fps)
        chosen[0].save(target, save_all=True, append_images=chosen[1:], duration=duration, loop=0)
        return target
    codec, pixel_format = CODECS[suffix]
    writer = imageio.get_writer(
        target, fps=fps, codec=codec, pixelformat=pixel_format, quality=quality, macro_block_size=1
    )
    try:
        for frame in chosen:
            writer.append_data(np.asarray(pad_to_even(frame)))
    finally:
        writer.close()
    return target


def count_frames(path: str | Path) -> int:
    """Decode a written video (same libraries) and count its frames."""
    target = Path(path)
    if target.suffix.lower() == ".gif":
        with Image.open(target) as image:
            return int(getattr(image, "n_frames", 1))
    return len(imageio.mimread(target, memtest=False))
