"""The project's console handler: added once, INFO lines shown with the prefix, printed once."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator

import pytest

import lib_couple.log
from lib_couple.log import HANDLER_NAME, LOGGER_NAME, setup_logging
from lib_couple.params import CoupleParams
from lib_couple.planning import plan_regions


@pytest.fixture
def project_logger() -> Iterator[logging.Logger]:
    """The real logger, put back as it was (other tests' caplog relies on its state)."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def ours(logger: logging.Logger) -> list[logging.Handler]:
    return [handler for handler in logger.handlers if handler.get_name() == HANDLER_NAME]


def test_setting_up_again_or_reimporting_adds_no_second_handler(project_logger: logging.Logger) -> None:
    setup_logging()
    setup_logging()
    importlib.reload(lib_couple.log)  # what Reload UI does to the modules
    lib_couple.log.setup_logging()
    assert len(ours(project_logger)) == 1
    assert project_logger.level == logging.INFO
    assert project_logger.propagate is False


def test_a_debug_line_reaches_the_console_once_with_the_prefix(
    project_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging()
    root_handler = logging.StreamHandler()  # a host that configures the root logger too
    logging.getLogger().addHandler(root_handler)
    try:
        params = CoupleParams(enabled=True, common_debug=True, common_parser="{ }")
        plan_regions(params, "{c:red} a {c} circle\na blue square", 64, 64)
    finally:
        logging.getLogger().removeHandler(root_handler)
    lines = [line for line in capsys.readouterr().err.splitlines() if "region lines" in line]
    assert lines == ["Forge Couple: region lines: ['red a red circle', 'a blue square']"]


def test_a_debug_line_is_silent_when_the_option_is_off(
    project_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging()
    plan_regions(CoupleParams(enabled=True), "a red circle\na blue square", 64, 64)
    assert "region lines" not in capsys.readouterr().err


def test_warnings_name_their_level(
    project_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging().warning("careful")
    assert capsys.readouterr().err.splitlines() == ["Forge Couple: WARNING: careful"]
