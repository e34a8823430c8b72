"""One generation at a time per model: the couple patches the model it samples with.

`holding(model)` is held across patching and sampling, so no generation (or walk frame) samples a
model while another has it patched, whichever queue or thread the requests come from.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

_locks: weakref.WeakKeyDictionary[object, threading.Lock] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def model_lock(model: object) -> threading.Lock:
    """The lock of `model`, made on first use; dropped with the model."""
    with _guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.Lock()
        return lock


@contextmanager
def holding(model: object) -> Iterator[None]:
    """Hold `model` for one generation: patch, sample, unpatch."""
    with model_lock(model):
        yield
