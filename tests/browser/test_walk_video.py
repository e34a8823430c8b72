"""The walk's exported videos play in chromium: decoded, with the frames' size and duration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from lib_couple.walk.video import export_video

if TYPE_CHECKING:
    from playwright.sync_api import Browser

FRAMES = 6
FPS = 6.0


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_the_exported_video_plays_in_chromium(suffix: str, browser: Browser, tmp_path: Path) -> None:
    frames = [Image.new("RGB", (65, 49), (40 * i, 255 - 40 * i, 0)) for i in range(FRAMES)]
    export_video(frames, tmp_path / f"walk{suffix}", fps=FPS)
    page_file = tmp_path / "play.html"
    page_file.write_text(f'<video id="v" muted src="walk{suffix}"></video>')
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri())
        page.wait_for_function("() => document.getElementById('v').readyState >= 2", timeout=20_000)
        played = page.evaluate(
            """async () => {
                const v = document.getElementById('v');
                await v.play();
                await new Promise((done) => v.addEventListener('ended', done, {once: true}));
                const error = v.error && v.error.code;
                return {w: v.videoWidth, h: v.videoHeight, duration: v.duration, error};
            }"""
        )
    finally:
        page.close()
    assert played["error"] is None
    assert (played["w"], played["h"]) == (66, 50)  # odd sides padded for yuv420p
    assert played["duration"] == pytest.approx(FRAMES / FPS, abs=0.2)
