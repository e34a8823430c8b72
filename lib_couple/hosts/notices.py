"""The warnings one generation logs, collected to show under its image (as the Forge host does)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOGGER_NAME = "forge_couple"


class _ThreadWarnings(logging.Handler):
    """Keeps the warnings logged on one thread; other threads' generations are not ours."""

    def __init__(self, thread: int) -> None:
        super().__init__(logging.WARNING)
        self.thread = thread
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The project's warnings logged on this thread while the block runs, in order."""
    handler = _ThreadWarnings(threading.get_ident())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
