"""The `forge_couple` logger's own console handler, so its INFO lines show in every host.

Forge leaves the root logger without handlers, where Python prints only warnings, so the
options that log at INFO (the common-prompt debug, Debug tiles) showed nothing. The handler is
added once, however often the scripts are imported again (Reload UI), and the logger does not
propagate, so a host that does configure the root logger does not print each line twice.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOGGER_NAME = "forge_couple"
HANDLER_NAME = "forge_couple_console"
PREFIX = "Forge Couple: "


class _Formatter(logging.Formatter):
    """`Forge Couple: message`, with the level named when it is above INFO."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        level = "" if record.levelno <= logging.INFO else f"{record.levelname}: "
        return f"{PREFIX}{level}{text}"


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the `sys.stderr` of the moment: hosts and test runners replace it."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _stream: TextIO) -> None:
        pass  # StreamHandler's constructor sets it; the property decides


def setup_logging() -> logging.Logger:
    """Give the project's logger its handler (stderr, INFO) unless it already has it."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(handler.get_name() == HANDLER_NAME for handler in logger.handlers):
        handler = _ConsoleHandler()
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(_Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
