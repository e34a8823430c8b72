"""An LRU cache of rendered frames keyed by what determines them: conditioning, noise, parameters."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

import torch
from PIL import Image

from lib_couple.walk.interpolate import Conditioning

Params = Mapping[str, str | int | float | bool | None]


def _update_with_tensor(digest: hashlib._Hash, tensor: torch.Tensor) -> None:
    data = tensor.detach().to("cpu").contiguous()
    digest.update(f"{data.dtype}{tuple(data.shape)}".encode())
    digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")


def frame_key(cond: Conditioning, noise: torch.Tensor, params: Params) -> str:
    """SHA-256 over the exact conditioning and noise bytes and the sorted generation parameters."""
    digest = hashlib.sha256()
    parts = {"": cond} if isinstance(cond, torch.Tensor) else cond
    for name in sorted(parts):
        digest.update(name.encode())
        _update_with_tensor(digest, parts[name])
    _update_with_tensor(digest, noise)
    digest.update(json.dumps(dict(params), sort_keys=True).encode())
    return digest.hexdigest()


class FrameCache:
    """Least-recently-used frames; a hit returns the stored image without sampling. Thread-safe
    (the explorer's render-ahead stores frames from its own thread)."""

    def __init__(self, capacity: int = 256) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._frames: OrderedDict[str, Image.Image] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._frames

    def get(self, key: str) -> Image.Image | None:
        """The cached frame (marked as recently used), or None."""
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
            return frame

    def put(self, key: str, frame: Image.Image) -> None:
        """Store a frame, evicting the least recently used beyond capacity."""
        with self._lock:
            self._frames[key] = frame
            self._frames.move_to_end(key)
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)

    def get_or_render(self, key: str, render: Callable[[], Image.Image]) -> Image.Image:
        """The cached frame, or `render()` stored under `key`."""
        frame = self.get(key)
        if frame is not None:
            self.hits += 1
            return frame
        self.misses += 1
        frame = render()
        self.put(key, frame)
        return frame
