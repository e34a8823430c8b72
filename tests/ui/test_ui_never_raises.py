"""ui() never raises: nothing is written while the accordion is built, and a part that fails
leaves the rest built with a note (Neo's API calls ui() unguarded; FORGE issue 16)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NoReturn

import gradio as gr
import gradio.processing_utils as processing_utils
import pytest
from PIL import Image

from lib_couple.params import ARG_NAMES
from lib_couple.ui import build_couple_ui, presets
from lib_couple.ui.walk_tab import build_walk_tab
from tests.doubles.forge_modules import fake_forge

WRITERS = [name for name in dir(processing_utils) if name.startswith("save_") or "to_cache" in name]


def _no_disk(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise FileNotFoundError("[Errno 2] No such file or directory: 'webui/tmp/tmpabcd.png'")


@pytest.fixture
def _no_file_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way gradio writes a component's file fails, as in Neo without its tmp folder."""
    assert "save_pil_to_cache" in WRITERS
    assert "move_files_to_cache" in WRITERS
    for name in WRITERS:
        monkeypatch.setattr(processing_utils, name, _no_disk)
    monkeypatch.setattr(Image.Image, "save", _no_disk)


def markdown_text(blocks: gr.Blocks) -> str:
    return "\n".join(str(b.value) for b in blocks.blocks.values() if isinstance(b, gr.Markdown))


@pytest.mark.usefixtures("_no_file_writing")
def test_the_walk_tab_builds_without_writing_a_file(tmp_path: Path) -> None:
    # Neo launched directly, without its temp folder: the explorer's pad picture, given at build
    # time, made gradio write a file and the whole Latent Walk tab failed (seen on Neo v3.5).
    with gr.Blocks() as blocks:
        controls = build_walk_tab(_no_disk, tmp_path, open_pad=_no_disk, open_explorer=_no_disk)
    images = [b for b in blocks.blocks.values() if isinstance(b, gr.Image)]
    assert controls["explorer"]["pad"] in images
    assert all(image.value is None for image in images)


@pytest.mark.usefixtures("_no_file_writing")
@pytest.mark.parametrize("is_img2img", [False, True])
def test_the_accordion_builds_without_writing_a_file(is_img2img: bool) -> None:
    with gr.Blocks() as blocks:
        ui = build_couple_ui(is_img2img, "i2i" if is_img2img else "t2i")
    assert len(ui.controls) == len(ARG_NAMES)
    editors = [b for b in blocks.blocks.values() if isinstance(b, gr.ImageEditor)]
    assert len(editors) == 1
    assert editors[0].value is None  # a blank canvas comes at event time
    assert "could not be built" not in markdown_text(blocks)


def test_a_failing_part_leaves_the_rest_built_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreadable() -> NoReturn:
        raise PermissionError("presets.json: permission denied")

    monkeypatch.setattr(presets, "presets_path", unreadable)
    with caplog.at_level(logging.ERROR, logger="forge_couple"), gr.Blocks() as blocks:
        ui = build_couple_ui(False, "t2i")
    assert ui.controls == [ui.components[name] for name in ARG_NAMES]
    note = markdown_text(blocks)
    assert "Forge Couple: the presets panel could not be built (PermissionError" in note
    assert any(r.getMessage().startswith("Forge Couple: the presets panel") for r in caplog.records)
    assert any(isinstance(b, gr.ImageEditor) for b in blocks.blocks.values())  # the rest is there


@pytest.mark.parametrize("is_img2img", [False, True])
def test_the_scripts_ui_returns_placeholders_when_the_panel_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch, is_img2img: bool
) -> None:
    with fake_forge() as forge:
        script = forge.script.ForgeCouple()

        def broken(*_args: Any, **_kwargs: Any) -> NoReturn:
            raise RuntimeError("gradio changed")

        monkeypatch.setattr(forge.script, "build_couple_ui", broken)
        with gr.Blocks() as blocks:
            controls = script.ui(is_img2img)  # as Neo's API calls it: no guard around
        assert len(controls) == len(ARG_NAMES)
        assert all(isinstance(c, gr.State) for c in controls)
        assert controls[ARG_NAMES.index("enabled")].value is False
        assert "could not be built: RuntimeError: gradio changed" in markdown_text(blocks)
        # the placeholders' values read back as a disabled couple
        script.setup(forge_p := _Processing(), *[c.value for c in controls])
        assert script.runner.params.enabled is False
        assert script.runner.error is None
        assert forge_p.comments == []


class _Processing:
    def __init__(self) -> None:
        self.comments: list[str] = []
        self.extra_generation_params: dict[str, object] = {}

    def comment(self, text: str) -> None:
        self.comments.append(text)
