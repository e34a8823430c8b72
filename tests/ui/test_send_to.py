"""Send to txt2img / img2img of a Latent Walk frame in the app: the values and the wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from lib_couple import app as app_module
from lib_couple.demo.model import load_demo_pipeline, write_untrained_weights
from lib_couple.hosts.walk_standalone import demo_walk_frames
from lib_couple.ui.send_to import sent_frame
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.output import PARAMETERS_KEY
from lib_couple.walk.plan import WalkPlan, WalkSettings


def _saved_frames(tmp_path: Path) -> list[tuple[str, None]]:
    """A walk's frames on the demo model, as the gallery hands them back (PNG files)."""
    model = load_demo_pipeline(weights_dir=write_untrained_weights(tmp_path / "weights"))
    plan = WalkPlan(("a red circle", "a blue square"), (3, 9), frames=2)
    settings = WalkSettings(width=48, height=32, steps=2, cfg=4.5, negative="blurry")
    frames = list(demo_walk_frames(lambda: model, FrameCache())(plan, settings))
    files = []
    for index, frame in enumerate(frames):
        path = tmp_path / f"{index}.png"
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text(PARAMETERS_KEY, frame.info[PARAMETERS_KEY])
        frame.save(path, pnginfo=info)
        files.append((str(path), None))
    return files


def test_a_frame_sends_its_prompt_settings_and_seed_and_img2img_its_image(tmp_path: Path) -> None:
    frames = _saved_frames(tmp_path)
    to_txt2img = sent_frame(frames, 2, ["enabled"], "txt2img")
    assert to_txt2img[:7] == ("a blue square", "blurry", 48, 32, 2, 4.5, 9)  # the last keyframe's
    assert isinstance(to_txt2img[7], dict)  # no couple keys in a walk frame: left unchanged
    first = sent_frame(frames, 0, ["enabled"], "img2img")
    image = first[0]
    assert getattr(image, "size", None) == (48, 32)
    assert first[1:8] == ("a red circle", "blurry", 48, 32, 2, 4.5, 3)


def test_sending_without_a_selected_frame_says_so() -> None:
    with pytest.raises(gr.Error, match="Send to txt2img: select a frame"):
        sent_frame([], None, ["enabled"], "txt2img")
    with pytest.raises(gr.Error, match="Send to img2img: select a frame"):
        sent_frame(None, 0, ["enabled"], "img2img")


def _dependency(config: dict[str, Any], elem_id: str) -> int:
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    [index] = [i for i, d in enumerate(config["dependencies"]) if ids.get(d["targets"][0][0]) == elem_id]
    return index


def test_the_walk_tabs_send_buttons_fill_their_tab_then_switch_to_it(tmp_path: Path) -> None:
    page = app_module.build_app(lambda: pytest.fail("no model is needed"), tmp_path, tmp_path)
    config = page.get_config_file()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for tab, first in (("txt2img", "txt2img_prompt"), ("img2img", "img2img_image")):
        index = _dependency(config, f"forge_couple_walk_send_to_{tab}")
        outputs = [ids[o] for o in config["dependencies"][index]["outputs"]]
        assert outputs[0] == first
        assert f"{tab}_seed" in outputs
        [switch_index] = [i for i, d in enumerate(config["dependencies"]) if d.get("trigger_after") == index]
        assert config["dependencies"][switch_index]["trigger_only_on_success"]  # a failed send stays
        switch = page.fns[switch_index].fn()
        assert switch.selected == tab
    frames = _saved_frames(tmp_path)
    send = page.fns[_dependency(config, "forge_couple_walk_send_to_img2img")].fn
    sent = send(frames, 1)
    assert getattr(sent[0], "size", None) == (48, 32)
