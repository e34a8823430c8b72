"""The web app on the Flux demo model (`serve --model flux-demo`), through its handlers, gradio-less."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lib_couple import app as app_module
from lib_couple.demo.flux_model import load_flux_demo
from lib_couple.errors import CoupleError
from lib_couple.hosts.demo_models import app_parts
from lib_couple.hosts.progress import RunningControls, StepControl
from lib_couple.params import CoupleParams, params_to_args
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.output import PARAMETERS_KEY
from lib_couple.walk.plan import WalkPlan, WalkSettings


def _never_loaded() -> object:
    raise AssertionError("the model was loaded for a refused request")


def test_txt2img_with_regions_generates_on_the_flux_demo(tmp_path: Path) -> None:
    model = app_module.LazyModel(load_flux_demo, app_parts("flux-demo"))
    couple = params_to_args(CoupleParams(enabled=True))
    request = app_module.request_from_values("a red circle\na blue square", "", 64, 48, 2, 5.0, 7, couple)
    gallery, parameters, _ = app_module._generate(model, request, StepControl(), tmp_path, "txt2img")
    assert "Model: forge-couple-flux-demo" in parameters
    assert 'Sampler: "Euler (flow, shifted)"' in parameters
    with Image.open(gallery[0]) as saved:
        assert saved.size == (64, 48)
        assert saved.info["parameters"] == parameters


@pytest.mark.parametrize(
    ("width", "init_image", "message"),
    [
        (64, Image.new("RGB", (64, 64)), "img2img on the Flux demo model is not available"),
        (72, None, "width must be a multiple of 16 on the Flux demo model, got 72"),
    ],
)
def test_what_the_flux_demo_does_not_do_is_refused_before_loading_it(
    width: int, init_image: Image.Image | None, message: str, tmp_path: Path
) -> None:
    model = app_module.LazyModel(_never_loaded, app_parts("flux-demo", _never_loaded))
    couple = params_to_args(CoupleParams())
    request = app_module.request_from_values(
        "a red circle", "", width, 64, 2, 5.0, 1, couple, init_image=init_image
    )
    with pytest.raises(CoupleError, match=message):
        app_module._generate(model, request, StepControl(), tmp_path, "img2img")


def test_the_walk_tab_walks_the_flux_demo() -> None:
    parts = app_parts("flux-demo")
    model = app_module.LazyModel(parts.load, parts)
    cache = FrameCache()
    render = parts.walk_frames(model.get, cache, RunningControls())
    plan = WalkPlan(("a red circle", "a blue circle"), (1, 2), 2)
    steps: list[tuple[int, int]] = []
    report = lambda done, total, line: steps.append((done, total))  # noqa: E731
    frames = list(render(plan, WalkSettings(width=32, height=32, steps=2), report))
    assert len(frames) == 3
    assert all(frame.size == (32, 32) for frame in frames)
    assert "Model: forge-couple-flux-demo" in frames[1].info[PARAMETERS_KEY]
    assert "Latent walk position: 0.5000" in frames[1].info[PARAMETERS_KEY]
    assert frames[0].tobytes() != frames[-1].tobytes()
    assert cache.misses == 3
    assert steps[-1] == (2, 2)  # each frame's steps reach the progress report
    with pytest.raises(CoupleError, match="height must be a multiple of 16"):
        list(render(plan, WalkSettings(width=32, height=40, steps=2), report))
