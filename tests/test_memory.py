"""TensorPool, MemoryManager and the pooled regional attention."""

from __future__ import annotations

import gc

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.attention.couple import RegionalAttention, RegionSet
from lib_couple.attention.cross_attention import pooled, regional_cross_attention
from lib_couple.memory.manager import MemoryManager, get_memory_manager
from lib_couple.memory.tensor_pool import TensorPool
from lib_couple.token_masks import token_weights

CPU = torch.device("cpu")
SHAPES = [(2, 3), (4,), (2, 3, 4), (8, 8)]

# Each step: acquire a buffer of SHAPES[i] (positive) or release the j-th held buffer.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), st.integers(0, len(SHAPES) - 1)),
        st.tuples(st.just("release"), st.integers(0, 50)),
    ),
    max_size=60,
)


def assert_unheld(tensor: torch.Tensor, shape: tuple[int, ...], held: list[torch.Tensor]) -> torch.Tensor:
    """The pool's answer has the shape asked for and shares memory with nothing still held."""
    assert tensor.shape == shape
    assert all(tensor.data_ptr() != other.data_ptr() for other in held)
    return tensor


@settings(max_examples=150)
@given(steps=steps, max_bytes=st.integers(0, 600))
def test_pool_never_hands_out_a_buffer_in_use(steps: list[tuple[str, int]], max_bytes: int) -> None:
    pool = TensorPool(max_bytes=max_bytes)
    held: list[torch.Tensor] = []
    for action, index in steps:
        if action == "acquire":
            held.append(assert_unheld(pool.acquire(SHAPES[index], torch.float32, CPU), SHAPES[index], held))
        elif held:
            pool.release(held.pop(index % len(held)))
        assert pool.free_bytes <= max_bytes
        assert pool.in_use == len(held)


def test_pool_counts_reuses_and_bytes() -> None:
    pool = TensorPool()
    first = pool.acquire((4, 4), torch.float32, CPU)
    pool.release(first)
    again = pool.acquire((4, 4), torch.float32, CPU)
    other = pool.acquire((4, 4), torch.float16, CPU)
    assert again is first
    assert other is not first
    assert (pool.stats.requests, pool.stats.reuses, pool.stats.bytes_reused) == (3, 1, 64)
    assert pool.stats.reuse_rate == pytest.approx(1 / 3)


def test_pool_refuses_foreign_and_double_releases() -> None:
    pool = TensorPool()
    with pytest.raises(ValueError, match="not a buffer"):
        pool.release(torch.empty(3))
    tensor = pool.acquire((3,), torch.float32, CPU)
    pool.release(tensor)
    with pytest.raises(ValueError, match="released already"):
        pool.release(tensor)


def test_pool_drops_oldest_free_buffers_past_its_bound() -> None:
    pool = TensorPool(max_bytes=64)
    a, b = pool.acquire((4,), torch.float32, CPU), pool.acquire((4,), torch.float32, CPU)
    pool.release(a)
    pool.release(b)
    assert pool.free_bytes == 32
    big = pool.acquire((16,), torch.float32, CPU)
    pool.release(big)  # 64 bytes: both smaller free buffers go
    assert pool.free_bytes == 64
    assert pool.stats.dropped == 2


