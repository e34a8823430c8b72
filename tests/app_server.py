"""The standalone app served in-process on a free loopback port, for tests that call it."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lib_couple import app as app_module
from lib_couple.demo.model import DemoComponents


@contextmanager
def serving_app(loader: Callable[[], DemoComponents], outputs: Path | None = None) -> Iterator[str]:
    """The app's URL while it runs; closed afterwards. Images go to `outputs` (default: a
    temporary folder removed afterwards)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as scratch:
        folder = outputs or Path(scratch)
        blocks = app_module.build_app(loader, Path(scratch) / "walks", folder)
        blocks.queue().launch(
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=port,
            quiet=True,
            app_kwargs=app_module.server_kwargs(),  # as `serve` runs it
        )
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            blocks.close(verbose=False)
