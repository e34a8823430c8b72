"""The host's temp folder: Neo launched as `python launch.py` names `<webui>/tmp` without making
it, and its gradio hook writes every served picture there (docs/REAL_HOSTS.md)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import gradio.processing_utils
import pytest
from PIL import Image

from lib_couple.hosts.forge.temp_folder import ensure_temp_folder
from tests.doubles.forge_modules import fake_forge
from tests.doubles.forge_walk import fake_forge_walk
from tests.test_forge_walk import load_walk_script


def neo_save_pil(folder: Path) -> Any:
    """Neo's replacement for gradio's `save_pil_to_cache` as it behaves: into the option's
    folder, which it does not make."""

    def save(image: Image.Image, cache_dir: str | None = None, format: str = "png") -> str:
        with tempfile.NamedTemporaryFile(delete=False, suffix=".png", dir=folder) as file:
            image.save(file)
        return file.name

    return save


def served(monkeypatch: pytest.MonkeyPatch, folder: Path) -> str:
    """A picture through a gradio Image's postprocess, as the pad's Show serves it on Neo."""
    monkeypatch.setattr(gradio.processing_utils, "save_pil_to_cache", neo_save_pil(folder))
    data = gr.Image(type="pil").postprocess(Image.new("RGB", (8, 8), (200, 10, 10)))
    assert data is not None
    return str(data.path)


def test_without_the_folder_neo_cannot_serve_a_picture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        served(monkeypatch, tmp_path / "webui" / "tmp")


def test_building_the_walk_tab_makes_neos_temp_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "webui" / "tmp"
    with fake_forge_walk(tmp=tmp_path) as forge:
        forge.shared.opts.temp_dir = str(folder)
        load_walk_script()
        assert not folder.exists()  # made when the tab is built, not at import
        forge.tabs[0]()
        assert folder.is_dir()
        assert Path(served(monkeypatch, folder)).parent == folder


def test_building_the_panel_makes_neos_temp_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "webui" / "tmp"
    with fake_forge() as forge:
        forge.shared.opts.temp_dir = str(folder)
        with gr.Blocks():
            forge.script.ForgeCouple().ui(False)
        assert folder.is_dir()
        assert Path(served(monkeypatch, folder)).parent == folder


def test_forges_empty_option_makes_nothing(tmp_path: Path) -> None:
    with fake_forge() as forge:
        forge.shared.opts.temp_dir = ""
        assert ensure_temp_folder() is None
        del forge.shared.opts.temp_dir  # an older host without the option
        assert ensure_temp_folder() is None


def test_a_folder_that_cannot_be_made_is_logged_and_the_panel_still_builds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "webui"
    blocker.write_text("a file where the folder would go")
    with fake_forge() as forge:
        # the script's logging setup stops propagation (lib_couple/log.py): let caplog see it
        monkeypatch.setattr(logging.getLogger("forge_couple"), "propagate", True)
        forge.shared.opts.temp_dir = str(blocker / "tmp")
        with caplog.at_level(logging.WARNING, logger="forge_couple"), gr.Blocks():
            controls = forge.script.ForgeCouple().ui(False)
        assert controls
        assert ensure_temp_folder() is None
    assert "temp folder" in caplog.text
    assert str(blocker / "tmp") in caplog.text
