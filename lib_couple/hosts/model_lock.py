"""One generation at a time per model: the couple patches the model it samples with.

`holding(model)` is held across patching and sampling, so no generation (or walk frame) samples a
model while another has it patched, whichever queue or thread the requests come from.

Background work (the explorer's render-ahead) takes the model with `holding_in_background`: only
while no real request waits, and with a cancel callback that any real `holding` calls first, so
a real request waits for a background frame's UNet block in progress (the demo's stop check,
`demo/block_stop.py`), at most one sampling step.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_locks: weakref.WeakKeyDictionary[object, threading.Lock] = weakref.WeakKeyDictionary()
_waiting: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
_background: weakref.WeakKeyDictionary[object, Callable[[], None]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()
POLL_SECONDS = 0.05  # how often a background job looks again at a busy model


def model_lock(model: object) -> threading.Lock:
    """The lock of `model`, made on first use; dropped with the model."""
    with _guard:
        return _lock_of(model)


def _lock_of(model: object) -> threading.Lock:
    lock = _locks.get(model)
    if lock is None:
        lock = _locks[model] = threading.Lock()
    return lock


@contextmanager
def holding(model: object) -> Iterator[None]:
    """Hold `model` for one generation: patch, sample, unpatch. A background job holding it
    is cancelled first."""
    with _guard:
        lock = _lock_of(model)
        _waiting[model] = _waiting.get(model, 0) + 1
        cancel = _background.get(model)
    try:
        if cancel is not None:
            cancel()
        lock.acquire()
    finally:
        with _guard:
            _waiting[model] -= 1
    try:
        yield
    finally:
        lock.release()


@contextmanager
def holding_in_background(
    model: object, cancel: Callable[[], None], wanted: Callable[[], bool]
) -> Iterator[bool]:
    """Hold `model` for a background job once it is free and no real request waits; yields
    False (holding nothing) if `wanted()` turns False first. Meanwhile `cancel` is what a real
    request calls to take the model back."""
    while True:
        with _guard:
            lock = _lock_of(model)
            if not wanted():
                held = False
                break
            if not _waiting.get(model, 0) and lock.acquire(blocking=False):
                _background[model] = cancel
                held = True
                break
        time.sleep(POLL_SECONDS)
    try:
        yield held
    finally:
        if held:
            with _guard:
                _background.pop(model, None)
            lock.release()