# Each step: lend a buffer of SHAPES[i], drop the j-th held result, or take a view of it.
lend_steps = st.lists(
    st.one_of(
        st.tuples(st.just("lend"), st.integers(0, len(SHAPES) - 1)),
        st.tuples(st.just("drop"), st.integers(0, 50)),
        st.tuples(st.just("view"), st.integers(0, 50)),
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(lend_steps)
def test_lent_buffers_come_back_only_when_nothing_holds_them(steps: list[tuple[str, int]]) -> None:
    pool = TensorPool()
    held: list[torch.Tensor] = []  # results and views the caller still holds
    for action, index in steps:
        if action == "lend":
            # A buffer still held (directly or through a view) is never handed out again.
            held.append(assert_unheld(pool.lend(SHAPES[index], torch.float32, CPU), SHAPES[index], held))
        elif held and action == "drop":
            held.pop(index % len(held))
        elif held:
            held.append(held[index % len(held)][:1])


def test_a_dropped_result_is_reused() -> None:
    pool = TensorPool()
    first = pool.lend((4, 4), torch.float32, CPU)
    pointer = first.data_ptr()
    kept = first.view(16)
    del first
    assert pool.lend((4, 4), torch.float32, CPU).data_ptr() != pointer  # the view still holds it
    del kept
    again = pool.lend((4, 4), torch.float32, CPU)
    assert again.data_ptr() == pointer
    assert pool.stats.reuses == 1
    assert pool.stats.bytes_reused == 64
    pool.clear()  # the end of a generation: the pool forgets its lent buffers
    del again
    pool.lend((4, 4), torch.float32, CPU)
    assert pool.stats.reuses == 1


def test_pooled_regional_attention_equals_unpooled() -> None:
    generator = torch.Generator().manual_seed(0)
    masks = torch.zeros(3, 24, 24)
    masks[0, :, :10], masks[1, :, 8:20], masks[2, :, 16:] = 1.0, 2.0, 1.0
    weights = token_weights(masks, (6, 6))
    q = torch.randn(2, 36, 16, generator=generator)
    kv = [(torch.randn(1, 77, 16, generator=generator), torch.randn(1, 77, 16, generator=generator))] * 3
    pool = TensorPool()
    plain = regional_cross_attention(q, kv, weights, heads=2)
    with pooled(pool):
        first = regional_cross_attention(q, kv, weights, heads=2)
        second = regional_cross_attention(q, kv, weights, heads=2)
    assert torch.equal(plain, first)
    assert torch.equal(plain, second)
    assert pool.stats.reuses > 0
    assert pool.in_use == 0


def test_pooled_regional_attention_keeps_a_held_result_intact() -> None:
    generator = torch.Generator().manual_seed(1)
    masks = torch.zeros(2, 16, 16)
    masks[0, :, :9], masks[1, :, 7:] = 1.0, 1.0
    conds = [torch.randn(1, 5, 8, generator=generator) for _ in range(2)]
    pool = TensorPool()
    pooled_couple = RegionalAttention([RegionSet(conds, masks)], pool=pool)
    plain_couple = RegionalAttention([RegionSet(conds, masks)])
    projection = torch.nn.Linear(8, 16)
    calls = [tuple(torch.randn(2, n, 16, generator=generator) for n in (16, 5, 5)) for _ in range(3)]

    def call(couple: RegionalAttention, index: int) -> torch.Tensor:
        q, k, v = calls[index]
        return couple(
            q,
            k,
            v,
            layer="l",
            project=lambda c: (projection(c), projection(c)),
            heads=2,
            latent_hw=(16, 16),
            cond_or_uncond=[1, 0],
        )

    with torch.no_grad():
        held = call(pooled_couple, 0)
        snapshot = held.clone()
        second = call(pooled_couple, 1)  # must not write into the held result
        assert torch.equal(held, snapshot)
        assert second.data_ptr() != held.data_ptr()
        earlier = {held.data_ptr(), second.data_ptr()}
        del held, second
        third = call(pooled_couple, 2)  # nothing holds the earlier results: one comes back
        assert third.data_ptr() in earlier
        assert torch.equal(third, call(plain_couple, 2))


class Model:
    """Any object a host patches; only its identity and lifetime matter here."""


def test_manager_forgets_a_model_that_dies_and_clears_the_cache() -> None:
    manager = MemoryManager()
    model = Model()
    manager.track_model(model)
    manager.cache.get_or_compute("key", lambda: torch.ones(2))
    assert manager.tracked_models == 1
    del model
    gc.collect()
    assert manager.tracked_models == 0
    assert len(manager.cache) == 0


def test_manager_stats_shape() -> None:
    manager = MemoryManager()
    manager.cache.get_or_compute("a", lambda: 1)
    manager.cache.get_or_compute("a", lambda: 1)
    stats = manager.log_memory_stats(count_live_tensors=True).as_dict()
    assert stats["cache_hits"] == 1
    assert stats["cache_misses"] == 1
    assert isinstance(stats["live_tensors"], int)
    assert {"pool_reuse_rate", "cuda_allocated", "cuda_reserved", "cuda_peak"} <= stats.keys()
    assert get_memory_manager() is get_memory_manager()


def test_generation_scope_cleans_up_on_exception() -> None:
    manager = MemoryManager()
    cleared: list[str] = []
    seen: list[int] = []

    def interrupted_generation() -> None:
        with manager.generation(lambda: cleared.append("couple")):
            manager.pool.release(manager.pool.acquire((1024,), torch.float32, CPU))
            seen.append(manager.pool.free_bytes)
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted_generation()
    assert seen[0] > 0
    assert cleared == ["couple"]
    assert manager.pool.free_bytes == 0


def test_unload_and_interrupt_run_cleanups() -> None:
    manager = MemoryManager()
    model = Model()
    calls: list[int] = []
    manager.track_model(model)
    manager.cache.get_or_compute("k", lambda: 0)
    manager.on_generation_end(lambda: calls.append(1))
    manager.interrupt()
    manager.on_generation_end(lambda: calls.append(2))
    manager.model_unloaded(model)
    assert calls == [1, 2]
    assert manager.tracked_models == 0
    assert len(manager.cache) == 0


def test_without_a_storage_count_results_are_fresh_and_never_tracked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(torch._C, "_storage_Use_Count")
    pool = TensorPool()
    pool.lend((4,), torch.float32, CPU)  # dropped at once: with a count it would come back
    second = pool.lend((4,), torch.float32, CPU)
    assert pool.stats.reuses == 0
    assert second.shape == (4,)
