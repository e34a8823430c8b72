"""Suite-wide test settings: hypothesis without its per-example deadline; caplog sees our logger.

CI runs on a loaded 2-core machine, where one example can take longer than hypothesis's 200 ms
default for reasons that are no bug, so every hypothesis test runs without a deadline (a test
may still set its own example count). `HYPOTHESIS_PROFILE` picks another registered profile.
"""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import settings

from lib_couple.log import LOGGER_NAME

settings.register_profile("ci", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _project_log_reaches_caplog(monkeypatch: pytest.MonkeyPatch) -> None:
    # setup_logging() (run by importing the Forge scripts) stops propagation, which would hide
    # the project's records from caplog, whose handler sits on the root logger.
    monkeypatch.setattr(logging.getLogger(LOGGER_NAME), "propagate", True)
