"""The app's Latent Walk page in chromium on the demo model: the finished walk's video plays in
the page (not only as a download), and a frame picked in the gallery is sent to txt2img."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _set(page: Page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_the_walk_video_plays_in_the_page(page: Page, console_errors: list[str]) -> None:
    page.locator("#tab_latent_walk-button, button[role=tab]:has-text('Latent Walk')").first.click()
    for elem_id, value in (
        ("forge_couple_walk_frames", 2),
        ("forge_couple_walk_steps", 2),
        ("forge_couple_walk_width", 64),
        ("forge_couple_walk_height", 64),
    ):
        _set(page, elem_id, value)
    page.locator("#forge_couple_walk_generate").click()
    page.wait_for_function(
        "() => document.querySelector('#forge_couple_walk_video video')?.readyState >= 2", timeout=180_000
    )
    played = page.evaluate(
        """async () => {
            const v = document.querySelector('#forge_couple_walk_video video');
            v.muted = true;
            v.loop = false;
            v.currentTime = 0;
            await v.play();
            await new Promise((done) => v.addEventListener('ended', done, {once: true}));
            return {w: v.videoWidth, h: v.videoHeight, duration: v.duration, error: v.error && v.error.code};
        }"""
    )
    assert played["error"] is None
    assert (played["w"], played["h"]) == (64, 64)
    assert played["duration"] == pytest.approx(3 / 8, abs=0.2)  # 3 frames at 8 fps
    assert "3 frames; saved in" in page.locator("#forge_couple_walk_progress textarea").input_value()
    # the gallery is an output: no upload box, and a click on a frame selects it
    gallery = page.locator("#forge_couple_walk_gallery")
    assert gallery.locator("input[type=file]").count() == 0
    gallery.locator("button.thumbnail-item, .thumbnail-item").nth(1).click()
    parameters = "#forge_couple_walk_frame_parameters textarea"
    shown = page.locator(parameters)
    page.wait_for_function(
        "(box) => document.querySelector(box)?.value.includes('Seed:')", arg=parameters, timeout=30_000
    )
    frame_prompt = shown.input_value().split("\n")[0]
    page.locator("#forge_couple_walk_send_to_txt2img").click()
    prompt = page.locator("#txt2img_prompt textarea")
    prompt.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "(want) => document.querySelector('#txt2img_prompt textarea')?.value === want",
        arg=frame_prompt,
        timeout=30_000,
    )
    assert page.locator("#txt2img_width input[type=number]").input_value() == "64"
    assert console_errors == []
