"""The standalone app served in-process, and Debian's chromium driven by Playwright.

The module skips when Playwright's Python package or a chromium binary is missing, so runs
without them pass. `FC_CHROMIUM` names another binary; `FC_BROWSER_EDITS` sets the number of
random edit sequences (20 by default).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def chromium_path() -> str | None:
    for candidate in (os.environ.get("FC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed (pip install playwright)"
    if chromium_path() is None:
        return "no chromium binary (apt-get install chromium, or set FC_CHROMIUM)"
    return None


SKIP_REASON = _skip_reason()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if SKIP_REASON is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from lib_couple.demo.model import DemoComponents, load_demo_pipeline, write_untrained_weights
    from lib_couple.ui.presets import PRESETS_ENV
    from tests.app_server import serving_app

    directory = write_untrained_weights(tmp_path_factory.mktemp("weights"))
    # The page's presets go to a temporary file, not the checkout's presets.json.
    os.environ[PRESETS_ENV] = str(tmp_path_factory.mktemp("presets") / "presets.json")

    def loader() -> DemoComponents:
        return load_demo_pipeline(weights_dir=directory)

    with serving_app(loader) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def gradio_stream_abort(text: str) -> bool:
    """Gradio 4.40's client logs this when it closes its `/queue/data` event stream while another
    request starts (seen with a Generate right after Send to img2img, or an upload): its own
    bundle's message about its own stream, with no effect on the request. Matched exactly."""
    first_line, _, stack = text.partition("\n")
    return first_line.strip() == "AbortError: signal is aborted without reason" and "/assets/index-" in stack


def gradio_argument_warning(text: str) -> bool:
    """Gradio's client warns "Too many (or too few) arguments provided for the endpoint" when an
    event's inputs and the API info disagree (issue 15). Other warnings come from the browser's
    own stack here (GL driver notes, "Method not implemented." from headless Chromium's canvas)
    and differ between machines, so they are not ours to count."""
    return "arguments provided for the endpoint" in text


@pytest.fixture
def console_errors() -> list[str]:
    """The page's console errors, and gradio's argument warnings."""
    return []


@pytest.fixture
def page(browser: Browser, app_url: str, console_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    # No network here: answer the page's outside requests (web fonts) with nothing.
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(body=""))
    opened = context.new_page()

    def on_console(message: Any) -> None:
        if message.type == "error" and not gradio_stream_abort(message.text):
            console_errors.append(f"console: {message.text}")
        elif message.type == "warning" and gradio_argument_warning(message.text):
            console_errors.append(f"warning: {message.text}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: console_errors.append(f"pageerror: {error}"))
    opened.goto(app_url)
    opened.wait_for_function("() => document.querySelector('forge-couple-editor') !== null", timeout=30_000)
    try:
        yield opened
    finally:
        context.close()
