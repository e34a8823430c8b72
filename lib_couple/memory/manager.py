"""MemoryManager: owns the tensor pool and the attention cache, and says when to let go.

Cleanup points are explicit calls a host makes (unpatch, end of generation, interrupt, model
unload) plus weak references to patched models, so a model that dies takes its entries with it.
No host imports: hosts call in.
"""

from __future__ import annotations

import gc
import logging
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any

import torch

from lib_couple.attention.cross_attention import pooled
from lib_couple.memory.attention_cache import AttentionCache
from lib_couple.memory.tensor_pool import TensorPool

logger = logging.getLogger("forge_couple")

Cleanup = Callable[[], None]


@dataclass(frozen=True)
class MemoryStats:
    pool_requests: int
    pool_reuses: int
    pool_reuse_rate: float
    pool_bytes_reused: int
    pool_free_bytes: int
    pool_in_use: int
    cache_entries: int
    cache_hits: int
    cache_misses: int
    cache_hit_rate: float
    tracked_models: int
    live_tensors: int | None  # None unless counted: a full gc walk costs milliseconds
    cuda_allocated: int | None
    cuda_reserved: int | None
    cuda_peak: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class MemoryManager:
    """The pool, the cache, the patched models (weakly) and the per-generation cleanups."""

    def __init__(
        self,
        pool: TensorPool | None = None,
        cache: AttentionCache[Any] | None = None,
        use_pool: bool = True,
    ) -> None:
        """`use_pool` lends the pool to regional attention (4-7% faster per UNet step on the CPU,
        docs/PERFORMANCE.md); off, every buffer is a fresh allocation."""
        self.pool = pool if pool is not None else TensorPool()
        self.use_pool = use_pool
        self.cache: AttentionCache[Any] = cache if cache is not None else AttentionCache(64)
        self._models: dict[int, weakref.ref[Any]] = {}
        self._generation: list[Cleanup] = []

    def track_model(self, model: Any) -> None:
        """Remember a patched model weakly; when it is collected, its cached values go too."""
        ident = id(model)
        self._models[ident] = weakref.ref(model, lambda _: self._model_gone(ident))

    def _model_gone(self, ident: int) -> None:
        self._models.pop(ident, None)
        # Cache keys are hashes of model identity and LoRA state: one model's entries cannot be
        # picked out, and an id may be reused by the next model, so all go.
        self.cache.clear()

    @property
    def tracked_models(self) -> int:
        return sum(1 for ref in self._models.values() if ref() is not None)

    def on_generation_end(self, cleanup: Cleanup) -> None:
        """Run `cleanup` (e.g. a couple's `clear`) when the current generation ends, however."""
        self._generation.append(cleanup)

    def end_generation(self) -> None:
        """Per-generation state goes: registered cleanups run, free pool buffers are released."""
        cleanups, self._generation = self._generation, []
        errors = []
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception as error:  # every cleanup runs; the first failure is re-raised
                errors.append(error)
        self.pool.clear()
        if errors:
            raise errors[0]

    def interrupt(self) -> None:
        self.end_generation()

    def unpatch(self, model: Any) -> None:
        """The couple was removed from `model`: its generation state goes, the model is forgotten."""
        self.end_generation()
        self._models.pop(id(model), None)

    def model_unloaded(self, model: Any) -> None:
        """The host unloaded `model` (or changed its weights): everything cached for it goes."""
        self.unpatch(model)
        self.cache.clear()

    @contextmanager
    def generation(self, *cleanups: Cleanup) -> Iterator[MemoryManager]:
        """One generation: with `use_pool`, regional attention borrows from the pool (in this
        thread's context); cleanups run and pool buffers are freed at the end, even on error."""
        self._generation.extend(cleanups)
        try:
            with pooled(self.pool) if self.use_pool else nullcontext():
                yield self
        finally:
            self.end_generation()

    def get_stats(self, count_live_tensors: bool = False) -> MemoryStats:
        pool, cache = self.pool.stats, self.cache.stats
        cuda = torch.cuda.is_available() and bool(torch.cuda.is_initialized())  # type: ignore[no-untyped-call]
        return MemoryStats(
            pool_requests=pool.requests,
            pool_reuses=pool.reuses,
            pool_reuse_rate=pool.reuse_rate,
            pool_bytes_reused=pool.bytes_reused,
            pool_free_bytes=self.pool.free_bytes,
            pool_in_use=self.pool.in_use,
            cache_entries=len(self.cache),
            cache_hits=cache.hits,
            cache_misses=cache.misses,
            cache_hit_rate=cache.hit_rate,
            tracked_models=self.tracked_models,
            live_tensors=count_live_tensors_now() if count_live_tensors else None,
            cuda_allocated=torch.cuda.memory_allocated() if cuda else None,
            cuda_reserved=torch.cuda.memory_reserved() if cuda else None,
            cuda_peak=torch.cuda.max_memory_allocated() if cuda else None,
        )

    def log_memory_stats(self, count_live_tensors: bool = False) -> MemoryStats:
        stats = self.get_stats(count_live_tensors)
        logger.info(
            "memory: pool reuse %.0f%% of %d requests (%d MiB reused), cache %d hits / %d misses, "
            "%d models tracked, live tensors %s, CUDA allocated / reserved / peak %s",
            100 * stats.pool_reuse_rate,
            stats.pool_requests,
            stats.pool_bytes_reused // 2**20,
            stats.cache_hits,
            stats.cache_misses,
            stats.tracked_models,
            "not counted" if stats.live_tensors is None else stats.live_tensors,
            "n/a"
            if stats.cuda_allocated is None
            else f"{stats.cuda_allocated // 2**20} / {(stats.cuda_reserved or 0) // 2**20} / "
            f"{(stats.cuda_peak or 0) // 2**20} MiB",
        )
        return stats


def count_live_tensors_now() -> int:
    """Tensor objects the garbage collector can see."""
    with warnings.catch_warnings():  # isinstance on deprecated module proxies warns
        warnings.simplefilter("ignore", FutureWarning)
        return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))


_MANAGER: MemoryManager | None = None


def get_memory_manager() -> MemoryManager:
    """The process's manager, made on first use."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = MemoryManager()
    return _MANAGER
