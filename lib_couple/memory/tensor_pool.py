"""TensorPool: reuse of the hot path's intermediate buffers, keyed by shape, dtype and device."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

PoolKey = tuple[tuple[int, ...], torch.dtype, torch.device]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass
class PoolStats:
    requests: int = 0
    reuses: int = 0
    bytes_reused: int = 0
    dropped: int = 0  # free buffers let go to keep within the byte bound

    @property
    def reuse_rate(self) -> float:
        return self.reuses / self.requests if self.requests else 0.0


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _storage_holders(tensor: torch.Tensor) -> int | None:
    """How many tensors share this tensor's storage (None where PyTorch does not say)."""
    count = getattr(torch._C, "_storage_Use_Count", None)
    if count is None:
        return None
    # untyped_storage() makes a Python handle, which holds one reference of its own.
    return int(count(tensor.untyped_storage()._cdata)) - 1


# A lent result buffer is free again when the pool's own tensor is its storage's only holder.
_ALONE = 1
LENT_PER_KEY = 2


class TensorPool:
    """Free lists of uninitialised buffers; `acquire` hands out only buffers nobody holds.

    The bound is on the bytes the pool keeps while they are free: buffers in use belong to
    their callers, and a release that would pass the bound drops the least recently freed.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be 0 or more")
        self.max_bytes = max_bytes
        self.stats = PoolStats()
        self._free: OrderedDict[int, tuple[PoolKey, torch.Tensor]] = OrderedDict()
        self._by_key: dict[PoolKey, list[int]] = {}
        # Holding buffers in use keeps their ids unique until they come back.
        self._in_use: dict[int, tuple[PoolKey, torch.Tensor]] = {}
        self._free_bytes = 0
        # Result buffers handed out with `lend`: the pool keeps the base, the caller gets a view.
        self._lent: dict[PoolKey, list[torch.Tensor]] = {}

    @property
    def free_bytes(self) -> int:
        return self._free_bytes

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def _request(self, shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> PoolKey:
        """Count a request; its key."""
        self.stats.requests += 1
        return (tuple(int(s) for s in shape), dtype, torch.device(device))

    def _reused(self, tensor: torch.Tensor) -> torch.Tensor:
        self.stats.reuses += 1
        self.stats.bytes_reused += _nbytes(tensor)
        return tensor

    def acquire(self, shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A buffer of this shape with undefined contents; give it back with `release`."""
        key = self._request(shape, dtype, device)
        ids = self._by_key.get(key)
        if ids:
            _, tensor = self._free.pop(ids.pop())
            self._free_bytes -= _nbytes(tensor)
            self._reused(tensor)
        else:
            tensor = torch.empty(key[0], dtype=dtype, device=key[2])
        self._in_use[id(tensor)] = (key, tensor)
        return tensor

    def lend(self, shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A buffer for a result that leaves the caller: it comes back by itself, when nothing
        but the pool holds its storage any more (every view the caller made is gone too)."""
        key = self._request(shape, dtype, device)
        bases = self._lent.setdefault(key, [])
        for base in bases:
            if _storage_holders(base) == _ALONE:
                return self._reused(base).view(base.shape)
        fresh = torch.empty(key[0], dtype=dtype, device=key[2])
        lent = fresh.view(fresh.shape)
        # Track it only where the count is seen to work: alone, one holder; lent, two.
        if _storage_holders(fresh) == _ALONE + 1 and _nbytes(fresh) <= self.max_bytes:
            if len(bases) >= LENT_PER_KEY:
                bases.pop(0)  # the caller keeps its view; the pool stops tracking it
            bases.append(fresh)
        return lent

    def release(self, tensor: torch.Tensor) -> None:
        entry = self._in_use.get(id(tensor))
        if entry is None or entry[1] is not tensor:
            raise ValueError("this tensor is not a buffer the pool handed out, or it was released already")
        del self._in_use[id(tensor)]
        key = entry[0]
        size = _nbytes(tensor)
        if size > self.max_bytes:
            self.stats.dropped += 1
            return
        while self._free_bytes + size > self.max_bytes:
            self._drop_oldest()
        self._free[id(tensor)] = (key, tensor)
        self._by_key.setdefault(key, []).append(id(tensor))
        self._free_bytes += size

    @contextmanager
    def borrowed(
        self, shape: Sequence[int], dtype: torch.dtype, device: torch.device
    ) -> Iterator[torch.Tensor]:
        tensor = self.acquire(shape, dtype, device)
        try:
            yield tensor
        finally:
            self.release(tensor)

    def clear(self) -> None:
        """Let go of every free buffer; buffers in use stay their holders'."""
        self._free.clear()
        self._by_key.clear()
        self._free_bytes = 0
        self._lent.clear()

    def _drop_oldest(self) -> None:
        ident, (key, tensor) = self._free.popitem(last=False)
        self._by_key[key].remove(ident)
        if not self._by_key[key]:
            del self._by_key[key]
        self._free_bytes -= _nbytes(tensor)
        self.stats.dropped += 1
