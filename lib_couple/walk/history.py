"""Bounded undo/redo over any kind of position, shared by the keyframe explorer and the 2D pad.

Every move pushes the old position (the oldest is dropped past `limit`) and clears the future;
undo and redo trade the current position with the newest entry of the other side.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class History(Generic[T]):
    """The positions undo and redo would return to, each side at most `limit` long."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a history keeps at least 1 move")
        self.limit = limit
        self.past: deque[T] = deque(maxlen=limit)  # oldest first; undo returns the last
        self.future: deque[T] = deque(maxlen=limit)  # redo returns the last

    def moved(self, old: T) -> None:
        """A new move left `old`: it becomes undoable and the redo side is gone."""
        self.past.append(old)
        self.future.clear()

    def undo(self, current: T) -> T | None:
        """The position before `current` (which redo will return to); None when there is none."""
        if not self.past:
            return None
        self.future.append(current)
        return self.past.pop()

    def redo(self, current: T) -> T | None:
        """The position the last undo left; None when there is none."""
        if not self.future:
            return None
        self.past.append(current)
        return self.future.pop()

    def restore(self, past: Iterable[T], future: Iterable[T]) -> None:
        """Both sides as saved (oldest first), each cut to `limit`."""
        self.past.clear()
        self.past.extend(past)
        self.future.clear()
        self.future.extend(future)
